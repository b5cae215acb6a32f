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
    parser.add_argument("--name", default="seal",
                        help="the city's name (its file or database, and its copies'): "
                             "keeps two runs on one server apart")
    args = parser.parse_args(argv)

    import app.services.records.bulk as bulk
    from app.db import session_scope
    from app.services.audit import chain, seals

    _ORIGINAL = (bulk._Leaves, bulk._seal)
    url = common.city_url(args.name, on=args.on, subjects=args.subjects, records=args.records)
    print(common.header("Sealed facts", {"city": url, "subjects": args.subjects,
                                         "records": args.records, "rows": args.rows}))
    started = time.perf_counter()
    common.build(url, subjects=args.subjects, records=args.records)
    built = time.perf_counter() - started
    app = common.make_app(url)
    with app.app_context(), session_scope(app, write=True) as session:
        started = time.perf_counter()
        sealed = seals.seal_everything(session)
        session.commit()
        seal_seconds = time.perf_counter() - started
        # A digest published of the whole log: verify checks the log's root at its size,
        # as it does in a city whose digests are published every night.
        chain.publish_digest(session, day=common.CITY_TODAY)
    with app.app_context(), session_scope(app) as session:
        server = _server_cpu(session)
        runs: dict[str, list[tuple[float, float]]] = {"read": [], "verify": []}
        for _ in range(args.verify_repeat):  # alternating, best of each
            for name, step in (("read", _read_once), ("verify", _verify)):
                started, cpu, before = time.perf_counter(), time.process_time(), server()
                done = step(session)
                runs[name].append((time.perf_counter() - started,
                                   time.process_time() - cpu + server() - before))
                session.rollback()
                if name == "read":
                    rows = done
                else:
                    result = done
        read_seconds, read_cpu = (min(t[i] for t in runs["read"]) for i in (0, 1))
        verify_seconds, verify_cpu = (min(t[i] for t in runs["verify"]) for i in (0, 1))
        tracemalloc.start()  # a second run for the memory only (tracing slows it down)
        chain.verify(session, facts=True)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert result.ok, (result.where(), result.reason)
    _dispose(app)  # PostgreSQL copies the city as a template: no session may be open on it

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
    copy = common.copy_city(url, f"citypoints_bench_{args.name}_one")
    try:
        single = _one_by_one(copy, args.one_by_one)
    finally:
        common.drop_city(copy)
    cpu_label = "CPU s (client + server)" if args.on == "postgresql" else "CPU s"
    print(common.table(["what", "seconds", cpu_label, "ratio"], [
        ["build the city (not part of the figures)", round(built, 2), "", ""],
        [f"seal {sealed} stored facts (migration 0012)", round(seal_seconds, 2), "", ""],
        [f"read the sealed tables once ({rows} rows)", round(read_seconds, 2),
         round(read_cpu, 2), 1.0],
        [f"audit verify, facts checked: {result.facts} (peak {peak_mb:.0f} MB traced)",
         round(verify_seconds, 2), round(verify_cpu, 2),
         f"{verify_seconds / read_seconds:.2f} (CPU {verify_cpu / read_cpu:.2f})"],
        [f"import {args.rows} rows without sealing", round(without_s, 2),
         round(without_cpu, 2), 1.0],
        [f"import {args.rows} rows with sealing", round(with_s, 2), round(with_cpu, 2),
         f"{with_s / without_s:.3f} (CPU {with_cpu / without_cpu:.3f})"],
        *_single_rows(single, args.one_by_one, pg=args.on == "postgresql"),
    ]))
    print(common.usage())


if __name__ == "__main__":
    main()
