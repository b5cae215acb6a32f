"""A long notice across rulebook changes: the nightly walk-back (rows of subject and day)
judges each day of a notice of years by the rulebook in force that day, and agrees with the
evaluator: a middle rulebook whose condition fails, or that lacks the measure, breaks the run."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import insert, select

from app import clock
from app.db import session_scope
from app.models import ListEntry, StandingMeasure, Subject
from app.rulebook import Duration, load_rulebook
from app.services.rulebooks.history import IN_FORCE, record_event
from app.services.rulebooks.registry import store_rulebook
from app.services.standings.facts import standing_for
from app.services.standings.recompute import recompute
from app.services.transaction import transaction
from tests.conftest import SAMPLE_RULES, new_person_id

TODAY = clock.today()
NOTICED = {"TENDER-BAN", "SPENDING-LIMITS", "PUBLIC-HIRING-BAN"}  # court-defaulters'


@pytest.fixture
def app_config(database_url, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(SAMPLE_RULES, rules)
    return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
            "RULES_DIR": str(rules), "RULEBOOK_SYNC_SECONDS": None}


def _years_ago(years: int) -> date:
    return TODAY.replace(year=TODAY.year - years, day=min(TODAY.day, 28))


def _rules(tmp_path: Path, name: str, *, middle: bool = False):
    """The sample with notices of six years; `middle`: TENDER-BAN by tier D alone and
    PUBLIC-HIRING-BAN under another code."""
    rules = tmp_path / name
    shutil.copytree(SAMPLE_RULES, rules)
    shutil.rmtree(rules / "tests")
    measures = rules / "measures.yaml"
    body = measures.read_text().replace("notice: 7d", "notice: 6y")
    if middle:
        old = "when: {tiers: [D], lists: [court-defaulters]}"
        assert body.count(old) == 1 and body.count("code: PUBLIC-HIRING-BAN\n") == 1
        body = body.replace(old, "when: {tiers: [D]}").replace(
            "code: PUBLIC-HIRING-BAN\n", "code: PUBLIC-HIRING-BAN-X\n")
    measures.write_text(body)
    return load_rulebook(str(rules))


def _put_in_force(app, rulebook, day: date) -> None:
    moment = datetime.combine(day, time(12), tzinfo=UTC)
    with time_machine.travel(moment, tick=False), app.app_context(), \
            session_scope(app) as s, transaction(s):
        store_rulebook(s, rulebook, loaded_by="author", source="test")
        record_event(s, action=IN_FORCE, actor="author", fingerprint=rulebook.fingerprint)


def _listed(subject_id: str, since: date) -> list[dict]:
    """Entries on court-defaulters (each lasts 2y), one after another from `since` to now."""
    entries, entered = [], since
    while entered <= TODAY:
        ends = Duration(2, "y").after(entered)
        entries.append({"list_code": "court-defaulters", "subject_id": subject_id,
                        "department_code": "court", "entered_on": entered, "ends_on": ends,
                        "legal_basis": "judgment", "decision_ref": f"d{len(entries)}"})
        entered = ends
    return entries


def test_a_notice_of_years_is_judged_by_the_rulebook_of_each_day(app, session, tmp_path):
    six = _rules(tmp_path, "six")
    middle = _rules(tmp_path, "middle", middle=True)
    assert middle.measure("PUBLIC-HIRING-BAN") is None
    _put_in_force(app, six, _years_ago(9))
    _put_in_force(app, middle, _years_ago(4))
    _put_in_force(app, six, _years_ago(3))  # six again, until the sample of today

    always, late, recent = new_person_id(), new_person_id(), new_person_id()
    session.execute(insert(Subject), [{"subject_id": sid, "kind": "person", "name": sid,
                                       "consent": True} for sid in (always, late, recent)])
    session.execute(insert(ListEntry), [*_listed(always, _years_ago(8)),
                                        *_listed(late, _years_ago(7)),
                                        *_listed(recent, _years_ago(2))])
    session.commit()

    # Listed for 8 years: SPENDING-LIMITS has run its six years under the same condition on
    # every day; the middle rulebook broke TENDER-BAN's run (its condition failed there) and
    # PUBLIC-HIRING-BAN's (no such measure there), which started again 3 years ago.
    expected = {always: {"SPENDING-LIMITS"}, late: {"SPENDING-LIMITS"}, recent: set()}
    day = TODAY - timedelta(days=1)  # under `six`: the sample is in force from today
    recompute(session, rulebook=six, as_of=day)
    stored = {(m.subject_id, m.measure_code)
              for m in session.execute(select(StandingMeasure)).scalars()}
    for sid, measures in expected.items():
        evaluated = standing_for(session, rulebook=six, subject_id=sid, as_of=day)
        mine = {code for s, code in stored if s == sid} & NOTICED
        assert mine == {m.measure.code for m in evaluated.measures} & NOTICED, sid
        assert mine == measures, sid
        pending = {p.measure.code for p in evaluated.pending_measures}
        assert NOTICED - measures <= pending, sid
