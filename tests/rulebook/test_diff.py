"""The readable diff between two rulebooks: files and meaning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.rulebook import check_rulebook, load_rulebook_from_texts
from app.rulebook.change_words import CODES, english
from app.rulebook.diff import Change, diff, diff_rulebooks, rulebook_changes

SAMPLE = Path(__file__).resolve().parents[2] / "rules"


def test_files_and_meaning():
    old_files = dict(check_rulebook(SAMPLE).rulebook.files)
    new_files = dict(old_files)
    new_files["scheme.yaml"] = old_files["scheme.yaml"].replace("min: 960", "min: 980")
    new_files["conduct/traffic.yaml"] = old_files["conduct/traffic.yaml"].replace(
        "points: -200", "points: -150").replace("# Drunk driving is a crime", "# Drunk driving!")
    new_files["measures.yaml"] = old_files["measures.yaml"].replace(
        "when: {tiers: [AAA]}", "when: {tiers: [AAA, AA]}")
    new_files["conduct/extra.yaml"] = (
        "table: extra\ndepartments: [court]\nrules:\n"
        "  - {code: EXTRA, title: Extra, points: -1, legal_basis: L, expires_after: 1y}\n")
    del new_files["conduct/villages.yaml"]
    result = diff(old_files, new_files, load_rulebook_from_texts(old_files),
                  load_rulebook_from_texts(new_files))
    assert list(result.changes) == [
        "tier A: min 960 → 980",
        "rule EXTRA added: version 1 -1, always",
        "rule TRAFFIC-DRUNK version 1: points -200 → -150",
        "rule VILLAGE-GOOD-DEED removed (it had 1 version)",
        "rule VILLAGE-MODEL-FAMILY removed (it had 1 version)",
        "measure HEATING-DISCOUNT: when tiers AAA → tiers AAA, AA",
    ]
    assert [(f.name, f.status) for f in result.files] == [
        ("conduct/extra.yaml", "added"), ("conduct/traffic.yaml", "changed"),
        ("conduct/villages.yaml", "removed"), ("measures.yaml", "changed"),
        ("scheme.yaml", "changed")]
    traffic = result.files[1].lines
    assert traffic[:2] == ("--- a/conduct/traffic.yaml", "+++ b/conduct/traffic.yaml")
    assert "-    points: -200" in traffic and "+    points: -150" in traffic
    assert any(line.startswith("+") and "Drunk driving!" in line for line in traffic)


def test_same_rulebook_has_no_diff():
    files = dict(check_rulebook(SAMPLE).rulebook.files)
    book = load_rulebook_from_texts(files)
    assert diff(files, files, book, book).same


def test_a_rulebook_that_no_longer_loads_still_gets_its_file_diff():
    files = dict(check_rulebook(SAMPLE).rulebook.files)
    broken = {**files, "scheme.yaml": "scheme: ["}
    result = diff(files, broken, load_rulebook_from_texts(files), None)
    assert result.changes == () and [f.name for f in result.files] == ["scheme.yaml"]


def _v(number: int, points: int, start=None, until=None, relief=False) -> dict:
    return {"version": number, "points": points, "start": start, "until": until,
            "relief": relief}


RULE = {"rule": "R-1", "version": 2}
WORDED = [  # every change code, worded in English as diff_rulebooks has always worded it
    ("starting_points", {"before": 1000, "after": 900}, "starting points 1000 → 900"),
    ("requires_consent", {"before": False, "after": True}, "requires consent false → true"),
    ("requires_consent", {"before": True, "after": False}, "requires consent true → false"),
    ("tier_added", {"tier": "S", "min": 1100}, "tier S added (min 1100)"),
    ("tier_added", {"tier": "E", "min": None}, "tier E added (min None)"),
    ("tier_removed", {"tier": "S"}, "tier S removed"),
    ("tier_min", {"tier": "A", "before": 960, "after": 1000}, "tier A: min 960 → 1000"),
    ("tier_min", {"tier": "D", "before": 600, "after": None}, "tier D: min 600 → None"),
    ("tier_order", {}, "the order of the tiers changed"),
    ("objection_deadlines", {}, "objection deadlines changed"),
    ("department_added", {"department": "tax"}, "department tax added"),
    ("department_removed", {"department": "tax"}, "department tax removed"),
    ("department_keeps_register", {"department": "tax"},
     "department tax now keeps the register"),
    ("department_no_longer_keeps_register", {"department": "tax"},
     "department tax no longer keeps the register"),
    ("rule_added", {"rule": "R-1", "versions": [
        _v(1, -5), _v(2, -10, "2026-01-01", None, True), _v(3, 2, "2027-01-01", "2027-12-31")]},
     "rule R-1 added: version 1 -5, always; version 2 -10, from 2026-01-01, relief; "
     "version 3 +2, 2027-01-01 to 2027-12-31"),
    ("rule_removed", {"rule": "R-1", "versions": 1}, "rule R-1 removed (it had 1 version)"),
    ("rule_removed", {"rule": "R-1", "versions": 3}, "rule R-1 removed (it had 3 versions)"),
    ("rule_version_added", {**_v(2, 0, None, "2026-06-30"), "rule": "R-1"},
     "rule R-1 version 2 added: +0, until 2026-06-30"),
    ("rule_version_removed", RULE, "rule R-1 version 2 removed"),
    ("rule_points", {**RULE, "before": -200, "after": -150},
     "rule R-1 version 2: points -200 → -150"),
    ("rule_in_force", {**RULE, "before_start": None, "before_until": None,
                       "after_start": "2026-03-01", "after_until": None},
     "rule R-1 version 2: in force always → from 2026-03-01"),
    ("rule_relief", {**RULE, "relief": True}, "rule R-1 version 2: relief granted"),
    ("rule_relief", {**RULE, "relief": False}, "rule R-1 version 2: relief withdrawn"),
    ("rule_cap", {**RULE, "before_points": None, "before_per": None, "after_points": 3,
                  "after_per": "year"}, "rule R-1 version 2: cap none → 3 per year"),
    ("rule_cap", {**RULE, "before_points": 3, "before_per": "year", "after_points": 1,
                  "after_per": "month"}, "rule R-1 version 2: cap 3 per year → 1 per month"),
    ("rule_repeat", {**RULE, "before_factor": 2, "before_within": "1y", "after_factor": None,
                     "after_within": None}, "rule R-1 version 2: repeat x2 within 1y → none"),
    ("rule_title", {**RULE, "before": "Old", "after": "New"},
     "rule R-1 version 2: title Old → New"),
    ("rule_table", {**RULE, "before": "main", "after": "extra"},
     "rule R-1 version 2: table main → extra"),
    ("rule_expires_after", {**RULE, "before": "2y", "after": "3y"},
     "rule R-1 version 2: expires after 2y → 3y"),
    ("rule_repairable_after", {**RULE, "before": None, "after": "6m"},
     "rule R-1 version 2: repairable after none → 6m"),
    ("rule_legal_basis", {**RULE, "before": "", "after": "Art. 5"},
     "rule R-1 version 2: legal basis  → Art. 5"),
    ("rule_departments", {**RULE, "before": ["court"], "after": ["court", "tax"]},
     "rule R-1 version 2: departments [court] → [court, tax]"),
    ("rule_subjects", {**RULE, "before": ["person", "organisation"], "after": ["person"]},
     "rule R-1 version 2: subjects [person, organisation] → [person]"),
    ("measure_added", {"measure": "M", "kind": "benefit", "tiers": ["AAA", "AA"], "lists": [],
                       "flags": ["f"]}, "measure M added (benefit, when tiers AAA, AA; flags f)"),
    ("measure_added", {"measure": "M", "kind": "restriction", "tiers": [], "lists": [],
                       "flags": []}, "measure M added (restriction, when nothing)"),
    ("measure_removed", {"measure": "M"}, "measure M removed"),
    ("measure_when", {"measure": "M", "before_tiers": ["D"], "before_lists": ["court"],
                      "before_flags": [], "after_tiers": ["B", "D"], "after_lists": ["court"],
                      "after_flags": []},
     "measure M: when tiers D; lists court → tiers B, D; lists court"),
    ("measure_notice", {"measure": "M", "before": "7d", "after": None},
     "measure M: notice 7d → none"),
    ("measure_kind", {"measure": "M", "before": "benefit", "after": "restriction"},
     "measure M: kind benefit → restriction"),
    ("measure_title", {"measure": "M", "before": "A", "after": "B"}, "measure M: title A → B"),
    ("measure_owner", {"measure": "M", "before": "court", "after": "tax"},
     "measure M: owner court → tax"),
    ("measure_legal_basis", {"measure": "M", "before": "L", "after": "L2"},
     "measure M: legal basis L → L2"),
    ("measure_reaches", {"measure": "M", "before": [], "after": ["legal_representative"]},
     "measure M: reaches [] → [legal_representative]"),
    ("list_added", {"list": "L", "kind": "blacklist"}, "list L added (blacklist)"),
    ("list_removed", {"list": "L"}, "list L removed"),
    ("list_kind", {"list": "L", "before": "watchlist", "after": "blacklist"},
     "list L: kind watchlist → blacklist"),
    ("list_lasts", {"list": "L", "before": "2y", "after": "3y"}, "list L: lasts 2y → 3y"),
    ("list_lasts", {"list": "L", "before": "2y", "after": None}, "list L: lasts 2y → none"),
    ("list_departments", {"list": "L", "before": ["court"], "after": []},
     "list L: departments [court] → []"),
    ("list_public", {"list": "L", "before": False, "after": True},
     "list L: public False → True"),
    ("list_public", {"list": "L", "before": True, "after": False},
     "list L: public True → False"),
    ("list_flag", {"list": "L", "before_entries": None, "before_within": None,
                   "after_entries": 3, "after_within": "1y"}, "list L: flag none → 3 within 1y"),
    ("list_title", {"list": "L", "before": "Old", "after": "New"}, "list L: title Old → New"),
    ("list_legal_basis", {"list": "L", "before": "X", "after": "Y"},
     "list L: legal basis X → Y"),
]


@pytest.mark.parametrize(("code", "values", "sentence"), WORDED,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(WORDED)])
def test_each_change_is_worded_in_english_as_before(code, values, sentence):
    change = Change(code, values)
    assert english(change) == sentence
    # The data survive JSON (as a notice stores them) and word the same.
    assert english(Change.from_json(json.loads(json.dumps(change.to_json())))) == sentence


def test_the_table_covers_every_code():
    assert {code for code, _, _ in WORDED} == CODES


def test_the_english_sentences_are_the_changes_worded():
    old_files = dict(check_rulebook(SAMPLE).rulebook.files)
    new_files = {**old_files, "scheme.yaml": old_files["scheme.yaml"].replace(
        "min: 960", "min: 980")}
    old, new = load_rulebook_from_texts(old_files), load_rulebook_from_texts(new_files)
    changes = rulebook_changes(old, new)
    assert changes == (Change("tier_min", {"tier": "A", "before": 960, "after": 980}),)
    assert diff_rulebooks(old, new) == tuple(english(c) for c in changes)


def test_a_code_this_version_does_not_know_reads_as_its_code():
    assert english(Change("rule_colour", {"rule": "R-1"})) == "rule_colour"
