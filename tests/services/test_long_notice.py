"""A rulebook the check accepts runs: a measure with a notice period of years passes the
check, the simulation, a reload (without rule tests only by an admin's word, audited) and
the recompute, full and incremental, on both databases; and both paths agree."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select

from app import clock
from app.models import AuditEvent, ListEntry, StandingMeasure, Subject
from app.rulebook import Duration, check_rulebook
from app.services.rulebooks.registry import EXTENSION_KEY
from app.services.rulebooks.simulate import simulate
from app.services.standings.facts import standing_for
from app.services.standings.recompute import recompute
from tests.conftest import SAMPLE_RULES, new_organisation_id, new_person_id

TODAY = clock.today()


@pytest.fixture
def app_config(database_url, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(SAMPLE_RULES, rules)
    return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
            "RULES_DIR": str(rules), "RULEBOOK_SYNC_SECONDS": None}


def _years_ago(years: int, days: int = 0) -> date:
    return TODAY.replace(year=TODAY.year - years, day=min(TODAY.day, 28)) - timedelta(days=days)


def _listed(subject_id: str, since: date, *, gap_after: date | None = None) -> list[dict]:
    """Entries on court-defaulters (each lasts 2y), one after another from `since` to now;
    the one after `gap_after` only three days after the one before it ended."""
    entries, entered = [], since
    while entered <= TODAY:
        ends = Duration(2, "y").after(entered)
        entries.append({"list_code": "court-defaulters", "subject_id": subject_id,
                        "department_code": "court", "entered_on": entered, "ends_on": ends,
                        "legal_basis": "judgment", "decision_ref": f"d{len(entries)}"})
        entered = ends + timedelta(days=3 if gap_after and entered <= gap_after < ends else 0)
    return entries


def test_a_notice_of_six_years_runs(app, session, tmp_path):
    rules = app.config["RULES_DIR"]
    registry = app.extensions[EXTENSION_KEY]
    with app.app_context():
        seven_days = registry.current()  # the sample, with its rule tests, is in force
    measures = f"{rules}/measures.yaml"
    with open(measures) as f:
        body = f.read()
    assert body.count("notice: 7d") >= 2
    with open(measures, "w") as f:
        f.write(body.replace("notice: 7d", "notice: 6y"))
    checked = check_rulebook(rules)
    assert checked.ok, checked.problems
    six_years = checked.rulebook
    assert str(six_years.measure("TENDER-BAN").notice) == "6y"

    long_ago, lately = new_person_id(), new_person_id()
    broken, representative, company = new_person_id(), new_person_id(), new_organisation_id()
    session.execute(insert(Subject), [
        {"subject_id": sid, "kind": "person", "name": sid, "consent": True}
        for sid in (long_ago, lately, broken, representative)] + [
        {"subject_id": company, "kind": "organisation", "name": "Co", "consent": True,
         "legal_representative": representative}])
    session.execute(insert(ListEntry), [
        *_listed(long_ago, _years_ago(7)), *_listed(lately, _years_ago(5)),
        *_listed(broken, _years_ago(8), gap_after=_years_ago(5)),  # a break 4 years ago
        *_listed(company, _years_ago(6, days=2))])  # six years and two days: it has run
    session.commit()

    # The simulation of the candidate against the sample (7 days) on today.
    report = simulate(session, in_force=seven_days, candidate=six_years, as_of=TODAY,
                      actor="author", log_it=False)
    lost = {m.code: (m.lost, set(m.lost_ids)) for m in report.measures}
    assert lost["TENDER-BAN"] == (2, {lately, broken})
    assert lost["SPENDING-LIMITS"] == (2, {lately, broken})

    # Without rule tests (the sample's expect 7 days), a reload is refused unless an admin
    # says so, and that is audited.
    shutil.rmtree(f"{rules}/tests")
    with app.app_context():
        refused = registry.reload(loaded_by="author")
        assert refused.problems and "no rule tests" in str(refused.problems[0])
        assert registry.current().fingerprint == seven_days.fingerprint
        state = registry.reload(loaded_by="admin", without_tests=True)
        assert not state.problems and state.rulebook.fingerprint == six_years.fingerprint
        # The same directory again is the rulebook in force: no new word is needed.
        assert not registry.reload(loaded_by="system").problems
    session.rollback()
    audited = session.execute(select(AuditEvent).where(
        AuditEvent.action == "rulebook.without_tests")).scalars().all()
    assert [(a.actor, a.target) for a in audited] == [("admin", six_years.fingerprint)]

    # The nightly run, full then incremental, agrees with the evaluator.
    noticed = {"TENDER-BAN", "SPENDING-LIMITS", "PUBLIC-HIRING-BAN"}  # court-defaulters'
    assert all(str(six_years.measure(code).notice) == "6y" for code in noticed)
    expected = {long_ago: noticed, company: noticed,
                representative: {"TENDER-BAN", "SPENDING-LIMITS"}}
    for day, incremental in ((TODAY - timedelta(days=1), False), (TODAY, True)):
        recompute(session, rulebook=six_years, as_of=day, incremental=incremental)
        stored = {(m.subject_id, m.measure_code)
                  for m in session.execute(select(StandingMeasure)).scalars()}
        for sid in (long_ago, lately, broken, representative, company):
            evaluated = standing_for(session, rulebook=six_years, subject_id=sid, as_of=day)
            mine = {c for s, c in stored if s == sid}
            assert mine == {m.measure.code for m in evaluated.measures}, sid
            assert mine & noticed == expected.get(sid, set()), sid
