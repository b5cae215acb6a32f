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
from datetime import timedelta

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
@patch
def recompute_walkback():
    """Measures' notice walk-back: drive it from the candidates, read their records once.

    Change in app/services/recompute.py:
    1. `_points_table(..., restrict=...)`: start the outer query from the candidates,
       `FROM {restrict} c CROSS JOIN subject s LEFT JOIN (...) a ON a.subject_id =
       s.subject_id WHERE s.subject_id = c.subject_id`, instead of `FROM subject s JOIN
       {restrict} c ON ...` (SQLite scans every subject, once per walked-back day, to find
       the few candidates); and take the records from a `source` table argument (default
       `record`) in `FROM {only_r}{source} r`.
    2. `_write_measures`: once the candidates are known (the first cp_cand), copy their
       records that can count on a walked-back day into a temporary table, in one pass
       over the window index (tens of thousands of candidates fetched by
       ix_record_subject_rule are millions of random reads),
       `CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM record r [INDEXED BY
       ix_record_window, on SQLite] WHERE r.occurred_on <= :last AND r.ends_on > :first
       AND r.voided_at IS NULL AND r.annulled_on IS NULL AND r.subject_id IN (SELECT
       subject_id FROM cp_cand)` with an index on subject_id
       (first = the earliest day walked back, last = as_of - 1; on PostgreSQL then
       `ANALYZE cp_crec`: temporary tables get no statistics), pass `source="cp_crec"`
       to each day's `_points_table`, and drop cp_crec at the end: one index walk per
       candidate instead of one per candidate per day.
    Measured here by rewriting those two statements as recompute sends them.
    """
    import app.services.recompute as rc

    inner_exec, inner_write = rc._exec, rc._write_measures
    state: dict = {}
    outer = "FROM subject s JOIN cp_cand c ON c.subject_id = s.subject_id"
    records = "cp_cand c2 CROSS JOIN record r"

    def _write_measures(session, rulebook, as_of):
        notices = [m.notice.before(as_of) for m in rulebook.measures if m.notice]
        state.update(first=min(notices) if notices else as_of, last=as_of - timedelta(days=1),
                     created=False)
        try:
            return inner_write(session, rulebook, as_of)
        finally:
            if state.get("created"):
                inner_exec(session, "DROP TABLE IF EXISTS cp_crec")
            state.clear()

    def _exec(session, sql, params=None, dates=()):
        if state and "INSERT INTO cp_day" in sql:
            if outer not in sql or records not in sql:
                raise SystemExit("recompute-walkback: the walk-back query changed shape")
            if not state["created"]:
                inner_exec(session, "DROP TABLE IF EXISTS cp_crec")
                window = "" if rc.is_postgres(session) else " INDEXED BY ix_record_window"
                inner_exec(session, "CREATE TEMPORARY TABLE cp_crec AS SELECT r.* "
                                    f"FROM record r{window} "
                                    "WHERE r.occurred_on <= :last AND r.ends_on > :first "
                                    "AND r.voided_at IS NULL AND r.annulled_on IS NULL "
                                    "AND r.subject_id IN (SELECT subject_id FROM cp_cand)",
                           {"last": state["last"], "first": state["first"]},
                           dates=("last", "first"))
                inner_exec(session, "CREATE INDEX cp_crec_subject ON cp_crec (subject_id)")
                if rc.is_postgres(session):  # temporary tables get no statistics otherwise
                    inner_exec(session, "ANALYZE cp_crec")
                state["created"] = True
            sql = (sql.replace(outer, "FROM cp_cand c CROSS JOIN subject s")
                   .replace(records, "cp_cand c2 CROSS JOIN cp_crec r").rstrip()
                   + "\n        WHERE s.subject_id = c.subject_id\n")
        return inner_exec(session, sql, params, dates)

    rc._exec = _exec
    rc._write_measures = _write_measures


@patch
def recompute_window_index():
    """SQLite: read the day's live records through ix_record_window, not in subject order.

    Change in app/services/recompute.py, `_points_table`, the unrestricted aggregate: on
    SQLite write `FROM record r INDEXED BY ix_record_window` (PostgreSQL keeps `FROM
    record r`; its planner has statistics and already takes a bitmap scan of that index).
    Without statistics SQLite walks ix_record_subject_rule to get the GROUP BY order for
    free and then fetches every one of the 10 million rows in subject order, at random;
    the window index reads only the entries live on the day, in table order.
    """
    import app.services.recompute as rc

    inner_exec = rc._exec

    def _exec(session, sql, params=None, dates=()):
        if "INSERT INTO cp_new" in sql and not rc.is_postgres(session):
            if "FROM record r\n" not in sql:
                raise SystemExit("recompute-window-index: the aggregate changed shape")
            sql = sql.replace("FROM record r\n", "FROM record r INDEXED BY ix_record_window\n")
        return inner_exec(session, sql, params, dates)

    rc._exec = _exec


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

    import app.services.recompute as rc

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

    def _write_flags(session, rulebook, as_of):
        inner_exec(session, "DROP TABLE IF EXISTS cp_sf")
        inner_exec(session, "CREATE TEMPORARY TABLE cp_sf (subject_id VARCHAR(18), "
                            "flag_code VARCHAR(64), PRIMARY KEY (subject_id, flag_code))")
        inner_flags(session, rulebook, as_of)
        apply_diff(session, "standing_flag", "cp_sf", ("subject_id", "flag_code"))

    def _write_measures(session, rulebook, as_of):
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


@patch
def pg_work_mem():
    """PostgreSQL: give the recompute's transaction room to aggregate in memory.

    Change in app/services/recompute.py, `recompute()`, right after `_acquire(session)`:
    `if is_postgres(session): session.execute(text("SET LOCAL work_mem = '256MB'"))`
    (the server default, 4 MB, makes the GROUP BY over a million subjects spill to disk).
    """
    from sqlalchemy import text

    import app.services.recompute as rc

    original = rc._acquire

    def _acquire(session):
        original(session)
        if rc.is_postgres(session):
            session.execute(text("SET LOCAL work_mem = '256MB'"))

    rc._acquire = _acquire


# ---------------------------------------------------------------------------------- import
@patch
def import_known_ids():
    """Do not re-validate identifiers that are already in the population register.

    Change in app/services/records.py, `_Batch.prepare`: when
    `self.subjects.get(subject_id)` finds the subject, take its id and kind as they are
    (the register holds only validated ids); call `validate_subject_id` only for ids not
    found, to explain the error. stdnum's Resident ID check looks the region code up in
    its numbers database on every call (about 0.5 ms), which is most of an import's time.
    """
    import app.services.records as records

    original = records.validate_subject_id

    def validate_subject_id(value, kind=None):
        if kind is not None and len(value) == 18 and value.isalnum():
            return value, kind  # found in the register as is: validated when registered
        return original(value, kind)

    records.validate_subject_id = validate_subject_id


@patch
def import_preload_codes():
    """Preload prior records only for the capped or repeating codes the file uses.

    Change in app/services/records.py, `_Batch.preload`: compute `limited` from the codes
    in `rows` (`{r.values.get("rule_code", "").strip() for r in rows}`) instead of every
    code of the rulebook; a traffic police file then reads the subjects' earlier tickets,
    not their volunteering hours and blood donations too.
    """
    from sqlalchemy import select

    import app.services.records as records

    Batch, Record, Subject, PriorRecord = (records._Batch, records.Record, records.Subject,
                                           records.PriorRecord)
    chunk, ref_of = records.CHUNK, records._ref_of
    from collections import defaultdict

    def preload(self, rows):
        ids = sorted({r.values.get("subject_id", "").strip().upper() for r in rows})
        for i in range(0, len(ids), chunk):
            for sid, kind in self.session.execute(
                select(Subject.subject_id, Subject.kind).where(
                    Subject.subject_id.in_(ids[i:i + chunk]))
            ):
                self.subjects[sid] = kind
        counts: dict = defaultdict(int)
        refs = sorted({ref_of(r.values, counts) for r in rows})
        for i in range(0, len(refs), chunk):
            for rid, ref, sid, code, occ in self.session.execute(
                select(Record.id, Record.external_ref, Record.subject_id, Record.rule_code,
                       Record.occurred_on)
                .where(Record.department_code == self.department)
                .where(Record.external_ref.in_(refs[i:i + chunk]))
            ):
                self.existing[ref] = (rid, sid, code, occ)
        used = {r.values.get("rule_code", "").strip() for r in rows}
        limited = sorted(code for code in used
                         if any(v.cap or v.repeat for v in self.rulebook.versions(code)))
        known = sorted(self.subjects)
        if limited and known:
            for i in range(0, len(known), chunk):
                for sid, code, occ, pts in self.session.execute(
                    select(Record.subject_id, Record.rule_code, Record.occurred_on,
                           Record.points)
                    .where(Record.subject_id.in_(known[i:i + chunk]))
                    .where(Record.rule_code.in_(limited))
                    .where(Record.voided_at.is_(None))
                    .where(Record.annulled_on.is_(None))
                ):
                    self.prior.setdefault((sid, code), []).append(PriorRecord(occ, pts))

    Batch.preload = preload


@patch
def import_core_insert():
    """Insert records and notices with Core inserts on the table, not ORM bulk inserts.

    Change in app/services/records.py (`import_records`) and app/services/notices.py
    (`add_notices`): `session.execute(insert(Record.__table__), rows)` and
    `insert(Notice.__table__)`, `insert(NoticeOutbox.__table__)`: the same executemany,
    without the ORM's per-row bookkeeping.
    """
    import sqlalchemy

    import app.services.notices as notices
    import app.services.records as records

    def core_insert(model):
        return sqlalchemy.insert(getattr(model, "__table__", model))

    records.insert = core_insert
    notices.insert = core_insert


@patch
def import_notice_rows():
    """Make an import's notices from plain rows, not ORM Record objects.

    Change in app/services/notices.py, `notify_imported`: select the columns a record
    notice uses (`select(Record.id, Record.subject_id, Record.rule_code, Record.rule_version,
    Record.department_code, Record.occurred_on, Record.points, Record.note,
    Record.evidence, Record.ends_on)`) and pass the rows to `record_notice` (it reads them
    by attribute); chunks of 5,000 instead of 500.
    """
    from sqlalchemy import select

    import app.services.notices as notices

    Record = notices.Record

    def notify_imported(session, *, rulebook, department, external_refs, today):
        made = 0
        for i in range(0, len(external_refs), 5000):
            rows = session.execute(
                select(Record.id, Record.subject_id, Record.rule_code, Record.rule_version,
                       Record.department_code, Record.occurred_on, Record.points, Record.note,
                       Record.evidence, Record.ends_on)
                .where(Record.department_code == department,
                       Record.external_ref.in_(external_refs[i:i + 5000]))).all()
            made += notices.add_notices(
                session, [notices.record_notice(rulebook, r, today=today) for r in rows],
                today=today)
        return made

    notices.notify_imported = notify_imported


# ---------------------------------------------------------------------------- core, config
@patch
def pg_temp_buffers():
    """PostgreSQL: let the recompute's temporary tables live in memory.

    Change in app/services/recompute.py, `recompute()`, right after `_acquire(session)`:
    `if is_postgres(session): session.execute(text("SET LOCAL temp_buffers = '256MB'"))`
    (the default, 8 MB, puts cp_new, a million rows, through the disk; the setting only
    takes if the connection has not used a temporary table yet, so it belongs at the
    start of the run's transaction, and the scheduler's connection should not be one the
    web pool shares).
    """
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    import app.services.recompute as rc

    original = rc._acquire

    def _acquire(session):
        original(session)
        if rc.is_postgres(session):
            try:
                with session.begin_nested():
                    session.execute(text("SET LOCAL temp_buffers = '256MB'"))
            except DBAPIError:  # temporary tables already used on this connection
                pass

    rc._acquire = _acquire


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
