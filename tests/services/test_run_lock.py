"""Only one recompute at a time: a second one waits for the lock, or exits saying why."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from app.errors import Conflict
from app.services.intake.drafts import RecordDraft
from app.services.standings import recompute as rc
from app.services.standings.recompute import bookkeeping


def _hold_lock(url: str, seconds: float, ready: threading.Event) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": bookkeeping.RUN_LOCK_KEY})
        ready.set()
        time.sleep(seconds)
        if url.startswith("sqlite"):
            conn.exec_driver_sql("ROLLBACK")
        else:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": bookkeeping.RUN_LOCK_KEY})
    engine.dispose()


def test_a_second_run_waits_for_the_first(session, make_subject, rulebook, database_url):
    make_subject(session)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(database_url, 1.5, ready))
    holder.start()
    ready.wait(10)
    started = time.monotonic()
    summary = rc.recompute(session, rulebook=rulebook, as_of=date(2026, 5, 1))
    holder.join()
    assert summary.status == "ok" and time.monotonic() - started >= 1.0


def test_a_second_run_gives_up_saying_why(session, make_subject, rulebook, database_url,
                                          monkeypatch):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite waits its 30 s busy timeout; the wait itself is tested above")
    monkeypatch.setattr(bookkeeping, "LOCK_WAIT_SECONDS", 1)
    make_subject(session)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(database_url, 4, ready))
    holder.start()
    ready.wait(10)
    with pytest.raises(Conflict, match="another recompute"):
        rc.recompute(session, rulebook=rulebook, as_of=date(2026, 5, 1))
    holder.join()
    runs = session.execute(text("SELECT status, error FROM run ORDER BY id")).all()
    assert runs[-1][0] == "refused" and "another recompute" in runs[-1][1]


def _writer_annuls(url: str, objection_id: int, record_id: int, started: threading.Event,
                   go: threading.Event, out: dict) -> None:
    """As deciding an objection does: update the objection, then (later) its record."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("UPDATE objection SET outcome = 'annulled' WHERE id = :i"),
                         {"i": objection_id})
            started.set()
            go.wait(10)
            conn.execute(text("UPDATE record SET annulled_on = '2026-05-01' WHERE id = :i"),
                         {"i": record_id})
            conn.commit()
            out["writer"] = "committed"
    except Exception as error:  # reported by the test
        out["writer"] = f"{type(error).__name__}: {error}"
    finally:
        engine.dispose()


def test_a_run_and_an_objection_decided_meanwhile_do_not_deadlock(
        session, make_subject, rulebook, database_url, today, monkeypatch):
    """The run's table locks come in the writers' order (objection, then record)."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one write lock; PostgreSQL's table locks are what is tested")
    monkeypatch.setattr(bookkeeping, "FACT_LOCK_TRIES", 1)  # no second try to hide a deadlock
    from app.services.due_process.objections import file_objection
    from app.services.records.conduct import record_conduct

    sid = make_subject(session).subject_id
    record = record_conduct(
        session, RecordDraft(subject_id=sid, rule_code="TRAFFIC-TICKET", occurred_on=today),
        rulebook=rulebook, department="traffic-police", recorded_by="t", today=today).record
    objection = file_objection(session, rulebook=rulebook, subject_id=sid, record_id=record.id,
                               reason="not me", actor=sid, today=today)
    ids = (objection.id, record.id)
    session.close()
    started, go, out = threading.Event(), threading.Event(), {}
    writer = threading.Thread(target=_writer_annuls,
                              args=(database_url, *ids, started, go, out))
    writer.start()
    started.wait(10)

    def release_writer_soon():  # once the run is waiting for its locks
        time.sleep(0.5)
        go.set()

    threading.Thread(target=release_writer_soon).start()
    summary = rc.recompute(session, rulebook=rulebook, as_of=today)
    writer.join(20)
    assert out.get("writer") == "committed", out
    assert summary.status == "ok"


def _hold_records(url: str, seconds: float, ready: threading.Event) -> None:
    """A long writer: an uncommitted change to the record table for `seconds`."""
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("UPDATE record SET evidence = evidence"))
        ready.set()
        time.sleep(seconds)
        conn.rollback()
    engine.dispose()


@pytest.mark.parametrize("tries, held, outcome", [(4, 1.5, "ok"), (1, 3, "refused")])
def test_a_run_steps_aside_for_a_long_writer_then_runs_or_is_refused(
        session, make_subject, rulebook, database_url, today, monkeypatch, tries, held, outcome):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one write lock; PostgreSQL's table locks are what is tested")
    from app.services.records.conduct import record_conduct

    monkeypatch.setattr(bookkeeping, "FACT_LOCK_TRY_SECONDS", 1)
    monkeypatch.setattr(bookkeeping, "FACT_LOCK_TRIES", tries)
    sid = make_subject(session).subject_id
    record_conduct(
        session, RecordDraft(subject_id=sid, rule_code="TRAFFIC-TICKET", occurred_on=today),
        rulebook=rulebook, department="traffic-police", recorded_by="t", today=today)
    session.close()
    ready = threading.Event()
    holder = threading.Thread(target=_hold_records, args=(database_url, held, ready))
    holder.start()
    ready.wait(10)
    if outcome == "ok":
        assert rc.recompute(session, rulebook=rulebook, as_of=today).status == "ok"
    else:
        with pytest.raises(Conflict, match="writers held the records"):
            rc.recompute(session, rulebook=rulebook, as_of=today)
        status = session.execute(text("SELECT status FROM run ORDER BY id DESC")).first()[0]
        assert status == "refused"
    holder.join()
