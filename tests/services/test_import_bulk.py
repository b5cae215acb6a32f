"""The set-based import: the same records, points and notices as recording row by row."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.models import Notice, NoticeOutbox, Record
from app.services.audit import chain
from app.services.due_process.notices import SHARED, full_contents, record_notice
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import import_records_file, record_conduct
from app.standing import fix_points
from app.standing.model import PriorRecord

TODAY = date(2026, 11, 26)
COLUMNS = ("subject_id", "rule_code", "occurred_on", "evidence", "external_ref")


def _csv(rows) -> bytes:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value

    return ("\n".join([",".join(COLUMNS), *(",".join(cell(c) for c in r) for r in rows)])
            + "\n").encode()


def _import(session, rulebook, rows, department="traffic-police", name="bulk.csv"):
    return import_records_file(session, rulebook=rulebook, department=department,
                               data=_csv(rows), name=name, recorded_by="officer", today=TODAY)


def _records(session, department=None):
    query = select(Record).order_by(Record.id)
    if department:
        query = query.where(Record.department_code == department)
    return list(session.execute(query).scalars())


def _notices(session) -> dict[int, Notice]:
    return {n.record_id: n for n in session.execute(select(Notice)).scalars()}


def _assert_notices_are_record_notices(session, rulebook, records):
    notices = _notices(session)
    outbox = {o.notice_id: o for o in session.execute(select(NoticeOutbox)).scalars()}
    for record in records:
        want = record_notice(rulebook, record, today=TODAY)
        got = notices[record.id]
        assert (got.subject_id, got.kind, got.dedupe_key, got.title, got.body,
                got.notified_on) == (want.subject_id, "record", want.dedupe_key,
                                     want.title[:300], want.body, TODAY)
        assert outbox[got.id].state == "pending" and outbox[got.id].attempts == 0
        assert full_contents(session, [got.content]) == [want.content]
        if SHARED in got.content:  # the values of its import and rule version are not repeated
            assert set(got.content) == {SHARED, "record", "occurred_on", "points", "note",
                                        "evidence", "ends_on"}
            head = notices[int(got.content[SHARED].removeprefix("record:"))]
            first = session.get(Record, head.record_id)
            assert (first.rule_code, first.rule_version) == (record.rule_code,
                                                             record.rule_version)
            assert first.id < record.id  # the first record of the import with that version
            assert head.content == record_notice(rulebook, first, today=TODAY).content


def test_the_notices_an_import_makes_are_the_ones_record_notice_writes(session, rulebook,
                                                                       make_subject):
    people = [make_subject(session).subject_id for _ in range(3)]
    long_title_evidence = "x" * 1500
    traffic = [
        (people[0], "TRAFFIC-TICKET", "2026-01-05", "camera 1, photo 2", "t-1"),
        (people[0], "TRAFFIC-TICKET", "2026-03-05", "", "t-2"),  # repeat: a note
        (people[1], "DRUNK-DRIVING", "2026-02-01", 'breath "0.9" mg/L\nsecond line', "t-3"),
        (people[2], "TRAFFIC-TICKET", "2025-12-31", "证据 𠀀 ünïcode", ""),  # a derived ref
        (people[2], "TRAFFIC-TICKET", "2026-11-26", long_title_evidence, "t-5"),
    ]
    _import(session, rulebook, traffic)
    volunteering = [(people[1], "VOL-HOURS", f"2026-0{m}-01", "", f"v-{m}") for m in range(1, 6)]
    _import(session, rulebook, volunteering, department="civil-affairs", name="vol.csv")
    heating = [(people[2], "HEAT-TAMPER", "2026-06-30", "meter 7", "h-1")]
    _import(session, rulebook, heating, department="heating-company", name="heat.csv")
    records = _records(session)
    assert [r.points for r in records] == [-5, -10, -200, -5, -10, 1, 1, 1, 0, 0, -50]
    _assert_notices_are_record_notices(session, rulebook, records)


def _oracle(rulebook, stored, rows):
    """The records the semantics give `rows`, recorded one by one in file order."""
    prior: dict[tuple[str, str], list[PriorRecord]] = {}
    for r in stored:
        prior.setdefault((r.subject_id, r.rule_code), []).append(
            PriorRecord(r.occurred_on, r.points))
    out = []
    for sid, code, occurred, evidence, ref in rows:
        day = date.fromisoformat(occurred)
        rule = rulebook.rule_on(code, day)
        fixed = fix_points(rule=rule, occurred_on=day, prior=prior.get((sid, code), ()))
        prior.setdefault((sid, code), []).append(PriorRecord(day, fixed.points))
        out.append((sid, code, rule.version, day, rule.ends_on(day), rule.repairable_on(day),
                    fixed.base_points, fixed.factor, fixed.points, fixed.note, evidence, ref))
    return out


def _as_rows(records):
    return [(r.subject_id, r.rule_code, r.rule_version, r.occurred_on, r.ends_on,
             r.repairable_on, r.base_points, r.factor, r.points, r.note, r.evidence,
             r.external_ref) for r in records]


def test_a_20000_row_import_fixes_every_point_as_recording_row_by_row(session, rulebook,
                                                                     make_subject):
    rng = random.Random(7)
    people = [make_subject(session).subject_id for _ in range(400)]
    # Earlier records of some subjects, recorded one at a time: the import must see them.
    for sid in people[:40]:
        record_conduct(
            session, RecordDraft(subject_id=sid, rule_code="TRAFFIC-TICKET",
                                 occurred_on=TODAY - timedelta(days=300),
                                 external_ref=f"early-{sid}"),
            rulebook=rulebook, department="traffic-police", recorded_by="officer", today=TODAY)
    stored = _records(session)
    days = [(TODAY - timedelta(days=i)).isoformat() for i in range(0, 800, 3)]
    rows = [(rng.choice(people), "TRAFFIC-TICKET" if rng.random() < 0.9 else "DRUNK-DRIVING",
             rng.choice(days), f"camera {n % 97}", f"tp-{n:06d}") for n in range(20000)]
    result = _import(session, rulebook, rows)
    assert (result.rows, result.added, result.unchanged) == (20000, 20000, 0)
    imported = [r for r in _records(session) if r.external_ref.startswith("tp-")]
    assert [r.external_ref for r in imported] == [r[4] for r in rows]  # ids in file order
    assert _as_rows(imported) == _oracle(rulebook, stored, rows)
    assert {r.rulebook_fingerprint for r in imported} == {rulebook.fingerprint}
    _assert_notices_are_record_notices(session, rulebook, imported)
    session.rollback()
    sealed = chain.verify(session, facts=True)  # 20,000 seals: the bulk paths of the log
    assert sealed.ok and sealed.facts >= 20000, (sealed.where(), sealed.reason)
    again = _import(session, rulebook, rows)
    assert (again.added, again.unchanged) == (0, 20000)
    assert len(_records(session)) == len(stored) + 20000


def test_an_import_equals_the_same_rows_recorded_one_by_one(session, rulebook, make_subject):
    rng = random.Random(3)
    people = [make_subject(session).subject_id for _ in range(6)]
    days = [(TODAY - timedelta(days=i)).isoformat() for i in range(0, 500, 7)]
    rows = [(rng.choice(people), rng.choice(["TRAFFIC-TICKET", "DRUNK-DRIVING"]),
             rng.choice(days), f"e{n}", f"x-{n}") for n in range(60)]
    for sid, code, occurred, evidence, ref in rows:
        record_conduct(
            session, RecordDraft(subject_id=sid, rule_code=code,
                                 occurred_on=date.fromisoformat(occurred),
                                 evidence=evidence, external_ref="one-" + ref),
            rulebook=rulebook, department="traffic-police", recorded_by="officer", today=TODAY)
    one_by_one = _records(session)
    # The same rows for other subjects (nothing stored yet for them), as one file.
    others = {sid: make_subject(session).subject_id for sid in people}
    _import(session, rulebook, [(others[s], c, d, e, "file-" + r) for s, c, d, e, r in rows])
    imported = _records(session)[len(one_by_one):]

    def same(records, rename):
        return [(rename(r.subject_id), *row[1:-1]) for r, row in zip(records, _as_rows(records),
                                                                     strict=True)]

    back = {v: k for k, v in others.items()}
    assert same(imported, back.get) == same(one_by_one, lambda s: s)
    notices = _notices(session)

    def body(record):
        return (notices[record.id].body.replace(f"Record: {record.id}\n", "Record: #\n")
                .replace(f"record {record.id},", "record #,"))

    for a, b in zip(one_by_one, imported, strict=True):
        assert body(a) == body(b) and notices[a.id].title == notices[b.id].title


def test_a_reference_recorded_meanwhile_is_a_conflict_and_nothing_is_written(
        session, rulebook, make_subject, monkeypatch):
    import app.services.records.conduct as records
    from app.errors import Conflict

    person = make_subject(session).subject_id
    _import(session, rulebook, [(person, "TRAFFIC-TICKET", "2026-01-05", "", "t-1")])
    before = len(_records(session))
    # As if another import stored t-1 between this file's check and its insert.
    monkeypatch.setattr(records.FileRefs, "peek_refs", lambda self, *a, **k: [])
    rows = [(person, "TRAFFIC-TICKET", "2026-02-05", "", "t-0"),
            (person, "TRAFFIC-TICKET", "2026-01-05", "", "t-1")]
    with pytest.raises(Conflict):
        _import(session, rulebook, rows)
    assert len(_records(session)) == before
    assert len(_notices(session)) == before


def test_a_record_made_while_an_import_fixes_points_waits_for_it(app, session, make_subject,
                                                                 rulebook, today):
    """Points are fixed from the records already stored: a recording that comes while an
    import is checking its rows waits for the import, and then counts the imported ticket
    as a repeat. (Without the lock it committed first and missed it: factor 1.)"""
    import threading
    import time

    from app.db import session_scope

    sid = make_subject(session).subject_id
    session.close()
    data = (f"subject_id,rule_code,occurred_on,evidence,external_ref\n"
            f"{sid},TRAFFIC-TICKET,{(today - timedelta(days=10)).isoformat()},,imp-1\n").encode()
    errors: list[BaseException] = []

    def record_meanwhile() -> None:
        try:
            with app.app_context(), session_scope(app) as other:
                record_conduct(
                    other, RecordDraft(subject_id=sid, rule_code="TRAFFIC-TICKET",
                                       occurred_on=today, external_ref="web-1"),
                    rulebook=rulebook, department="traffic-police", recorded_by="web", today=today)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    other = threading.Thread(target=record_meanwhile)

    def progress(_n) -> None:  # the import has read the stored records and checked its rows
        other.start()
        time.sleep(1.0)  # time enough for the other recording to commit, were it not held

    with app.app_context(), session_scope(app) as imp:
        import_records_file(imp, rulebook=rulebook, department="traffic-police", data=data,
                            name="f.csv", recorded_by="imp", today=today, progress=progress)
    other.join(timeout=60)
    assert not other.is_alive() and not errors, errors
    with app.app_context(), session_scope(app) as check:
        rows = {r.external_ref: r for r in check.execute(
            select(Record).where(Record.subject_id == sid)).scalars()}
    assert rows["imp-1"].id < rows["web-1"].id  # the recording waited for the import
    assert rows["imp-1"].factor == 1
    assert rows["web-1"].factor == 2  # the imported ticket ten days before is a repeat
