"""Record intake: the CSV import of N rows against a bare insert of the same rows.

    python -m tests.benchmarks.bench_import --subjects 100000 --records 1000000 --rows 1000000
    python -m tests.benchmarks.bench_import --url sqlite:////tmp/city.sqlite3 --rows 1000000

A file of N traffic tickets (and a few drunk-driving records) for existing persons, as the
traffic police would send it, is imported into a copy of the city three ways, each in a
child process of its own (peak memory is its own):
- baseline: csv parsing plus executemany of the same rows into `record`, in one
  transaction, with no checks, no points fixing and no notices (what the driver can do);
- service: app.services.records.conduct.import_records_file, the path the web upload and the CLI
  share, with its steps timed by wrapping the functions it calls;
- cli: `flask --app app records import FILE --department traffic-police`, end to end
  (process start, app creation and rulebook loading included).
Goal: at least 50,000 rows per second on SQLite.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from tests.benchmarks import common

MODULE = "tests.benchmarks.bench_import"
DEPARTMENT = "traffic-police"
CODES = (("TRAFFIC-TICKET", 0.97), ("TRAFFIC-DRUNK", 0.03))


def write_csv(url: str, path: Path, rows: int, today: date, seed: int = 7) -> int:
    """Write a CSV of `rows` records for persons of the city at `url`; return its size."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.connect() as conn:
        persons = conn.execute(text("SELECT subject_id FROM subject WHERE kind = 'person' "
                                    "ORDER BY subject_id")).scalars().all()
    engine.dispose()
    rng = random.Random(seed)
    days = [(today - timedelta(days=i)).isoformat() for i in range(90)]
    with open(path, "w", newline="") as f:
        f.write("subject_id,rule_code,occurred_on,evidence,external_ref\n")
        for n in range(rows):
            code = CODES[0][0] if rng.random() < CODES[0][1] else CODES[1][0]
            f.write(f"{rng.choice(persons)},{code},{rng.choice(days)},"
                    f"camera {n % 977} photo {n},tp-{today.year}-{n:09d}\n")
    return path.stat().st_size


# ------------------------------------------------------------------------------ the children
def child_baseline(url: str, path: Path, today: date) -> dict:
    """csv.reader + executemany of the same rows, no checks (the floor of an import)."""
    from app.db import make_engine
    from app.rulebook import load_rulebook

    rulebook = load_rulebook(common.RULES)
    clock = common.Clock()
    with clock("read csv"):
        with open(path, newline="") as f:
            reader = csv.reader(f)
            next(reader)
            rows = list(reader)
    rules = {code: rulebook.rule_on(code, today) for code, _ in CODES}
    ends: dict = {}
    recorded = datetime.now(UTC)
    if not common.is_pg(url):
        recorded = recorded.strftime("%Y-%m-%d %H:%M:%S.%f")
    with clock("build rows"):
        values = []
        for sid, code, occurred, evidence, ref in rows:
            rule = rules[code]
            key = (code, occurred)
            if key not in ends:
                day = date.fromisoformat(occurred)
                ends[key] = (rule.ends_on(day), rule.repairable_on(day))
                if not common.is_pg(url):
                    ends[key] = tuple(d.isoformat() if d else None for d in ends[key])
            end, repairable = ends[key]
            values.append((sid, code, rule.version, rulebook.fingerprint, DEPARTMENT,
                           occurred, end, repairable, rule.points, 1, rule.points, "", evidence,
                           ref, recorded, "bench"))
    engine = make_engine(url)
    ph = "%s" if common.is_pg(url) else "?"
    sql = ("INSERT INTO record (subject_id, rule_code, rule_version, rulebook_fingerprint, "
           "department_code, occurred_on, ends_on, repairable_on, base_points, factor, points, "
           "note, evidence, external_ref, recorded_at, recorded_by) VALUES "
           f"({', '.join([ph] * 16)})")
    with engine.connect() as conn:
        with clock("executemany"):
            for i in range(0, len(values), 5000):
                conn.exec_driver_sql(sql, values[i:i + 5000])
        with clock("commit"):
            conn.commit()
    engine.dispose()
    return {"rows": len(rows), "seconds": clock.seconds}


def child_service(url: str, path: Path, today: date) -> dict:
    """import_records_file, with the steps it takes timed by wrapping what it calls."""
    import app.services.audit.chain as audit
    import app.services.due_process.notices as notices
    import app.services.records.bulk as bulk
    import app.services.records.conduct as records
    from app.db import session_scope
    from app.rulebook import load_rulebook

    app = common.make_app(url)
    rulebook = load_rulebook(common.RULES)
    marks: dict[str, float] = {}
    spent: dict[str, float] = {}

    def wrap(owner, name, label):
        original = getattr(owner, name, None)
        if original is None:
            return

        def timed(*args, **kwargs):
            started = time.perf_counter()
            marks.setdefault(label + ":start", started)
            try:
                return original(*args, **kwargs)
            finally:
                now = time.perf_counter()
                marks[label + ":end"] = now
                spent[label] = spent.get(label, 0.0) + now - started

        setattr(owner, name, timed)

    wrap(records, "read_drafts", "read csv")
    wrap(records._RecordChecks, "preload", "preload")
    wrap(records, "begin_write", "write lock")
    wrap(records, "store_records", "store")  # a mark only: the steps inside are timed alone
    wrap(notices, "notify_imported", "notices")  # the per-record notices (before 2026-11-26)
    wrap(notices, "notify_imported_after", "notices")  # one INSERT ... SELECT (SQLite)
    wrap(bulk, "_store_postgres", "copy, insert records and notices (PostgreSQL)")
    wrap(notices, "check_record_notice", "check one notice")
    wrap(audit, "append", "audit")
    data = path.read_bytes()
    with app.app_context(), session_scope(app) as session:
        wrap(session, "commit", "commit")
        started = time.perf_counter()
        result = records.import_records_file(
            session, rulebook=rulebook, department=DEPARTMENT, data=data, name=path.name,
            recorded_by="bench", today=today)
        total = time.perf_counter() - started
    steps = dict(spent)
    steps.pop("store", None)
    # The write lock is taken before the rows are read (points depend on what is stored):
    # the checks run from the end of the preload to the start of storing.
    if {"preload:end", "store:start"} <= marks.keys():
        steps["check rows, fix points"] = marks["store:start"] - marks["preload:end"]
    if {"store:start", "notices:start"} <= marks.keys():
        steps["insert records"] = marks["notices:start"] - marks["store:start"]
    return {"rows": result.rows, "added": result.added, "seconds_total": total, "steps": steps}


def run_cli(url: str, path: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "records", "import",
                           str(path), "--department", DEPARTMENT], cwd=common.ROOT,
                          env=common.app_env(url), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return {"seconds": seconds, "output": proc.stdout.strip()}


# ------------------------------------------------------------------------------ the driver
def bench(url: str, rows: int, with_cli: bool, patch_sets: list[str]) -> dict:
    today = common.city_today(url)
    workdir = common.WORKDIR
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"tickets_{rows}.csv"
    size = write_csv(url, path, rows, today)
    out = {"url": url, "rows": rows, "file_mb": round(size / 2**20, 1), "today": today.isoformat()}
    common.checkpoint(url)
    copy = common.copy_city(url, "import_baseline")
    try:
        out["baseline"] = common.run_child(MODULE, "baseline", copy, str(path), today.isoformat())
    finally:
        common.drop_city(copy)
    out["service"] = {}
    for patches in patch_sets:
        copy = common.copy_city(url, "import_service")
        try:
            out["service"][patches] = common.run_child(MODULE, "service", copy, str(path),
                                                       today.isoformat(), patches=patches)
        finally:
            common.drop_city(copy)
    if with_cli:
        copy = common.copy_city(url, "import_cli")
        try:
            out["cli"] = run_cli(copy, path)
        finally:
            common.drop_city(copy)
    path.unlink()
    return out


def report(result: dict, build: dict | None) -> str:
    rows = result["rows"]
    base = result["baseline"]
    base_s = sum(base["seconds"].values())
    out = [common.header(f"record intake: CSV import of {rows:,} rows "
                         f"({result['file_mb']} MB), "
                         f"{'PostgreSQL' if common.is_pg(result['url']) else 'SQLite'}",
                         common.machine())]
    if build:
        out.append(f"city: {build['subjects']:,} subjects, {build['records']:,} records\n")
    table = [["baseline: csv + executemany, no checks", base_s, rows / base_s, 1.0,
              base["peak_mb"], base["load_after"]]]
    for patches, service in result["service"].items():
        table.append([f"import_records_file{f' + {patches}' if patches else ' (as is)'}",
                      service["seconds_total"], rows / service["seconds_total"],
                      service["seconds_total"] / base_s, service["peak_mb"],
                      service["load_after"]])
    if "cli" in result:
        cli = result["cli"]["seconds"]
        table.append(["flask records import (CLI, end to end, as is)", cli, rows / cli,
                      cli / base_s, None, common.load()])
    out.append(common.table(["path", "seconds", "rows/s", "x baseline", "peak MB", "load after"],
                            table))
    out.append("\nbaseline steps (s): " + ", ".join(f"{k} {v:.2f}"
                                                  for k, v in base["seconds"].items()))
    steps = sorted({k for s in result["service"].values() for k in s["steps"]},
                   key=lambda k: -next(iter(result["service"].values()))["steps"].get(k, 0))
    names = [p or "as is" for p in result["service"]]
    out.append("\nimport_records_file steps, seconds:\n")
    out.append(common.table(["step", *names], [
        [k, *(s["steps"].get(k) for s in result["service"].values())] for k in steps]))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        kind, url, path, today = argv[1], argv[2], Path(argv[3]), date.fromisoformat(argv[4])
        from tests.benchmarks import patches

        patches.apply()
        child = child_baseline if kind == "baseline" else child_service
        common.child_output(child(url, path, today))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="an existing city (it is not changed)")
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--on", default="sqlite", help="sqlite or postgresql (when building)")
    parser.add_argument("--no-cli", dest="cli", action="store_false")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--patch", action="append", default=[],
                        help="also time the service with these patches (tests/benchmarks/"
                             "patches.py), comma-separated; repeatable")
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    url, build = args.url, None
    if url is None:
        url = common.city_url("import", on=args.on, subjects=args.subjects,
                              records=args.records)
        print(f"building {url} ...", file=sys.stderr)
        build = common.build(url, subjects=args.subjects, records=args.records)
    try:
        result = bench(url, args.rows, args.cli, ["", *args.patch])
    finally:
        if build and not args.keep:
            common.drop_city(url)
    print(report(result, build))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"build": build, **result}, indent=1,
                                                  default=str))


if __name__ == "__main__":
    main()
