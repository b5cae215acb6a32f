"""The rulebook loader: the happy path, and every problem with its exact file and line."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.rulebook import (
    Cap,
    CheckResult,
    Duration,
    Effective,
    Flag,
    Problem,
    Repeat,
    RulebookError,
    Source,
    check_rulebook,
    load_rulebook,
)
from app.rulebook.yamlio import parse_yaml

BASE = {
    "scheme.yaml": """
        scheme: test-city
        title: Test city points
        starting_points: 1000
        tiers:
          - {code: A, min: 1050, title: Best}
          - {code: B, min: 960}
          - {code: C}
        """,
    "departments.yaml": """
        departments:
          - {code: court, title: Court}
          - {code: heating-company, title: Heating}
          - {code: finance-bureau, title: Finance}
        """,
    "lists.yaml": """
        lists:
          - {code: court-defaulters, kind: blacklist, departments: [court], lasts: 2y, public: true}
          - {code: priority-scrutiny, kind: watchlist, departments: [court]}
        """,
    "measures.yaml": """
        measures:
          - code: TENDER-BAN
            kind: restriction
            title: May not bid for government tenders
            owner: finance-bureau
            legal_basis: Tendering and Bidding Law, art. 53
            when: {tiers: [C], lists: [court-defaulters], flags: [priority-scrutiny]}
            notice: 7d
            reaches: [legal_representative]
          - {code: HEAT-DISCOUNT, kind: benefit, title: Discount, owner: heating-company,
             when: {tiers: [A]}}
        """,
    "conduct/utilities.yaml": """
        table: utilities
        title: Utilities
        departments: [heating-company]
        rules:
          - code: UTIL-HEAT-TAMPER
            title: Tampering with the heating system
            points: -50
            legal_basis: Standard, annex 1
            expires_after: 2y
            repairable_after: 3m
            effective: {from: 2016-01-01, until: 2019-12-31}
          - code: UTIL-HEAT-TAMPER
            title: Tampering with the heating system
            points: -40
            legal_basis: Standard, annex 1 (2020)
            expires_after: 2y
            effective: {from: 2020-01-01}
            relief: true
          - code: VOL-HOURS
            title: Volunteering
            points: 1
            legal_basis: Volunteering regulation
            departments: [court]
            cap: {points: 20, per: year}
            repeat: {within: 1m, factor: 2}
            subjects: [person]
            expires_after: 1y
        """,
}
UTIL = "conduct/utilities.yaml"


def write(root: Path, files: dict[str, str | None]) -> None:
    """Write `files` (dedented) under `root`; None deletes a file."""
    for relative, text in files.items():
        path = root / relative
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


@pytest.fixture
def rules(tmp_path, monkeypatch):
    """Return a function that writes the base rulebook with changes and checks `rules/`."""
    monkeypatch.chdir(tmp_path)

    def make(changes: dict[str, str | None] | None = None) -> CheckResult:
        write(tmp_path / "rules", {**BASE, **(changes or {})})
        return check_rulebook("rules")

    return make


@pytest.fixture
def check(rules):
    """Return a function that checks the base rulebook with changes and returns problem lines."""
    return lambda changes: [str(p) for p in rules(changes).problems]


def one_rule(body: str, table_departments: str = "[court]") -> dict[str, str]:
    """Return a conduct table file with one rule whose keys are `body` (rule at line 4)."""
    rows = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    text = f"table: utilities\ndepartments: {table_departments}\nrules:\n  -{rows[3:]}\n"
    return {UTIL: text}


# -- the happy path ------------------------------------------------------------------------------


def test_base_rulebook_builds_every_dataclass(rules):
    result = rules()
    assert result.ok, [str(p) for p in result.problems]
    assert result.problems == []
    assert [str(w) for w in result.warnings] == [  # the base's tier B switches nothing on
        "rules/scheme.yaml:6: tier B: no measure mentions it in when.tiers, so the grade "
        "switches no benefit or restriction on"]
    book = result.rulebook

    scheme = book.scheme
    assert (scheme.code, scheme.title, scheme.starting_points) == (
        "test-city",
        "Test city points",
        1000,
    )
    assert scheme.requires_consent is False
    assert [(t.code, t.min, t.title) for t in scheme.tiers] == [
        ("A", 1050, "Best"),
        ("B", 960, ""),
        ("C", None, ""),
    ]
    assert scheme.tiers[1].source == Source("scheme.yaml", 6)
    assert scheme.objections.window == Duration(30, "d")
    assert scheme.objections.suspend_record is True
    assert scheme.tier_for(1049).code == "B" and scheme.tier_for(-10).code == "C"

    assert [d.code for d in book.departments] == ["court", "heating-company", "finance-bureau"]
    assert book.department("court").source == Source("departments.yaml", 2)

    blacklist, watchlist = book.lists
    assert blacklist.kind == "blacklist" and blacklist.lasts == Duration(2, "y")
    assert blacklist.public is True and blacklist.flag is None
    assert watchlist.flag == Flag("priority-scrutiny", 3, Duration(1, "y"))  # the default flag

    ban = book.measure("TENDER-BAN")
    assert ban.when.tiers == ("C",) and ban.when.lists == ("court-defaulters",)
    assert ban.when.flags == ("priority-scrutiny",)
    assert ban.notice == Duration(7, "d") and ban.reaches == ("legal_representative",)
    assert ban.source == Source("measures.yaml", 2)
    assert book.measure("HEAT-DISCOUNT").notice is None

    (table,) = book.tables
    assert (table.code, table.title, table.departments) == (
        "utilities",
        "Utilities",
        ("heating-company",),
    )
    first, second, volunteering = table.rules
    assert first.version == 1 and second.version == 2
    assert first.effective == Effective(date(2016, 1, 1), date(2019, 12, 31))
    assert first.departments == ("heating-company",)  # inherited from the table
    assert first.repairable_after == Duration(3, "m")
    assert first.source == Source(UTIL, 5)
    assert second.relief is True and second.points == -40
    assert volunteering.departments == ("court",)
    assert volunteering.cap == Cap(20, "year")
    assert volunteering.repeat == Repeat(Duration(1, "m"), 2)
    assert volunteering.subjects == ("person",) and volunteering.table == "utilities"

    assert book.rule_on("UTIL-HEAT-TAMPER", date(2019, 12, 31)) is first
    assert book.rule_on("UTIL-HEAT-TAMPER", date(2020, 1, 1)) is second
    assert book.rule_on("UTIL-HEAT-TAMPER", date(2015, 12, 31)) is None
    assert book.codes_for_department("court") == ("VOL-HOURS",)
    assert [path for path, _ in book.files] == sorted(BASE)
    assert len(book.fingerprint) == 64


def test_load_rulebook_returns_the_rulebook(rules, tmp_path):
    rules()
    assert load_rulebook(tmp_path / "rules").scheme.code == "test-city"


def test_versions_are_numbered_by_start_date_not_by_order_written(rules):
    table = """
        table: utilities
        departments: [court]
        rules:
          - {code: X-1, title: New, points: -3, expires_after: 1y, effective: {from: 2024-01-01}}
          - {code: X-1, title: Old, points: -5, expires_after: 1y, effective: {until: 2023-12-31}}
        """
    book = rules({UTIL: table}).rulebook
    assert [(r.title, r.version) for r in book.versions("X-1")] == [("Old", 1), ("New", 2)]
    assert book.rule_version("X-1", 2).title == "New"


def test_defaults_anchors_yml_and_skipped_files(rules, check):
    scheme = """
        scheme: test-city
        title: T
        starting_points: 0
        requires_consent: true
        tiers: [{code: A, min: 10}, {code: B, min: 5}, {code: C}]
        objections: {window: 2m}
        """
    table = """
        table: extra
        rules:
          - &row {code: E-1, title: One, points: 2, expires_after: 1y, departments: [court]}
          - {<<: *row, code: E-2}
        """
    result = rules(
        {
            "scheme.yaml": scheme,
            "more/extra.yml": table,
            ".hidden.yaml": "this is: [not even valid",
            "tests/anything.yaml": "not: a rule file",
            "notes.txt": "ignored",
        }
    )
    assert result.ok, [str(p) for p in result.problems]
    book = result.rulebook
    assert book.scheme.requires_consent is True
    assert book.scheme.objections.window == Duration(2, "m")
    assert book.scheme.objections.decide_within == Duration(15, "d")
    assert book.rule_on("E-2", date(2020, 1, 1)).points == 2
    assert "tests/anything.yaml" not in dict(book.files)
    assert "more/extra.yml" in dict(book.files)


def test_yaml_reader_keeps_lines_dates_as_text_and_decimals_only():
    data, found = parse_yaml(
        "a: 1\nb:\n  - 010\n  - 2016-02-30\n  - !!timestamp 2016-01-01\n  - 0x10\n"
    )
    assert found == []
    assert data == {"a": 1, "b": [10, "2016-02-30", "2016-01-01", "0x10"]}
    assert data.lines == {"a": 1, "b": 2} and data["b"].lines == [3, 4, 5, 6]


# -- problems, each with its file and line -------------------------------------------------------


def test_problem_str_and_error():
    problem = Problem("rules/x.yaml", 3, "bad")
    assert str(problem) == "rules/x.yaml:3: bad"
    assert str(Problem("rules", 0, "no scheme")) == "rules: no scheme"
    error = RulebookError([problem])
    assert error.problems == [problem] and "rules/x.yaml:3: bad" in str(error)


def test_load_rulebook_raises_with_every_problem(rules, tmp_path):
    rules({"lists.yaml": "lists: [}\n", "departments.yaml": "departments: 3\n"})
    with pytest.raises(RulebookError) as caught:
        load_rulebook(tmp_path / "rules")
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"{tmp_path}/rules/lists.yaml:1: YAML syntax error") for p in found)
    assert f"{tmp_path}/rules/departments.yaml:1: departments must be a list, got '3'" in found


def test_yaml_syntax_error_has_its_line_and_other_files_are_still_checked(check):
    broken = "table: broken\nrules:\n  - {code: X, title: [unclosed\n"
    measures = "measures:\n  - {code: M, kind: bonus, title: T, owner: court, when: {tiers: [A]}}\n"
    found = check({"conduct/broken.yaml": broken, "measures.yaml": measures})
    assert found[0].startswith("rules/conduct/broken.yaml:4: YAML syntax error: ")
    assert (
        "rules/measures.yaml:2: measure M: kind must be one of benefit, restriction, got 'bonus'"
        in found
    )


def test_unknown_key_suggests_the_close_one(check):
    rule = """
        code: UTIL-HEAT-TAMPER
        title: Tampering
        point: -50
        expires_after: 2y
        """
    assert check(one_rule(rule)) == [
        "rules/conduct/utilities.yaml:4: missing key 'points' in rule UTIL-HEAT-TAMPER",
        "rules/conduct/utilities.yaml:6: unknown key 'point' in rule UTIL-HEAT-TAMPER "
        "(did you mean 'points'?)",
    ]


def test_unknown_and_misplaced_top_level_keys(check):
    found = check(
        {
            "mesures.yaml": "mesures: []\n",
            "departments.yaml": textwrap.dedent(BASE["departments.yaml"]) + "tiers: []\n",
            "conduct/nameless.yaml": "rules: []\n",
            "other.yaml": "defaults: {}\n",
        }
    )
    assert found == [
        "rules/conduct/nameless.yaml:1: a file with 'rules:' is a conduct table: missing key "
        "'table' (the table's code, like 'table: utilities')",
        "rules/departments.yaml:5: key 'tiers' belongs in the scheme file (rules/scheme.yaml), "
        "the one with 'scheme:'",
        "rules/mesures.yaml:1: unknown key 'mesures' (did you mean 'measures'?)",
        "rules/other.yaml:1: unknown key 'defaults' (allowed keys are scheme, title, description, "
        "starting_points, requires_consent, tiers, objections, languages, repair, in_force_from, "
        "departments, measures, lists, table)",
    ]


def test_nested_unknown_key(check):
    rule = "{code: X, title: T, points: 1, expires_after: 1y, cap: {points: 3, pre: year}}"
    assert check(one_rule(rule)) == [
        "rules/conduct/utilities.yaml:4: missing key 'per' in cap of rule X",
        "rules/conduct/utilities.yaml:4: unknown key 'pre' in cap of rule X (did you mean 'per'?)",
    ]


def test_duplicate_key(check):
    lists = """
        lists:
          - code: court-defaulters
            kind: blacklist
            kind: redlist
          - {code: priority-scrutiny, kind: watchlist}
        """
    assert check({"lists.yaml": lists}) == [
        "rules/lists.yaml:4: duplicate key 'kind' (already written at line 3)"
    ]


def test_rule_code_in_two_tables_names_both_places(check):
    other = """
        table: other
        departments: [court]
        rules:
          - {code: VOL-HOURS, title: Again, points: 1, expires_after: 1y}
        """
    assert check({"conduct/other.yaml": other}) == [
        "rules/conduct/utilities.yaml:19: rule VOL-HOURS is already in table other "
        "(rules/conduct/other.yaml:4): a rule code may be used in one table only"
    ]


def test_overlapping_versions_name_both_lines(check):
    table = """
        table: utilities
        departments: [court]
        rules:
          - {code: X, title: T, points: -5, expires_after: 1y, effective: {until: 2024-01-01}}
          - {code: X, title: T, points: -5, expires_after: 1y, effective: {from: 2024-01-01}}
          - {code: Y, title: T, points: -5, expires_after: 1y}
          - {code: Y, title: T, points: -5, expires_after: 1y}
        """
    assert check({UTIL: table}) == [
        "rules/conduct/utilities.yaml:5: rule X: in force from 2024-01-01, which overlaps the "
        "version at line 4 (in force until 2024-01-01): versions of a rule must not overlap",
        "rules/conduct/utilities.yaml:7: rule Y is written twice (also at line 6): to make a new "
        "version, give both rows 'effective' dates that do not overlap",
    ]


def test_duplicate_codes_of_departments_tiers_tables_measures_lists(check):
    scheme = """
        scheme: s
        title: T
        starting_points: 1
        tiers: [{code: A, min: 5}, {code: A, min: 3}, {code: C}]
        """
    departments = """
        departments:
          - {code: court, title: C}
          - {code: court, title: D}
          - {code: heating-company, title: H}
          - {code: finance-bureau, title: F}
        """
    more = """
        lists:
          - {code: court-defaulters, kind: redlist}
        measures:
          - {code: TENDER-BAN, kind: benefit, title: T, owner: court, when: {tiers: [A]}}
        """
    copy = """
        table: utilities
        departments: [court]
        rules:
          - {code: Z, title: T, points: 1, expires_after: 1y}
        """
    found = check(
        {
            "scheme.yaml": scheme,
            "departments.yaml": departments,
            "more.yaml": more,
            "conduct/copy.yaml": copy,
        }
    )
    assert found == [
        "rules/conduct/utilities.yaml:1: table 'utilities' is defined twice "
        "(also at rules/conduct/copy.yaml:1)",
        "rules/departments.yaml:3: department 'court' is defined twice (also at line 2)",
        "rules/more.yaml:2: list 'court-defaulters' is defined twice (also at rules/lists.yaml:2)",
        "rules/more.yaml:4: measure 'TENDER-BAN' is defined twice (also at rules/measures.yaml:2)",
        "rules/scheme.yaml:4: tier 'A' is defined twice (also at line 4)",
    ]


def test_tier_minimums_must_fall_and_only_the_last_has_none(check):
    scheme = """
        scheme: s
        title: T
        starting_points: 1000
        tiers:
          - {code: AAA, min: 1020}
          - {code: AA, min: 1030}
          - {code: A}
          - {code: B, min: 900}
          - {code: C, min: 0}
        """
    assert check({"scheme.yaml": scheme}) == [
        "rules/scheme.yaml:6: tier AA: min 1030 must be lower than the tier above (AAA, min 1020)",
        "rules/scheme.yaml:7: tier A: missing key 'min' (every tier but the last needs the lowest "
        "score that reaches it)",
        "rules/scheme.yaml:9: tier C: the last (lowest) tier must not have a min: it takes every "
        "score below the tier above",
    ]


def test_no_tiers(check):
    found = check({"scheme.yaml": "scheme: s\ntitle: T\nstarting_points: 1\ntiers: []\n"})
    assert "rules/scheme.yaml:4: tiers must list at least one tier" in found


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("when: {tiers: [E]}", "unknown tier 'E' in when.tiers (tiers are A, B, C)"),
        (
            "when: {lists: [court-defaulter]}",
            "unknown list 'court-defaulter' in when.lists (did you mean 'court-defaulters'?)",
        ),
        (
            "when: {flags: [nobody]}",
            "unknown flag 'nobody' in when.flags (flags are priority-scrutiny)",
        ),
    ],
)
def test_unknown_tier_list_flag_in_a_measure(check, field, message):
    measures = (
        f"measures:\n  - code: M\n    kind: benefit\n    title: T\n    owner: court\n    {field}\n"
    )
    assert check({"measures.yaml": measures}) == [f"rules/measures.yaml:6: measure M: {message}"]


def test_unknown_departments_everywhere(check):
    measures = (
        "measures:\n  - {code: M, kind: benefit, title: T, owner: heating-co, when: {tiers: [A]}}\n"
    )
    lists = "lists:\n  - {code: l, kind: redlist, departments: [police]}\n"
    rule = "{code: X, title: T, points: 1, expires_after: 1y, departments: [courts]}"
    found = check({"measures.yaml": measures, "lists.yaml": lists, **one_rule(rule, "[water]")})
    assert found == [
        "rules/conduct/utilities.yaml:2: table utilities: unknown department 'water' in "
        "departments (departments are court, finance-bureau, heating-company)",
        "rules/conduct/utilities.yaml:4: rule X: unknown department 'courts' in departments "
        "(did you mean 'court'?)",
        "rules/lists.yaml:2: list l: unknown department 'police' in departments "
        "(departments are court, finance-bureau, heating-company)",
        "rules/measures.yaml:2: measure M: unknown department 'heating-co' in owner "
        "(did you mean 'heating-company'?)",
    ]


def test_rule_without_any_department(check):
    table = "table: utilities\nrules:\n  - {code: X, title: T, points: 1, expires_after: 1y}\n"
    assert check({UTIL: table}) == [
        "rules/conduct/utilities.yaml:3: rule X: no department may record it: give "
        "departments to the rule or to its table"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "2 years",
            "expires_after '2 years' is not a duration: write a whole number followed by "
            "d, m or y (for example 30d, 3m, 2y)",
        ),
        (
            "2",
            "expires_after '2' is not a duration: write a whole number followed by d, m or y "
            "(for example 30d, 3m, 2y)",
        ),
        ("0d", "expires_after must be at least 1 day, month or year, got '0d'"),
        ("101y", "expires_after '101y' is too long (at most 100 years)"),
    ],
)
def test_bad_duration(check, value, message):
    rule = f"code: X\ntitle: T\npoints: 1\nexpires_after: {value}\n"
    assert check(one_rule(rule)) == [f"rules/conduct/utilities.yaml:7: rule X: {message}"]


@pytest.mark.parametrize(
    ("effective", "message"),
    [
        ("{from: 2016-02-30}", "effective.from '2016-02-30' is not a date: there is no such day"),
        ("{from: '2016-13-01'}", "effective.from '2016-13-01' is not a date: there is no such day"),
        (
            "{until: 2016/01/01}",
            "effective.until '2016/01/01' is not a date: write it as YYYY-MM-DD "
            "(for example 2016-01-01)",
        ),
        (
            "{from: 20160101}",
            "effective.from '20160101' is not a date: write it as YYYY-MM-DD "
            "(for example 2016-01-01)",
        ),
        (
            "{from: 2016-05-01, until: 2016-04-30}",
            "effective.until 2016-04-30 is before effective.from 2016-05-01",
        ),
    ],
)
def test_bad_date(check, effective, message):
    rule = f"code: X\neffective: {effective}\ntitle: T\npoints: 1\nexpires_after: 1y\n"
    assert check(one_rule(rule)) == [f"rules/conduct/utilities.yaml:5: rule X: {message}"]


def test_restriction_without_legal_basis(check):
    measures = """
        measures:
          - code: BAN
            kind: restriction
            title: T
            owner: court
            when: {tiers: [C]}
          - {code: BAN2, kind: restriction, title: T, owner: court, legal_basis: " ",
             when: {tiers: [C]}}
        """
    assert check({"measures.yaml": measures}) == [
        "rules/measures.yaml:2: measure BAN: a restriction needs a legal_basis (the law or "
        "regulation that allows it)",
        "rules/measures.yaml:7: measure BAN2: a restriction needs a legal_basis (the law or "
        "regulation that allows it)",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5.5", "points must be a whole number, got '-5.5'"),
        ('"-5"', "points must be a whole number, got the text '-5' (remove the quotes)"),
        ("yes", "points must be a whole number, got true"),
        ("ten", "points must be a whole number, got 'ten'"),
        ("0x10", "points must be a whole number, got '0x10'"),
        ("", "points is empty"),
        ("10000000000", "points is too large (at most 1000000000 in absolute value)"),
    ],
)
def test_points_must_be_a_whole_number(check, value, message):
    rule = f"code: X\ntitle: T\npoints: {value}\nexpires_after: 1y\n"
    assert check(one_rule(rule)) == [f"rules/conduct/utilities.yaml:6: rule X: {message}"]


def test_booleans_must_be_yaml_booleans(check):
    scheme = (
        "scheme: s\ntitle: T\nstarting_points: 1\nrequires_consent: 'true'\ntiers: [{code: A}]\n"
    )
    found = check({"scheme.yaml": scheme})
    assert "rules/scheme.yaml:4: requires_consent must be true or false, got 'true'" in found


def test_no_scheme_file_and_two_scheme_files(check):
    assert check({"scheme.yaml": None}) == [
        "rules: no file defines the scheme: one file (usually scheme.yaml) must have 'scheme:', "
        "'title:', 'starting_points:' and 'tiers:'"
    ]
    second = "scheme: other\ntitle: T\nstarting_points: 1\ntiers: [{code: A}]\n"
    assert check({"zz-scheme.yaml": second}) == [
        "rules/zz-scheme.yaml:1: the scheme is defined twice (also in rules/scheme.yaml): "
        "keep one file with 'scheme:'"
    ]


def test_scheme_file_without_scheme_key(check):
    scheme = "title: T\nstarting_points: 9\ntiers: [{code: A, min: 9}, {code: C}]\n"
    assert check({"scheme.yaml": scheme}) == ["rules/scheme.yaml:1: missing key 'scheme'"]


def test_empty_file_and_missing_directory(check, tmp_path):
    assert check({"empty.yaml": "# nothing here\n"}) == [
        "rules/empty.yaml:1: empty file: a rule file must hold at least one section, such as "
        "'departments:' or 'table:'"
    ]
    found = [str(p) for p in check_rulebook(tmp_path / "nowhere").problems]
    assert found == [f"{tmp_path}/nowhere: no such directory"]
    (tmp_path / "bare").mkdir()
    assert [str(p) for p in check_rulebook(tmp_path / "bare/").problems] == [
        f"{tmp_path}/bare: no rule files found (files ending in .yaml or .yml)"
    ]


def test_non_mapping_where_a_mapping_is_expected(check):
    table = """
        table: utilities
        departments: [court]
        rules:
          - just a sentence
          - {code: X, title: T, points: 1, expires_after: 1y, cap: 20}
        """
    assert check({"extra.yaml": "- just\n- a list\n", UTIL: table}) == [
        "rules/conduct/utilities.yaml:4: rules item 1 must be a mapping of keys to values "
        "(like code: UTIL-X, title: ..., points: -50), got 'just a sentence'",
        "rules/conduct/utilities.yaml:5: rule X: cap must be a mapping of keys to values "
        "(like {points: 20, per: year}), got '20'",
        "rules/extra.yaml:1: a rule file must be a mapping of keys to values (like "
        "'departments:' followed by a list), got a list",
    ]


def test_lists_of_codes(check):
    rule = """
        code: X
        title: T
        points: 1
        expires_after: 1y
        departments: [court, court, Court]
        subjects: [person, company]
        """
    assert check(one_rule(rule, table_departments="court")) == [
        "rules/conduct/utilities.yaml:2: table utilities: departments must be a list, "
        "got 'court' (write [court])",
        "rules/conduct/utilities.yaml:8: rule X: departments lists 'court' twice",
        "rules/conduct/utilities.yaml:8: rule X: departments may only hold codes of lower-case "
        "letters, digits, '-' and '_' (like court-defaulters), got 'Court'",
        "rules/conduct/utilities.yaml:9: rule X: subjects may only hold person, organisation, "
        "got 'company'",
    ]


def test_codes_and_yaml_words(check):
    scheme = """
        scheme: Test City
        title: T
        starting_points: 1
        tiers:
          - {code: YES, min: 1}
          - {code: no}
        """
    assert check({"scheme.yaml": scheme}) == [
        "rules/scheme.yaml:1: scheme must be a code of lower-case letters, digits, '-' and '_' "
        "(like court-defaulters), got 'Test City'",
        "rules/scheme.yaml:5: tier #1: code must be a code of letters, digits, '-', '_' and '.' "
        "(like UTIL-HEAT-TAMPER), got true (put it in quotes)",
        "rules/scheme.yaml:6: tier #2: code must be a code of letters, digits, '-', '_' and '.' "
        "(like UTIL-HEAT-TAMPER), got false (put it in quotes)",
    ]


def test_lists_and_flags(check):
    lists = """
        lists:
          - {code: court-defaulters, kind: blacklist, flag: {entries: 2}}
          - code: priority-scrutiny
            kind: watchlist
            flag: {entries: 0, within: 6m, code: watched}
        """
    assert check({"lists.yaml": lists}) == [
        "rules/lists.yaml:2: list court-defaulters: flag is only allowed on a watchlist "
        "(this list is a blacklist)",
        "rules/lists.yaml:5: list priority-scrutiny: flag.entries must be at least 1, got 0",
        "rules/measures.yaml:7: measure TENDER-BAN: unknown flag 'priority-scrutiny' in "
        "when.flags (flags are watched)",
    ]


def test_measure_when_and_reaches(check):
    measures = """
        measures:
          - {code: M, kind: benefit, title: T, owner: court, when: {}}
          - {code: N, kind: benefit, title: T, owner: court, when: , reaches: [spouse]}
        """
    assert check({"measures.yaml": measures}) == [
        "rules/measures.yaml:2: measure M: when must name at least one tier, list or flag",
        "rules/measures.yaml:3: measure N: reaches may only hold legal_representative, "
        "got 'spouse'",
        "rules/measures.yaml:3: measure N: when must name at least one tier, list or flag",
    ]


def test_relief_may_only_make_a_rule_milder(rules):
    table = """
        table: utilities
        departments: [court]
        rules:
          - {code: X, title: T, points: -5, expires_after: 1y, relief: true,
             effective: {until: 2023-12-31}}
          - code: X
            title: T
            points: -8
            expires_after: 1y
            effective: {from: 2024-01-01}
            relief: true
        """
    result = rules({UTIL: table})
    assert [str(p) for p in result.problems] == [
        "rules/conduct/utilities.yaml:11: rule X: relief may only make a rule milder, but "
        "points -8 are lower than the earlier version's -5"
    ]
    assert [str(w) for w in result.warnings] == [
        "rules/conduct/utilities.yaml:4: rule X: no legal_basis: say which law or regulation "
        "allows these points",
        "rules/conduct/utilities.yaml:4: rule X: relief has no effect on the first version "
        "of a rule",
        "rules/conduct/utilities.yaml:6: rule X: no legal_basis: say which law or regulation "
        "allows these points",
    ]


def test_repeat_and_cap_values(check):
    rule = """
        code: X
        title: T
        points: 1
        expires_after: 1y
        repeat: {within: 1y, factor: 1}
        cap: {points: 0, per: week}
        """
    assert check(one_rule(rule)) == [
        "rules/conduct/utilities.yaml:8: rule X: repeat.factor must be at least 2, got 1",
        "rules/conduct/utilities.yaml:9: rule X: cap.per must be one of year, month, got 'week'",
        "rules/conduct/utilities.yaml:9: rule X: cap.points must be at least 1, got 0",
    ]


def test_not_utf8_and_recursive_alias(check, tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "latin.yaml").write_bytes(b"departments:\n  - {code: caf\xe9}\n")
    found = check({"loop.yaml": "departments: &a [*a]\n"})
    assert "rules/latin.yaml:2: this file is not UTF-8 text: save it as UTF-8" in found
    assert "rules/loop.yaml:1: YAML syntax error: found unconstructable recursive node" in found


def test_sample_rulebook_loads():
    rules_dir = Path(__file__).resolve().parents[2] / "rules"
    if not (rules_dir / "scheme.yaml").exists():
        pytest.skip("no sample rulebook yet")
    result = check_rulebook(rules_dir)
    assert result.ok, "\n".join(str(p) for p in result.problems)
    assert result.rulebook.scheme.tiers


@pytest.mark.parametrize("text, day, start", [
    ("7d", date(2025, 2, 7), date(2025, 1, 31)),  # days: the same as before()
    ("1m", date(2025, 2, 15), date(2025, 1, 15)),
    ("1m", date(2025, 2, 28), date(2025, 1, 31)),  # Jan 31 + 1m = Feb 28 (clamped)
    ("1m", date(2024, 2, 29), date(2024, 1, 31)),  # leap year
    ("1m", date(2025, 3, 1), date(2025, 2, 1)),
    ("1m", date(2025, 4, 30), date(2025, 3, 31)),
    ("1y", date(2025, 2, 28), date(2024, 2, 29)),
])
def test_a_period_has_run_by_a_day_from_every_start_up_to_its_latest(text, day, start):
    duration = Duration.parse(text)
    assert duration.latest_start(day) == start
    assert duration.after(start) <= day
    assert duration.after(start + timedelta(days=1)) > day
