"""The nightly recompute against its floor, measured on the same city in the same run.

    python -m tests.benchmarks.bench_recompute --subjects 100000 --records 1000000
    python -m tests.benchmarks.bench_recompute --subjects 1000000 --records 10000000 --on sqlite
    python -m tests.benchmarks.bench_recompute --url sqlite:////tmp/city.sqlite3   # a built city

The floor is what no recompute can beat on this database: the one aggregate SQL query over
the same live records (SUM of points per subject over the records that count on the day)
plus one bulk write of N rows (one per subject) into a scratch table shaped like
`standing`. The recompute is app.services.standings.recompute.recompute, run as the scheduler runs
it, on the nights after a first run has filled the standings (a steady state: yesterday's
standings are replaced). Floor and recompute alternate, each in a child process of its
own, which reports its peak memory (ru_maxrss; on PostgreSQL also the server process's
VmHWM). Goal: recompute <= 2x floor, peak memory < 500 MB.

Then the incremental run, as the scheduler runs it the next night: 10,000 new records
(--new-records) are stored and the recompute of the day after the last full night runs
with incremental=True (one day of lapses, those 10,000 records, notices maturing). Goal:
under a tenth of the full run of the same city in the same benchmark. The new records are
deleted afterwards; the city is otherwise left as it was (its standings are the run's).

With --slices 1,2 the full recompute also runs with RECOMPUTE_SLICES=2 (PostgreSQL; see
app.services.standings.recompute.slices) on the same nights, and the report gives each
run's points step (one connection, or the slowest slice), each slice's seconds, the copy of
the slices into cp_new, and the rest of the run (tier changes and writes, on one connection).

Built cities are dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Date, bindparam, event, text

from tests.benchmarks import common

LIVE = ("voided_at IS NULL AND annulled_on IS NULL AND occurred_on <= :d AND ends_on > :d "
        "AND (repaired_on IS NULL OR repaired_on > :d)")
AGGREGATE = "SELECT subject_id, SUM(points) AS delta FROM {source} WHERE " + LIVE + \
    " GROUP BY subject_id"
# The floor's aggregate is timed in each form the database could run it and the fastest
# counts: a floor must not be slower than what the app manages. SQLite's planner picks the
# (subject_id, ...) index for GROUP BY and then reads the table in index order, which is
# several times slower than a scan; PostgreSQL may use parallel workers for a bare SELECT
# (an INSERT ... SELECT, as the recompute's, may not).
FLOOR_FORMS = {
    "sqlite": {"as planned": "record", "table scan": "record NOT INDEXED",
               "window index": "record INDEXED BY ix_record_window"},
    "postgresql": {"as planned": "record", "no parallel workers": "record"},
}
SCRATCH = "bench_floor"
# The statement of the run's points step: a full run sums the records into cp_agg (an
# incremental one, and runs before 2026-12-08, computed every subject's points into cp_new).
POINTS_STEP = ("INSERT cp_agg", "INSERT cp_new")
MODULE = "tests.benchmarks.bench_recompute"
CONFIG_PATCHES = ("sqlite-cache",)


# ------------------------------------------------------------------------------ the children
def child_floor(url: str, day: date) -> dict:
    from app.db import make_engine

    engine = make_engine(url)
    clock = common.Clock()
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SCRATCH}")
        conn.exec_driver_sql(f"CREATE TABLE {SCRATCH} (subject_id VARCHAR(18) PRIMARY KEY, "
                             "as_of DATE NOT NULL, points INTEGER, tier VARCHAR(16), "
                             "run_id INTEGER)")
        conn.commit()
        forms = {}
        for form, source in FLOOR_FORMS[engine.dialect.name].items():
            if form == "no parallel workers":
                conn.exec_driver_sql("SET max_parallel_workers_per_gather = 0")
            started = time.perf_counter()
            subjects, total = conn.execute(
                text(f"SELECT COUNT(*), SUM(delta) FROM ({AGGREGATE.format(source=source)}) a")
                .bindparams(bindparam("d", type_=Date)), {"d": day}).one()
            forms[form] = time.perf_counter() - started
            conn.commit()
            if form == "no parallel workers":
                conn.exec_driver_sql("RESET max_parallel_workers_per_gather")
        clock.seconds["aggregate"] = min(forms.values())
        with clock("bulk write"):
            written = conn.execute(text(
                f"INSERT INTO {SCRATCH} (subject_id, as_of, points, tier, run_id) "
                "SELECT subject_id, :d, 1000, 'A', 0 FROM subject"
            ).bindparams(bindparam("d", type_=Date)), {"d": day}).rowcount
            conn.commit()
        server = common.pg_backend_peak_mb(conn) if common.is_pg(url) else None
        fastest = min(forms, key=forms.get)
        plan = _plan(conn, url, AGGREGATE.format(source=FLOOR_FORMS[engine.dialect.name][fastest]),
                     day)
        conn.exec_driver_sql(f"DROP TABLE {SCRATCH}")
        conn.commit()
    engine.dispose()
    return {"seconds": clock.seconds, "forms": forms, "fastest": fastest,
            "subjects_with_records": subjects, "delta": total,
            "written": written, "server_peak_mb": server, "plan": plan}


@contextmanager
def _timing_statements(session, phases: dict, statements: dict, captured: dict | None = None):
    """Time each statement the session's engine runs, by kind; keep the first points
    aggregate in `captured` (for its query plan), as the driver received it."""
    engine = session.get_bind()

    def before(conn, _cursor, _statement, _parameters, _context, _executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, _cursor, statement, parameters, _context, _executemany):
        key = _statement_key(statement)
        if captured is not None and key in POINTS_STEP and "sql" not in captured:
            captured.update(sql=statement, params=parameters)
        phases[key] += time.perf_counter() - conn.info.pop("bench_started")
        statements[key] += 1

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _backend_cpu(driver_conn) -> float | None:
    """Return the CPU seconds the PostgreSQL server process of a psycopg connection has
    used (from /proc, without a query: a slice's first statement must set its snapshot)."""
    try:
        fields = Path(f"/proc/{driver_conn.info.backend_pid}/stat").read_text()
        ticks = fields.rsplit(")", 1)[1].split()
        return (int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK")
    except Exception:  # another host, or /proc not readable
        return None


@contextmanager
def _timing_points(cpu: dict):
    """Keep the server CPU seconds of the points step: each slice's, or the one connection's
    (on a loaded machine the wall clock says more about the neighbours than the work)."""
    from app.services.standings.recompute import slices as slicing

    fill, points = slicing.fill_slice, slicing.points_table
    deltas = getattr(slicing, "deltas_table", None)

    def fill_slice(conn, **kwargs):
        driver = conn.connection.driver_connection
        before = _backend_cpu(driver)
        rows = fill(conn, **kwargs)
        after = _backend_cpu(driver)
        cpu[kwargs["slice_"]] = None if before is None or after is None else after - before
        return rows

    def points_table(session, **kwargs):
        driver = session.connection().connection.driver_connection
        before = _backend_cpu(driver) if common.is_pg(str(session.get_bind().url)) else None
        points(session, **kwargs)
        cpu[0] = None if before is None else _backend_cpu(driver) - before

    def deltas_table(session, **kwargs):
        driver = session.connection().connection.driver_connection
        before = _backend_cpu(driver) if common.is_pg(str(session.get_bind().url)) else None
        deltas(session, **kwargs)
        cpu[0] = None if before is None else _backend_cpu(driver) - before

    slicing.fill_slice, slicing.points_table = fill_slice, points_table
    if deltas is not None:
        slicing.deltas_table = deltas_table
    try:
        yield
    finally:
        slicing.fill_slice, slicing.points_table = fill, points
        if deltas is not None:
            slicing.deltas_table = deltas


def child_recompute(url: str, day: date, slices: int = 1) -> dict:
    from app.db import session_scope
    from app.rulebook import load_rulebook
    from app.services.standings.recompute import recompute

    app = common.make_app(url)
    rulebook = load_rulebook(common.RULES)
    phases: dict[str, float] = defaultdict(float)
    statements: dict[str, int] = defaultdict(int)
    captured: dict = {}
    points_cpu: dict[int, float | None] = {}
    with app.app_context(), session_scope(app) as session:
        pg = common.is_pg(url)
        main = session.connection().connection.driver_connection if pg else None
        run_cpu = _backend_cpu(main) if pg else None
        session.rollback()  # the connection goes back to the pool, where the run takes it
        with _timing_statements(session, phases, statements, captured), \
                _timing_points(points_cpu):
            started = time.perf_counter()
            summary = recompute(session, rulebook=rulebook, as_of=day,
                                triggered_by="benchmark", slices=slices)
            seconds = time.perf_counter() - started
        conn = session.connection()
        if pg and run_cpu is not None and conn.connection.driver_connection is main:
            run_cpu = _backend_cpu(main) - run_cpu  # the run's own server process, all of it
        else:
            run_cpu = None
        # What the run stored, to hold runs in slices to the one-connection run's answer.
        digest = conn.execute(text(
            "SELECT md5(string_agg(subject_id || ':' || COALESCE(points::text, '-') || ':' || "
            "COALESCE(tier, '-'), ',' ORDER BY subject_id)) FROM standing")).scalar() \
            if common.is_pg(url) else None
        server = common.pg_backend_peak_mb(conn) if common.is_pg(url) else None
        plan = None
        if captured and slices == 1:  # in slices it copies the slices' tables, dropped now
            select = re.sub(r"^\s*INSERT INTO \w+ \([^)]*\)\s*", "", captured["sql"])
            plan = _driver_plan(conn, url, select, captured["params"])
        session.rollback()
    return {"seconds": seconds, "subjects": summary.subjects, "tier_changes": summary.tier_changes,
            "phases": dict(phases), "statements": dict(statements), "server_peak_mb": server,
            "plan": plan, "slices": slices, "slice_seconds": list(summary.slice_seconds),
            "points_cpu": [points_cpu.get(k) for k in range(len(summary.slice_seconds))],
            "run_cpu": run_cpu,
            "standings_digest": digest}


def child_incremental(url: str, day: date, new_records: int) -> dict:
    from app.db import session_scope
    from app.models import Record
    from app.rulebook import load_rulebook
    from app.services.standings.recompute import recompute

    app = common.make_app(url)
    rulebook = load_rulebook(common.RULES)
    phases: dict[str, float] = defaultdict(float)
    statements: dict[str, int] = defaultdict(int)
    ref = f"bench-incremental-{day.isoformat()}-"
    with app.app_context(), session_scope(app) as session:
        # Every 97th subject (streamed: the client's peak memory is the run's, not this list's).
        subjects = [sid for i, sid in enumerate(session.execute(
            text("SELECT subject_id FROM subject ORDER BY subject_id"),
            execution_options={"yield_per": 5000}).scalars()) if i % 97 == 0]
        codes = [c for c in rulebook.rule_codes if rulebook.rule_on(c, day - timedelta(days=1))]
        rows = []
        for i in range(new_records):  # spread over the population and the codes, reproducibly
            rule = rulebook.rule_on(codes[i % len(codes)], day - timedelta(days=1))
            occurred = day - timedelta(days=1 + i % 3)
            rows.append({"subject_id": subjects[i % len(subjects)],
                         "rule_code": rule.code, "rule_version": rule.version,
                         "rulebook_fingerprint": rulebook.fingerprint,
                         "department_code": rule.departments[0], "occurred_on": occurred,
                         "ends_on": rule.ends_on(occurred), "base_points": rule.points,
                         "factor": 1, "points": rule.points, "note": "", "evidence": "",
                         "external_ref": f"{ref}{i}", "recorded_by": "benchmark"})
        del subjects
        session.execute(Record.__table__.insert(), rows)
        session.commit()
        with _timing_statements(session, phases, statements):
            started = time.perf_counter()
            summary = recompute(session, rulebook=rulebook, as_of=day,
                                triggered_by="benchmark", incremental=True)
            seconds = time.perf_counter() - started
        server = common.pg_backend_peak_mb(session.connection()) if common.is_pg(url) else None
        session.execute(text("DELETE FROM record WHERE external_ref LIKE :p"), {"p": ref + "%"})
        session.commit()
    return {"seconds": seconds, "scope": summary.scope, "recomputed": summary.recomputed,
            "subjects": summary.subjects, "tier_changes": summary.tier_changes,
            "new_records": new_records, "phases": dict(phases), "statements": dict(statements),
            "server_peak_mb": server}


def _statement_key(sql: str) -> str:
    match = re.match(r"\s*(INSERT INTO|DELETE FROM|CREATE TEMPORARY TABLE|DROP TABLE IF EXISTS|"
                     r"SELECT|UPDATE)\s+(\w+)", sql)
    if not match:
        return "other"
    verb = match[1].split()[0]
    return f"{verb} {match[2]}" if verb != "SELECT" else "SELECT"


def _plan(conn, url: str, select: str, day: date) -> list[str]:
    """The query plan of `select` on `day` (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN)."""
    stmt = text(("EXPLAIN " if common.is_pg(url) else "EXPLAIN QUERY PLAN ") + select)
    rows = conn.execute(stmt.bindparams(bindparam("d", day, type_=Date))).all()
    return [row[-1] if not common.is_pg(url) else row[0] for row in rows]


def _driver_plan(conn, url: str, select: str, params) -> list[str]:
    """The query plan of `select` as the driver ran it, with its parameters."""
    rows = conn.exec_driver_sql(("EXPLAIN " if common.is_pg(url) else "EXPLAIN QUERY PLAN ")
                                + select, params).all()
    return [row[-1] if not common.is_pg(url) else row[0] for row in rows]


# ------------------------------------------------------------------------------ the driver
def bench(url: str, nights: int, patch_sets: list[str], new_records: int = 10_000,
          slices: tuple[int, ...] = (1,)) -> dict:
    today = common.city_today(url)
    first = today - timedelta(days=nights)
    common.checkpoint(url)
    fill = common.run_child(MODULE, "recompute", url, first.isoformat())
    runs = []
    for night in range(1, nights + 1):
        day = first + timedelta(days=night)
        # A patch that configures the database (sqlite-cache) gets a floor of its own.
        floors = {c: common.run_child(MODULE, "floor", url, day.isoformat(), patches=c)
                  for c in sorted({_config(p) for p in patch_sets})}
        order = patch_sets if night % 2 else patch_sets[::-1]  # alternate who runs first
        recomputes = {p: common.run_child(MODULE, "recompute", url, day.isoformat(), patches=p)
                      for p in order}
        sliced = {}
        if common.is_pg(url):  # SQLite ignores RECOMPUTE_SLICES
            for n in [n for n in slices if n > 1][::1 if night % 2 else -1]:
                sliced[n] = common.run_child(MODULE, "recompute", url, day.isoformat(), str(n))
        runs.append({"day": day.isoformat(), "floor": floors,
                     "recompute": {p: recomputes[p] for p in patch_sets}, "sliced": sliced})
    incremental = None
    if new_records:  # the next night, after the last full one (same rulebook, one day)
        incremental = common.run_child(MODULE, "incremental", url,
                                       (today + timedelta(days=1)).isoformat(), str(new_records))
    return {"url": url, "today": today.isoformat(), "fill": fill, "runs": runs,
            "incremental": incremental}


def _config(patches: str) -> str:
    """The database-configuration part of a patch set (what the floor should run with)."""
    return ",".join(p for p in patches.split(",") if p in CONFIG_PATCHES)


def report(title: str, result: dict, build: dict | None) -> str:
    out = [common.header(title, common.machine())]
    if build:
        out.append(f"city: {build['subjects']:,} subjects, {build['records']:,} records, "
                   f"{build['list_entries']:,} list entries, {build['objections']:,} objections; "
                   f"built in {build['seconds']} s {build.get('phases', '')}\n")
    fill = result["fill"]
    rows = [["first run (empty standings)", None, None, fill["seconds"], None,
             fill["peak_mb"], fill["server_peak_mb"], fill["cpu_s"], fill["load_after"]]]
    for run in result["runs"]:
        totals = {}
        for config, floor in run["floor"].items():
            agg, write = floor["seconds"]["aggregate"], floor["seconds"]["bulk write"]
            totals[config] = agg + write
            rows.append([f"{run['day']}: floor{f' + {config}' if config else ''}", agg, write,
                         agg + write, 1.0, floor["peak_mb"], floor["server_peak_mb"],
                         floor["cpu_s"], floor["load_after"]])
        for patches, rec in run["recompute"].items():
            total = totals[_config(patches)]
            rows.append([f"{run['day']}: recompute{f' + {patches}' if patches else ''}",
                         None, None, rec["seconds"], rec["seconds"] / total, rec["peak_mb"],
                         rec["server_peak_mb"], rec["cpu_s"], rec["load_after"]])
    inc = result.get("incremental")
    if inc:
        last_run = result["runs"][-1]
        full = last_run["recompute"][""]["seconds"]
        floor_total = sum(last_run["floor"][""]["seconds"][k] for k in ("aggregate", "bulk write"))
        rows.append([f"next night: incremental ({inc['new_records']:,} new records, "
                     f"{inc['recomputed']:,} subjects recomputed, {inc['scope']})", None, None,
                     inc["seconds"], inc["seconds"] / floor_total, inc["peak_mb"],
                     inc["server_peak_mb"], inc["cpu_s"], inc["load_after"]])
    out.append(common.table(["night", "aggregate s", "bulk write s", "total s", "x floor",
                             "peak MB (client)", "peak MB (server)", "CPU s (client)",
                             "load after"], rows))
    if any(run.get("sliced") for run in result["runs"]):
        out.append("\n" + slices_report(result["runs"]))
    if inc:
        out.append(f"\nincremental / full recompute of the last night: "
                   f"{inc['seconds']:.2f} s / {full:.2f} s = {inc['seconds'] / full:.3f} "
                   "(goal < 0.1)\nincremental statements, seconds (count): " + ", ".join(
                       f"{k} {v:.2f} ({inc['statements'][k]})" for k, v in sorted(
                           inc["phases"].items(), key=lambda kv: -kv[1]) if v >= 0.005))
    last = result["runs"][-1]["recompute"]
    names = list(last)
    keys = sorted({k for r in last.values() for k in r.get("phases", {})},
                  key=lambda k: -max(r.get("phases", {}).get(k, 0) for r in last.values()))
    if keys:
        out.append("\nrecompute statements on the last night, seconds (count):\n")
        out.append(common.table(["statement", *(n or "as is" for n in names)], [
            [k, *(f"{last[n]['phases'][k]:.2f} ({last[n]['statements'][k]})"
                  if k in last[n].get("phases", {}) else "-" for n in names)]
            for k in keys if max(last[n].get("phases", {}).get(k, 0) for n in names) >= 0.005]))
    out.append("\nplan of the recompute's aggregate:\n    " +
               "\n    ".join(last[names[0]]["plan"] or []))
    floor = result["runs"][-1]["floor"][""]
    out.append("floor's aggregate by form (s): " + ", ".join(
        f"{k} {v:.2f}" for k, v in floor["forms"].items()))
    out.append(f"plan of the floor's aggregate ({floor['fastest']}):\n    " +
               "\n    ".join(floor["plan"] or []))
    return "\n".join(out) + "\n"


def slices_report(runs: list[dict]) -> str:
    """The full runs in 1 and N slices: the points step, each slice, the copy, the rest."""
    rows = []
    for run in runs:
        one = run["recompute"][""]
        for n, rec in [(1, one), *sorted(run["sliced"].items())]:
            phases = rec["phases"]
            step = sum(phases.get(k, 0.0) for k in POINTS_STEP)
            copy = step if n > 1 else None
            points = max(rec["slice_seconds"]) if n > 1 else step
            rest = rec["seconds"] - points - (copy or 0.0)
            cpu = rec.get("points_cpu") or []
            run_cpu = rec.get("run_cpu")
            if run_cpu is not None and n == 1 and cpu and cpu[0] is not None:
                run_cpu -= cpu[0]  # the rest: what the run's connection did besides the points
            rows.append([f"{run['day']}: {n} slice{'s' if n > 1 else ''}", rec["seconds"],
                         points, ", ".join(f"{s:.2f}" for s in rec["slice_seconds"])
                         if n > 1 else "-",
                         ", ".join("-" if c is None else f"{c:.2f}" for c in cpu) or "-",
                         copy, rest, run_cpu,
                         "same" if rec["standings_digest"] == one["standings_digest"]
                         else "DIFFERENT", rec["server_peak_mb"], rec["load_after"]])
    return ("full recompute in slices (points step: one connection's INSERT into cp_new, or "
            "the slowest slice; rest: the run less points and copy):\n\n" + common.table(
                ["run", "total s", "points step s", "each slice s", "each slice CPU s (server)",
                 "copy into cp_new s", "rest s", "rest CPU s (server)", "standings vs 1 slice",
                 "peak MB (server)", "load after"], rows))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        from tests.benchmarks import patches

        kind, url, day = argv[1], argv[2], date.fromisoformat(argv[3])
        applied = patches.apply()
        if kind == "incremental":
            result = child_incremental(url, day, int(argv[4]))
        elif kind == "floor":
            result = child_floor(url, day)
        else:
            result = child_recompute(url, day, int(argv[4]) if len(argv) > 4 else 1)
        common.child_output({**result, "patches": applied})
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", default=[],
                        help="benchmark an existing city (repeatable)")
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--on", default="sqlite,postgresql",
                        help="where to build the city: sqlite, postgresql or both")
    parser.add_argument("--nights", type=int, default=2, help="measured nights (floor + run)")
    parser.add_argument("--keep", action="store_true", help="keep the built cities")
    parser.add_argument("--new-records", type=int, default=10_000,
                        help="records added before the incremental run (0: no incremental run)")
    parser.add_argument("--patch", action="append", default=[],
                        help="also run the recompute with these patches (tests/benchmarks/"
                             "patches.py), comma-separated; repeatable")
    parser.add_argument("--slices", default="1",
                        help="also run the full recompute in these numbers of slices "
                             "(RECOMPUTE_SLICES; PostgreSQL), comma-separated: 1,2")
    parser.add_argument("--json", dest="json_out", default=None, help="also write results here")
    args = parser.parse_args(argv)
    results = []
    for url, build in common.cities(args.url, on=args.on, subjects=args.subjects,
                                    records=args.records, name="", keep=args.keep):
        result = bench(url, args.nights, ["", *args.patch], args.new_records,
                       tuple(int(n) for n in args.slices.split(",")))
        name = "PostgreSQL" if common.is_pg(url) else "SQLite"
        print(report(f"recompute vs floor, {name}", result, build))
        results.append({"build": build, **result})
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    main()
