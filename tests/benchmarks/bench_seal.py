"""Sealed facts: `audit verify` against reading the sealed tables once, and a records import
with sealing against the same import without it, in the same run.

    python -m tests.benchmarks.bench_seal --subjects 5000 --records 20000 --rows 20000
    python -m tests.benchmarks.bench_seal --on postgresql --subjects 5000 --records 20000

The generated city is written behind the app (no seals), so it is first sealed the way
migration 0012 seals the facts stored before sealing existed (timed too). Then:
- read once: every row of every sealed table and of the audit trail, streamed, nothing
  computed (the floor of any check of the rows);
- verify: `chain.verify(facts=True)`, what `flask audit verify` runs, with its peak memory;
- import: the same CSV of N rows imported by the service into two copies of the city, one
  with sealing and one with it switched off (the listeners removed and the import's
  hashing skipped), alternating, best of `--repeat`.
Goals (issue): verify at most about twice the read; import with sealing at most 15 % more.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import create_engine, select

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


def _switch_sealing(on: bool) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    import app.services.records.bulk as bulk
    from app.services.audit import seals

    if on:
        seals.install()
        bulk._fields, bulk._seal = _ORIGINAL
        return
    for name, listener in (("after_flush", seals._after_flush),
                           ("before_commit", seals._before_commit)):
        if event.contains(Session, name, listener):
            event.remove(Session, name, listener)
    bulk._fields = lambda v, stamp: ""
    bulk._seal = lambda session, ids, fields: None


_ORIGINAL: tuple = ()


def _import(url: str, path: Path, *, sealed: bool) -> float:
    from app.db import session_scope
    from app.rulebook import load_rulebook
    from app.services.records.conduct import import_records_file

    app = common.make_app(url)
    _switch_sealing(sealed)
    rulebook = load_rulebook(common.RULES)
    data = path.read_bytes()
    with app.app_context(), session_scope(app, write=True) as session:
        started = time.perf_counter()
        import_records_file(session, rulebook=rulebook, department=DEPARTMENT, data=data,
                            name=path.name, recorded_by="bench", today=common.CITY_TODAY)
        seconds = time.perf_counter() - started
    _switch_sealing(True)
    return seconds


def main(argv: list[str] | None = None) -> None:
    global _ORIGINAL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--on", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--subjects", type=int, default=5000)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--rows", type=int, default=20000, help="rows in the imported file")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    import app.services.records.bulk as bulk
    from app.db import session_scope
    from app.services.audit import chain, seals

    _ORIGINAL = (bulk._fields, bulk._seal)
    url = common.city_url("seal", on=args.on, subjects=args.subjects, records=args.records)
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
    with app.app_context(), session_scope(app) as session:
        started, cpu = time.perf_counter(), time.process_time()
        rows = _read_once(session)
        read_seconds, read_cpu = time.perf_counter() - started, time.process_time() - cpu
        session.rollback()
        started, cpu = time.perf_counter(), time.process_time()
        result = chain.verify(session, facts=True)
        verify_seconds, verify_cpu = time.perf_counter() - started, time.process_time() - cpu
        session.rollback()
        tracemalloc.start()  # a second run for the memory only (tracing slows it down)
        chain.verify(session, facts=True)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert result.ok, (result.where(), result.reason)

    csv_path = common.WORKDIR / f"seal_import_{args.rows}.csv"
    write_csv(url, csv_path, args.rows, common.CITY_TODAY)
    times: dict[bool, list[float]] = {True: [], False: []}
    for n in range(args.repeat):
        for on in ((False, True) if n % 2 == 0 else (True, False)):
            copy = common.copy_city(url, f"citypoints_bench_seal_copy_{int(on)}")
            try:
                times[on].append(_import(copy, csv_path, sealed=on))
            finally:
                engine = create_engine(copy)
                engine.dispose()
                common.drop_city(copy)
    with_s, without_s = min(times[True]), min(times[False])
    print(common.table(["what", "seconds", "CPU s", "ratio"], [
        ["build the city (not part of the figures)", round(built, 2), "", ""],
        [f"seal {sealed} stored facts (migration 0012)", round(seal_seconds, 2), "", ""],
        [f"read the sealed tables once ({rows} rows)", round(read_seconds, 2),
         round(read_cpu, 2), 1.0],
        [f"audit verify, facts checked: {result.facts} (peak {peak_mb:.0f} MB traced)",
         round(verify_seconds, 2), round(verify_cpu, 2),
         f"{verify_seconds / read_seconds:.2f} (CPU {verify_cpu / read_cpu:.2f})"],
        [f"import {args.rows} rows without sealing", round(without_s, 2), "", 1.0],
        [f"import {args.rows} rows with sealing", round(with_s, 2), "",
         round(with_s / without_s, 3)],
    ]))
    print(common.usage())


if __name__ == "__main__":
    main()
