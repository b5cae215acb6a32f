"""Benchmark: `rules simulate` against one nightly recompute on a generated city.

    .venv/bin/python -m tests.benchmarks.bench_simulate [--subjects 50000] [--records 500000]
                                                        [--database-url URL]

Builds the benchmark city (tests/benchmarks/city.py, bulk inserts) in a temporary SQLite
file (or an empty database at URL), then times one recompute with the sample rulebook and
one simulation of a candidate (tier A raised from 960 to 980, and a relief version of
UTIL-LATE-FEES at -10 from a year ago) on the same date, twice each, and prints the best
of each and their ratio. Not part of the default test run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from app import clock
from app.db import make_engine
from app.migrations import upgrade
from app.rulebook import load_rulebook
from app.services.rulebooks.simulate import simulate
from app.services.standings.recompute import recompute
from tests.benchmarks.city import build_city

ROOT = Path(__file__).resolve().parents[2]


def candidate_rules(target: Path, today: date) -> Path:
    """Write the candidate rulebook under `target` and return its directory."""
    shutil.copytree(ROOT / "rules", target)
    scheme = target / "scheme.yaml"
    scheme.write_text(scheme.read_text().replace("min: 960", "min: 980"))
    utilities = target / "conduct/utilities.yaml"
    body = utilities.read_text()
    start = body.index("  - code: UTIL-LATE-FEES")
    row = body[start:].rstrip("\n")
    cut = today - timedelta(days=365)
    utilities.write_text(
        body[:start] + row + f"\n    effective: {{until: {cut - timedelta(days=1)}}}\n\n"
        + row.replace("points: -20", "points: -10")
        + f"\n    effective: {{from: {cut}}}\n    relief: true\n")
    return target


def _best(label: str, runs: list[float]) -> float:
    best = min(runs)
    print(f"{label}: {', '.join(f'{r:.2f} s' for r in runs)} (best {best:.2f} s)")
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=50_000)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--database-url", default=None,
                        help="an EMPTY database to fill (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    today = clock.today()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/city.sqlite3"
        engine = make_engine(url)
        upgrade(engine)
        current = load_rulebook(ROOT / "rules")
        candidate = load_rulebook(candidate_rules(Path(tmp) / "candidate", today))
        started = time.perf_counter()
        city = build_city(engine, subjects=args.subjects, records=args.records,
                          rulebook=current, today=today)
        print(f"city: {city['subjects']:,} subjects, {city['records']:,} records, "
              f"{city['list_entries']:,} list entries, built in "
              f"{time.perf_counter() - started:.1f} s ({engine.dialect.name})")
        recomputes, simulations = [], []
        report = None
        for _ in range(args.repeat):
            with Session(engine, expire_on_commit=False) as session:
                t = time.perf_counter()
                summary = recompute(session, rulebook=current, as_of=today, triggered_by="bench")
                recomputes.append(time.perf_counter() - t)
            with Session(engine, expire_on_commit=False) as session:
                t = time.perf_counter()
                report = simulate(session, in_force=current, candidate=candidate, as_of=today,
                                  actor="bench", sample=20)
                simulations.append(time.perf_counter() - t)
        print(f"recompute: {summary.subjects:,} subjects, {summary.tier_changes:,} tier changes")
        print(f"simulate: {report.moved_up:,} up, {report.moved_down:,} down, "
              f"{sum(m.gained + m.lost for m in report.measures):,} measure changes, "
              f"{len(report.sample)} movers explained")
        r = _best("recompute", recomputes)
        s = _best("simulate ", simulations)
        print(f"ratio simulate / recompute: {s / r:.2f}")
        with engine.connect() as conn:  # the simulation wrote its log and nothing else
            logged = conn.execute(text("SELECT COUNT(*) FROM rulebook_event "
                                       "WHERE action = 'simulate'")).scalar()
        print(f"simulation log rows: {logged}")
        engine.dispose()


if __name__ == "__main__":
    main()
