"""The run's bookkeeping: its row in `run`, the run lock, the fact locks and settings, the
watermarks it leaves, and the base run an incremental run starts from."""

from __future__ import annotations

import os
import socket
import time
from datetime import date
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from app.errors import Conflict
from app.models import Run, utcnow
from app.rulebook import Rulebook
from app.services.locks import begin_write, is_postgres
from app.services.rulebooks.registry import store_rulebook
from app.services.standings.recompute.points import relief_between
from app.services.transaction import transaction

RUN_LOCK_KEY = 0x43505243  # "CPRC": the recompute's advisory lock on PostgreSQL
LOCK_WAIT_SECONDS = 60
# An incremental run follows a successful run of at most this many days before, with the
# same rulebook; after a longer gap the run is full.
MAX_GAP_DAYS = 1
WATERMARKS = ("max_record_id", "max_list_entry_id", "max_objection_id", "max_audit_id")
# In the order writers take them: deciding an objection updates the objection, then its
# record; the run must not hold the record while it waits for the objection (a deadlock).
FACT_TABLES = ("objection", "record", "list_entry", "subject")
FACT_LOCK_TRY_SECONDS = 5  # while the run waits, new writers queue behind it: keep it short
FACT_LOCK_TRIES = 6


def open_run(session: Session, *, rulebook: Rulebook, as_of: date, triggered_by: str) -> int:
    """Store the rulebook and a new run ("running"), committed; return the run's id.

    A run that dies later leaves this row running (the next run closes it as abandoned).
    """
    with transaction(session):
        store_rulebook(session, rulebook, loaded_by=triggered_by, source="in force")
        try:  # take the write lock before the first write (SQLite cannot upgrade a read later)
            begin_write(session, "runs")
        except OperationalError as error:
            raise Conflict(f"another recompute (or a long write) holds the database: "
                           f"{error.orig}; this run did nothing") from None
        run = Run(as_of=as_of, rulebook_fingerprint=rulebook.fingerprint,
                  triggered_by=f"{triggered_by}@{socket.gethostname()}:{os.getpid()}")
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id


def close_run(session: Session, run_id: int, **values: Any) -> None:
    """Record the run's outcome (`status` and the rest of `values`) in its row."""
    session.execute(update(Run).where(Run.id == run_id).values(finished_at=utcnow(), **values))


def mark_failed(session: Session, run_id: int, error: BaseException, duration_ms: int) -> None:
    """Close the run as refused (a Conflict: it did nothing, and says why) or failed, in a
    transaction of its own (the run's was rolled back)."""
    with transaction(session):
        close_run(session, run_id, status="refused" if isinstance(error, Conflict) else "failed",
                  error=str(error)[:2000], duration_ms=duration_ms)


def close_abandoned(session: Session, run_id: int) -> None:
    """Close the runs left running by a process that died (call it holding the run lock)."""
    session.execute(update(Run).where(Run.status == "running", Run.id != run_id)
                    .values(status="abandoned", finished_at=utcnow()))


def acquire(session: Session) -> None:
    """Take the run lock for this transaction, or raise Conflict if a run holds it."""
    if is_postgres(session):
        # Wait a while (a killed run's server process may still be finishing its
        # statement), then give up saying why.
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
        try:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RUN_LOCK_KEY})
        except OperationalError as error:
            raise Conflict(f"another recompute has held the run lock for over "
                           f"{LOCK_WAIT_SECONDS} s; this one did nothing ({error.orig})") from None
        return
    try:  # SQLite: the database's write lock is the run lock (it dies with its process)
        session.execute(text("UPDATE scheduler_lock SET holder = holder WHERE name = '~'"))
    except OperationalError as error:
        raise Conflict(f"another recompute (or a long write) holds the database: {error.orig}; "
                       "this run did nothing") from None


def prepare(session: Session) -> None:
    """Hold the facts still for the run, and give PostgreSQL room to work in memory.

    SQLite: the run already holds the database's write lock. PostgreSQL: SHARE locks on the
    fact tables wait for writers in flight to commit and hold new ones until the run ends,
    so the ids the run reads as its watermarks have nothing below them still to commit.
    """
    if not is_postgres(session):
        return
    hold_facts(session)
    # The default 4 MB makes the GROUP BY over a million subjects spill to disk; 64 MB
    # holds its sort, and the peak memory of the server process stays under 500 MB.
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    # JIT compiling the run's wide CASE expressions costs more than it saves (seconds).
    session.execute(text("SET LOCAL jit = off"))
    try:  # only takes before the connection first used a temporary table
        with session.begin_nested():
            session.execute(text("SET LOCAL temp_buffers = '128MB'"))
    except DBAPIError:
        pass


def hold_facts(session: Session) -> None:
    """Take SHARE locks on the fact tables, trying a few times for a few seconds each.

    A waiting SHARE request holds up every writer that comes after it, so each try is
    short and the run steps aside between tries; after the last one it is refused (a
    Conflict: the run did nothing and says why), never left failed half-way.
    """
    session.execute(text(f"SET LOCAL lock_timeout = '{FACT_LOCK_TRY_SECONDS}s'"))
    for attempt in range(1, FACT_LOCK_TRIES + 1):
        try:
            with session.begin_nested():
                for table in FACT_TABLES:
                    session.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
            break
        except OperationalError as error:  # lock timeout (55P03) or deadlock (40P01)
            if attempt == FACT_LOCK_TRIES:
                raise Conflict(
                    "writers held the records, objections, lists or register for over "
                    f"{FACT_LOCK_TRIES * FACT_LOCK_TRY_SECONDS} s; this run did nothing "
                    f"(run it again): {str(error.orig).splitlines()[0]}") from None
            time.sleep(FACT_LOCK_TRY_SECONDS)
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))


def watermarks(session: Session) -> dict[str, int]:
    """Return the highest ids of the fact tables and the audit trail, as this run sees them."""
    row = session.execute(text(
        "SELECT (SELECT MAX(id) FROM record), (SELECT MAX(id) FROM list_entry), "
        "(SELECT MAX(id) FROM objection), (SELECT MAX(id) FROM audit_event)")).one()
    return {name: value or 0 for name, value in zip(WATERMARKS, row, strict=True)}


def base_run(session: Session, rulebook: Rulebook, as_of: date, run_id: int) -> Run | None:
    """Return the run an incremental run can start from, or None if this one must be full.

    That is the last successful run, if it left watermarks, used the same rulebook and was
    for the day before `as_of` (at most MAX_GAP_DAYS before), and no relief starts between.
    """
    base = session.execute(select(Run).where(Run.status == "ok", Run.kind == "recompute",
                                             Run.id != run_id)
                           .order_by(Run.id.desc()).limit(1)).scalar_one_or_none()
    if (base is None or base.max_record_id is None
            or base.rulebook_fingerprint != rulebook.fingerprint
            or not 0 < (as_of - base.as_of).days <= MAX_GAP_DAYS
            or relief_between(rulebook, base.as_of, as_of)):
        return None
    return base


def stored_fingerprint(session: Session, run_id: int) -> str | None:
    """Return the fingerprint of the rulebook the stored standings were computed under (the
    last successful run's before run `run_id`), or None if there is none."""
    return session.execute(select(Run.rulebook_fingerprint)
                           .where(Run.status == "ok", Run.kind == "recompute", Run.id != run_id)
                           .order_by(Run.id.desc()).limit(1)).scalar_one_or_none()


def standings_day(session: Session) -> date | None:
    """Return the day of the stored standings: the last successful run's `as_of`."""
    return session.execute(select(Run.as_of).where(Run.status == "ok", Run.kind == "recompute")
                           .order_by(Run.id.desc()).limit(1)).scalar_one_or_none()


def last_runs(session: Session, limit: int = 20) -> list[Run]:
    """Return the most recent runs, newest first."""
    return list(session.execute(select(Run).order_by(Run.id.desc()).limit(limit)).scalars())
