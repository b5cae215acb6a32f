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
# Applied in the recompute since (and removed from here): recompute-walkback (the notice
# walk-back driven from the candidates, their records read once into cp_crec),
# recompute-window-index (INDEXED BY ix_record_window on SQLite), pg-work-mem and
# pg-temp-buffers (SET LOCAL at the start of the run), recompute-diff-writes (standings
# updated in place, flags and measures written through temporary tables, changes only;
# an incremental run writes only the standings that changed).


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


# ------------------------------------------------------------------------------ measuring
@patch
def lock_wait():
    """Not a change: measure, in each gunicorn worker, the time spent in `locks.begin_write`
    (waiting for SQLite's write lock, or a PostgreSQL advisory lock) and in COMMIT, per
    request that took a lock. Each worker writes its totals at exit to
    $CITYPOINTS_BENCH_DIR/lock_wait_<pid>.json (bench_http prints them)."""
    import atexit
    import json
    import sys
    import time

    from sqlalchemy.orm import Session

    import app.services.locks as locks
    from tests.benchmarks import common

    totals = {"begin_write_calls": 0, "begin_write_s": 0.0, "begin_write_max_s": 0.0,
              "commits": 0, "commit_s": 0.0, "commit_max_s": 0.0}
    original, commit = locks.begin_write, Session.commit

    def begin_write(session, key, *, shared=False):
        started = time.perf_counter()
        try:
            return original(session, key, shared=shared)
        finally:
            spent = time.perf_counter() - started
            totals["begin_write_calls"] += 1
            totals["begin_write_s"] += spent
            totals["begin_write_max_s"] = max(totals["begin_write_max_s"], spent)

    def timed_commit(self):
        started = time.perf_counter()
        try:
            return commit(self)
        finally:
            spent = time.perf_counter() - started
            totals["commits"] += 1
            totals["commit_s"] += spent
            totals["commit_max_s"] = max(totals["commit_max_s"], spent)

    for module in list(sys.modules.values()):
        if getattr(module, "begin_write", None) is original:
            module.begin_write = begin_write
    Session.commit = timed_commit

    def write():
        import os

        common.WORKDIR.mkdir(parents=True, exist_ok=True)
        path = common.WORKDIR / f"lock_wait_{os.getpid()}.json"
        path.write_text(json.dumps(totals))

    atexit.register(write)
