"""The nightly recompute: every subject's standing by set-based SQL, written atomically.

One aggregate pass over the records that count, one bulk write of the standings, then
flags and measures as set operations. The pure evaluator (app.standing) is the reference;
a property test holds the two to the same answers. The whole run is one transaction
under a database lock, so a run that dies leaves the previous standings in place.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Date, bindparam, select, text, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.errors import Conflict
from app.models import Run, utcnow
from app.rulebook import Measure, Rulebook
from app.services.locks import begin_write, is_postgres
from app.services.rulebooks import store_rulebook
from app.standing.relief import relief_start

log = logging.getLogger(__name__)
RUN_LOCK_KEY = 0x43505243  # "CPRC": the recompute's advisory lock on PostgreSQL
LOCK_WAIT_SECONDS = 60


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    as_of: date
    subjects: int
    tier_changes: int
    duration_ms: int
    status: str


def _d(name: str):
    return bindparam(name, type_=Date)


def _exec(session: Session, sql: str, params: dict | None = None, dates: tuple = ()) -> object:
    stmt = text(sql)
    used = [n for n in dates if re.search(rf":{n}\b", sql)]
    if used:
        stmt = stmt.bindparams(*[_d(n) for n in used])
    return session.execute(stmt, params or {})


def _counting_records(prefix: str = "r", *, suspend: bool = False) -> str:
    """SQL condition: the record `prefix` counts on :d (see PRODUCT.md semantics).

    With `suspend` (the scheme's objections.suspend_record) a record does not count on the
    days an objection against it is pending: filed on or before :d, not decided by :d.
    """
    r = prefix
    condition = (f"{r}.voided_at IS NULL AND {r}.annulled_on IS NULL AND {r}.occurred_on <= :d "
                 f"AND {r}.ends_on > :d AND ({r}.repaired_on IS NULL OR {r}.repaired_on > :d)")
    if suspend:
        condition += (f" AND NOT EXISTS (SELECT 1 FROM objection o WHERE o.record_id = {r}.id "
                      "AND o.filed_on <= :d AND (o.decided_on IS NULL OR o.decided_on > :d))")
    return condition


def _tier_case(rulebook: Rulebook, points: str, params: dict) -> str:
    parts = []
    for i, tier in enumerate(rulebook.scheme.tiers):
        params[f"tier{i}"] = tier.code
        if tier.min is None:
            parts.append(f"ELSE :tier{i}")
        else:
            params[f"tmin{i}"] = tier.min
            parts.append(f"WHEN {points} >= :tmin{i} THEN :tier{i}")
    return "CASE " + " ".join(parts) + " END"


def _in_list(prefix: str, values, params: dict) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return "(" + ", ".join(names) + ")"


def _relief_sql(rulebook: Rulebook, day: date, params: dict) -> str:
    """Return the points a record `r` counts with on `day`, relief applied.

    Per code, the latest relief version started by `day` applies to records of earlier
    versions, when it favours them (see app.standing.relief, the reference). Relief
    versions are few, so this is one CASE branch per code and no join.
    """
    branches = []
    for code in rulebook.rule_codes:
        started = [v for v in rulebook.versions(code)
                   if v.relief and v.version > 1 and relief_start(v) <= day]
        if started:
            i = len(branches)
            params.update({f"rc{i}": code, f"rv{i}": started[-1].version,
                           f"rp{i}": started[-1].points})
            relieved = f"r.factor * :rp{i}"
            branches.append(
                f"WHEN r.rule_code = :rc{i} AND r.rule_version < :rv{i} AND {relieved} > r.points "
                "AND NOT (r.base_points > 0 AND r.points < r.factor * r.base_points) "
                f"THEN {relieved}")
    if not branches:
        return "r.points"
    return f"CASE {' '.join(branches)} ELSE r.points END"


def _points_table(session: Session, rulebook: Rulebook, table: str, day: date,
                  restrict: str | None = None) -> None:
    """Create temp table `table` (subject_id, points, tier) for the subjects on `day`."""
    params: dict = {"d": day, "start": rulebook.scheme.starting_points}
    tier = _tier_case(rulebook, ":start + COALESCE(a.delta, 0)", params)
    scored = "s.consent" if rulebook.scheme.requires_consent else None
    only = f"JOIN {restrict} c ON c.subject_id = s.subject_id" if restrict else ""
    # Restricted to a few subjects, walk them first and reach their records by index
    # (CROSS JOIN fixes that order on SQLite) instead of scanning every record.
    only_r = f"{restrict} c2 CROSS JOIN " if restrict else ""
    join_r = "r.subject_id = c2.subject_id AND " if restrict else ""
    _exec(session, f"DROP TABLE IF EXISTS {table}")
    _exec(session, f"CREATE TEMPORARY TABLE {table} (subject_id VARCHAR(18) PRIMARY KEY, "
                   "points INTEGER, tier VARCHAR(16))")
    points = ":start + COALESCE(a.delta, 0)"
    counted = _relief_sql(rulebook, day, params)
    _exec(session, f"""
        INSERT INTO {table} (subject_id, points, tier)
        SELECT s.subject_id AS subject_id,
               {f"CASE WHEN {scored} THEN {points} ELSE NULL END" if scored else points} AS points,
               {f"CASE WHEN {scored} THEN {tier} ELSE NULL END" if scored else tier} AS tier
        FROM subject s {only}
        LEFT JOIN (
            SELECT r.subject_id AS subject_id, SUM({counted}) AS delta
            FROM {only_r}record r
            WHERE {join_r}{_counting_records(suspend=rulebook.scheme.objections.suspend_record)}
            GROUP BY r.subject_id
        ) a ON a.subject_id = s.subject_id
    """, params, dates=("d",))


def _listed_sql(codes, day_param: str, params: dict, prefix: str) -> str:
    return (f"SELECT subject_id FROM list_entry WHERE list_code IN {_in_list(prefix, codes, params)}"
            f" AND entered_on <= :{day_param} AND (ends_on IS NULL OR ends_on > :{day_param})"
            f" AND (removed_on IS NULL OR removed_on > :{day_param})")


def _flagged_sql(rulebook: Rulebook, codes, day: date, params: dict, prefix: str) -> str:
    """SQL: subjects with any of flag `codes` raised on `day`."""
    parts = []
    for i, (watchlist, flag) in enumerate(rulebook.flags()):
        if flag.code not in codes:
            continue
        key = f"{prefix}f{i}"
        params[f"{key}l"] = watchlist.code
        params[f"{key}n"] = flag.entries
        params[f"{key}from"] = flag.within.before(day)
        params[f"{key}d"] = day
        parts.append(
            f"SELECT subject_id FROM list_entry WHERE list_code = :{key}l "
            f"AND entered_on >= :{key}from AND entered_on <= :{key}d "
            f"AND (removed_on IS NULL OR removed_on > :{key}d) "
            f"GROUP BY subject_id HAVING COUNT(*) >= :{key}n")
    return " UNION ".join(parts)


def _holds_sql(rulebook: Rulebook, measure: Measure, points_table: str, day: date,
               params: dict, prefix: str) -> tuple[str, tuple]:
    """SQL selecting the subjects for whom a `when` condition of `measure` holds on `day`."""
    parts = []
    params[f"{prefix}day"] = day
    dates = [f"{prefix}day"]
    if measure.when.tiers:
        parts.append(f"SELECT subject_id FROM {points_table} WHERE tier IN "
                     f"{_in_list(prefix + 't', measure.when.tiers, params)}")
    if measure.when.lists:
        parts.append(_listed_sql(measure.when.lists, f"{prefix}day", params, prefix + "l"))
    if measure.when.flags:
        flagged = _flagged_sql(rulebook, measure.when.flags, day, params, prefix)
        if flagged:
            parts.append(flagged)
            dates += [k for k in params if k.startswith(prefix + "f") and
                      (k.endswith("from") or k.endswith("d"))]
    if "legal_representative" in measure.reaches:
        # The organisation's lists and flags reach the person who is its legal representative.
        inner = []
        if measure.when.lists:
            inner.append(_listed_sql(measure.when.lists, f"{prefix}day", params, prefix + "rl"))
        flagged = _flagged_sql(rulebook, measure.when.flags, day, params, prefix + "r")
        if flagged:
            inner.append(flagged)
            dates += [k for k in params if k.startswith(prefix + "rf") and
                      (k.endswith("from") or k.endswith("d"))]
        if inner:
            parts.append("SELECT p.subject_id FROM subject o JOIN subject p "
                         "ON p.subject_id = o.legal_representative "
                         "WHERE o.kind = 'organisation' AND p.kind = 'person' "
                         f"AND o.subject_id IN ({' UNION '.join(inner)})")
    return (" UNION ".join(parts) or "SELECT subject_id FROM subject WHERE 1 = 0"), tuple(dates)


def _write_measures(session: Session, rulebook: Rulebook, as_of: date, *,
                    points_table: str = "cp_new", target: str = "standing_measure") -> None:
    """Fill `target` (subject_id, measure_code) from the points in `points_table` on `as_of`."""
    _exec(session, f"DELETE FROM {target}")
    noticed = []
    for measure in rulebook.measures:
        params: dict = {"code": measure.code}
        holds, dates = _holds_sql(rulebook, measure, points_table, as_of, params, "m")
        if measure.notice is None:
            _exec(session, f"INSERT INTO {target} (subject_id, measure_code) "
                           f"SELECT DISTINCT subject_id, :code FROM ({holds}) h", params, dates)
        else:
            noticed.append((measure, holds, params, dates))
    if not noticed:
        return
    # With a notice period the condition must have held on every day of
    # [as_of - notice, as_of]. Take the (few) subjects it holds for today and walk back
    # day by day, computing their points once per day for all such measures together.
    _exec(session, "DROP TABLE IF EXISTS cp_mcand")
    _exec(session, "CREATE TEMPORARY TABLE cp_mcand (subject_id VARCHAR(18), "
                   "measure_code VARCHAR(64), PRIMARY KEY (subject_id, measure_code))")
    for measure, holds, params, dates in noticed:
        _exec(session, "INSERT INTO cp_mcand (subject_id, measure_code) "
                       f"SELECT DISTINCT subject_id, :code FROM ({holds}) h", params, dates)
    _exec(session, "DROP TABLE IF EXISTS cp_cand")
    _exec(session, "CREATE TEMPORARY TABLE cp_cand (subject_id VARCHAR(18) PRIMARY KEY)")
    day = as_of - timedelta(days=1)
    first = min(m.notice.before(as_of) for m, *_ in noticed)
    while day >= first:
        _exec(session, "DELETE FROM cp_cand")
        _exec(session, "INSERT INTO cp_cand (subject_id) SELECT DISTINCT subject_id FROM cp_mcand")
        if not _exec(session, "SELECT 1 FROM cp_cand LIMIT 1").first():
            break
        _points_table(session, rulebook, "cp_day", day, restrict="cp_cand")
        for measure, *_ in noticed:
            if day < measure.notice.before(as_of):
                continue
            p: dict = {"code": measure.code}
            held, held_dates = _holds_sql(rulebook, measure, "cp_day", day, p, "x")
            _exec(session, "DELETE FROM cp_mcand WHERE measure_code = :code "
                           f"AND subject_id NOT IN ({held})", p, held_dates)
        day -= timedelta(days=1)
    _exec(session, f"INSERT INTO {target} (subject_id, measure_code) "
                   "SELECT subject_id, measure_code FROM cp_mcand")
    for table in ("cp_mcand", "cp_cand", "cp_day"):
        _exec(session, f"DROP TABLE IF EXISTS {table}")


def _write_flags(session: Session, rulebook: Rulebook, as_of: date) -> None:
    _exec(session, "DELETE FROM standing_flag")
    for watchlist, flag in rulebook.flags():
        params: dict = {}
        sql = _flagged_sql(rulebook, (flag.code,), as_of, params, "g")
        params["fcode"] = flag.code
        dates = tuple(k for k in params if k.endswith("from") or k.endswith("d"))
        _exec(session, f"INSERT INTO standing_flag (subject_id, flag_code) "
                       f"SELECT DISTINCT subject_id, :fcode FROM ({sql}) x", params, dates)


def _acquire(session: Session) -> None:
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


def recompute(session: Session, *, rulebook: Rulebook, as_of: date,
              triggered_by: str = "system") -> RunSummary:
    """Recompute every subject's standing on `as_of`; all or nothing, one run at a time."""
    store_rulebook(session, rulebook, loaded_by=triggered_by, source="in force")
    try:  # take the write lock before the first write (SQLite cannot upgrade a read later)
        begin_write(session, "runs")
    except OperationalError as error:
        session.rollback()
        raise Conflict(f"another recompute (or a long write) holds the database: {error.orig}; "
                       "this run did nothing") from None
    run = Run(as_of=as_of, rulebook_fingerprint=rulebook.fingerprint,
              triggered_by=f"{triggered_by}@{socket.gethostname()}:{os.getpid()}")
    session.add(run)
    session.commit()
    run_id = run.id
    started = time.perf_counter()
    try:
        _acquire(session)
        # Runs left "running" by a process that died can be closed now: we hold the lock.
        session.execute(update(Run).where(Run.status == "running", Run.id != run_id)
                        .values(status="abandoned", finished_at=utcnow()))
        _points_table(session, rulebook, "cp_new", as_of)
        params = {"d": as_of, "run": run_id}
        changes = _exec(session, """
            INSERT INTO tier_change (subject_id, on_date, from_tier, to_tier, from_points,
                                     to_points, run_id)
            SELECT n.subject_id, :d, s.tier, n.tier, s.points, n.points, :run
            FROM cp_new n JOIN standing s ON s.subject_id = n.subject_id
            WHERE COALESCE(s.tier, '') <> COALESCE(n.tier, '')
        """, params, dates=("d",)).rowcount
        _exec(session, "DELETE FROM standing")
        subjects = _exec(session, """
            INSERT INTO standing (subject_id, as_of, points, tier, run_id)
            SELECT subject_id, :d, points, tier, :run FROM cp_new
        """, params, dates=("d",)).rowcount
        _write_flags(session, rulebook, as_of)
        _write_measures(session, rulebook, as_of)
        _exec(session, "DROP TABLE IF EXISTS cp_new")
        duration = int((time.perf_counter() - started) * 1000)
        session.execute(update(Run).where(Run.id == run_id).values(
            status="ok", finished_at=utcnow(), subjects=subjects, tier_changes=changes,
            duration_ms=duration))
        session.commit()
    except BaseException as error:
        session.rollback()
        status = "refused" if isinstance(error, Conflict) else "failed"
        session.execute(update(Run).where(Run.id == run_id).values(
            status=status, finished_at=utcnow(), error=str(error)[:2000],
            duration_ms=int((time.perf_counter() - started) * 1000)))
        session.commit()
        raise
    log.info("recompute %s on %s: %d subjects, %d tier changes, %d ms",
             run_id, as_of, subjects, changes, duration)
    return RunSummary(run_id, as_of, subjects, changes, duration, "ok")


def last_runs(session: Session, limit: int = 20) -> list[Run]:
    """Return the most recent runs, newest first."""
    return list(session.execute(select(Run).order_by(Run.id.desc()).limit(limit)).scalars())
