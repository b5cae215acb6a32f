"""Rule tests: the sample's cases pass; failures and problems name the case file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from app.rulebook import load_rulebook
from app.ruletests import read_test_files, run_rule_tests, run_rule_tests_in

SAMPLE = Path(__file__).resolve().parents[2] / "rules"
RULEBOOK = load_rulebook(SAMPLE)


def run(text: str):
    return run_rule_tests(RULEBOOK, {"tests/case.yaml": textwrap.dedent(text).lstrip("\n")},
                          root_label="rules")


def test_the_sample_ships_cases_for_every_rule_family_and_they_pass():
    report = run_rule_tests_in(RULEBOOK, SAMPLE)
    assert report.ok, "\n".join(line for f in report.failures for line in f.lines())
    assert report.files >= 3 and report.cases >= 12 and report.checks >= 40
    texts = "\n".join(read_test_files(SAMPLE).values())
    for family in ("cap", "repeat", "expiry", "relief", "court-defaulters", "priority-scrutiny",
                   "pending:", "repaired_on", "objection", "model-citizens"):
        assert family in texts, family


def test_a_failure_names_the_file_and_line_and_shows_the_explanation():
    report = run("""
        cases:
          - case: One ticket
            records:
              - {rule: TRAFFIC-TICKET, occurred_on: 2024-03-01}
            expect:
              - as_of: 2024-03-10
                points: 990
                tier: A
                measures: [LOAN-TERMS, CREDIT-WARNING]
        """)
    assert not report.ok and report.checks == 1 and len(report.failures) == 1
    lines = report.failures[0].lines()
    assert lines[0] == ("rules/tests/case.yaml:7: FAIL case 'One ticket' on 2024-03-10: "
                        "points: expected 990, got 997")
    assert lines[1] == ("rules/tests/case.yaml:9: FAIL case 'One ticket' on 2024-03-10: "
                        "measures: expected [CREDIT-WARNING, LOAN-TERMS], got [LOAN-TERMS]")
    assert lines[2] == "    the evaluator's explanation:"
    assert "    | Starting points 1000" in lines
    assert any(line.startswith("    | - 3  TRAFFIC-TICKET") for line in lines)
    assert report.summary() == "1 file, 1 case, 1 check: 0 passed, 1 failed"
    assert [str(p) for p in report.as_problems()] == [
        "rules/tests/case.yaml:7: rule test failed: case 'One ticket' on 2024-03-10: points: "
        "expected 990, got 997",
        "rules/tests/case.yaml:9: rule test failed: case 'One ticket' on 2024-03-10: measures: "
        "expected [CREDIT-WARNING, LOAN-TERMS], got [LOAN-TERMS]",
    ]


def test_several_subjects_and_a_legal_representative():
    report = run("""
        cases:
          - case: A company and its owner
            subjects:
              - {id: owner}
              - {id: acme, kind: organisation, legal_representative: owner}
            records:
              - {subject: acme, rule: COM-COUNTERFEIT, occurred_on: 2024-01-10}
            list_entries:
              - {subject: acme, list: court-defaulters, entered_on: 2024-02-01}
            expect:
              - {as_of: 2024-03-01, subject: acme, points: 970, lists: [court-defaulters]}
              - {as_of: 2024-03-01, subject: owner, points: 1000, lists: []}
        """)
    assert report.ok, [str(p) for p in report.as_problems()]
    assert report.checks == 2


def test_problems_in_a_test_file_are_reported_at_their_line():
    report = run("""
        cases:
          - case: Typos
            records:
              - {rule: NO-SUCH-RULE, occurred_on: 2024-03-01}
              - {rule: TRAFFIC-TICKET, on: 2024-03-01}
            expect:
              - {as_of: 2024-03-10, pionts: 990, tier: Z}
          - case: Two subjects, no owner
            subjects: [{id: a}, {id: b}]
            records:
              - {rule: TRAFFIC-TICKET, occurred_on: 2024-03-01}
            expect: {as_of: 2024-03-10, subject: c}
        """)
    assert [str(p) for p in report.problems] == [
        "rules/tests/case.yaml:4: case 'Typos': unknown rule 'NO-SUCH-RULE'",
        "rules/tests/case.yaml:5: missing key 'occurred_on' in case 'Typos'",
        "rules/tests/case.yaml:5: unknown key 'True' in case 'Typos' (allowed keys are rule, "
        "occurred_on, subject, voided, annulled, repaired_on, objection)",
        "rules/tests/case.yaml:7: case 'Typos': tier: unknown code 'Z' (the rulebook has A, AA, "
        "AAA, B, C, D)",
        "rules/tests/case.yaml:7: unknown key 'pionts' in case 'Typos' (did you mean 'points'?)",
        "rules/tests/case.yaml:11: case 'Two subjects, no owner': subject is missing: the case "
        "has several subjects, so say whose it is",
        "rules/tests/case.yaml:12: case 'Two subjects, no owner': subject 'c' is not one of the "
        "case's subjects (a, b)",
    ]
    assert not report.ok and report.checks == 0
