"""The nightly recompute: every subject's standing by set-based SQL, written atomically.

One aggregate pass over the records that count (`points`), one write of the standings
that changed, then flags and measures as set operations (`measures`, `conditions`; a
measure with a notice period is walked back over the days its condition must have held,
`walkback`). An incremental run recomputes only the subjects whose standing can have
changed since the last run (`scope`) and writes only what changed (`writes`). The pure
evaluator (app.standing) is the reference; a property test holds the two to the same
answers. The run's row, its locks and watermarks are kept by `bookkeeping`; its work is one
transaction under the run lock, so a run that dies leaves the previous standings in place.

The public interface is this module's: `recompute`, `RunSummary`, `standings_day`,
`last_runs`, and, for the simulation, `points_table` and `measures_table`, which compute a
rulebook's points and measures on a day into temporary tables without writing anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from app.rulebook import Rulebook, RulebookTimeline
from app.services.locks import is_postgres
from app.services.rulebooks.in_force import rulebook_timeline
from app.services.standings.recompute import bookkeeping, writes
from app.services.standings.recompute.bookkeeping import last_runs, standings_day
from app.services.standings.recompute.measures import measures_table
from app.services.standings.recompute.points import points_table
from app.services.standings.recompute.scope import drop_scope, incremental_points, scope_table
from app.services.standings.recompute.slices import (
    check_slices,
    discard_staging,
    drop_points,
    fill_deltas,
    fill_points,
)
from app.services.standings.recompute.sql import run
from app.services.transaction import in_transaction, transaction

__all__ = ["RunSummary", "recompute", "standings_day", "last_runs", "points_table",
           "measures_table"]

log = logging.getLogger(__name__)
_STEPS = 4


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    as_of: date
    subjects: int
    tier_changes: int
    duration_ms: int
    status: str
    scope: str = "full"  # or "incremental"
    recomputed: int = 0  # subjects recomputed (all of them in a full run)
    slice_seconds: tuple[float, ...] = ()  # the points of each slice (one: no slices)


def recompute(session: Session, *, rulebook: Rulebook, as_of: date,
              triggered_by: str = "system", incremental: bool = False,
              progress: Callable[[int, int, str], None] | None = None,
              slices: int = 1) -> RunSummary:
    """Recompute the standings on `as_of` under the rulebook in force on `as_of` (`rulebook`
    is the one in force today); all or nothing, one run at a time.

    With `incremental` (the nightly job), only the subjects that can have changed since
    the last run are recomputed, when that run was successful, for the day before, with
    the same rulebook; otherwise (a rulebook change, a gap, a first run) the run is full.
    Both give the same standings, flags and measures, and both write only the standing
    rows that changed: `standing.as_of` is the day a row last changed, and the day of the
    standings as a whole is the last successful run's (`standings_day`). `progress(done,
    total, step)`, when given, hears of each step as it starts. `slices` (the setting
    RECOMPUTE_SLICES): on PostgreSQL a full run sums the points in that many slices of the
    subjects, in parallel, each on a connection of its own (see `slices`); still all or
    nothing.
    """
    check_slices(slices)
    if in_transaction(session):  # the run's row must be committed before its work starts
        raise RuntimeError("the recompute owns its transactions: call it outside one")
    timeline = rulebook_timeline(session, rulebook)  # `rulebook`: the one in force today
    rulebook = timeline.on(as_of)
    run_id = bookkeeping.open_run(session, rulebook=rulebook, as_of=as_of,
                                  triggered_by=triggered_by)
    started = time.perf_counter()
    try:
        with transaction(session):
            summary = _recompute(session, rulebook, as_of, run_id, incremental, started,
                                 timeline, progress or _silent, slices)
    except BaseException as error:
        bookkeeping.mark_failed(session, run_id, error,
                                duration_ms=int((time.perf_counter() - started) * 1000))
        discard_staging(session, run_id, slices)
        raise
    log.info("recompute %s (%s) on %s: %d subjects, %d recomputed, %d tier changes, %d ms",
             run_id, summary.scope, as_of, summary.subjects, summary.recomputed,
             summary.tier_changes, summary.duration_ms)
    return summary


def _silent(done: int, total: int, step: str) -> None:
    pass


def _recompute(session: Session, rulebook: Rulebook, as_of: date, run_id: int,
               incremental: bool, started: float, timeline: RulebookTimeline,
               progress: Callable[[int, int, str], None], n_slices: int) -> RunSummary:
    progress(0, _STEPS, "waiting for the run lock")
    bookkeeping.acquire(session)
    bookkeeping.prepare(session)
    # Runs left "running" by a process that died can be closed now: we hold the lock.
    bookkeeping.close_abandoned(session, run_id)
    marks = bookkeeping.watermarks(session)  # before reading any fact: what commits later is above
    base = bookkeeping.base_run(session, rulebook, as_of, run_id) if incremental else None
    progress(1, _STEPS, "points")
    if base is not None:
        recomputed = scope_table(session, rulebook, base, as_of)
        points = "cp_new"
        sliced = incremental_points(session, rulebook=rulebook, base=base, as_of=as_of,
                                    table=points, n_slices=n_slices)
        progress(2, _STEPS, "tier changes")
        changes = writes.log_tier_changes(session, as_of, run_id)
    elif is_postgres(session):
        # Every subject's points into cp_new (in slices, if asked), compared with the stored
        # standings: on PostgreSQL a merge of the sorted sums with the subjects' index, which
        # measured cheaper than summing apart and joining three tables (see log_tier_changes_full).
        points = "cp_new"
        sliced = fill_points(session, rulebook=rulebook, day=as_of, table=points,
                             run_id=run_id, slices=n_slices)
        progress(2, _STEPS, "tier changes")
        same = writes.same_rulebook(session, rulebook, run_id)
        changes = writes.log_tier_changes(session, as_of, run_id)
    else:
        # SQLite sums the records of the subjects that have any (the floor's aggregate),
        # and works out every subject's points and tier beside its stored standing.
        points = "cp_agg"
        sliced = fill_deltas(session, rulebook=rulebook, day=as_of, table=points,
                             slices=n_slices)
        progress(2, _STEPS, "tier changes")
        same = writes.same_rulebook(session, rulebook, run_id)
        changes = writes.log_tier_changes_full(session, rulebook, as_of, run_id, points, same)
    progress(3, _STEPS, "writing standings, flags and measures")
    if base is not None:
        writes.write_incremental(session, rulebook, as_of, run_id, timeline)
        subjects = run(session, "SELECT COUNT(*) FROM standing").scalar_one()
    else:
        writes.write_full(session, rulebook, as_of, run_id, timeline, same)
        recomputed = subjects = run(session, "SELECT COUNT(*) FROM standing").scalar_one()
    drop_points(session, points, sliced)
    if base is not None:
        drop_scope(session)
    scope = "incremental" if base is not None else "full"
    progress(_STEPS, _STEPS, "done")
    duration = int((time.perf_counter() - started) * 1000)
    bookkeeping.close_run(session, run_id, status="ok", subjects=subjects,
                          tier_changes=changes, duration_ms=duration, scope=scope,
                          recomputed=recomputed, **marks)
    return RunSummary(run_id, as_of, subjects, changes, duration, "ok", scope, recomputed,
                      tuple(sliced.seconds))
