"""The notice walk-back reaches a person through an organisation only when that person is
its registered representative on the day: an unrelated candidate of the same measure is
not held by some organisation's list entries (both paths agree)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from app import clock
from app.models import ListEntry, StandingMeasure, Subject
from app.services.rulebooks.registry import EXTENSION_KEY
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


def _entry(subject_id: str, entered_days_ago: int) -> dict:
    return {"list_code": "court-defaulters", "subject_id": subject_id,
            "department_code": "court", "entered_on": TODAY - timedelta(days=entered_days_ago),
            "legal_basis": "judgment", "decision_ref": f"d-{subject_id}"}


def test_an_organisation_s_entries_reach_only_its_representative(app, session):
    with app.app_context():  # the sample in force (its departments stored)
        rulebook = app.extensions[EXTENSION_KEY].current()
    boss, stranger, company = new_person_id(), new_person_id(), new_organisation_id()
    session.execute(insert(Subject), [
        {"subject_id": sid, "kind": "person", "name": sid, "consent": True}
        for sid in (boss, stranger)] + [
        {"subject_id": company, "kind": "organisation", "name": "Co", "consent": True,
         "legal_representative": boss,
         "legal_representative_since": TODAY - timedelta(days=60)}])
    # The company has been listed a month; the stranger only three days (notice: 7 days).
    session.execute(insert(ListEntry), [_entry(company, 30), _entry(stranger, 3)])
    session.commit()

    recompute(session, rulebook=rulebook, as_of=TODAY)
    stored = {(m.subject_id, m.measure_code)
              for m in session.execute(select(StandingMeasure)).scalars()}
    for sid in (boss, stranger, company):
        evaluated = standing_for(session, rulebook=rulebook, subject_id=sid, as_of=TODAY)
        assert {c for s, c in stored if s == sid} == {
            m.measure.code for m in evaluated.measures}, sid
    assert {c for s, c in stored if s == boss} >= {"TENDER-BAN", "SPENDING-LIMITS"}
    assert {c for s, c in stored if s == stranger} & {
        "TENDER-BAN", "SPENDING-LIMITS", "PUBLIC-HIRING-BAN"} == set()
