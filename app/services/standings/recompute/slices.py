"""The points of a full run in N slices on PostgreSQL, each on a connection of its own.

PostgreSQL runs an INSERT ... SELECT on one core, so the points of a million subjects are
summed by one server process however many cores the host has. With `slices` > 1 the
subjects are cut by a hash of their subject_id (`hashtext`), and N threads, each with its
own connection and transaction, sum the points of one slice into an UNLOGGED staging table
of its own (`cp_slice_<run>_<k>`), committed. Every slice reads the facts as the run
sees them: the run exports its snapshot (`pg_export_snapshot`, as pg_dump's parallel jobs
do) and each slice's transaction imports it, after the run took its locks on the facts.

The standings still change only in the run's own transaction: it reads the slices through
a temporary view named as the points table (cp_new) and writes as ever, so the run stays
all or nothing. A slice that fails or is
killed fails the run (the other slices are cancelled) and nothing is written; the staging
tables are dropped then, or by the next run if the process itself died.

SQLite has one writer and no server processes to spread over: there N > 1 is ignored
(said in the log), as it is in an incremental run (its few subjects are listed in a
temporary table the slices could not see, and are quick to sum on one connection).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from app.rulebook import Rulebook
from app.services.locks import is_postgres
from app.services.standings.recompute.points import deltas_table, points_select, points_table
from app.services.standings.recompute.sql import Sql, run

log = logging.getLogger(__name__)

MAX_SLICES = 64
STAGING_PREFIX = "cp_slice_"
# A slice's share of the subjects: the same hash on the subjects and on their records.
SLICE_OF = Sql("mod(abs(hashtext({sid})::bigint), :slices) = :slice")
_SNAPSHOT = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")


class SliceFailed(RuntimeError):
    """A slice of the run failed or was killed: the run fails and writes nothing."""


@dataclass
class SlicedPoints:
    """How the points of a run were computed: in how many slices, and each one's seconds."""

    slices: int = 1
    seconds: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    staging: list[str] = field(default_factory=list)  # the slices' tables, under a view


def drop_points(session: Session, table: str, points: SlicedPoints) -> None:
    """Drop the points table (or the view of the slices) and the slices' tables, in the
    run's transaction: a rollback keeps the tables for `discard_staging` and the next run."""
    run(session, f"DROP {'VIEW' if points.staging else 'TABLE'} IF EXISTS {table}")
    for t in points.staging:
        run(session, f"DROP TABLE {t}")


def staging_table(run_id: int, slice_: int) -> str:
    """Return the name of the staging table of slice `slice_` of run `run_id`."""
    return f"{STAGING_PREFIX}{int(run_id)}_{int(slice_)}"


def check_slices(slices: int) -> int:
    """Return `slices` if it is a usable number of slices, else raise ValueError."""
    if isinstance(slices, bool) or not isinstance(slices, int) or not 1 <= slices <= MAX_SLICES:
        raise ValueError(f"RECOMPUTE_SLICES must be a whole number from 1 to {MAX_SLICES}, "
                         f"not {slices!r}")
    return slices


def fill_points(session: Session, *, rulebook: Rulebook, day: date, table: str,
                run_id: int, slices: int, restrict: str | None = None) -> SlicedPoints:
    """Fill temporary table `table` as `points_table` does on the run's own connection, or,
    in `slices` slices where that can be done (PostgreSQL, every subject), make `table` a
    temporary view of the slices' tables; `drop_points` drops either."""
    check_slices(slices)
    if slices > 1 and not is_postgres(session):
        log.info("RECOMPUTE_SLICES=%d ignored: SQLite computes on one connection", slices)
    elif slices > 1 and restrict:
        log.info("RECOMPUTE_SLICES=%d ignored: an incremental run computes its few subjects "
                 "on one connection", slices)
    if slices == 1 or restrict or not is_postgres(session):
        started = time.perf_counter()
        points_table(session, rulebook=rulebook, day=day, table=table, restrict=restrict)
        return SlicedPoints(1, [time.perf_counter() - started])
    return _fill_in_slices(session, rulebook=rulebook, day=day, table=table, run_id=run_id,
                           slices=slices)


def fill_deltas(session: Session, *, rulebook: Rulebook, day: date, table: str,
                slices: int) -> SlicedPoints:
    """Fill temporary table `table` as `deltas_table` does: SQLite's full run, the sums of
    the records of the subjects that have any, on the run's own connection (SQLite ignores
    `slices`); `drop_points` drops it."""
    check_slices(slices)
    if slices > 1:
        log.info("RECOMPUTE_SLICES=%d ignored: SQLite computes on one connection", slices)
    started = time.perf_counter()
    deltas_table(session, rulebook=rulebook, day=day, table=table)
    return SlicedPoints(1, [time.perf_counter() - started])


def _fill_in_slices(session: Session, *, rulebook: Rulebook, day: date, table: str,
                    run_id: int, slices: int) -> SlicedPoints:
    drop_staging(session)  # a run whose process died left its slices (we hold the run lock)
    snapshot = run(session, "SELECT pg_export_snapshot()").scalar_one()
    engine = _slice_engine(session)
    select = points_select(session, rulebook=rulebook, day=day, where=SLICE_OF)
    tables = [staging_table(run_id, k) for k in range(slices)]
    outcome = SlicedPoints(slices, [0.0] * slices, [0] * slices)
    connections: dict[int, Connection] = {}
    guard = threading.Lock()

    def one(k: int) -> None:
        started = time.perf_counter()
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with guard:
                connections[k] = conn
            outcome.rows[k] = fill_slice(conn, snapshot=snapshot, table=tables[k],
                                         select=select, slice_=k, slices=slices, run_id=run_id)
            conn.commit()
        outcome.seconds[k] = time.perf_counter() - started

    try:
        with ThreadPoolExecutor(max_workers=slices,
                                thread_name_prefix=f"recompute-{run_id}-slice") as pool:
            futures = {pool.submit(one, k): k for k in range(slices)}
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                with guard:
                    _cancel(connections, [k for f, k in futures.items() if not f.done()])
                wait(futures)
                _raise_first(failed, futures, slices)
    except BaseException:
        _drop_committed(engine, tables)
        raise
    finally:
        engine.dispose()
    # The run reads the slices where they are, through a view, rather than copy them into
    # a table of its own: copying a million rows cost what the slices saved.
    run(session, f"DROP TABLE IF EXISTS {table}")
    run(session, f"CREATE TEMPORARY VIEW {table} AS " +
        " UNION ALL ".join(f"SELECT subject_id, points, tier FROM {t}" for t in tables))
    outcome.staging = tables
    log.info("recompute %s: points in %d slices, %s s", run_id, slices,
             ", ".join(f"{s:.2f}" for s in outcome.seconds))
    return outcome


def _slice_engine(session: Session) -> Engine:
    """Return an engine for the slices' connections: the run's database, without a pool.

    The app's pool holds 15 connections at most and would make slices beyond that wait
    (and fail after its 30 s timeout) while the run holds one; each slice opens its own.
    """
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    # As app.db.make_engine: timestamps are UTC whatever the server's zone.
    return create_engine(bind.url, poolclass=NullPool,
                         connect_args={"options": "-c timezone=UTC"})


def fill_slice(conn: Connection, *, snapshot: str, table: str, select: Sql, slice_: int,
               slices: int, run_id: int) -> int:
    """Sum the points of slice `slice_` into a new UNLOGGED table `table`, reading the facts
    in the run's `snapshot`; return its rows (the caller commits)."""
    if not _SNAPSHOT.match(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))  # first, before any query
    conn.execute(text(f"SET LOCAL application_name = 'citypoints recompute {int(run_id)} "
                      f"slice {int(slice_) + 1}/{int(slices)}'"))
    # As the run's own connection (bookkeeping.prepare); and one core per slice: a
    # CREATE TABLE AS may take parallel workers, which would blur what a slice costs.
    conn.execute(text("SET LOCAL work_mem = '64MB'"))
    conn.execute(text("SET LOCAL jit = off"))
    conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    sql = Sql(f"CREATE UNLOGGED TABLE {table} AS SELECT subject_id::varchar(18) AS subject_id, "
              f"points::integer AS points, tier::varchar(16) AS tier FROM ({select}) p",
              select, slices=slices, slice=slice_)
    rows = conn.execute(text(sql.text).bindparams(*sql.binds.values())).rowcount
    # The run looks subjects up in it (the walk-back's candidates), and plans its joins.
    conn.execute(text(f"ALTER TABLE {table} ADD PRIMARY KEY (subject_id)"))
    conn.execute(text(f"ANALYZE {table}"))
    return int(rows)


def drop_staging(session: Session) -> None:
    """Drop the staging tables runs left behind (call it holding the run lock)."""
    for (name,) in run(session, "SELECT tablename FROM pg_tables WHERE schemaname = "
                                "current_schema() AND tablename LIKE :p",
                       p=STAGING_PREFIX.replace("_", r"\_") + "%").all():
        run(session, f'DROP TABLE IF EXISTS "{name}"')


def _cancel(connections: dict[int, Connection], slices: list[int]) -> None:
    """Cancel the statements of the slices still running (one has failed: theirs is lost)."""
    for k in slices:
        conn = connections.get(k)
        if conn is None:
            continue
        try:
            raw = conn.connection.driver_connection
            cancel: Callable[[], None] | None = getattr(raw, "cancel_safe", None) \
                or getattr(raw, "cancel", None)
            if cancel is not None:
                cancel()
        except Exception as error:  # it ends anyway, only later
            log.warning("could not cancel slice %d: %s", k + 1, error)


def _raise_first(failed: list[Future[None]], futures: dict[Future[None], int],
                 slices: int) -> None:
    first = min(failed, key=lambda f: futures[f])
    error = first.exception()
    assert error is not None
    raise SliceFailed(f"slice {futures[first] + 1} of {slices} failed, so the run wrote "
                      f"nothing: {str(error).splitlines()[0] if str(error) else error!r}") \
        from error


def discard_staging(session: Session, run_id: int, slices: int) -> None:
    """Drop the staging tables of a failed run (its rollback may have kept them)."""
    if slices > 1 and is_postgres(session):
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        _drop_committed(engine, [staging_table(run_id, k) for k in range(slices)])


def _drop_committed(engine: Engine, tables: list[str]) -> None:
    """Drop the staging tables the slices committed before the run failed."""
    try:
        with engine.connect() as conn:
            for t in tables:
                conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
            conn.commit()
    except Exception as error:  # the next run drops them
        log.warning("could not drop the staging tables %s: %s", tables, error)
