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

from sqlalchemy import Date, DateTime, bindparam, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from app.errors import Conflict
from app.models import Run, utcnow
from app.rulebook import Measure, Rulebook
from app.services.locks import begin_write, is_postgres
from app.services.rulebooks.registry import store_rulebook
from app.standing.relief import relief_start

log = logging.getLogger(__name__)
RUN_LOCK_KEY = 0x43505243  # "CPRC": the recompute's advisory lock on PostgreSQL
LOCK_WAIT_SECONDS = 60
# An incremental run follows a successful run of at most this many days before, with the
# same rulebook; after a longer gap the run is full.
MAX_GAP_DAYS = 1
# The register's updated_at is the app's clock, taken before its write waits for the run's
# lock: subjects changed this long before the last run started are looked at again.
SUBJECT_CHANGE_MARGIN = timedelta(hours=1)
# The notice walk-back reads its candidates' records by the window index above this many
# candidates, by subject below (tens of thousands of index walks beat one window scan).
WALK_BY_WINDOW = 50_000
WATERMARKS = ("max_record_id", "max_list_entry_id", "max_objection_id", "max_audit_id")


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


def _d(name: str):
    return bindparam(name, type_=Date)


def _exec(session: Session, sql: str, params: dict | None = None, dates: tuple = ()) -> object:
    stmt = text(sql)
    used = [n for n in dates if re.search(rf":{n}\b", sql)]
    if used:
        stmt = stmt.bindparams(*[_d(n) for n in used])
    if re.search(r":since\b", sql):  # a timestamp, compared as the models store it
        stmt = stmt.bindparams(bindparam("since", type_=DateTime(timezone=True)))
    return session.execute(stmt, params or {})


def _counting_records(prefix: str = "r", *, suspend: bool = False, day: str = "d") -> str:
    """SQL condition: the record `prefix` counts on :d (see PRODUCT.md semantics).

    With `suspend` (the scheme's objections.suspend_record) a record does not count on the
    days an objection against it is pending: filed on or before :d, not decided by :d.
    `day` names the date parameter (default `d`).
    """
    r, d = prefix, f":{day}"
    condition = (f"{r}.voided_at IS NULL AND {r}.annulled_on IS NULL AND {r}.occurred_on <= {d} "
                 f"AND {r}.ends_on > {d} AND ({r}.repaired_on IS NULL OR {r}.repaired_on > {d})")
    if suspend:
        # Uncorrelated: the few pending objections are read once, not once per record.
        condition += (f" AND {r}.id NOT IN (SELECT o.record_id FROM objection o "
                      f"WHERE o.filed_on <= {d} AND (o.decided_on IS NULL OR o.decided_on > {d}))")
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


def _relief_sql(rulebook: Rulebook, day: date, params: dict, key: str = "") -> str:
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
            params.update({f"{key}rc{i}": code, f"{key}rv{i}": started[-1].version,
                           f"{key}rp{i}": started[-1].points})
            relieved = f"r.factor * :{key}rp{i}"
            branches.append(
                f"WHEN r.rule_code = :{key}rc{i} AND r.rule_version < :{key}rv{i} "
                f"AND {relieved} > r.points "
                "AND NOT (r.base_points > 0 AND r.points < r.factor * r.base_points) "
                f"THEN {relieved}")
    if not branches:
        return "r.points"
    return f"CASE {' '.join(branches)} ELSE r.points END"


def _points_table(session: Session, rulebook: Rulebook, table: str, day: date,
                  restrict: str | None = None, *, source: str = "record") -> None:
    """Create temp table `table` (subject_id, points, tier) for the subjects on `day`.

    `restrict`: a table of subject_ids to compute (default: every subject); `source`: the
    table the records are read from (a temporary copy of the candidates' records, say).
    """
    params: dict = {"d": day, "start": rulebook.scheme.starting_points}
    tier = _tier_case(rulebook, ":start + COALESCE(a.delta, 0)", params)
    scored = "s.consent" if rulebook.scheme.requires_consent else None
    if restrict:
        # A few subjects: start from them (CROSS JOIN fixes that order on SQLite) and reach
        # their records by index, instead of scanning every subject and record.
        subjects = f"{restrict} c CROSS JOIN subject s"
        only = "WHERE s.subject_id = c.subject_id"
        records = f"{restrict} c2 CROSS JOIN {source} r"
        join_r = "r.subject_id = c2.subject_id AND "
    else:
        subjects, only, join_r = "subject s", "", ""
        # Without statistics SQLite walks the (subject_id, ...) index for the GROUP BY
        # and fetches all ten million records at random; the window index reads only the
        # entries live on the day. PostgreSQL's planner already takes that index.
        plain = is_postgres(session) or source != "record"
        window = "" if plain else " INDEXED BY ix_record_window"
        records = f"{source} r{window}"
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
        FROM {subjects}
        LEFT JOIN (
            SELECT r.subject_id AS subject_id, SUM({counted}) AS delta
            FROM {records}
            WHERE {join_r}{_counting_records(suspend=rulebook.scheme.objections.suspend_record)}
            GROUP BY r.subject_id
        ) a ON a.subject_id = s.subject_id
        {only}
    """, params, dates=("d",))


def _among(column: str, only: str | None) -> str:
    return f" AND {column} IN (SELECT subject_id FROM {only})" if only else ""


def _listed_sql(codes, day_param: str, params: dict, prefix: str, only: str | None = None) -> str:
    codes_sql = _in_list(prefix, codes, params)
    return (f"SELECT subject_id FROM list_entry WHERE list_code IN {codes_sql}"
            f" AND entered_on <= :{day_param} AND (ends_on IS NULL OR ends_on > :{day_param})"
            f" AND (removed_on IS NULL OR removed_on > :{day_param})" + _among("subject_id", only))


def _flagged_sql(rulebook: Rulebook, codes, day: date, params: dict, prefix: str,
                 only: str | None = None) -> str:
    """SQL: subjects with any of flag `codes` raised on `day` (among those in `only`)."""
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
            f"AND (removed_on IS NULL OR removed_on > :{key}d){_among('subject_id', only)} "
            f"GROUP BY subject_id HAVING COUNT(*) >= :{key}n")
    return " UNION ".join(parts)


def _holds_sql(rulebook: Rulebook, measure: Measure, points_table: str, day: date,
               params: dict, prefix: str, only: str | None = None) -> tuple[str, tuple]:
    """SQL selecting the subjects for whom a `when` condition of `measure` holds on `day`.

    `only`: a table of subject_ids to restrict the answer to (`points_table` is taken as
    it is); an organisation's lists still reach its representative among them.
    """
    parts = []
    params[f"{prefix}day"] = day
    dates = [f"{prefix}day"]
    if measure.when.tiers:
        parts.append(f"SELECT subject_id FROM {points_table} WHERE tier IN "
                     f"{_in_list(prefix + 't', measure.when.tiers, params)}")
    if measure.when.lists:
        parts.append(_listed_sql(measure.when.lists, f"{prefix}day", params, prefix + "l", only))
    if measure.when.flags:
        flagged = _flagged_sql(rulebook, measure.when.flags, day, params, prefix, only)
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
                         f"AND o.subject_id IN ({' UNION '.join(inner)})"
                         + _among("p.subject_id", only))
    return (" UNION ".join(parts) or "SELECT subject_id FROM subject WHERE 1 = 0"), tuple(dates)


def _write_measures(session: Session, rulebook: Rulebook, as_of: date, *,
                    points_table: str = "cp_new", target: str = "standing_measure",
                    only: str | None = None) -> None:
    """Fill `target` (subject_id, measure_code) from the points in `points_table` on `as_of`.

    `only`: compute the measures of these subjects alone (`points_table` holds just them).
    """
    _exec(session, f"DELETE FROM {target}")
    noticed = []
    for measure in rulebook.measures:
        params: dict = {"code": measure.code}
        holds, dates = _holds_sql(rulebook, measure, points_table, as_of, params, "m", only)
        when = measure.when
        if measure.notice is None and when.tiers and not (when.lists or when.flags):
            # Tiers alone: straight from the points table, one row per subject already.
            _exec(session, f"INSERT INTO {target} (subject_id, measure_code) "
                           f"SELECT subject_id, :code FROM {points_table} WHERE tier IN "
                           f"{_in_list('mt', when.tiers, params)}", params)
        elif measure.notice is None:
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
    for _measure, holds, params, dates in noticed:
        _exec(session, "INSERT INTO cp_mcand (subject_id, measure_code) "
                       f"SELECT DISTINCT subject_id, :code FROM ({holds}) h", params, dates)
    _exec(session, "DROP TABLE IF EXISTS cp_cand")
    _exec(session, "CREATE TEMPORARY TABLE cp_cand (subject_id VARCHAR(18) PRIMARY KEY)")
    # A notice has run on as_of when its condition held from latest_start(as_of) on, where
    # latest_start + notice = as_of (PRODUCT.md: Jan 31 + 1m = Feb 28, clamped).
    first = min(m.notice.latest_start(as_of) for m, *_ in noticed)
    last = as_of - timedelta(days=1)
    days = [last - timedelta(days=k) for k in range((last - first).days + 1)]
    _exec(session, "INSERT INTO cp_cand (subject_id) SELECT DISTINCT subject_id FROM cp_mcand")
    if days and _exec(session, "SELECT 1 FROM cp_cand LIMIT 1").first():
        if _relief_between(rulebook, first, as_of):
            _walk_points(session, rulebook, days)
        else:
            _walk_back_changes(session, rulebook, days, as_of, points_table)
    for k, day in enumerate(days):
        # cp_cand stays the first day's candidates: narrowing it each day costs more than
        # the few subjects already dropped from cp_mcand cost in the day's statements.
        if not _exec(session, "SELECT 1 FROM cp_mcand LIMIT 1").first():
            break
        params: dict = {}
        tier = _tier_case(rulebook, f"w.p{k}", params)
        _exec(session, "DROP TABLE IF EXISTS cp_day")
        _exec(session, "CREATE TEMPORARY TABLE cp_day (subject_id VARCHAR(18) PRIMARY KEY, "
                       "points INTEGER, tier VARCHAR(16))")
        _exec(session, f"INSERT INTO cp_day (subject_id, points, tier) SELECT w.subject_id, "
                       f"w.p{k}, CASE WHEN w.p{k} IS NULL THEN NULL ELSE {tier} END "
                       "FROM cp_cand c CROSS JOIN cp_days w WHERE w.subject_id = c.subject_id",
              params)
        for measure, *_ in noticed:
            if day < measure.notice.latest_start(as_of):
                continue
            p: dict = {"code": measure.code}
            held, held_dates = _holds_sql(rulebook, measure, "cp_day", day, p, "x", "cp_cand")
            _exec(session, "DELETE FROM cp_mcand WHERE measure_code = :code "
                           f"AND subject_id NOT IN ({held})", p, held_dates)
    _exec(session, f"INSERT INTO {target} (subject_id, measure_code) "
                   "SELECT subject_id, measure_code FROM cp_mcand")
    for table in ("cp_mcand", "cp_cand", "cp_day", "cp_crec", "cp_days"):
        _exec(session, f"DROP TABLE IF EXISTS {table}")


def _walk_back_changes(session: Session, rulebook: Rulebook, days: list[date], as_of: date,
                       points_table: str) -> None:
    """Fill cp_days like _walk_points, from the points on `as_of` and the few records that
    start or stop counting in (first day, as_of]: every other record counts on all of the
    days or on none (no relief starts in between: the caller checks)."""
    first = days[-1]
    suspend = rulebook.scheme.objections.suspend_record
    params: dict = {"first": first, "d": as_of}
    changing = ["SELECT id FROM record WHERE occurred_on > :first AND occurred_on <= :d",
                "SELECT id FROM record WHERE ends_on > :first AND ends_on <= :d",
                "SELECT id FROM record WHERE repaired_on > :first AND repaired_on <= :d"]
    if suspend:
        changing.append("SELECT record_id FROM objection WHERE (filed_on > :first AND "
                        "filed_on <= :d) OR (decided_on > :first AND decided_on <= :d)")
    _exec(session, "DROP TABLE IF EXISTS cp_crec")
    _exec(session, "CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM record r WHERE r.id IN ("
                   + " UNION ".join(changing) + ") AND r.voided_at IS NULL AND "
                   "r.annulled_on IS NULL AND r.subject_id IN (SELECT subject_id FROM cp_cand)",
          params, dates=("first", "d"))
    _exec(session, "CREATE INDEX cp_crec_subject ON cp_crec (subject_id)")
    if is_postgres(session):
        _exec(session, "ANALYZE cp_crec")
    now = _relief_sql(rulebook, as_of, params, key="wd")
    sums = []
    for k, day in enumerate(days):
        params[f"w{k}"] = day
        then = _relief_sql(rulebook, day, params, key=f"w{k}")
        sums.append(
            f"CASE WHEN n.points IS NULL THEN NULL ELSE n.points + COALESCE(SUM("
            f"CASE WHEN {_counting_records(suspend=suspend, day=f'w{k}')} THEN {then} ELSE 0 END"
            f" - CASE WHEN {_counting_records(suspend=suspend)} THEN {now} ELSE 0 END), 0) END "
            f"AS p{k}")
    names = ", ".join(f"p{k}" for k in range(len(days)))
    _exec(session, "DROP TABLE IF EXISTS cp_days")
    _exec(session, "CREATE TEMPORARY TABLE cp_days (subject_id VARCHAR(18) PRIMARY KEY, "
                   + ", ".join(f"p{k} INTEGER" for k in range(len(days))) + ")")
    _exec(session, f"INSERT INTO cp_days (subject_id, {names}) "
                   f"SELECT c.subject_id, {', '.join(sums)} "
                   f"FROM cp_cand c JOIN {points_table} n ON n.subject_id = c.subject_id "
                   "LEFT JOIN cp_crec r ON r.subject_id = c.subject_id "
                   "GROUP BY c.subject_id, n.points",
          params, dates=("d", *(f"w{k}" for k in range(len(days)))))


def _walk_points(session: Session, rulebook: Rulebook, days: list[date]) -> None:
    """Fill temp table cp_days (subject_id, p0, p1, ...): the points of each subject in
    cp_cand on each of `days` (NULL where not scored), from one pass over their records."""
    # The candidates' records that can count on one of the days, read once: in one pass
    # over the window index when the candidates are many (an index walk per candidate is
    # millions of random reads at city scale), by subject when they are few.
    params: dict = {"last": days[0], "first": days[-1]}
    candidates = _exec(session, "SELECT COUNT(*) FROM cp_cand").scalar()
    live = ("r.occurred_on <= :last AND r.ends_on > :first AND r.voided_at IS NULL "
            "AND r.annulled_on IS NULL")
    _exec(session, "DROP TABLE IF EXISTS cp_crec")
    if candidates > WALK_BY_WINDOW:
        window = "" if is_postgres(session) else " INDEXED BY ix_record_window"
        _exec(session, f"CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM record r{window} "
                       f"WHERE {live} AND r.subject_id IN (SELECT subject_id FROM cp_cand)",
              params, dates=("last", "first"))
    else:
        _exec(session, "CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM cp_cand c "
                       f"CROSS JOIN record r WHERE r.subject_id = c.subject_id AND {live}",
              params, dates=("last", "first"))
    _exec(session, "CREATE INDEX cp_crec_subject ON cp_crec (subject_id)")
    if is_postgres(session):  # temporary tables get no statistics otherwise
        _exec(session, "ANALYZE cp_crec")
    params["start"] = rulebook.scheme.starting_points
    suspend = rulebook.scheme.objections.suspend_record
    sums = []
    for k, day in enumerate(days):
        params[f"w{k}"] = day
        counted = _relief_sql(rulebook, day, params, key=f"w{k}")
        points = (f":start + COALESCE(SUM(CASE WHEN "
                  f"{_counting_records(suspend=suspend, day=f'w{k}')} THEN {counted} END), 0)")
        if rulebook.scheme.requires_consent:
            points = f"CASE WHEN s.consent THEN {points} ELSE NULL END"
        sums.append(f"{points} AS p{k}")
    columns = ", ".join(f"p{k} INTEGER" for k in range(len(days)))
    _exec(session, "DROP TABLE IF EXISTS cp_days")
    _exec(session, f"CREATE TEMPORARY TABLE cp_days (subject_id VARCHAR(18) PRIMARY KEY, "
                   f"{columns})")
    names = ", ".join(f"p{k}" for k in range(len(days)))
    _exec(session, f"INSERT INTO cp_days (subject_id, {names}) "
                   f"SELECT c.subject_id, {', '.join(sums)} "
                   "FROM cp_cand c JOIN subject s ON s.subject_id = c.subject_id "
                   "LEFT JOIN cp_crec r ON r.subject_id = c.subject_id "
                   "GROUP BY c.subject_id, s.consent",
          params, dates=("last", "first", *(f"w{k}" for k in range(len(days)))))


def _write_flags(session: Session, rulebook: Rulebook, as_of: date, *,
                 target: str = "standing_flag", only: str | None = None) -> None:
    _exec(session, f"DELETE FROM {target}")
    for _watchlist, flag in rulebook.flags():
        params: dict = {}
        sql = _flagged_sql(rulebook, (flag.code,), as_of, params, "g", only)
        params["fcode"] = flag.code
        dates = tuple(k for k in params if k.endswith("from") or k.endswith("d"))
        _exec(session, f"INSERT INTO {target} (subject_id, flag_code) "
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


def _prepare(session: Session) -> None:
    """Hold the facts still for the run, and give PostgreSQL room to work in memory.

    SQLite: the run already holds the database's write lock. PostgreSQL: SHARE locks on the
    fact tables wait for writers in flight to commit and hold new ones until the run ends,
    so the ids the run reads as its watermarks have nothing below them still to commit.
    """
    if not is_postgres(session):
        return
    _hold_facts(session)
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


# In the order writers take them: deciding an objection updates the objection, then its
# record; the run must not hold the record while it waits for the objection (a deadlock).
FACT_TABLES = ("objection", "record", "list_entry", "subject")
FACT_LOCK_TRY_SECONDS = 5  # while the run waits, new writers queue behind it: keep it short
FACT_LOCK_TRIES = 6


def _hold_facts(session: Session) -> None:
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


def _watermarks(session: Session) -> dict:
    """Return the highest ids of the fact tables and the audit trail, as this run sees them."""
    row = _exec(session, "SELECT (SELECT MAX(id) FROM record), (SELECT MAX(id) FROM list_entry), "
                         "(SELECT MAX(id) FROM objection), (SELECT MAX(id) FROM audit_event)").one()
    return {name: value or 0 for name, value in zip(WATERMARKS, row, strict=True)}


def _relief_between(rulebook: Rulebook, after: date, until: date) -> bool:
    return any(v.relief and v.version > 1 and after < relief_start(v) <= until
               for code in rulebook.rule_codes for v in rulebook.versions(code))


def _base_run(session: Session, rulebook: Rulebook, as_of: date, run_id: int) -> Run | None:
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
            or _relief_between(rulebook, base.as_of, as_of)):
        return None
    return base


def _scope(session: Session, rulebook: Rulebook, base: Run, as_of: date) -> int:
    """Fill temp table cp_scope with the subjects whose standing can differ from `base`'s.

    Those with facts stored or changed since the base run (ids above its watermarks; the
    audit trail names the subject of every void, repair, objection, decision, list entry
    and removal, consent change; the register's updated_at), those with a fact that
    starts or stops counting in (base day, as_of], those with a noticed measure whose
    condition held on the base day but had not yet taken effect (its notice may mature),
    and the legal representatives of the organisations among all these.
    """
    params: dict = {"wr": base.max_record_id, "wl": base.max_list_entry_id or 0,
                    "wo": base.max_objection_id or 0, "wa": base.max_audit_id or 0,
                    "lo": base.as_of, "d": as_of,
                    "since": base.started_at - SUBJECT_CHANGE_MARGIN}
    dates = ["lo", "d"]

    def between(column: str) -> str:
        return f"({column} > :lo AND {column} <= :d)"

    parts = [
        "SELECT subject_id FROM record WHERE id > :wr",
        "SELECT subject_id FROM list_entry WHERE id > :wl",
        "SELECT subject_id FROM objection WHERE id > :wo",
        "SELECT subject_id FROM audit_event WHERE id > :wa AND subject_id IS NOT NULL",
        "SELECT subject_id FROM subject WHERE updated_at >= :since",
        f"SELECT subject_id FROM record WHERE {between('occurred_on')}",
        f"SELECT subject_id FROM record WHERE {between('ends_on')}",
        f"SELECT subject_id FROM record WHERE {between('repaired_on')}",
        f"SELECT subject_id FROM list_entry WHERE {between('entered_on')} OR "
        f"{between('ends_on')} OR {between('removed_on')}",
    ]
    if rulebook.scheme.objections.suspend_record:
        parts.append(f"SELECT subject_id FROM objection WHERE {between('filed_on')} "
                     f"OR {between('decided_on')}")
    for i, (watchlist, flag) in enumerate(rulebook.flags()):
        # An entry leaves the flag's window on the first day d with `within` before d past it.
        params.update({f"watch{i}": watchlist.code, f"wfrom{i}": flag.within.before(base.as_of),
                       f"wto{i}": flag.within.before(as_of)})
        dates += [f"wfrom{i}", f"wto{i}"]
        parts.append(f"SELECT subject_id FROM list_entry WHERE list_code = :watch{i} "
                     f"AND entered_on >= :wfrom{i} AND entered_on < :wto{i}")
    for i, measure in enumerate(m for m in rulebook.measures if m.notice):
        # Held on the base day without having taken effect: the notice may have matured.
        p: dict = {f"pc{i}": measure.code}
        held, held_dates = _holds_sql(rulebook, measure, "standing", base.as_of, p, f"p{i}")
        params.update(p)
        dates += list(held_dates)
        parts.append(f"SELECT h.subject_id FROM ({held}) h WHERE NOT EXISTS (SELECT 1 FROM "
                     "standing_measure sm WHERE sm.subject_id = h.subject_id "
                     f"AND sm.measure_code = :pc{i})")
    _exec(session, "DROP TABLE IF EXISTS cp_scope")
    _exec(session, "CREATE TEMPORARY TABLE cp_scope (subject_id VARCHAR(18) PRIMARY KEY)")
    _exec(session, "INSERT INTO cp_scope (subject_id) SELECT DISTINCT x.subject_id FROM ("
                   + " UNION ".join(parts) + ") x JOIN subject s ON s.subject_id = x.subject_id",
          params, dates=tuple(dates))
    # An organisation's lists and flags reach its legal representative; a changed
    # organisation may have changed representative, so the former one (unknown now) is
    # among those holding a measure that reaches representatives.
    reaching = [m.code for m in rulebook.measures if "legal_representative" in m.reaches]
    extra = ["SELECT p.subject_id FROM cp_scope c JOIN subject o ON o.subject_id = c.subject_id "
             "JOIN subject p ON p.subject_id = o.legal_representative "
             "WHERE o.kind = 'organisation' AND p.kind = 'person'"]
    rp: dict = {"since": base.started_at - SUBJECT_CHANGE_MARGIN}
    if reaching and _exec(session, "SELECT 1 FROM subject WHERE updated_at >= :since "
                                   "AND kind = 'organisation' LIMIT 1", rp).first():
        extra.append("SELECT sm.subject_id FROM standing_measure sm WHERE sm.measure_code IN "
                     f"{_in_list('rm', reaching, rp)}")
    _exec(session, "DROP TABLE IF EXISTS cp_scope_rep")
    _exec(session, "CREATE TEMPORARY TABLE cp_scope_rep (subject_id VARCHAR(18) PRIMARY KEY)")
    _exec(session, "INSERT INTO cp_scope_rep (subject_id) SELECT DISTINCT subject_id FROM ("
                   + " UNION ".join(extra) + ") x", rp)
    _exec(session, "INSERT INTO cp_scope (subject_id) SELECT subject_id FROM cp_scope_rep r "
                   "WHERE NOT EXISTS (SELECT 1 FROM cp_scope c WHERE c.subject_id = r.subject_id)")
    _exec(session, "DROP TABLE cp_scope_rep")
    if is_postgres(session):
        _exec(session, "ANALYZE cp_scope")
    return _exec(session, "SELECT COUNT(*) FROM cp_scope").scalar()


def _apply_diff(session: Session, table: str, temp: str, key: tuple[str, str],
                scoped: bool = True) -> None:
    """Make `table`'s rows (those of the subjects in cp_scope, if `scoped`) those of `temp`.

    A night changes few flags and measures: the rest are left alone (no dead rows, no
    index churn), which is most of the write on PostgreSQL.
    """
    if is_postgres(session):
        _exec(session, f"ANALYZE {temp}")
    same = " AND ".join(f"t.{k} = {table}.{k}" for k in key)
    where = "subject_id IN (SELECT subject_id FROM cp_scope) AND " if scoped else ""
    _exec(session, f"DELETE FROM {table} WHERE {where}"
                   f"NOT EXISTS (SELECT 1 FROM {temp} t WHERE {same})")
    same = " AND ".join(f"x.{k} = t.{k}" for k in key)
    _exec(session, f"INSERT INTO {table} ({', '.join(key)}) SELECT {', '.join(key)} "
                   f"FROM {temp} t WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {same})")
    _exec(session, f"DROP TABLE IF EXISTS {temp}")


def _flags_and_measures(session: Session, rulebook: Rulebook, as_of: date,
                        only: str | None) -> None:
    """Write the flags and measures of the subjects in `only` (all if None), changes only."""
    for temp, column in (("cp_sf", "flag_code"), ("cp_sm", "measure_code")):
        _exec(session, f"DROP TABLE IF EXISTS {temp}")
        _exec(session, f"CREATE TEMPORARY TABLE {temp} (subject_id VARCHAR(18), "
                       f"{column} VARCHAR(64), PRIMARY KEY (subject_id, {column}))")
    _write_flags(session, rulebook, as_of, target="cp_sf", only=only)
    _apply_diff(session, "standing_flag", "cp_sf", ("subject_id", "flag_code"), bool(only))
    _write_measures(session, rulebook, as_of, target="cp_sm", only=only)
    _apply_diff(session, "standing_measure", "cp_sm", ("subject_id", "measure_code"), bool(only))


def _incremental(session: Session, rulebook: Rulebook, as_of: date, run_id: int) -> None:
    """Write the standings, flags and measures of the subjects in cp_scope (those that changed)."""
    params = {"d": as_of, "run": run_id}
    # Driven from the few recomputed subjects (UPDATE ... FROM scans the whole table on SQLite).
    _exec(session, "DROP TABLE IF EXISTS cp_changed")
    _exec(session, "CREATE TEMPORARY TABLE cp_changed (subject_id VARCHAR(18) PRIMARY KEY, "
                   "points INTEGER, tier VARCHAR(16))")
    _exec(session, """
        INSERT INTO cp_changed (subject_id, points, tier)
        SELECT n.subject_id, n.points, n.tier FROM cp_new n JOIN standing s
          ON s.subject_id = n.subject_id
        WHERE s.points IS DISTINCT FROM n.points OR s.tier IS DISTINCT FROM n.tier
    """)
    _exec(session, """
        UPDATE standing SET as_of = :d, run_id = :run,
            points = (SELECT c.points FROM cp_changed c WHERE c.subject_id = standing.subject_id),
            tier = (SELECT c.tier FROM cp_changed c WHERE c.subject_id = standing.subject_id)
        WHERE subject_id IN (SELECT subject_id FROM cp_changed)
    """, params, dates=("d",))
    _exec(session, "DROP TABLE cp_changed")
    _exec(session, """
        INSERT INTO standing (subject_id, as_of, points, tier, run_id)
        SELECT n.subject_id, :d, n.points, n.tier, :run FROM cp_new n
        WHERE NOT EXISTS (SELECT 1 FROM standing s WHERE s.subject_id = n.subject_id)
    """, params, dates=("d",))
    _flags_and_measures(session, rulebook, as_of, "cp_scope")


def _full(session: Session, rulebook: Rulebook, as_of: date, run_id: int) -> None:
    """Write every standing (as of `as_of`) from cp_new, and every flag and measure."""
    params = {"d": as_of, "run": run_id}
    # Update the rows in place rather than delete and insert them all: an update that keeps
    # subject_id skips PostgreSQL's foreign-key check, one that keeps the tier is HOT (no
    # index entries), and a subject's row keeps its place.
    _exec(session, "DELETE FROM standing WHERE NOT EXISTS "
                   "(SELECT 1 FROM cp_new n WHERE n.subject_id = standing.subject_id)")
    _exec(session, "UPDATE standing SET as_of = :d, points = n.points, tier = n.tier, "
                   "run_id = :run FROM cp_new n WHERE n.subject_id = standing.subject_id",
          params, dates=("d",))
    _exec(session, """
        INSERT INTO standing (subject_id, as_of, points, tier, run_id)
        SELECT n.subject_id, :d, n.points, n.tier, :run FROM cp_new n
        WHERE NOT EXISTS (SELECT 1 FROM standing s WHERE s.subject_id = n.subject_id)
    """, params, dates=("d",))
    _flags_and_measures(session, rulebook, as_of, None)


def recompute(session: Session, *, rulebook: Rulebook, as_of: date,
              triggered_by: str = "system", incremental: bool = False) -> RunSummary:
    """Recompute the standings on `as_of`; all or nothing, one run at a time.

    With `incremental` (the nightly job), only the subjects that can have changed since
    the last run are recomputed, when that run was successful, for the day before, with
    the same rulebook; otherwise (a rulebook change, a gap, a first run) the run is full.
    Both give the same standings, flags and measures. A full run writes every standing row
    (`standing.as_of` is its day); an incremental run writes only the rows that changed,
    so there `standing.as_of` is the day a row last changed and the day of the standings
    as a whole is the last successful run's (`standings_day`).
    """
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
        _prepare(session)
        # Runs left "running" by a process that died can be closed now: we hold the lock.
        session.execute(update(Run).where(Run.status == "running", Run.id != run_id)
                        .values(status="abandoned", finished_at=utcnow()))
        marks = _watermarks(session)  # before reading any fact: what commits later is above
        base = _base_run(session, rulebook, as_of, run_id) if incremental else None
        scope = "incremental" if base is not None else "full"
        if base is not None:
            recomputed = _scope(session, rulebook, base, as_of)
            _points_table(session, rulebook, "cp_new", as_of, restrict="cp_scope")
        else:
            _points_table(session, rulebook, "cp_new", as_of)
        params = {"d": as_of, "run": run_id}
        changes = _exec(session, """
            INSERT INTO tier_change (subject_id, on_date, from_tier, to_tier, from_points,
                                     to_points, run_id)
            SELECT n.subject_id, :d, s.tier, n.tier, s.points, n.points, :run
            FROM cp_new n JOIN standing s ON s.subject_id = n.subject_id
            WHERE COALESCE(s.tier, '') <> COALESCE(n.tier, '')
        """, params, dates=("d",)).rowcount
        if base is not None:
            _incremental(session, rulebook, as_of, run_id)
            subjects = _exec(session, "SELECT COUNT(*) FROM standing").scalar()
        else:
            _full(session, rulebook, as_of, run_id)
            recomputed = subjects = _exec(session, "SELECT COUNT(*) FROM cp_new").scalar()
        for table in ("cp_new", "cp_scope"):
            _exec(session, f"DROP TABLE IF EXISTS {table}")
        duration = int((time.perf_counter() - started) * 1000)
        session.execute(update(Run).where(Run.id == run_id).values(
            status="ok", finished_at=utcnow(), subjects=subjects, tier_changes=changes,
            duration_ms=duration, scope=scope, recomputed=recomputed, **marks))
        session.commit()
    except BaseException as error:
        session.rollback()
        status = "refused" if isinstance(error, Conflict) else "failed"
        session.execute(update(Run).where(Run.id == run_id).values(
            status=status, finished_at=utcnow(), error=str(error)[:2000],
            duration_ms=int((time.perf_counter() - started) * 1000)))
        session.commit()
        raise
    log.info("recompute %s (%s) on %s: %d subjects, %d recomputed, %d tier changes, %d ms",
             run_id, scope, as_of, subjects, recomputed, changes, duration)
    return RunSummary(run_id, as_of, subjects, changes, duration, "ok", scope, recomputed)


def standings_day(session: Session) -> date | None:
    """Return the day of the stored standings: the last successful run's `as_of`."""
    return session.execute(select(Run.as_of).where(Run.status == "ok", Run.kind == "recompute")
                           .order_by(Run.id.desc()).limit(1)).scalar_one_or_none()


def last_runs(session: Session, limit: int = 20) -> list[Run]:
    """Return the most recent runs, newest first."""
    return list(session.execute(select(Run).order_by(Run.id.desc()).limit(limit)).scalars())
