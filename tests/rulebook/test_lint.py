"""`rules check` warnings: valid rulebooks that are probably not what was meant."""

from __future__ import annotations

import textwrap
from pathlib import Path

from app.rulebook import check_rulebook, check_rulebook_texts

SAMPLE = Path(__file__).resolve().parents[2] / "rules"

BASE = {
    "scheme.yaml": """
        scheme: lint-city
        title: Lint city
        starting_points: 1000
        tiers:
          - {code: A, min: 1050}
          - {code: B, min: 960}
          - {code: C}
        """,
    "departments.yaml": """
        departments:
          - {code: court, title: Court}
        """,
    "lists.yaml": """
        lists:
          - {code: defaulters, kind: blacklist, departments: [court]}
          - {code: watch, kind: watchlist, departments: [court]}
        """,
    "measures.yaml": """
        measures:
          - {code: BONUS, kind: benefit, title: Bonus, owner: court, when: {tiers: [A]}}
          - {code: WARN, kind: restriction, title: Warn, owner: court, legal_basis: Law,
             when: {tiers: [B, C], lists: [defaulters], flags: [watch]}}
        """,
    "conduct/main.yaml": """
        table: main
        departments: [court]
        rules:
          - {code: GOOD, title: Good, points: 5, legal_basis: Law, expires_after: 1y}
          - {code: BAD, title: Bad, points: -5, legal_basis: Law, expires_after: 1y}
        """,
}


def warnings(**changes: str) -> list[str]:
    files = {name: textwrap.dedent(text).lstrip("\n") for name, text in BASE.items()}
    files.update({name.replace("__", "/").replace("_yaml", ".yaml"): textwrap.dedent(text)
                  .lstrip("\n") for name, text in changes.items()})
    result = check_rulebook_texts(files, root_label="rules")
    assert result.ok, [str(p) for p in result.problems]
    return [str(w) for w in result.warnings]


def test_the_base_and_the_sample_rulebook_have_no_warnings():
    assert warnings() == []
    result = check_rulebook(SAMPLE)
    assert result.ok and [str(w) for w in result.warnings] == []


def test_a_tier_no_measure_mentions():
    assert warnings(measures_yaml="""
        measures:
          - {code: BONUS, kind: benefit, title: Bonus, owner: court, when: {tiers: [A]}}
          - {code: WARN, kind: restriction, title: W, owner: court, legal_basis: L,
             when: {tiers: [C]}}
        """) == ["rules/scheme.yaml:6: tier B: no measure mentions it in when.tiers, so the "
                 "grade switches no benefit or restriction on"]


def test_a_tier_no_points_can_reach_and_the_measure_it_leaves_dead():
    table = """
        table: main
        departments: [court]
        rules:
          - {code: BAD, title: Bad, points: -5, legal_basis: Law, expires_after: 1y}
        """
    assert warnings(conduct__main_yaml=table) == [
        "rules/measures.yaml:2: measure BONUS: no condition can switch it on: no points can "
        "reach tier A",
        "rules/scheme.yaml:5: tier A: no points can reach it: it lies above the starting "
        "1000 points and no rule adds points",
    ]


def test_a_measure_whose_lists_no_department_may_write():
    lists = """
        lists:
          - {code: defaulters, kind: blacklist}
          - {code: watch, kind: watchlist, departments: [court]}
        """
    measures = """
        measures:
          - {code: BONUS, kind: benefit, title: Bonus, owner: court, when: {tiers: [A]}}
          - {code: WARN, kind: restriction, title: Warn, owner: court, legal_basis: Law,
             when: {tiers: [B, C], flags: [watch]}}
          - {code: BAN, kind: restriction, title: Ban, owner: court, legal_basis: Law,
             when: {lists: [defaulters]}}
        """
    assert warnings(lists_yaml=lists, measures_yaml=measures) == [
        "rules/lists.yaml:2: list defaulters: no department may write to it, so no subject "
        "can ever be on it: give it departments",
        "rules/measures.yaml:5: measure BAN: no condition can switch it on: no department "
        "may write to defaulters",
    ]


def test_rules_whose_points_can_never_matter_because_of_the_cap():
    table = """
        table: main
        departments: [court]
        rules:
          - {code: GOOD, title: Good, points: 5, legal_basis: Law, expires_after: 1y}
          - {code: BAD, title: Bad, points: -50, legal_basis: Law, expires_after: 1y,
             cap: {points: 20, per: year}, repeat: {within: 1y, factor: 2}}
          - {code: EVEN, title: Even, points: -10, legal_basis: Law, expires_after: 1y,
             cap: {points: 10, per: month}, repeat: {within: 1y, factor: 3}}
          - {code: FINE, title: Fine, points: 1, legal_basis: Law, expires_after: 1y,
             cap: {points: 20, per: year}, repeat: {within: 1y, factor: 2}}
          - {code: NOTHING, title: Nothing, points: 0, legal_basis: Law, expires_after: 1y}
        """
    assert warnings(conduct__main_yaml=table) == [
        "rules/conduct/main.yaml:5: rule BAD: its points (-50) can never count in full: the "
        "cap of 20 per year cuts every record to at most 20",
        "rules/conduct/main.yaml:5: rule BAD: its repeat (x2) can never matter: one record "
        "of -50 already reaches the cap of 20 per year",
        "rules/conduct/main.yaml:7: rule EVEN: its repeat (x3) can never matter: one record "
        "of -10 already reaches the cap of 10 per month",
        "rules/conduct/main.yaml:11: rule NOTHING: points 0: its records never change a "
        "standing",
    ]


def test_warnings_do_not_fail_the_check_command(runner, tmp_path):
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(SAMPLE, rules)
    measures = rules / "measures.yaml"
    measures.write_text(measures.read_text().replace("when: {tiers: [B, C, D]}",
                                                     "when: {tiers: [C, D]}"))
    result = runner.invoke(args=["rules", "check", str(rules)])
    assert result.exit_code == 0, result.output
    assert f"{rules}/scheme.yaml:62: warning: tier B: no measure mentions it" in result.output
    assert "ok:" in result.output
