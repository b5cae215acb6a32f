"""`flask rules test|simulate|reload|history|diff` through Flask's CLI runner."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from app import clock
from app.db import session_scope
from app.models import RulebookEvent
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from app.services.rulebooks.registry import EXTENSION_KEY
from tests.conftest import SAMPLE_RULES


@pytest.fixture
def app_config(database_url, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(SAMPLE_RULES, rules)
    return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
            "RULES_DIR": str(rules), "RULEBOOK_SYNC_SECONDS": None}


@pytest.fixture
def rules_dir(app_config) -> Path:
    return Path(app_config["RULES_DIR"])


def copy(rules_dir: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(rules_dir, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_rules_test_passes_on_the_sample(runner):
    result = runner.invoke(args=["rules", "test"])
    assert result.exit_code == 0, result.output
    assert result.output == "ok: 3 files, 16 cases, 45 checks: 45 passed, 0 failed\n"


def test_rules_test_reports_each_failure_with_file_line_and_explanation(runner, rules_dir,
                                                                       tmp_path):
    target = copy(rules_dir, tmp_path, "candidate")
    edit(target / "tests/points.yaml", "- {as_of: 2024-12-01, points: 1010, tier: A}",
         "- {as_of: 2024-12-01, points: 1011, tier: AA}")
    result = runner.invoke(args=["rules", "test", str(target)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    prefix = f"{target}/tests/points.yaml:25: FAIL case 'Village good deeds stop at the cap of " \
             "10 a calendar year' on 2024-12-01: "
    assert lines[0] == prefix + "points: expected 1011, got 1010"
    assert lines[1] == prefix + "tier: expected AA, got A"
    assert lines[2] == "    the evaluator's explanation:"
    assert lines[3] == "    | Standing of subject on 2024-12-01"
    assert any("| + 1  VILLAGE-GOOD-DEED" in line and "capped: 9 of 10" in line for line in lines)
    assert "FAILED: 3 files, 16 cases, 45 checks: 44 passed, 1 failed" in result.output


def test_rules_test_refuses_a_rulebook_that_fails_the_check(runner, rules_dir, tmp_path):
    target = copy(rules_dir, tmp_path, "broken")
    edit(target / "scheme.yaml", "starting_points: 1000", "starting_points: lots")
    result = runner.invoke(args=["rules", "test", str(target)])
    assert result.exit_code == 1
    assert f"{target}/scheme.yaml:" in result.output and "no test was run" in result.output


def test_rules_test_without_tests(runner, rules_dir, tmp_path):
    target = copy(rules_dir, tmp_path, "bare")
    shutil.rmtree(target / "tests")
    result = runner.invoke(args=["rules", "test", str(target)])
    assert result.exit_code == 0
    assert result.output == f"no rule tests: write them in {target}/tests/*.yaml\n"


def test_rules_simulate(app, runner, rules_dir, tmp_path, make_subject):
    target = copy(rules_dir, tmp_path, "candidate")
    edit(target / "scheme.yaml", "min: 960", "min: 1000")  # the starting 1000 is still an A
    with app.app_context(), session_scope(app) as session:
        rules = app.extensions[EXTENSION_KEY].current()
        person = make_subject(session, name="Ticketed").subject_id
        make_subject(session, name="Clean")
        record_conduct(
            session, RecordDraft(subject_id=person, rule_code="TRAFFIC-TICKET",
                                 occurred_on=date(2024, 3, 1)),
            rulebook=rules, department="traffic-police", recorded_by="t", today=clock.today())
    result = runner.invoke(args=["rules", "simulate", str(target), "--as-of", "2024-03-10"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"candidate {target} (fingerprint " in out and "as of 2024-03-10: 2 subjects" in out
    assert "its rule tests FAIL: a reload would refuse this rulebook" in out
    assert "  tier A: min 960 → 1000" in out
    assert "  A                     2        1       -1" in out
    assert "  B                     0        1       +1" in out
    assert "Moves: 0 up, 1 down" in out and "  A → B: 1 (down)" in out
    assert "  CREDIT-WARNING (restriction): 1 gain it, 0 lose it" in out
    assert f"  {person} Ticketed: 997 A → 997 B; gains CREDIT-WARNING; loses LOAN-TERMS" in out
    assert "    because the candidate changes: tier A: min 960 → 1000" in out
    as_json = runner.invoke(args=["rules", "simulate", str(target), "--as-of", "2024-03-10",
                                  "--json", "--sample", "0"])
    body = json.loads(as_json.output)
    assert (body["moved_down"], body["sample"], body["candidate_tests"]["ok"]) == (1, [], False)
    with session_scope(app) as session:
        logged = len(session.execute(select(RulebookEvent).where(
            RulebookEvent.action == "simulate")).all())
    assert logged == 2


def test_rules_simulate_refuses_a_broken_candidate(runner, rules_dir, tmp_path):
    target = copy(rules_dir, tmp_path, "broken")
    edit(target / "conduct/traffic.yaml", "points: -200", "points: lots")
    result = runner.invoke(args=["rules", "simulate", str(target)])
    assert result.exit_code == 1
    assert "fails the check with 1 problem; nothing was simulated" in result.output
    assert f"{target}/conduct/traffic.yaml:50: rule TRAFFIC-DRUNK: points must be a whole " \
           "number, got 'lots'" in result.output


def test_rules_reload_history_and_diff(runner, rules_dir):
    first = runner.invoke(args=["rules", "reload", "--as", "li"])
    assert first.exit_code == 0 and first.output.startswith("in force: ")
    edit(rules_dir / "conduct/traffic.yaml", "    points: -3\n", "    points: -2\n")
    refused = runner.invoke(args=["rules", "reload"])
    assert refused.exit_code == 1
    assert "rule test failed" in refused.output and "the rulebook in force stays" in refused.output
    edit(rules_dir / "conduct/traffic.yaml", "    points: -2\n", "    points: -3\n")
    edit(rules_dir / "lists.yaml", "lasts: 3y", "lasts: 4y")
    second = runner.invoke(args=["rules", "reload", "--as", "wang"])
    assert second.exit_code == 0
    history = runner.invoke(args=["rules", "history"]).output.splitlines()
    assert len(history) == 2 and "by wang" in history[0]
    new, old = history[0].split()[0], history[1].split()[0]
    diff = runner.invoke(args=["rules", "diff", old, new])
    assert diff.exit_code == 0
    assert "  list tax-defaulters: lasts 3y → 4y" in diff.output
    assert "-    lasts: 3y" in diff.output and "+    lasts: 4y" in diff.output
    assert runner.invoke(args=["rules", "diff", "nothex", new]).exit_code == 1


def test_rules_reload_refuses_a_directory_without_tests_unless_told(runner, rules_dir):
    assert runner.invoke(args=["rules", "reload"]).exit_code == 0
    shutil.rmtree(rules_dir / "tests")
    edit(rules_dir / "lists.yaml", "lasts: 3y", "lasts: 4y")
    refused = runner.invoke(args=["rules", "reload"])
    assert refused.exit_code == 1
    assert f"{rules_dir}/tests: no rule tests" in refused.output
    assert "the rulebook in force stays" in refused.output
    allowed = runner.invoke(args=["rules", "reload", "--without-tests", "--as", "root"])
    assert allowed.exit_code == 0 and "(no rule tests)" in allowed.output


def test_rules_simulate_refuses_a_far_date(runner, rules_dir):
    refused = runner.invoke(args=["rules", "simulate", str(rules_dir), "--as-of", "0001-01-01"])
    assert refused.exit_code == 1 and "before the scheme's earliest rule" in refused.output
    assert runner.invoke(args=["rules", "simulate", str(rules_dir), "--as-of",
                               "9999-12-31"]).exit_code == 1
