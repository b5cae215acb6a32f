"""The SQL predicates say what the pure core says: what counts on a day, the entries behind
a flag and who is flagged, the tier of a number of points; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Integer, delete, insert, literal, select

from app.models import Department, ListEntry, Objection, Record, Subject
from app.rulebook.model import Duration, Flag
from app.services.standings.facts import load_facts
from app.services.standings.predicates import (
    behind_flag,
    entry_counts,
    flagged,
    record_counts,
    record_may_count,
    tier_of,
)
from app.standing.spans import flag_span, list_entry_end, record_spans
from tests.conftest import new_person_id

DAY0 = date(2026, 1, 1)
SUBJECTS = (new_person_id(), new_person_id())
EVERY_DAY = [DAY0 + timedelta(days=n) for n in range(-1, 15)]  # each test asks on each day
days = st.integers(0, 12).map(lambda n: DAY0 + timedelta(days=n))  # few: facts meet often
rarely = st.sampled_from([False, False, False, True])
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@st.composite
def records(draw) -> dict:
    occurred = draw(days)
    return {"subject_id": draw(st.sampled_from(SUBJECTS)), "occurred_on": occurred,
            "ends_on": occurred + timedelta(days=draw(st.integers(1, 12))),
            "voided": draw(rarely), "annulled": draw(rarely),
            "repaired_on": draw(st.none() | days),
            "disputes": draw(st.lists(st.tuples(days, st.none() | st.integers(0, 8)),
                                      max_size=2))}


@st.composite
def entries(draw) -> dict:
    entered = draw(days)
    return {"subject_id": draw(st.sampled_from(SUBJECTS)), "list_code": draw(st.sampled_from("WL")),
            "entered_on": entered,
            "ends_on": draw(st.none() | st.integers(1, 12).map(
                lambda n: entered + timedelta(days=n))),
            "removed_on": draw(st.none() | days)}


def _store(session, records=(), entries=()) -> None:
    session.rollback()
    for table in (Objection, Record, ListEntry, Subject):
        session.execute(delete(table))
    if session.get(Department, "dept") is None:
        session.execute(insert(Department).values(code="dept", title="Dept"))
    session.execute(insert(Subject), [{"subject_id": sid, "kind": "person", "name": sid}
                                      for sid in SUBJECTS])
    for r in records:
        record_id = session.execute(insert(Record).values(
            subject_id=r["subject_id"], rule_code="R", rule_version=1,
            rulebook_fingerprint="f", department_code="dept", occurred_on=r["occurred_on"],
            ends_on=r["ends_on"], base_points=-5, points=-5, repaired_on=r["repaired_on"],
            voided_at=datetime(2026, 1, 1, tzinfo=UTC) if r["voided"] else None,
            annulled_on=r["occurred_on"] if r["annulled"] else None)
            .returning(Record.id)).scalar_one()
        for level, (filed, decided) in enumerate(r["disputes"], start=1):
            session.execute(insert(Objection).values(
                record_id=record_id, subject_id=r["subject_id"], level=level, filed_on=filed,
                filed_by="s", reason="r", deadline=filed + timedelta(days=15),
                decided_on=None if decided is None else filed + timedelta(days=decided)))
    for e in entries:
        session.execute(insert(ListEntry).values(department_code="dept", **e))
    session.commit()


def _facts(session):
    out = ([], [])
    for sid in SUBJECTS:
        got = load_facts(session, session.get(Subject, sid))
        out[0].extend(got[0])
        out[1].extend(got[1])
    return out


@SETTINGS
@given(stored=st.lists(records(), max_size=8))
def test_a_record_counts_on_a_day_as_the_evaluator_says(session, stored):
    _store(session, records=stored)
    facts, _ = _facts(session)
    r = Record.__table__.alias("r")  # as the recompute reads it, with a named parameter
    for day in EVERY_DAY:
        for suspend in (False, True):
            want = {f.id for f in facts if any(start <= day < end for start, end in
                                               record_spans(f, suspend=suspend))}
            assert set(session.execute(select(Record.id).where(
                record_counts(Record, day, suspend=suspend))).scalars()) == want, (day, suspend)
            assert set(session.execute(select(r.c.id).where(
                record_counts(r, day, suspend=suspend, name="d"))).scalars()) == want


@SETTINGS
@given(stored=st.lists(records(), max_size=8), first=days, length=st.integers(0, 10))
def test_a_record_that_counts_on_a_day_of_a_span_may_count_in_it(session, stored, first,
                                                                   length):
    _store(session, records=stored)
    facts, _ = _facts(session)
    last = first + timedelta(days=length)
    may = set(session.execute(select(Record.id).where(
        record_may_count(Record, first, last))).scalars())
    for day in (first + timedelta(days=k) for k in range(length + 1)):
        for suspend in (False, True):
            assert {r.id for r in facts if any(start <= day < end for start, end in
                                               record_spans(r, suspend=suspend))} <= may
    assert may == {r.id for r in facts if not (r.voided or r.annulled)
                   and r.occurred_on <= last and r.ends_on > first}


@SETTINGS
@given(stored=st.lists(entries(), max_size=8))
def test_a_list_entry_counts_on_a_day_as_the_evaluator_says(session, stored):
    _store(session, entries=stored)
    _, facts = _facts(session)
    table = ListEntry.__table__
    for day in EVERY_DAY:
        want = set()
        for e in facts:
            end = list_entry_end(e, None)
            if e.entered_on <= day and (end is None or day < end):
                want.add(e.id)
        assert set(session.execute(select(ListEntry.id).where(
            entry_counts(ListEntry, day))).scalars()) == want, day
        assert set(session.execute(select(table.c.id).where(
            entry_counts(table, day, name="d"))).scalars()) == want


@SETTINGS
@given(stored=st.lists(entries(), max_size=10), least=st.integers(1, 3),
       within=st.integers(1, 12))
def test_the_entries_behind_a_flag_and_who_is_flagged_are_the_evaluator_s(
        session, stored, least, within):
    _store(session, entries=stored)
    _, facts = _facts(session)
    flag = Flag("F", entries=least, within=Duration(within, "d"))
    table = ListEntry.__table__
    for day in EVERY_DAY:
        behind = set()
        for e in facts:
            span = flag_span(e, flag)
            if e.list_code == "W" and span is not None and span[0] <= day < span[1]:
                behind.add(e.id)
        assert set(session.execute(select(ListEntry.id).where(
            behind_flag(ListEntry, "W", flag, day))).scalars()) == behind, day
        by_subject = [e.subject_id for e in facts if e.id in behind]
        want = {sid for sid in SUBJECTS if by_subject.count(sid) >= least}
        assert set(session.execute(flagged(ListEntry, "W", flag, day)).scalars()) == want
        assert set(session.execute(flagged(table, "W", flag, day, name="g")).scalars()) == want


def test_the_tier_of_points_is_the_scheme_s(session, rulebook):
    edges = [t.min for t in rulebook.scheme.tiers if t.min is not None]
    for points in sorted({p + k for p in [*edges, 0, -10_000] for k in (-1, 0, 1)}):
        got = session.execute(select(tier_of(rulebook, literal(points, Integer)))).scalar_one()
        assert got == rulebook.scheme.tier_for(points).code, points
