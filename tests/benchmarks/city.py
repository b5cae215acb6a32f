"""A benchmark city: a realistic population with records and list entries, from a seed.

    python -m tests.benchmarks.city --subjects 1000000 --records 10000000 sqlite:///city.sqlite3

Persons and organisations with valid identifiers, districts and villages, records across
the sample rulebook's codes over six years (each by a department that may record it,
for a subject of a kind it applies to), list and watchlist entries. Rows go in with the
driver's executemany in large batches: the city is test data, so points are the rule
version's points (caps and repeats are exercised by the unit tests, not here).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from app.identifiers import organisation_id, person_id
from app.migrations import upgrade
from app.rulebook import Rulebook, load_rulebook

ROOT = Path(__file__).resolve().parents[2]
DISTRICTS = {
    "Yatou Subdistrict": ["Dongshan", "Xishan", "Chengxi", "Haiyang", "Chengzhong"],
    "Chengshan Town": ["Chengshanwei", "Longxu Island", "Xidaqiao", "Mazhuang"],
    "Shidao Management Area": ["Shidao Bay", "Dongcun", "Xicun", "Dongdao"],
    "Renhe Town": ["Renhe", "Dongnan", "Beishan", "Yushan"],
    "Ningjin Subdistrict": ["Ningjin", "Dongwang", "Xiwang"],
}
BATCH = 50_000


def _ids(rng: random.Random, subjects: int, org_share: float) -> list[tuple[str, str]]:
    out = []
    orgs = int(subjects * org_share)
    days = 19 * 365  # born 1989-2007, so Rongcheng's region code 371082 fits the birth year
    offset = rng.randrange(days)
    for i in range(subjects - orgs):
        birth = date(1989, 1, 1) + timedelta(days=(offset + i // 1000) % days)
        out.append((person_id(f"371082{birth:%Y%m%d}{i % 1000:03d}"), "person"))
    for i in range(orgs):
        out.append((organisation_id(f"91371082{i:09d}"), "organisation"))
    return out


def _insert(conn, sql: str, rows: list[tuple]) -> None:
    for i in range(0, len(rows), BATCH):
        conn.exec_driver_sql(sql, rows[i : i + BATCH]) if rows[i : i + BATCH] else None


def build_city(engine: Engine, *, subjects: int, records: int, seed: int = 2026,
               rulebook: Rulebook | None = None, today: date | None = None,
               org_share: float = 0.1, quiet: bool = True) -> dict:
    """Fill an empty, migrated database with a city; return counts and timings."""
    rulebook = rulebook or load_rulebook(ROOT / "rules")
    today = today or date.today()
    rng = random.Random(seed)
    started = time.perf_counter()
    people = _ids(rng, subjects, org_share)
    kinds = [k for _, k in people]
    ph = "%s" if engine.dialect.name == "postgresql" else "?"
    now = datetime.now(timezone.utc)
    if engine.dialect.name == "sqlite":  # the text form SQLAlchemy's SQLite DateTime reads
        now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    names = list(DISTRICTS)
    persons = [sid for sid, kind in people if kind == "person"]
    subject_rows = []
    for n, (sid, kind) in enumerate(people):
        district = names[n % len(names)]
        village = DISTRICTS[district][(n // len(names)) % len(DISTRICTS[district])]
        rep = persons[n % len(persons)] if kind == "organisation" and persons else None
        subject_rows.append((sid, kind, f"{kind.title()} {n}", district, village, rep,
                             rng.random() < 0.95, now, now))
    with engine.begin() as conn:
        for dept in rulebook.departments:
            conn.exec_driver_sql(
                f"INSERT INTO department (code, title) VALUES ({ph}, {ph})",
                (dept.code, dept.title)) if not conn.exec_driver_sql(
                f"SELECT 1 FROM department WHERE code = {ph}", (dept.code,)).first() else None
        _insert(conn, "INSERT INTO subject (subject_id, kind, name, district, village, "
                      "legal_representative, consent, registered_at, updated_at) VALUES "
                      f"({', '.join([ph] * 9)})", subject_rows)
    # Which (code, department) pairs may record for each kind, weighted toward minor conduct.
    choices = {"person": [], "organisation": []}
    for code in rulebook.rule_codes:
        rule = rulebook.versions(code)[-1]
        weight = 1.0 / max(1, abs(rule.points)) ** 0.7
        for kind in rule.subjects:
            for dept in rule.departments:
                choices[kind].append((code, dept, weight))
    start = today - timedelta(days=6 * 365)
    span = (today - start).days
    record_rows = []
    pools = {k: ([c for c in v], [w for *_, w in v]) for k, v in choices.items()}
    cum = {k: list(_accumulate(w)) for k, (_, w) in pools.items()}
    with engine.begin() as conn:
        for n in range(records):
            s = rng.randrange(len(people))
            kind = kinds[s]
            pool, _ = pools[kind]
            if not pool:
                continue
            code, dept, _w = pool[_pick(rng, cum[kind])]
            occurred = start + timedelta(days=rng.randrange(span))
            rule = rulebook.rule_on(code, occurred) or rulebook.versions(code)[-1]
            record_rows.append((people[s][0], code, rule.version, rulebook.fingerprint, dept,
                                occurred, rule.ends_on(occurred), rule.points, 1, rule.points,
                                "", "", f"city-{n}", now, "city"))
            if len(record_rows) >= BATCH:
                _insert(conn, _record_sql(ph), record_rows)
                record_rows = []
                if not quiet:
                    print(f"\r{n + 1:>12,} records", end="", file=sys.stderr)
        _insert(conn, _record_sql(ph), record_rows)
        entries = []
        for list_def in rulebook.lists:
            if not list_def.departments:
                continue
            count = max(1, subjects // (100 if list_def.kind == "watchlist" else 200))
            for _ in range(count):
                sid = people[rng.randrange(len(people))][0]
                entered = today - timedelta(days=rng.randrange(3 * 365))
                ends = list_def.lasts.after(entered) if list_def.lasts else None
                entries.append((list_def.code, sid, list_def.departments[0], entered, ends,
                                list_def.legal_basis, "", now, "city"))
        _insert(conn, "INSERT INTO list_entry (list_code, subject_id, department_code, "
                      "entered_on, ends_on, legal_basis, decision_ref, created_at, created_by) "
                      f"VALUES ({', '.join([ph] * 9)})", entries)
    elapsed = time.perf_counter() - started
    if not quiet:
        print(file=sys.stderr)
    return {"subjects": subjects, "records": records, "list_entries": len(entries),
            "seconds": round(elapsed, 1)}


def _record_sql(ph: str) -> str:
    return ("INSERT INTO record (subject_id, rule_code, rule_version, rulebook_fingerprint, "
            "department_code, occurred_on, ends_on, base_points, factor, points, note, evidence, "
            "external_ref, recorded_at, recorded_by) VALUES (" + ", ".join([ph] * 15) + ")")


def _accumulate(weights):
    total = 0.0
    for w in weights:
        total += w
        yield total


def _pick(rng: random.Random, cum: list[float]) -> int:
    from bisect import bisect_left

    return bisect_left(cum, rng.random() * cum[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    engine = create_engine(args.database_url)
    upgrade(engine)
    with engine.connect() as conn:
        if conn.execute(text("SELECT COUNT(*) FROM subject")).scalar():
            parser.error("the database is not empty")
    result = build_city(engine, subjects=args.subjects, records=args.records, seed=args.seed,
                        quiet=False)
    print(result)


if __name__ == "__main__":
    main()
