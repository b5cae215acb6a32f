"""Sealed facts: `audit verify` against reading the sealed tables once, and a records import
with sealing against the same import without it, in the same run.

    python -m tests.benchmarks.bench_seal --subjects 5000 --records 20000 --rows 20000
    python -m tests.benchmarks.bench_seal --on postgresql --subjects 5000 --records 20000

The generated city is written behind the app (no seals), so it is first sealed the way
migration 0012 seals the facts stored before sealing existed (timed too). Then:
- read once: every row of every sealed table and of the audit trail, streamed, nothing
  computed (the floor of any check of the rows), alternating with verify, best of
  `--verify-repeat`; on PostgreSQL the CPU column adds the server process's CPU (read
  from /proc/PID/schedstat, same host only), since verify hashes in the server;
- verify: `chain.verify(facts=True)`, what `flask audit verify` runs, with its peak memory
  (a digest of the whole log is published first, so the log's root is checked too);
- one by one: tickets recorded through the service one at a time (what the API does per
  request), sealing switched on and off in alternating pairs in one city and one
  session (both halves see the same load), p50 and p95 of each call's CPU;
- import: the same CSV of N rows imported by the service into two copies of the city, one
  with sealing and one with it switched off (the listeners removed and the import's
  hashing skipped), alternating, best of `--repeat` (wall and CPU each).
Goals (issue): verify at most about twice the read; import with sealing at most 15 % more.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import create_engine, select, text

from tests.benchmarks import common
from tests.benchmarks.bench_import import DEPARTMENT, write_csv


def _read_once(session) -> int:
    from app.models import AuditEvent, FactSeal
    from app.services.audit.seals import KINDS

    rows = 0
    for table in [*(k.table for k in KINDS.values()), AuditEvent.__table__, FactSeal.__table__]:
        for _row in session.execute(select(table), execution_options={"yield_per": 10_000}):
            rows += 1
    return rows


def _verify(session):
    from app.services.audit import chain

    return chain.verify(session, facts=True)


def _switch_sealing(on: bool) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    import app.services.records.bulk as bulk
    from app.services.audit import seals

    if on:
        seals.install()
        bulk._Leaves, bulk._seal = _ORIGINAL
        return
    for name, listener in (("after_flush", seals._after_flush),
                           ("before_commit", seals._before_commit)):
        if event.contains(Session, name, listener):
            event.remove(Session, name, listener)
    bulk._Leaves = _NoLeaves
    bulk._seal = lambda session, ids, leaves: None


class _NoLeaves:
    """The import's hashing, skipped (for the import without sealing)."""

    def __init__(self, stamp: str) -> None:
        pass

    @staticmethod
    def fields(v: tuple) -> str:
        return ""

    @staticmethod
    def leaf(record_id: int, fields: str) -> bytes:
        return b""


_ORIGINAL: tuple = ()


def _dispose(app) -> None:
    from app.db import get_engine

    get_engine(app).dispose()


def _import(url: str, path: Path, *, sealed: bool) -> tuple[float, float]:
    from app.db import session_scope
    from app.rulebook import load_rulebook
    from app.services.records.conduct import import_records_file

    app = common.make_app(url)
    _switch_sealing(sealed)
    rulebook = load_rulebook(common.RULES)
    data = path.read_bytes()
    with app.app_context(), session_scope(app, write=True) as session:
        started, cpu = time.perf_counter(), time.process_time()
        import_records_file(session, rulebook=rulebook, department=DEPARTMENT, data=data,
                            name=path.name, recorded_by="bench", today=common.CITY_TODAY)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    _switch_sealing(True)
    _dispose(app)
    return seconds, cpu


def _one_by_one(url: str, count: int) -> dict[tuple[bool, str], list[float]]:
    """Record `count` tickets one by one through the service, sealing every other one (in
    pairs whose order alternates, so both halves see the same load); return each call's
    CPU seconds by (sealing on or off, "client" or "both"): this process's, and with its
    PostgreSQL server process's (on a shared machine the wall clock measures the
    neighbours)."""
    from app.db import session_scope
    from app.rulebook import load_rulebook
    from app.services.intake.drafts import RecordDraft
    from app.services.records.conduct import record_conduct

    app = common.make_app(url)
    rulebook = load_rulebook(common.RULES)
    engine = create_engine(url)
    with engine.connect() as conn:
        persons = conn.execute(text("SELECT subject_id FROM subject WHERE kind = 'person' "
                                    "ORDER BY subject_id LIMIT :n"), {"n": count}).scalars().all()
    engine.dispose()
    out: dict[tuple[bool, str], list[float]] = {(on, part): [] for on in (True, False)
                                                for part in ("client", "both")}
    with app.app_context(), session_scope(app, write=True) as session:
        server = _server_cpu(session)
        for n, sid in enumerate(persons):
            on = (n % 2 == 0) == (n % 4 < 2)  # on, off, off, on, on, off, ...
            _switch_sealing(on)
            started, before = time.process_time(), server()
            record_conduct(session, RecordDraft(subject_id=sid, rule_code="TRAFFIC-TICKET",
                                                occurred_on=common.CITY_TODAY, evidence=f"{n}"),
                           rulebook=rulebook, department=DEPARTMENT, recorded_by="bench",
                           today=common.CITY_TODAY)
            client = time.process_time() - started
            out[on, "client"].append(client)
            out[on, "both"].append(client + server() - before)
    _switch_sealing(True)
    _dispose(app)
    return out


def _server_cpu(session):
    """Return a function giving the CPU seconds of `session`'s PostgreSQL server process so
    far (0 on SQLite, or when /proc cannot tell): work moved into the server still counts."""
    if session.get_bind().dialect.name != "postgresql":
        return lambda: 0.0
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    session.commit()

    def cpu() -> float:
        try:  # nanoseconds on the CPU (/proc/PID/stat counts in 10 ms ticks: too coarse)
            return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0

    return cpu


def _single_rows(single: dict, calls: int, *, pg: bool) -> list[list]:
    rows = []
    for part in ("client", "both") if pg else ("client",):
        off, on = single[False, part], single[True, part]
        what = "client + server CPU" if part == "both" else "CPU"
        rows += [[f"one record through the service, {what} p50 / p95 ms, without sealing "
                  f"({len(off)} of {calls} calls, interleaved)",
                  f"{_p(off, 0.5):.2f} / {_p(off, 0.95):.2f}", "", ""],
                 ["... with sealing", f"{_p(on, 0.5):.2f} / {_p(on, 0.95):.2f}", "",
                  f"+{_p(on, 0.95) - _p(off, 0.95):.2f} ms at p95"]]
    return rows


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: list[str] | None = None) -> None:
    global _ORIGINAL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--on", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--subjects", type=int, default=5000)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--rows", type=int, default=20000, help="rows in the imported file")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--one-by-one", type=int, default=200,
                        help="records made one by one through the service, with and without")
    parser.add_argument("--verify-repeat", type=int, default=3,
                        help="reads and verifies, alternating: the best of each is shown")
    parser.add_argument("--url", help="an existing city to run on (built by tests.benchmarks."
                        "city or kept by --keep; sealed first if it has no seals): not built, "
                        "not dropped")
    parser.add_argument("--keep", action="store_true", help="keep the city built")
    parser.add_argument("--seal", choices=["python", "sql"], default="python",
                        help="how a city without seals is sealed: seals.seal_everything, "
                             "what migration 0012 runs (python), or set-based, one INSERT "
                             "... SELECT per kind (sql: tests/benchmarks/seal_city.py; the "
                             "way for a city of millions)")
    parser.add_argument("--traced", action=argparse.BooleanOptionalAction, default=True,
                        help="also run verify once under tracemalloc for its peak of "
                             "traced Python allocations (slow at millions of rows)")
    parser.add_argument("--name", default="seal",
                        help="the city's name (its file or database, and its copies'): "
                             "keeps two runs on one server apart")
    args = parser.parse_args(argv)

    import app.services.records.bulk as bulk

    _ORIGINAL = (bulk._Leaves, bulk._seal)
    url = args.url or common.city_url(args.name, on=args.on, subjects=args.subjects,
                                      records=args.records)
    print(common.header("Sealed facts", {"city": url, "subjects": args.subjects,
                                         "records": args.records, "rows": args.rows,
                                         **common.machine()}))
    started = time.perf_counter()
    if not args.url:
        common.build(url, subjects=args.subjects, records=args.records)
    built = time.perf_counter() - started
    try:
        _run(args, url, built)
    finally:
        if not args.url and not args.keep:
            common.drop_city(url)


def _seal(app, url: str, how: str) -> tuple[int, float]:
    """Seal the city's stored facts if it has no seals yet; return (seals, seconds)."""
    from app.db import session_scope
    from app.services.audit import seals
    from tests.benchmarks.seal_city import seal_stored

    with app.app_context(), session_scope(app, write=True) as session:
        if session.execute(text("SELECT count(*) FROM fact_seal")).scalar():
            return 0, 0.0
    started = time.perf_counter()
    if how == "sql":
        sealed = seal_stored(url)["sealed"]
    else:
        with app.app_context(), session_scope(app, write=True) as session:
            sealed = seals.seal_everything(session)
            session.commit()
    return sealed, time.perf_counter() - started


def _rss_reset() -> float:
    """Reset this process's peak resident memory (VmHWM) to what it holds now, where Linux
    lets it; return what it holds now (MB)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    try:
        return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text())[1]) / 1024
    except (OSError, TypeError):
        return 0.0


def _rss_peak_mb() -> float:
    return common.usage()["peak_mb"]


def _run(args, url: str, built: float) -> None:
    from app.db import session_scope
    from app.services.audit import chain

    app = common.make_app(url)
    sealed, seal_seconds = _seal(app, url, args.seal)
    print(f"sealed {sealed} facts in {seal_seconds:.1f} s ({common.load()})", flush=True)
    with app.app_context(), session_scope(app, write=True) as session:
        # A digest published of the whole log: verify checks the log's root at its size,
        # as it does in a city whose digests are published every night.
        chain.publish_digest(session, day=common.CITY_TODAY)
        session.commit()
    with app.app_context(), session_scope(app) as session:
        server = _server_cpu(session)
        runs: dict[str, list[tuple[float, float]]] = {"read": [], "verify": []}
        peaks = []  # this process's peak resident memory during each verify
        for _ in range(args.verify_repeat):  # alternating, best of each
            for name, step in (("read", _read_once), ("verify", _verify)):
                resident = _rss_reset()
                started, cpu, before = time.perf_counter(), time.process_time(), server()
                done = step(session)
                runs[name].append((time.perf_counter() - started,
                                   time.process_time() - cpu + server() - before))
                if name == "verify":
                    peaks.append((_rss_peak_mb(), resident))
                print(f"{name}: {runs[name][-1][0]:.2f} s, CPU {runs[name][-1][1]:.2f} s, "
                      f"{time.strftime('%H:%M:%S', time.gmtime())} UTC, load {common.load()}",
                      flush=True)
                session.rollback()
                if name == "read":
                    rows = done
                else:
                    result = done
        read_seconds, read_cpu = (min(t[i] for t in runs["read"]) for i in (0, 1))
        verify_seconds, verify_cpu = (min(t[i] for t in runs["verify"]) for i in (0, 1))
        rss_mb, rss_before = max(peaks)
        server_mb = (common.pg_backend_peak_mb(session.connection())
                     if args.on == "postgresql" or common.is_pg(url) else None)
        peak_mb = None
        if args.traced:
            tracemalloc.start()  # a run for the memory only (tracing slows it down)
            chain.verify(session, facts=True)
            peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    assert result.ok, (result.where(), result.reason)
    _dispose(app)  # PostgreSQL copies the city as a template: no session may be open on it
    memory = f"peak {rss_mb:.0f} MB resident, {rss_before:.0f} before" + (
        f", {peak_mb:.0f} MB traced" if peak_mb is not None else "") + (
        f", server process {server_mb:.0f} MB" if server_mb is not None else "")
    rows_out = [
        ["build the city (not part of the figures)", round(built, 2), "", ""],
        [f"seal {sealed} stored facts ({args.seal})", round(seal_seconds, 2), "", ""],
        [f"read the sealed tables once ({rows} rows)", round(read_seconds, 2),
         round(read_cpu, 2), 1.0],
        [f"audit verify, facts checked: {result.facts} ({memory})",
         round(verify_seconds, 2), round(verify_cpu, 2),
         f"{verify_seconds / read_seconds:.2f} (CPU {verify_cpu / read_cpu:.2f})"],
    ]
    print("runs (wall s, CPU s), in order:",
          {k: [(round(w, 2), round(c, 2)) for w, c in v] for k, v in runs.items()},
          f"load {common.load()}", flush=True)
    if args.rows:
        rows_out += _imports(args, url)
    if args.one_by_one:
        copy = common.copy_city(url, f"citypoints_bench_{args.name}_one")
        try:
            single = _one_by_one(copy, args.one_by_one)
        finally:
            common.drop_city(copy)
        rows_out += _single_rows(single, args.one_by_one, pg=common.is_pg(url))
    cpu_label = "CPU s (client + server)" if common.is_pg(url) else "CPU s"
    print(common.table(["what", "seconds", cpu_label, "ratio"], rows_out))
    print(common.usage(), common.load())


def _imports(args, url: str) -> list[list]:
    csv_path = common.WORKDIR / f"seal_import_{args.rows}.csv"
    write_csv(url, csv_path, args.rows, common.CITY_TODAY)
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for n in range(args.repeat):
        for on in ((False, True) if n % 2 == 0 else (True, False)):
            copy = common.copy_city(url, f"citypoints_bench_{args.name}_copy_{int(on)}")
            try:
                times[on].append(_import(copy, csv_path, sealed=on))
            finally:
                common.drop_city(copy)
    # Best of `--repeat`, wall and CPU each on its own: on a shared machine the run with the
    # best wall time is not always the one the neighbours disturbed least in CPU.
    with_s, with_cpu = (min(t[i] for t in times[True]) for i in (0, 1))
    without_s, without_cpu = (min(t[i] for t in times[False]) for i in (0, 1))
    return [
        [f"import {args.rows} rows without sealing", round(without_s, 2),
         round(without_cpu, 2), 1.0],
        [f"import {args.rows} rows with sealing", round(with_s, 2), round(with_cpu, 2),
         f"{with_s / without_s:.3f} (CPU {with_cpu / without_cpu:.3f})"],
    ]


if __name__ == "__main__":
    main()
