"""The full run sums the records of the subjects that have any and works out everyone's
points and tier beside the stored standings (writes.log_tier_changes_full): a subject
without a record that counts is at the starting points, or unscored without consent where
the scheme requires it, and only what changed is written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, update

from app.models import Record, Standing, StandingMeasure, Subject, TierChange
from app.rulebook.model import (
    ConductTable,
    Department,
    Duration,
    Measure,
    Objections,
    Rule,
    Rulebook,
    Scheme,
    Tier,
    When,
)
from app.services.standings import recompute as rc
from app.services.standings.facts import standing_for
from tests.conftest import new_person_id

DAY = date(2026, 3, 1)
REGISTERED = datetime(2020, 1, 1, tzinfo=UTC)


def _rulebook(*, consent: bool = False, high: int = 1000, fingerprint: str = "full") -> Rulebook:
    """One -100 rule lasting a year; tiers HIGH (from `high`) and LOW; a measure of LOW."""
    rule = Rule(code="R", title="r", points=-100, table="t", departments=("dept",),
                expires_after=Duration(1, "y"))
    low = Measure("WARN", "restriction", "warn", "dept", When(tiers=("LOW",)), legal_basis="l")
    return Rulebook(
        Scheme("s", "S", 1000, consent, (Tier("HIGH", high), Tier("LOW", None)),
               objections=Objections()),
        (Department("dept", "Dept"),), (ConductTable("t", "T", ("dept",), (rule,)),),
        (low,), (), fingerprint=fingerprint)


def _subjects(session, n: int, consent: bool = True) -> list[str]:
    ids = [new_person_id() for _ in range(n)]
    session.execute(insert(Subject), [{"subject_id": sid, "kind": "person", "name": sid,
                                       "consent": consent, "registered_at": REGISTERED,
                                       "updated_at": REGISTERED} for sid in ids])
    session.commit()
    return ids


def _record(session, rulebook: Rulebook, subject_id: str, ends_on: date) -> None:
    session.execute(insert(Record), [{
        "subject_id": subject_id, "rule_code": "R", "rule_version": 1,
        "rulebook_fingerprint": rulebook.fingerprint, "department_code": "dept",
        "occurred_on": ends_on - timedelta(days=364), "ends_on": ends_on,
        "base_points": -100, "points": -100, "evidence": "", "note": ""}])
    session.commit()


def _stored(session) -> dict[str, tuple]:
    return {s.subject_id: (s.points, s.tier, s.as_of)
            for s in session.execute(select(Standing)).scalars()}


def _measures(session) -> set[tuple[str, str]]:
    return {(m.subject_id, m.measure_code)
            for m in session.execute(select(StandingMeasure)).scalars()}


def _agrees_with_the_evaluator(session, rulebook: Rulebook, as_of: date) -> None:
    stored = _stored(session)
    for sid in session.execute(select(Subject.subject_id)).scalars():
        expected = standing_for(session, rulebook=rulebook, subject_id=sid, as_of=as_of)
        assert stored[sid][:2] == (expected.points,
                                   expected.tier.code if expected.tier else None), sid


def test_subjects_without_records_and_records_lapsing_today_in_a_full_run(session):
    rulebook = _rulebook()
    none, lapsing, kept = _subjects(session, 3)
    rc.recompute(session, rulebook=rulebook, as_of=DAY)  # stores the department
    _record(session, rulebook, lapsing, ends_on=DAY + timedelta(days=1))  # its only record
    _record(session, rulebook, kept, ends_on=DAY + timedelta(days=100))
    rc.recompute(session, rulebook=rulebook, as_of=DAY)
    assert _stored(session) == {none: (1000, "HIGH", DAY), lapsing: (900, "LOW", DAY),
                                kept: (900, "LOW", DAY)}
    assert _measures(session) == {(lapsing, "WARN"), (kept, "WARN")}
    (newcomer,) = _subjects(session, 1)  # no records, no standing yet
    summary = rc.recompute(session, rulebook=rulebook, as_of=DAY + timedelta(days=1))
    assert summary.scope == "full" and summary.subjects == summary.recomputed == 4
    # The lapsed subject is back at the start though no record of it counts any more; the
    # rows that did not change keep their day.
    after = DAY + timedelta(days=1)
    assert _stored(session) == {none: (1000, "HIGH", DAY), lapsing: (1000, "HIGH", after),
                                kept: (900, "LOW", DAY), newcomer: (1000, "HIGH", after)}
    assert _measures(session) == {(kept, "WARN")}
    assert summary.tier_changes == 1
    assert [(c.subject_id, c.from_tier, c.to_tier, c.from_points, c.to_points) for c in
            session.execute(select(TierChange).where(TierChange.on_date == after)).scalars()
            ] == [(lapsing, "LOW", "HIGH", 900, 1000)]
    _agrees_with_the_evaluator(session, rulebook, after)


def test_without_consent_a_subject_is_not_scored_with_or_without_records(session):
    rulebook = _rulebook(consent=True, fingerprint="full-consent")
    no_records, with_record = _subjects(session, 2, consent=False)
    consenting, consenting_record = _subjects(session, 2, consent=True)
    rc.recompute(session, rulebook=rulebook, as_of=DAY)
    for sid in (with_record, consenting_record):
        _record(session, rulebook, sid, ends_on=DAY + timedelta(days=100))
    rc.recompute(session, rulebook=rulebook, as_of=DAY)
    assert {sid: row[:2] for sid, row in _stored(session).items()} == {
        no_records: (None, None), with_record: (None, None), consenting: (1000, "HIGH"),
        consenting_record: (900, "LOW")}
    assert _measures(session) == {(consenting_record, "WARN")}
    # Consent given by two, withdrawn by one: the next full run follows.
    session.execute(update(Subject).where(Subject.subject_id.in_([no_records, with_record]))
                    .values(consent=True))
    session.execute(update(Subject).where(Subject.subject_id == consenting_record)
                    .values(consent=False))
    session.commit()
    summary = rc.recompute(session, rulebook=rulebook, as_of=DAY + timedelta(days=1))
    assert {sid: row[:2] for sid, row in _stored(session).items()} == {
        no_records: (1000, "HIGH"), with_record: (900, "LOW"), consenting: (1000, "HIGH"),
        consenting_record: (None, None)}
    assert _measures(session) == {(with_record, "WARN")}
    assert summary.tier_changes == 3
    _agrees_with_the_evaluator(session, rulebook, DAY + timedelta(days=1))


def test_a_rulebook_that_moves_a_tier_moves_subjects_whose_points_stay(session):
    """The full run skips comparing tiers only under the rulebook of the stored standings:
    under another one the same points can fall in another tier."""
    before = _rulebook(fingerprint="full-before")
    no_record, with_record = _subjects(session, 2)
    rc.recompute(session, rulebook=before, as_of=DAY)
    _record(session, before, with_record, ends_on=DAY + timedelta(days=100))
    rc.recompute(session, rulebook=before, as_of=DAY)
    assert {sid: row[:2] for sid, row in _stored(session).items()} == {
        no_record: (1000, "HIGH"), with_record: (900, "LOW")}
    lower = _rulebook(high=900, fingerprint="full-lower")  # 900 points are HIGH now
    summary = rc.recompute(session, rulebook=lower, as_of=DAY + timedelta(days=1))
    assert {sid: row[:2] for sid, row in _stored(session).items()} == {
        no_record: (1000, "HIGH"), with_record: (900, "HIGH")}
    assert _measures(session) == set()
    assert summary.tier_changes == 1
    _agrees_with_the_evaluator(session, lower, DAY + timedelta(days=1))
