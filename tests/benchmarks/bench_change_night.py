"""The nightly full recompute on a night with a rulebook change, beside a night without one.

    python -m tests.benchmarks.bench_change_night --subjects 100000 --records 1000000 --on sqlite
    python -m tests.benchmarks.bench_change_night --subjects 100000 --records 1000000 \
        --on postgresql
    python -m tests.benchmarks.bench_change_night --url sqlite:////tmp/city.sqlite3  # a fresh city

On one city, before the measured nights (the city's clock set, with time-machine, to the day
before the first of them), the app's own service puts rulebooks in force as a rule author
does (`RulebookRegistry.reload`): the sample rulebook (rules/) from that day, then two changed
rulebooks scheduled by their `in_force_from`, each announced to the subjects it will move:

- change 1, in force from night 2: tier C's edge moves from 600 to 650 points, and the tender
  ban (7 days' notice) is switched on by tier C as well as D;
- change 2, in force from night 10: tier A's edge moves from 960 to 980 points, and the
  written warning is no longer switched on by tier B.

The changed rulebooks carry no rule tests (the sample's expect the sample's tiers), so they
are put in force as an admin puts an untested rulebook in force (`without_tests`, audited).

Then the full recompute runs night after night, as `flask recompute --full` runs it (the
same child as tests/benchmarks/bench_recompute.py, each night in a process of its own),
after a first run that fills the standings:

    night 1: steady   night 2: CHANGE 1   nights 3-8: after a change   night 9: steady
    night 10: CHANGE 2

A night "with a change" is one whose rulebook in force differs from the previous run's: its
tiers move many subjects (tier changes logged) and its measures with a notice period (7
days in the sample) are walked back across the change's first day under each day's
rulebook. So are those of the nights after it, until the notice period has run past the
change's first day ("after a change"); a "steady" night's walk lies under one rulebook. The
floor of bench_recompute (one aggregate + one bulk write of N rows) is measured on each
steady night, so every figure is also shown against the nightly budget (recompute <= 2x
floor). Printed: each night's seconds, x floor, and the ratio of each change night to the
steady night before it.

A city given by --url must be fresh from a build (no rulebook put in force yet); built
cities are dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.benchmarks import common
from tests.benchmarks.bench_recompute import MODULE as RECOMPUTE

MODULE = "tests.benchmarks.bench_change_night"
NIGHTS = 10  # steady, change 1, 6 nights after it, steady, change 2
NOTICE = 7  # days: the sample's notice periods
CHANGES = {  # night -> (file, old, new) edits of the rulebook in force the night before
    2: (("scheme.yaml", "  - code: C\n    min: 600\n", "  - code: C\n    min: 650\n"),
        ("measures.yaml", "when: {tiers: [D], lists: [court-defaulters]}",
         "when: {tiers: [C, D], lists: [court-defaulters]}")),
    10: (("scheme.yaml", "  - code: A\n    min: 960\n", "  - code: A\n    min: 980\n"),
        ("measures.yaml", "when: {tiers: [B, C, D]}", "when: {tiers: [C, D]}")),
}


# ------------------------------------------------------------------------------ the children
def _edited(source: Path, target: Path, edits, in_force_from: date) -> Path:
    """Copy the rules directory `source` to `target` without its rule tests, with `edits`
    applied and `in_force_from` set."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("tests", "README.md"))
    for name, old, new in edits:
        path = target / name
        content = path.read_text()
        if content.count(old) != 1:
            raise SystemExit(f"{name}: expected {old!r} once in the sample rulebook")
        path.write_text(content.replace(old, new))
    scheme = target / "scheme.yaml"
    kept = [line for line in scheme.read_text().splitlines()
            if not line.startswith("in_force_from:")]  # the previous change's first day
    scheme.write_text("\n".join([*kept, f"in_force_from: {in_force_from.isoformat()}", ""]))
    return target


def child_schedule(url: str, first_night: date) -> dict:
    """Put the sample rulebook in force the day before `first_night`, and schedule the two
    changes, through the rule authors' service (the registry's reload)."""
    import time_machine

    from app import create_app
    from app.db import session_scope
    from app.rulebook import load_rulebook
    from app.services.rulebooks.in_force import put_in_force_entries
    from app.services.rulebooks.registry import EXTENSION_KEY

    # Noon UTC of the day before the first night: that day in the city (UTC+8) too.
    moment = datetime.combine(first_night - timedelta(days=1), dtime(12), UTC)
    seconds: dict[str, float] = {}
    fingerprints = {}
    with tempfile.TemporaryDirectory(prefix="citypoints-change-") as scratch:
        dirs = {0: common.RULES}
        previous = common.RULES
        for night, edits in CHANGES.items():
            previous = dirs[night] = _edited(previous, Path(scratch) / f"night{night}", edits,
                                             first_night + timedelta(days=night - 1))
        with time_machine.travel(moment, tick=False):
            for night, rules in dirs.items():
                app = create_app({"DATABASE_URL": url, "RULES_DIR": str(rules),
                                  "SECRET_KEY": common.SECRET, "RELOAD_ON_SIGHUP": False})
                started = time.perf_counter()
                with app.app_context():
                    state = app.extensions[EXTENSION_KEY].reload(loaded_by="benchmark",
                                                                 without_tests=night > 0)
                seconds[f"put in force ({'now' if not night else f'from night {night}'})"] = \
                    time.perf_counter() - started
                if state.problems or state.rulebook is None or \
                        state.rulebook.fingerprint != load_rulebook(str(rules)).fingerprint:
                    raise SystemExit(f"{rules} was not put in force: "
                                     f"{[str(p) for p in state.problems]}")
                fingerprints[night] = state.rulebook.fingerprint
        with app.app_context(), session_scope(app) as session:
            timeline = [(entry.first_day.isoformat(), entry.fingerprint[:12])
                        for _, entry in put_in_force_entries(session)]
            announced = session.execute(
                text("SELECT COUNT(*) FROM notice WHERE kind = 'rulebook_change'")).scalar()
    return {"seconds": seconds, "timeline": timeline, "announced": announced,
            "fingerprints": {str(k): v for k, v in fingerprints.items()}}


# ------------------------------------------------------------------------------ the driver
def _fresh(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        events = conn.execute(
            text("SELECT COUNT(*) FROM rulebook_event WHERE action = 'in-force'")).scalar()
    engine.dispose()
    if events:
        raise SystemExit(f"{url} already has {events} rulebook(s) put in force: this benchmark "
                         "schedules its own changes on a fresh city (build one, or drop --url)")


def bench(url: str) -> dict:
    today = common.city_today(url)
    first = today - timedelta(days=NIGHTS - 1)  # the last night is the city's today
    _fresh(url)
    schedule = common.run_child(MODULE, "schedule", url, first.isoformat())
    common.checkpoint(url)
    fill = common.run_child(RECOMPUTE, "recompute", url, (first - timedelta(days=1)).isoformat())
    nights = []
    for night in range(1, NIGHTS + 1):
        day = first + timedelta(days=night - 1)
        floor = None if kind(night) != "steady" else common.run_child(RECOMPUTE, "floor", url,
                                                                      day.isoformat())
        run = common.run_child(RECOMPUTE, "recompute", url, day.isoformat())
        nights.append({"night": night, "day": day.isoformat(), "kind": kind(night),
                       "floor": floor, "recompute": run})
    return {"url": url, "today": today.isoformat(), "schedule": schedule, "fill": fill,
            "nights": nights}


def kind(night: int) -> str:
    """"CHANGE" on a change's first night; "after a change" while a notice walk-back of the
    night reaches back past a change's first day; else "steady"."""
    if night in CHANGES:
        return "CHANGE"
    return "after a change" if any(night - NOTICE < c < night for c in CHANGES) else "steady"


def _floor_seconds(floor: dict) -> float:
    return floor["seconds"]["aggregate"] + floor["seconds"]["bulk write"]


def report(title: str, result: dict, build: dict | None) -> str:
    out = [common.header(title, common.machine())]
    if build:
        out.append(f"city: {build['subjects']:,} subjects, {build['records']:,} records, "
                   f"{build['list_entries']:,} list entries; built in {build['seconds']} s\n")
    schedule = result["schedule"]
    out.append("rulebooks in force (first day, fingerprint): " + ", ".join(
        f"{day} {fp}" for day, fp in schedule["timeline"]) + "; put in force / scheduled in "
        + ", ".join(f"{k} {v:.1f} s" for k, v in schedule["seconds"].items())
        + f"; {schedule['announced']:,} subjects told of a coming change\n")
    rows = []
    floor = None
    pairs = []
    before = None
    for n in result["nights"]:
        rec = n["recompute"]
        if n["floor"]:
            floor = _floor_seconds(n["floor"])
        rows.append([f"{n['night']}: {n['day']} {n['kind']}",
                     rec["seconds"], floor, rec["seconds"] / floor if floor else None,
                     rec["tier_changes"], rec["subjects"], rec["peak_mb"],
                     rec["server_peak_mb"], rec["load_after"]])
        if n["kind"] == "CHANGE" and before is not None:
            pairs.append((before, n))
        if n["kind"] == "steady":
            before = n
    out.append(common.table(["night", "full recompute s", "floor s (last steady night)",
                             "x floor", "tier changes", "subjects",
                             "peak MB (client)", "peak MB (server)", "load after"], rows))
    out.append("")
    for quiet, changed in pairs:
        a, b = quiet["recompute"]["seconds"], changed["recompute"]["seconds"]
        out.append(f"change night {changed['day']} / steady night {quiet['day']}: "
                   f"{b:.2f} s / {a:.2f} s = {b / a:.2f}x")
    if pairs:
        quiet = sum(q["recompute"]["seconds"] for q, _ in pairs)
        changed = sum(c["recompute"]["seconds"] for _, c in pairs)
        floors = sum(_floor_seconds(q["floor"]) for q, _ in pairs)
        out.append(f"change nights / the steady nights before them: {changed:.2f} s / "
                   f"{quiet:.2f} s = {changed / quiet:.2f}x; change nights {changed / floors:.2f}x "
                   f"floor, steady nights {quiet / floors:.2f}x floor (budget: <= 2x floor)")
        after = [n["recompute"]["seconds"] for n in result["nights"]
                 if n["kind"] == "after a change"]
        if after:
            mean = sum(after) / len(after)
            out.append(f"nights after a change: {min(after):.2f}-{max(after):.2f} s, mean "
                       f"{mean:.2f} s = {mean / (quiet / len(pairs)):.2f}x the mean steady night")
    last = [n for n in result["nights"] if n["kind"] == "CHANGE"][-1]["recompute"]
    keys = sorted(last.get("phases", {}), key=lambda k: -last["phases"][k])
    out.append("\nstatements of the last change night, seconds (count): " + ", ".join(
        f"{k} {last['phases'][k]:.2f} ({last['statements'][k]})" for k in keys
        if last["phases"][k] >= 0.005))
    quiet_last = [n for n in result["nights"] if n["kind"] == "steady"][-1]["recompute"]
    keys = sorted(quiet_last.get("phases", {}), key=lambda k: -quiet_last["phases"][k])
    out.append("statements of the last steady night, seconds (count): " + ", ".join(
        f"{k} {quiet_last['phases'][k]:.2f} ({quiet_last['statements'][k]})" for k in keys
        if quiet_last["phases"][k] >= 0.005))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        kind, url, day = argv[1], argv[2], date.fromisoformat(argv[3])
        if kind != "schedule":
            raise SystemExit(f"unknown child {kind}")
        common.child_output(child_schedule(url, day))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", default=[],
                        help="benchmark an existing, freshly built city (repeatable)")
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--on", default="sqlite,postgresql",
                        help="where to build the city: sqlite, postgresql or both")
    parser.add_argument("--keep", action="store_true", help="keep the built cities")
    parser.add_argument("--json", dest="json_out", default=None, help="also write results here")
    args = parser.parse_args(argv)
    results = []
    for url, build in common.cities(args.url, on=args.on, subjects=args.subjects,
                                    records=args.records, name="change", keep=args.keep):
        result = bench(url)
        name = "PostgreSQL" if common.is_pg(url) else "SQLite"
        print(report(f"full recompute, nights with and without a rulebook change, {name}",
                     result, build))
        results.append({"build": build, **result})
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    main()
