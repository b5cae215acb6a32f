"""Candidate app changes, applied as monkeypatches so the benchmarks can measure them.

The benchmarks never edit app/: each change proposed in the results is written here as a
patch, named, and switched on with `--patch NAME[,NAME]` (children read
CITYPOINTS_BENCH_PATCHES). gunicorn takes `tests.benchmarks.patches:create_app()`, which
applies the patches named in the environment and then builds the app as usual.

Each patch's docstring says the exact change to make in app/. The local copies of app
functions below follow app/ as of 2026-11-26; a patch refuses to apply when the function
it replaces is gone.
"""

from __future__ import annotations

import os

ENV = "CITYPOINTS_BENCH_PATCHES"
PATCHES: dict[str, callable] = {}


def patch(fn):
    PATCHES[fn.__name__.replace("_", "-")] = fn
    return fn


def apply(names: str | None = None) -> list[str]:
    """Apply the patches named (comma-separated; default: from the environment)."""
    names = os.environ.get(ENV, "") if names is None else names
    applied = []
    for name in filter(None, (n.strip() for n in names.split(","))):
        if name not in PATCHES:
            raise SystemExit(f"unknown patch {name!r}; the patches are {', '.join(PATCHES)}")
        PATCHES[name]()
        applied.append(name)
    return applied


def create_app():
    """gunicorn entry point: apply the patches named in the environment, then create the app."""
    apply()
    from app import create_app as real

    return real()


# ------------------------------------------------------------------------------- recompute
# Applied in app/services/recompute.py since (and removed from here): recompute-walkback
# (the notice walk-back driven from the candidates, their records read once into cp_crec),
# recompute-window-index (INDEXED BY ix_record_window on SQLite), pg-work-mem and
# pg-temp-buffers (SET LOCAL at the start of the run). Diff writes are applied to
# incremental runs; a full run still writes every standing (standing.as_of is its day).
@patch
def recompute_diff_writes():
    """Write only the standings, flags and measures that changed since the last run.

    Change in app/services/recompute.py, `recompute()`, `_write_flags` and
    `_write_measures`: instead of `DELETE FROM standing` and inserting every subject again,
    - `DELETE FROM standing WHERE NOT EXISTS (SELECT 1 FROM cp_new n WHERE n.subject_id =
      standing.subject_id)`;
    - `UPDATE standing SET as_of = :d, points = n.points, tier = n.tier, run_id = :run
      FROM cp_new n WHERE n.subject_id = standing.subject_id AND (standing.points IS
      DISTINCT FROM n.points OR standing.tier IS DISTINCT FROM n.tier)`;
    - `INSERT INTO standing ... SELECT ... FROM cp_new n WHERE NOT EXISTS (SELECT 1 FROM
      standing s WHERE s.subject_id = n.subject_id)`;
    and write flags and measures into temporary tables (cp_sf, cp_sm) that are then
    applied the same way (delete the rows that are gone, insert the new ones). A night
    changes a few thousand standings out of a million; the rest are left alone (no dead
    rows, no index churn, no foreign-key check per row on PostgreSQL).
    Consequence to take care of: `standing.as_of` and `run_id` then say when a row last
    changed; the date of the standings as a whole is the last ok run's `as_of`
    (app/services/list_queries.py reads max(Standing.as_of) today; the two
    _due_process.html templates read file.standing.as_of, which is the evaluator's).
    """
    import re
    from types import SimpleNamespace

    import app.services.standings.recompute as rc

    inner_exec, inner_flags, inner_measures = rc._exec, rc._write_flags, rc._write_measures
    is_pg = rc.is_postgres

    def timed(session, sql, params=None, dates=()):
        return rc._exec(session, sql, params, dates)  # the benchmark's timer, if any

    def apply_diff(session, table, temp, key):
        if is_pg(session):
            inner_exec(session, f"ANALYZE {temp}")
        same = " AND ".join(f"t.{k} = {table}.{k}" for k in key)
        timed(session, f"DELETE FROM {table} WHERE NOT EXISTS "
                       f"(SELECT 1 FROM {temp} t WHERE {same})")
        same = " AND ".join(f"x.{k} = t.{k}" for k in key)
        timed(session, f"INSERT INTO {table} ({', '.join(key)}) SELECT {', '.join(key)} "
                       f"FROM {temp} t WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {same})")
        inner_exec(session, f"DROP TABLE IF EXISTS {temp}")

    def _write_flags(session, rulebook, as_of, **kw):
        if kw:  # an incremental run's own diff write
            return inner_flags(session, rulebook, as_of, **kw)
        inner_exec(session, "DROP TABLE IF EXISTS cp_sf")
        inner_exec(session, "CREATE TEMPORARY TABLE cp_sf (subject_id VARCHAR(18), "
                            "flag_code VARCHAR(64), PRIMARY KEY (subject_id, flag_code))")
        inner_flags(session, rulebook, as_of)
        apply_diff(session, "standing_flag", "cp_sf", ("subject_id", "flag_code"))

    def _write_measures(session, rulebook, as_of, **kw):
        if kw:  # an incremental run's own diff write, or the simulation's
            return inner_measures(session, rulebook, as_of, **kw)
        inner_exec(session, "DROP TABLE IF EXISTS cp_sm")
        inner_exec(session, "CREATE TEMPORARY TABLE cp_sm (subject_id VARCHAR(18), "
                            "measure_code VARCHAR(64), PRIMARY KEY (subject_id, measure_code))")
        inner_measures(session, rulebook, as_of)
        apply_diff(session, "standing_measure", "cp_sm", ("subject_id", "measure_code"))

    def _exec(session, sql, params=None, dates=()):
        text_ = sql.strip()
        if text_ == "DELETE FROM standing":
            sql = ("DELETE FROM standing WHERE NOT EXISTS "
                   "(SELECT 1 FROM cp_new n WHERE n.subject_id = standing.subject_id)")
        elif text_.startswith("INSERT INTO standing (subject_id, as_of, points, tier, run_id)"):
            inner_exec(session, "UPDATE standing SET as_of = :d, points = n.points, "
                                "tier = n.tier, run_id = :run FROM cp_new n "
                                "WHERE n.subject_id = standing.subject_id "
                                "AND (standing.points IS DISTINCT FROM n.points "
                                "OR standing.tier IS DISTINCT FROM n.tier)", params, dates)
            inner_exec(session, "INSERT INTO standing (subject_id, as_of, points, tier, run_id) "
                                "SELECT n.subject_id, :d, n.points, n.tier, :run FROM cp_new n "
                                "WHERE NOT EXISTS (SELECT 1 FROM standing s "
                                "WHERE s.subject_id = n.subject_id)", params, dates)
            count = inner_exec(session, "SELECT COUNT(*) FROM cp_new").scalar()
            return SimpleNamespace(rowcount=count)
        elif text_ in ("DELETE FROM standing_flag", "DELETE FROM standing_measure"):
            sql = "DELETE FROM " + ("cp_sf" if "flag" in text_ else "cp_sm")
        elif re.match(r"INSERT INTO standing_(flag|measure)\b", text_) and "cp_s" not in text_:
            sql = re.sub(r"^\s*INSERT INTO standing_(flag|measure)\b",
                         lambda m: "INSERT INTO cp_sf" if m[1] == "flag" else "INSERT INTO cp_sm",
                         sql)
        return inner_exec(session, sql, params, dates)

    rc._exec = _exec
    rc._write_flags = _write_flags
    rc._write_measures = _write_measures


# ---------------------------------------------------------------------------------- import
# The import patches measured here before (import-known-ids, import-preload-codes,
# import-core-insert, import-notice-rows) are in app/ since 2026-11-26, in a set-based form:
# app/services/records.py checks each distinct identifier and (code, day) once, reads prior
# records only for the capped or repeating codes of the file and the dates they reach,
# inserts with the driver's executemany (SQLite) or COPY (PostgreSQL), and
# app/services/notices.py makes every record notice with one INSERT ... SELECT.


# ---------------------------------------------------------------------------- core, config
@patch
def duration_cache():
    """Remember date arithmetic: `Duration.after(day)` and `.before(day)` per (duration, day).

    Change in app/rulebook/model.py: memoise `Duration.after` and `Duration.before`
    (`functools.lru_cache(maxsize=65536)` on a module-level helper taking the frozen
    Duration and the day). dateutil's relativedelta costs about 30 us a call and an
    import row makes several (expiry, repair date, repeat window, objection deadline),
    for a few hundred distinct days.
    """
    from functools import lru_cache

    from app.rulebook import model

    after, before = model.Duration.after, model.Duration.before
    cached_after = lru_cache(maxsize=65536)(after)
    cached_before = lru_cache(maxsize=65536)(before)
    model.Duration.after = lambda self, day: cached_after(self, day)
    model.Duration.before = lambda self, day: cached_before(self, day)


@patch
def sqlite_cache():
    """SQLite: a page cache big enough for a city's indexes.

    Change in app/db.py, `_sqlite_pragmas`: add `PRAGMA cache_size=-65536` (64 MB per
    connection instead of SQLite's 2 MB). (mmap_size was tried too: no gain on the
    recompute, and mapped pages count in the process's resident memory.)
    """
    from sqlalchemy import event

    import app.db as db

    original = db.make_engine

    def make_engine(url, *, echo=False):
        engine = original(url, echo=echo)
        if url.startswith("sqlite"):
            @event.listens_for(engine, "connect")
            def _more_cache(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA cache_size=-65536")
                cur.close()
        return engine

    db.make_engine = make_engine
