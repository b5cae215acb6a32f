"""Titles in two languages: `title` is text or a mapping of language to text."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from app.rulebook import canonical_json, check_rulebook, load_rulebook
from app.rulebook.model import title_in
from tests.rulebook.test_loader import BASE, UTIL, write

# The fingerprint of tests/rulebook/test_loader.py's BASE, computed before titles could carry
# languages: a rulebook with plain titles keeps the fingerprint it had.
BASE_FINGERPRINT = "fa8f917efc48ba83dd4cbed4adccc0aa955b56cc71ec4b17d8bcb025a933bd93"

BILINGUAL = {
    "scheme.yaml": """
        scheme: test-city
        title: {en: Test city points, zh: 测试城市积分}
        starting_points: 1000
        tiers:
          - {code: A, min: 1050, title: {en: Best, zh: 最好}}
          - {code: B, min: 960, title: {zh: 一般}}
          - {code: C}
        """,
    "departments.yaml": """
        departments:
          - {code: court, title: {en: Court, zh: 法院}}
          - code: heating-company
            title:
              en: Heating
              zh: 供热公司
          - {code: finance-bureau, title: Finance}
        """,
    "lists.yaml": BASE["lists.yaml"].replace(
        "kind: blacklist,", "kind: blacklist, title: {en: Defaulters, zh: 失信被执行人},"
    ),
    "measures.yaml": BASE["measures.yaml"].replace(
        "title: Discount,", "title: {en: Discount, zh: 优惠},"
    ),
    UTIL: BASE[UTIL]
    .replace("title: Utilities", "title: {en: Utilities, zh: 公用事业}")
    .replace(
        "title: Volunteering",
        "title:\n              en: Volunteering\n              zh: 志愿服务",
    ),
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # problems name files as "rules/..."


def _check(tmp_path, files):
    write(tmp_path / "rules", {**BASE, **files})
    return check_rulebook("rules")


def test_plain_titles_keep_their_fingerprint(tmp_path):
    write(tmp_path / "rules", BASE)
    book = load_rulebook(tmp_path / "rules")
    assert book.fingerprint == BASE_FINGERPRINT
    assert book.scheme.titles == ()
    assert '"titles"' not in canonical_json(
        scheme=book.scheme, departments=book.departments, tables=book.tables,
        measures=book.measures, lists=book.lists,
    )


def test_titles_in_two_languages_everywhere(tmp_path):
    result = _check(tmp_path, BILINGUAL)
    assert result.ok, [str(p) for p in result.problems]
    book = result.rulebook
    assert book.scheme.title == "Test city points"
    assert dict(book.scheme.titles) == {"en": "Test city points", "zh": "测试城市积分"}
    best, fair, last = book.scheme.tiers
    assert (best.title, title_in(best, "zh")) == ("Best", "最好")
    assert (fair.title, title_in(fair, "en"), title_in(fair, "zh")) == ("一般", "一般", "一般")
    assert last.titles == () and title_in(last, "zh") == ""
    court = book.department("court")
    assert (court.title, title_in(court, "zh"), title_in(court, "en")) == ("Court", "法院", "Court")
    assert title_in(book.department("heating-company"), "zh") == "供热公司"
    finance = book.department("finance-bureau")
    assert (finance.titles, title_in(finance, "zh")) == ((), "Finance")  # plain: both languages
    table = book.tables[0]
    assert (table.title, title_in(table, "zh")) == ("Utilities", "公用事业")
    volunteering = book.versions("VOL-HOURS")[0]
    assert (volunteering.title, title_in(volunteering, "zh")) == ("Volunteering", "志愿服务")
    tamper = book.versions("UTIL-HEAT-TAMPER")[0]
    assert tamper.titles == () and title_in(tamper, "zh") == "Tampering with the heating system"
    discount = next(m for m in book.measures if m.code == "HEAT-DISCOUNT")
    assert (discount.title, title_in(discount, "zh")) == ("Discount", "优惠")
    defaulters = next(x for x in book.lists if x.code == "court-defaulters")
    assert (defaulters.title, title_in(defaulters, "zh")) == ("Defaulters", "失信被执行人")
    assert title_in(None, "zh") == ""


def test_translations_are_part_of_the_fingerprint(tmp_path):
    write(tmp_path / "a", {**BASE, **BILINGUAL})
    changed = {**BILINGUAL, UTIL: BILINGUAL[UTIL].replace("志愿服务", "志愿活动")}
    write(tmp_path / "b", {**BASE, **changed})
    one, other = load_rulebook(tmp_path / "a"), load_rulebook(tmp_path / "b")
    assert one.fingerprint != other.fingerprint != BASE_FINGERPRINT


def test_the_sample_rulebook_has_both_languages():
    book = load_rulebook(Path(__file__).parents[2] / "rules")
    items = [book.scheme, *book.scheme.tiers, *book.departments, *book.tables, *book.measures,
             *book.lists, *(v for code in book.rule_codes for v in book.versions(code))]
    missing = [getattr(x, "code", "?") for x in items
               if x.title and {"en", "zh"} - dict(x.titles).keys()]
    assert missing == []
    assert title_in(book.versions("UTIL-HEAT-TAMPER")[0], "zh") == "破坏供热设施"


SCHEME_HEAD = "scheme: test-city\n"
SCHEME_TAIL = "starting_points: 1000\ntiers:\n  - {code: A, min: 1050}\n  - {code: C}\n"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("title: {}", "rules/scheme.yaml:2: title must name at least one language (en, zh)"),
        ("title: {en: Points, fr: Points}",
         "rules/scheme.yaml:2: title has an unknown language 'fr': the languages are en, zh"),
        ("title:\n  eng: Points\n  zh: 积分",
         "rules/scheme.yaml:3: title has an unknown language 'eng': the languages are en, zh"
         " (did you mean 'en'?)"),
        ("title:\n  en: Points\n  zh: 12", "rules/scheme.yaml:4: title.zh must be text, got '12'"
         " (put it in quotes)"),
        ("title:\n  en: ''\n  zh: 积分", "rules/scheme.yaml:3: title.en is empty"),
        ("title:\n  en: [a, b]", "rules/scheme.yaml:3: title.en must be text, got a list"),
        ("title:\n  en: {a: b}", "rules/scheme.yaml:3: title.en must be text, got a mapping"),
        ("title:\n  1: Points", "rules/scheme.yaml:3: title has an unknown language '1':"
         " the languages are en, zh"),
    ],
)
def test_a_bad_title_mapping_is_a_problem_with_its_line(tmp_path, title, expected):
    result = _check(tmp_path, {"scheme.yaml": SCHEME_HEAD + title + "\n" + SCHEME_TAIL})
    assert not result.ok
    assert expected in [str(p) for p in result.problems]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("code: X\ntitle: {de: Heizung}\npoints: -5\nexpires_after: 1y",
         "rules/conduct/utilities.yaml:5: rule X: title has an unknown language 'de'"),
        ("code: X\ntitle: {en: ''}\npoints: -5\nexpires_after: 1y",
         "rules/conduct/utilities.yaml:5: rule X: title.en is empty"),
    ],
)
def test_a_bad_rule_title_names_the_rule(tmp_path, body, expected):
    rows = textwrap.indent(body, "    ")
    text = f"table: utilities\ndepartments: [court]\nrules:\n  -{rows[3:]}\n"
    problems = [str(p) for p in _check(tmp_path, {UTIL: text}).problems]
    assert any(p.startswith(expected) for p in problems), problems


def test_a_bad_department_title_in_a_flow_mapping(tmp_path):
    files = {"departments.yaml": BASE["departments.yaml"].replace(
        "title: Court}", "title: {en: Court, zh: }}")}
    problems = [str(p) for p in _check(tmp_path, files).problems]
    assert any(p.startswith("rules/departments.yaml:2: department court: title.zh")
               for p in problems), problems
