"""An import is checked and written in chunks inside one transaction: what crosses a chunk's
edge (an error, a repeat or cap, a reference, a seal) is the same as in one piece."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import InvalidInput
from app.models import AuditEvent, FactSeal, Notice, NoticeOutbox, Record
from app.services.audit import chain
from app.services.records.conduct import CHUNK_ROWS, import_records_file
from tests.services.test_import_bulk import (
    TODAY,
    _as_rows,
    _assert_notices_are_record_notices,
    _csv,
    _oracle,
    _records,
)
from tests.services.test_seals import behind_the_app


def _import(session, rulebook, rows, *, chunk_rows, name="bulk.csv", data=None,
            department="traffic-police"):
    return import_records_file(session, rulebook=rulebook, department=department,
                               data=_csv(rows) if data is None else data, name=name,
                               recorded_by="officer", today=TODAY, chunk_rows=chunk_rows)


def _counts(session) -> tuple[int, ...]:
    return tuple(session.execute(select(func.count()).select_from(model)).scalar()
                 for model in (Record, Notice, NoticeOutbox, FactSeal, AuditEvent))


def _tickets(people, count, start=0):
    return [(people[n % len(people)], "TRAFFIC-TICKET", (TODAY - timedelta(days=n)).isoformat(),
             f"camera {n}", f"t-{n}") for n in range(start, start + count)]


def test_the_default_chunk_is_tens_of_thousands_of_rows():
    assert 10_000 <= CHUNK_ROWS <= 50_000


def test_an_error_in_the_second_chunk_changes_nothing(session, rulebook, make_subject):
    people = [make_subject(session).subject_id for _ in range(3)]
    _import(session, rulebook, _tickets(people, 2, start=100), chunk_rows=3)
    before = _counts(session)
    rows = _tickets(people, 5)
    rows[4] = ("P-NOBODY-HERE", *rows[4][1:])  # line 6 of the file, in the second chunk
    with pytest.raises(InvalidInput) as raised:
        _import(session, rulebook, rows, chunk_rows=3)
    session.rollback()
    assert _counts(session) == before  # the first chunk's records were rolled back
    (problem,) = raised.value.problems
    assert (problem.where, problem.row, problem.field) == ("bulk.csv:6", 6, "subject_id")
    assert "1 of 5 rows have problems; nothing was recorded" in str(raised.value)


def test_every_problem_after_the_first_bad_chunk_is_still_listed(session, rulebook,
                                                                 make_subject):
    people = [make_subject(session).subject_id for _ in range(2)]
    before = _counts(session)
    rows = _tickets(people, 7)
    rows[3] = (rows[3][0], "NO-SUCH-RULE", *rows[3][2:])  # line 5, second chunk
    rows[6] = (rows[6][0], rows[6][1], "2999-01-01", *rows[6][3:])  # line 8, third chunk
    with pytest.raises(InvalidInput) as raised:
        _import(session, rulebook, rows, chunk_rows=3)
    session.rollback()
    assert _counts(session) == before
    assert [(p.where, p.field) for p in raised.value.problems] == [
        ("bulk.csv:5", "rule_code"), ("bulk.csv:8", "occurred_on")]


def test_an_unreadable_row_in_a_later_chunk_changes_nothing(session, rulebook, make_subject):
    people = [make_subject(session).subject_id for _ in range(2)]
    before = _counts(session)
    later = b"".join(",".join(t).encode() + b"\n" for t in _tickets(people, 2, 50))
    data = _csv(_tickets(people, 5)) + b"too,few\n" + later
    with pytest.raises(InvalidInput) as raised:
        _import(session, rulebook, None, chunk_rows=2, data=data)
    session.rollback()
    assert _counts(session) == before
    assert "rows that cannot be read" in str(raised.value)
    assert raised.value.problems[0].where == "bulk.csv:7"


@pytest.mark.parametrize("rows", [3, 6])
def test_a_file_of_exactly_whole_chunks(session, rulebook, make_subject, rows):
    people = [make_subject(session).subject_id for _ in range(2)]
    tickets = _tickets(people, rows)
    result = _import(session, rulebook, tickets, chunk_rows=3)
    assert (result.rows, result.added, result.unchanged) == (rows, rows, 0)
    records = _records(session)
    assert [r.external_ref for r in records] == [t[4] for t in tickets]
    _assert_notices_are_record_notices(session, rulebook, records)
    again = _import(session, rulebook, tickets, chunk_rows=3)
    assert (again.rows, again.added, again.unchanged) == (rows, 0, rows)


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_repeats_and_caps_across_chunks_are_fixed_as_in_one_piece(session, rulebook,
                                                                 make_subject, size):
    """A subject's rows in earlier chunks and its stored records count for a repeat
    (TRAFFIC-TICKET) and a cap (VOL-HOURS) exactly as the oracle, recording row by row,
    counts them: chunks of 1 and 7 rows and the whole file alike, whatever the dates'
    order (sorted, each chunk reaches further back than the one before)."""
    rng = random.Random(11)
    people = [make_subject(session).subject_id for _ in range(6)]
    days = [(TODAY - timedelta(days=i)).isoformat() for i in range(0, 700, 5)]
    traffic = [(rng.choice(people), rng.choice(["TRAFFIC-TICKET", "DRUNK-DRIVING"]),
                rng.choice(days), f"e{n}", f"x-{n}") for n in range(120)]
    volunteering = sorted(((rng.choice(people), "VOL-HOURS", rng.choice(days), "", f"v-{n}")
                           for n in range(60)), key=lambda r: r[2], reverse=True)
    # Some stored before, inside the windows the file's dates reach (and later chunks').
    early = [(p, "TRAFFIC-TICKET", (TODAY - timedelta(days=d)).isoformat(), "", f"e-{p}-{d}")
             for p in people[:3] for d in (3, 360, 690)]
    _import(session, rulebook, early, chunk_rows=2)
    early_vol = [(p, "VOL-HOURS", (TODAY - timedelta(days=d)).isoformat(), "", f"ev-{p}-{d}")
                 for p in people[:3] for d in (1, 200)]
    _import(session, rulebook, early_vol, chunk_rows=1, department="civil-affairs")
    stored = _records(session)
    want = _oracle(rulebook, stored, traffic)
    want_vol = _oracle(rulebook, stored, volunteering)
    assert any(r[7] != 1 for r in want)  # a repeat doubled some
    assert any("capped" in r[9] for r in want_vol)
    _import(session, rulebook, traffic, chunk_rows=size)
    _import(session, rulebook, volunteering, chunk_rows=size, department="civil-affairs")
    imported = _records(session)[len(stored):]
    assert _as_rows(imported) == want + want_vol


def test_a_reference_used_in_two_chunks_names_the_first_line(session, rulebook,
                                                            make_subject):
    people = [make_subject(session).subject_id for _ in range(2)]
    before = _counts(session)
    rows = _tickets(people, 4)
    rows[3] = (*rows[3][:4], rows[0][4])  # line 5 reuses line 2's reference
    with pytest.raises(InvalidInput) as raised:
        _import(session, rulebook, rows, chunk_rows=2)
    session.rollback()
    assert _counts(session) == before
    (problem,) = raised.value.problems
    assert problem.where == "bulk.csv:5"
    assert "used twice in this file (first on line 2)" in problem.message


def test_a_replay_used_in_two_chunks_names_the_first_line(session, rulebook, make_subject):
    people = [make_subject(session).subject_id for _ in range(2)]
    stored = _tickets(people, 1, start=40)
    _import(session, rulebook, stored, chunk_rows=2)
    before = _counts(session)
    rows = [*_tickets(people, 2), stored[0], *_tickets(people, 2, start=10), stored[0]]
    with pytest.raises(InvalidInput) as raised:
        _import(session, rulebook, rows, chunk_rows=2)
    session.rollback()
    assert _counts(session) == before
    (problem,) = raised.value.problems
    assert problem.where == "bulk.csv:7"
    assert "used twice in this file (first on line 4)" in problem.message


def test_derived_references_count_identical_rows_across_chunks(session, rulebook,
                                                              make_subject):
    person = make_subject(session).subject_id
    same = (person, "TRAFFIC-TICKET", "2026-01-05", "camera", "")
    rows = [same, same, same, (person, "TRAFFIC-TICKET", "2026-01-06", "", "t-9"), same]
    first = _import(session, rulebook, rows, chunk_rows=2)
    assert first.added == 5
    refs = [r.external_ref for r in _records(session)]
    assert len(set(refs)) == 5
    # The same file again, in other chunks, is a replay of every row.
    for size in (1, 3, 5):
        again = _import(session, rulebook, rows, chunk_rows=size)
        assert (again.added, again.unchanged) == (0, 5), size


def test_seals_verify_after_a_chunked_import(app, session, rulebook, make_subject):
    people = [make_subject(session).subject_id for _ in range(5)]
    _import(session, rulebook, _tickets(people, 23), chunk_rows=4)
    session.rollback()
    sealed = chain.verify(session, facts=True)
    assert sealed.ok and sealed.facts >= 23, (sealed.where(), sealed.reason)
    # and a record of the third chunk changed behind the app's back is found
    record_id = _records(session)[10].id
    session.rollback()
    with behind_the_app(app) as conn:
        conn.execute(Record.__table__.update().where(Record.id == record_id).values(points=-1))
    session.rollback()  # a fresh snapshot: the tamper came from another connection
    tampered = chain.verify(session, facts=True)
    assert not tampered.ok
    assert (tampered.fact_kind, tampered.fact_key) == ("record", str(record_id))


def test_a_dry_run_in_chunks_plans_every_row_and_writes_nothing(session, rulebook,
                                                                make_subject):
    people = [make_subject(session).subject_id for _ in range(2)]
    before = _counts(session)
    result = import_records_file(session, rulebook=rulebook, department="traffic-police",
                                 data=_csv(_tickets(people, 7)), name="bulk.csv",
                                 recorded_by="officer", today=TODAY, dry_run=True,
                                 chunk_rows=3)
    session.rollback()
    assert _counts(session) == before
    assert [p["external_ref"] for p in result.planned] == [f"t-{n}" for n in range(7)]
    assert date.fromisoformat(str(result.planned[0]["occurred_on"])) == TODAY
