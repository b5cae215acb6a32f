"""How cost grows with the city: the nightly run, the incremental run, the import and the
resident's page on cities of several sizes, with the growth exponent fitted from them.

    python -m tests.benchmarks.bench_growth --on sqlite                       # 250k..2M
    python -m tests.benchmarks.bench_growth --on postgresql --scales 250000,500000,1000000
    python -m tests.benchmarks.bench_growth --on sqlite --scales 5000,10000,20000 --no-http

Each city has --records-per-subject records per subject (10). On each, in this order and
each in a child process of its own (the same children as the single-figure benchmarks):
the full recompute of a steady night against its floor (bench_recompute), the incremental
run after 10,000 new records (bench_recompute), the import of --import-rows CSV rows into a
copy of the city against a bare executemany of the same rows (bench_import), and the
resident's page /me p95 under wrk at --connections connections on gunicorn (bench_http;
needs `wrk`, skip with --no-http). Cities are dropped after their figures unless --keep.

The exponent k of each measure is the slope of log(seconds) on log(subjects), fitted by
least squares over the scales (cost ~ subjects^k: k = 1 is linear; an import or page figure
that does not grow has k near 0). The projection to --project subjects (10,000,000: a
province) extends each fitted line and is labelled as such: it is arithmetic, not a run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from tests.benchmarks import bench_http, bench_import, bench_recompute, common

DEFAULT_SCALES = (250_000, 500_000, 1_000_000, 2_000_000)
MEASURES = ("recompute s", "floor s", "incremental s", "import rows/s", "page p95 ms")


def fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares line through (log x, log y): return (k, c) with y ~ exp(c) * x**k."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    k = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return k, my - k * mx


def project(model: tuple[float, float] | None, x: float) -> float | None:
    return None if model is None else math.exp(model[1]) * x ** model[0]


def measure_city(url: str, *, import_rows: int, http: bool, connections: int,
                 duration: int, workers: int, new_records: int) -> dict:
    """The figures of one built city (its standings are left as the runs made them)."""
    figures: dict = {}
    night = bench_recompute.bench(url, 1, [""], new_records)
    run = night["runs"][-1]
    floor = run["floor"][""]["seconds"]
    figures["floor s"] = floor["aggregate"] + floor["bulk write"]
    figures["recompute s"] = run["recompute"][""]["seconds"]
    figures["recompute peak MB"] = run["recompute"][""]["peak_mb"]
    if night.get("incremental"):
        figures["incremental s"] = night["incremental"]["seconds"]
        figures["incremental recomputed"] = night["incremental"]["recomputed"]
    if import_rows:
        imported = bench_import.bench(url, import_rows, False, [""])
        service = imported["service"][""]
        figures["import rows/s"] = import_rows / service["seconds_total"]
        figures["import peak MB"] = service["peak_mb"]
        base = sum(imported["baseline"]["seconds"].values())
        figures["import baseline rows/s"] = import_rows / base
    if http:
        served = bench_http.bench(url, duration=duration, connections=[connections],
                                  workers=workers, patch_sets=[""], post=False)
        page = next(v for k, v in served["results"].items() if k.startswith("page:"))
        figures["page p95 ms"] = page["p95"]
        figures["page req/s"] = page["rps"]
    figures["load after"] = common.load()
    return figures


def report(title: str, scales: list[int], by_scale: dict[int, dict], target: int) -> str:
    out = [common.header(title, common.machine())]
    columns = ["recompute s", "floor s", "incremental s", "import rows/s",
               "import baseline rows/s", "page p95 ms", "recompute peak MB", "load after"]
    present = [c for c in columns if any(c in by_scale[s] for s in scales)]
    out.append(common.table(["subjects", "records", *present], [
        [s, s * 10, *(by_scale[s].get(c) for c in present)] for s in scales]))
    rows = []
    for name in MEASURES:
        points = [(s, by_scale[s][name]) for s in scales if by_scale[s].get(name)]
        model = fit(points)
        if model is None:
            continue
        rows.append([name, model[0], project(model, target)])
    out.append(f"\ngrowth exponent k (cost ~ subjects^k, least squares over the scales) and "
               f"the fitted line extended to {target:,} subjects (arithmetic, not a run):\n")
    out.append(common.table(["measure", "k", f"at {target:,} (projected)"], rows))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=",".join(str(s) for s in DEFAULT_SCALES),
                        help="subjects per city, comma-separated")
    parser.add_argument("--records-per-subject", type=int, default=10)
    parser.add_argument("--on", default="sqlite", help="sqlite or postgresql")
    parser.add_argument("--import-rows", type=int, default=100_000,
                        help="CSV rows imported on each city (0: no import)")
    parser.add_argument("--new-records", type=int, default=10_000,
                        help="records added before the incremental run")
    parser.add_argument("--no-http", dest="http", action="store_false")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per city")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--project", type=int, default=10_000_000,
                        help="extend the fitted lines to this many subjects")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    scales = sorted(int(s) for s in args.scales.split(","))
    by_scale: dict[int, dict] = {}
    for subjects in scales:
        records = subjects * args.records_per_subject
        url = common.city_url("growth", on=args.on, subjects=subjects, records=records)
        print(f"building {url} ...", file=sys.stderr)
        build = common.build(url, subjects=subjects, records=records)
        try:
            by_scale[subjects] = {"build s": build["seconds"], **measure_city(
                url, import_rows=args.import_rows, http=args.http,
                connections=args.connections, duration=args.duration, workers=args.workers,
                new_records=args.new_records)}
        finally:
            if not args.keep:
                common.drop_city(url)
        print(json.dumps({subjects: by_scale[subjects]}, default=str), file=sys.stderr)
    name = "PostgreSQL" if args.on == "postgresql" else "SQLite"
    print(report(f"how cost grows, {name}", scales, by_scale, args.project))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"on": args.on, "scales": by_scale, "machine": common.machine()}, f,
                      indent=1, default=str)


if __name__ == "__main__":
    main()
