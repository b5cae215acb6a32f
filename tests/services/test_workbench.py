"""The rule author's workbench on both databases: reloads that keep records' versions, rule
tests that block a reload, history and diffs, following other processes, SIGHUP, and a
simulation that writes nothing but its own log row."""

from __future__ import annotations

import json
import os
import shutil
import signal
from datetime import date

import pytest
from sqlalchemy import inspect, select, text

from app import clock
from app.errors import InvalidInput, NotFound
from app.models import ListEntry, Record, RulebookEvent, Standing
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from app.services.rulebooks.candidates import candidate_from_dir
from app.services.rulebooks.history import rulebook_diff, rulebook_history, rulebook_status
from app.services.rulebooks.registry import EXTENSION_KEY, RulebookRegistry
from app.services.rulebooks.simulate import simulate
from app.services.standings.facts import standing_for
from app.services.standings.recompute import recompute
from tests.conftest import SAMPLE_RULES

TODAY = clock.today()
V3 = """
  - code: TRAFFIC-TICKET
    title: Traffic ticket (a fined traffic offence)
    points: -2
    legal_basis: Sample amendment of 2026
    subjects: [person]
    expires_after: 3m
    repeat: {within: 1y, factor: 2}
    effective: {from: 2026-01-01}
    relief: true
"""


@pytest.fixture
def app_config(database_url, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(SAMPLE_RULES, rules)
    return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
            "RULES_DIR": str(rules), "RULEBOOK_SYNC_SECONDS": None}


@pytest.fixture
def rules_dir(app_config):
    return app_config["RULES_DIR"]


@pytest.fixture
def registry(app):
    return app.extensions[EXTENSION_KEY]


def edit(path, old: str, new: str) -> None:
    with open(path) as f:
        body = f.read()
    assert old in body, old
    with open(path, "w") as f:
        f.write(body.replace(old, new, 1))


def add_version_3(rules_dir) -> None:
    """End version 2 of TRAFFIC-TICKET on 2025-12-31 and add a milder version 3 with relief."""
    traffic = f"{rules_dir}/conduct/traffic.yaml"
    edit(traffic, "    effective: {from: 2024-01-01}\n    relief: true\n",
         "    effective: {from: 2024-01-01, until: 2025-12-31}\n    relief: true\n" + V3)


def ticket(session, rulebook, subject_id, on: str):
    return record_conduct(
        session, RecordDraft(subject_id=subject_id, rule_code="TRAFFIC-TICKET",
                             occurred_on=date.fromisoformat(on)),
        rulebook=rulebook, department="traffic-police", recorded_by="t", today=TODAY).record


def test_records_keep_their_version_and_fingerprint_across_a_reload(app, session, registry,
                                                                     rules_dir, make_subject):
    with app.app_context():
        first = registry.current()
        person = make_subject(session).subject_id
        old = ticket(session, first, person, "2023-12-20")  # version 1: -5
        later = ticket(session, first, person, "2025-11-01")  # version 2: -3
        add_version_3(rules_dir)
        state = registry.reload(loaded_by="author")
        assert not state.problems, [str(p) for p in state.problems]
        second = registry.current()
    assert second.fingerprint != first.fingerprint
    rows = {r.id: r for r in session.execute(select(Record)).scalars()}
    assert (rows[old.id].rule_version, rows[old.id].rulebook_fingerprint) == (1, first.fingerprint)
    assert (rows[later.id].rule_version, rows[later.id].points) == (2, -3)
    assert rows[later.id].rulebook_fingerprint == first.fingerprint
    # The past stays as it was; relief applies from each relief version's date.
    points = {day: standing_for(session, rulebook=second, subject_id=person,
                                as_of=date.fromisoformat(day)).points
              for day in ("2023-12-25", "2024-01-10", "2025-12-31", "2026-01-05")}
    assert points == {"2023-12-25": 995, "2024-01-10": 997, "2025-12-31": 997,
                      "2026-01-05": 998}
    explanation = standing_for(session, rulebook=second, subject_id=person,
                               as_of=date(2026, 1, 5)).explanation
    assert any("relief under version 3 from 2026-01-01: -3 → -2" in line for line in explanation)
    recompute(session, rulebook=second, as_of=date(2026, 1, 5))  # the SQL path agrees
    assert session.get(Standing, person).points == 998
    with app.app_context():
        new = ticket(session, second, person, "2026-02-01")
    assert (new.rule_version, new.rulebook_fingerprint) == (3, second.fingerprint)


def test_a_failing_rule_test_blocks_a_reload(app, session, registry, rules_dir):
    with app.app_context():
        good = registry.current()
        edit(f"{rules_dir}/conduct/traffic.yaml", "    points: -3\n", "    points: -2\n")
        state = registry.reload(loaded_by="author")
        assert registry.current() is good  # the last good one stays in force
    assert state.rulebook is good and state.refused_at is not None
    problems = [str(p) for p in state.problems]
    assert f"{rules_dir}/tests/points.yaml:57: rule test failed: case 'A ticket under version " \
           "1 counts -5 until version 2 grants relief, then -3' on 2024-01-10: points: " \
           "expected 997, got 998" in problems
    status = rulebook_status(session)
    assert status.in_force.fingerprint == good.fingerprint and status.in_force.by == "system"
    assert status.refusal.by == "author" and not status.refusal.superseded
    assert status.refusal.fingerprint is not None  # it loaded, but failed its own tests
    assert any("rule test failed" in p for p in status.refusal.problems)
    # A rulebook that fails the check is refused the same way, with its file and line.
    edit(f"{rules_dir}/scheme.yaml", "starting_points: 1000", "starting_points: lots")
    with app.app_context():
        state = registry.reload(loaded_by="author")
    assert state.rulebook is good
    [problem] = state.problems
    assert str(problem).startswith(f"{rules_dir}/scheme.yaml:") and "'lots'" in str(problem)
    # Put right: the next reload succeeds, is logged, and the refusal is superseded.
    edit(f"{rules_dir}/scheme.yaml", "starting_points: lots", "starting_points: 1000")
    edit(f"{rules_dir}/conduct/traffic.yaml", "    points: -2\n", "    points: -3\n")
    with app.app_context():
        state = registry.reload(loaded_by="fixer")
    assert not state.problems and state.rulebook.fingerprint == good.fingerprint
    session.rollback()  # a fresh snapshot: the registry wrote through its own session
    status = rulebook_status(session)
    assert status.refusal.superseded and status.in_force.by == "fixer"


def test_history_and_diff(app, session, registry, rules_dir):
    with app.app_context():
        first = registry.current()
        add_version_3(rules_dir)
        second = registry.reload(loaded_by="author").rulebook
    history = rulebook_history(session)
    assert [(h.fingerprint, h.by, h.kind) for h in history] == [
        (second.fingerprint, "author", "in force"), (first.fingerprint, "system", "in force")]
    a, b, result = rulebook_diff(session, old=first.fingerprint[:8], new=second.fingerprint)
    assert (a.fingerprint, b.fingerprint) == (first.fingerprint, second.fingerprint)
    assert list(result.changes) == [
        "rule TRAFFIC-TICKET version 2: in force from 2024-01-01 → 2024-01-01 to 2025-12-31",
        "rule TRAFFIC-TICKET version 3 added: -2, from 2026-01-01, relief",
    ]
    assert [f.name for f in result.files] == ["conduct/traffic.yaml"]
    assert "+    points: -2" in result.files[0].lines
    with pytest.raises(InvalidInput):
        rulebook_diff(session, old="xyz", new=second.fingerprint)
    with pytest.raises(NotFound):
        rulebook_diff(session, old="abcdef0", new=second.fingerprint)


def test_other_processes_follow_a_reload(app, registry, rules_dir):
    from app.db import session_scope

    with app.app_context():
        first = registry.current()
        other = RulebookRegistry(rules_dir, lambda write=False: session_scope(app, write=write),
                                  sync_seconds=0)
        assert other.current().fingerprint == first.fingerprint
        add_version_3(rules_dir)
        second = other.reload(loaded_by="scheduler").rulebook  # e.g. the nightly run
        assert registry.current() is first  # sync is off for this one: it waits
        assert registry.follow(force=True)
        assert registry.current().fingerprint == second.fingerprint
        assert registry.state.loaded_by == "scheduler"
        assert not registry.follow(force=True)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_asks_for_a_safe_reload(app, registry, rules_dir):
    with app.app_context():
        first = registry.current()
        add_version_3(rules_dir)
        assert registry.current() is first
        os.kill(os.getpid(), signal.SIGHUP)  # the handler only sets a flag
        second = registry.current()  # the reload happens here, at the next use
    assert second.fingerprint != first.fingerprint
    assert registry.state.loaded_by == "signal:SIGHUP"


def _dump(session) -> dict[str, list]:
    """Return every table's rows, in a fixed order."""
    tables = inspect(session.get_bind()).get_table_names()
    out = {}
    for table in sorted(tables):
        rows = session.execute(text(f"SELECT * FROM {table}")).all()
        out[table] = sorted(tuple(map(repr, row)) for row in rows)
    session.rollback()
    return out


@pytest.fixture
def population(app, session, registry, make_subject):
    """Three subjects: X at 950 (B) whose late fee gets relief, Y with nothing, Z listed."""
    with app.app_context():
        rules = registry.current()
        x = make_subject(session, subject_id="370633198305100820", name="X").subject_id
        y = make_subject(session, subject_id="371082198911270307", name="Y").subject_id
        z = make_subject(session, subject_id="372133197708251738", name="Z").subject_id
        record_conduct(
            session, RecordDraft(subject_id=x, rule_code="UTIL-LATE-FEES",
                                 occurred_on=date(2024, 6, 1)),
            rulebook=rules, department="heating-company", recorded_by="t", today=TODAY)
        record_conduct(
            session, RecordDraft(subject_id=x, rule_code="FIN-DEBT-LIABLE",
                                 occurred_on=date(2024, 6, 1)),
            rulebook=rules, department="court", recorded_by="t", today=TODAY)
        session.add(ListEntry(list_code="court-defaulters", subject_id=z, department_code="court",
                              entered_on=date(2025, 1, 1), ends_on=date(2027, 1, 1),
                              legal_basis="SPC", decision_ref="(2025) 1"))
        session.commit()
        recompute(session, rulebook=rules, as_of=date(2025, 3, 1))
    return rules, x, y, z


@pytest.fixture
def candidate_dir(tmp_path, rules_dir):
    """The rules with UTIL-LATE-FEES -10 (relief) from 2025 and the heating discount from A."""
    path = tmp_path / "candidate"
    shutil.copytree(rules_dir, path)
    utilities = path / "conduct/utilities.yaml"
    body = utilities.read_text()
    row = body[body.index("  - code: UTIL-LATE-FEES"):].rstrip("\n")  # the last row
    utilities.write_text(
        body[:body.index("  - code: UTIL-LATE-FEES")] + row
        + "\n    effective: {until: 2024-12-31}\n\n" + row.replace("points: -20", "points: -10")
        + "\n    effective: {from: 2025-01-01}\n    relief: true\n")
    edit(path / "measures.yaml", "when: {tiers: [AAA]}", "when: {tiers: [AAA, AA, A]}")
    return path


def test_simulate_writes_nothing_but_its_log(app, session, registry, population, candidate_dir):
    rules, x, y, z = population
    candidate = candidate_from_dir(candidate_dir)
    assert not candidate.tests.ok  # its tests expect the old measures; it is simulated anyway
    before = _dump(session)
    assert before["standing"] and before["standing_measure"]  # there is something to keep
    report = simulate(session, in_force=rules, candidate=candidate.rulebook,
                      as_of=date(2025, 3, 1), actor="author", source=str(candidate_dir))
    after = _dump(session)
    assert set(after) == set(before)
    # The log is a rulebook event; like every fact it is sealed: one seal, and the audit
    # event that binds it into the chain. Nothing else is written.
    log = ("rulebook_event", "fact_seal", "audit_event")
    for table in before:
        if table not in log:
            assert after[table] == before[table], table
    added = {t: [row for row in after[t] if row not in before[t]] for t in log}
    assert len(added["rulebook_event"]) == 1
    assert [row[1] for row in added["fact_seal"]] == ["'rulebook-event'"]
    assert len(added["audit_event"]) == 1 and "'facts.sealed'" in added["audit_event"][0]
    assert all(row in after[t] for t in log for row in before[t])  # nothing else changed
    event = session.execute(select(RulebookEvent).order_by(RulebookEvent.id.desc())).scalars() \
        .first()
    assert (event.action, event.actor, event.fingerprint) == ("simulate", "author",
                                                              candidate.rulebook.fingerprint)
    assert json.loads(event.details)["moved_up"] == report.moved_up == 1


def test_simulate_reports_tiers_moves_measures_and_why(app, session, population, candidate_dir):
    rules, x, y, z = population
    candidate = candidate_from_dir(candidate_dir)
    report = simulate(session, in_force=rules, candidate=candidate.rulebook,
                      as_of=date(2025, 3, 1), actor="author", sample=20)
    assert report.subjects == 3
    tiers = {t.tier: (t.before, t.after) for t in report.tiers}
    assert tiers["A"] == (2, 3) and tiers["B"] == (1, 0) and tiers["D"] == (0, 0)
    assert (report.moved_up, report.moved_down, report.moved_other) == (1, 0, 0)
    assert [(t.before, t.after, t.subjects, t.direction) for t in report.transitions] == [
        ("B", "A", 1, "up")]
    measures = {m.code: (m.gained, m.lost) for m in report.measures if m.gained or m.lost}
    assert measures == {"HEATING-DISCOUNT": (3, 0), "LOAN-TERMS": (1, 0),
                        "CREDIT-WARNING": (0, 1)}
    heating = next(m for m in report.measures if m.code == "HEATING-DISCOUNT")
    assert heating.gained_ids == sorted([x, y, z])
    first = report.sample[0]
    assert (first.subject_id, first.points_before, first.tier_before, first.points_after,
            first.tier_after) == (x, 950, "B", 960, "A")
    assert first.gained == ["HEATING-DISCOUNT", "LOAN-TERMS"] and first.lost == ["CREDIT-WARNING"]
    [change] = first.records
    assert (change.rule_code, change.before, change.after) == ("UTIL-LATE-FEES", -20, -10)
    assert change.reason == "relief under version 2 from 2025-01-01: -20 → -10"
    assert change.rule_before == "UTIL-LATE-FEES version 1 (-20), conduct/utilities.yaml:45"
    assert change.rule_after.endswith("relief from UTIL-LATE-FEES version 2 (-10), "
                                      "conduct/utilities.yaml:53")
    assert "rule UTIL-LATE-FEES version 2 added: -10, from 2025-01-01, relief" in \
        first.rule_changes
    assert any("= 950 points" in line for line in first.explanation_before)
    assert any("= 960 points" in line for line in first.explanation_after)
    assert {m.subject_id for m in report.sample} == {x, y, z}  # topped up with measure changes


def test_a_candidate_that_fails_the_check_is_refused(tmp_path, rules_dir):
    bad = tmp_path / "bad"
    shutil.copytree(rules_dir, bad)
    edit(bad / "conduct/traffic.yaml", "points: -200", "points: lots")
    with pytest.raises(InvalidInput) as caught:
        candidate_from_dir(bad)
    assert [str(p) for p in caught.value.problems] == [
        f"{bad}/conduct/traffic.yaml:50: rule TRAFFIC-DRUNK: points must be a whole number, "
        "got 'lots'"]
