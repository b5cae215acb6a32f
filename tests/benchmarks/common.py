"""What the benchmarks share: the machine's facts, scratch cities, child processes, tables.

Each measured step runs in a child process of its own, so its peak memory (ru_maxrss) is
its own and not the benchmark driver's or the city generator's.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
WORKDIR = Path(os.environ.get("CITYPOINTS_BENCH_DIR", "/tmp/citypoints-bench"))
PG_SERVER = os.environ.get("CITYPOINTS_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
# Put before the name of every PostgreSQL database a benchmark creates (its cities and their
# copies), so that people benchmarking on one server at once do not drop each other's.
PG_PREFIX = os.environ.get("CITYPOINTS_BENCH_PG_PREFIX", "")
CITY_TODAY = date(2026, 11, 20)  # the benchmark city's "today": figures do not drift by date
SECRET = "benchmark-only-secret-key-not-for-production-0123456789"


# ------------------------------------------------------------------------------ machine facts
def machine() -> dict:
    """Return the facts a results table needs: CPU, cores, memory, load, versions, date."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1]) // 1024
    except (OSError, TypeError):
        pass
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu,
            "cores": os.cpu_count(), "memory_mb": mem, "load": load(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}


def load() -> str:
    """Return the 1/5/15-minute load averages (other work on the machine skews figures)."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def usage() -> dict:
    """Return this process's peak resident memory (MB) and CPU seconds so far.

    The peak is /proc/self/status VmHWM where there is one: ru_maxrss survives exec on
    Linux, so a child forked from a big driver would report the driver's peak.
    """
    ru = resource.getrusage(resource.RUSAGE_SELF)
    peak = ru.ru_maxrss / 1024
    try:
        peak = int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1]) / 1024
    except (OSError, TypeError):
        pass
    return {"peak_mb": round(peak, 1), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2)}


def pg_backend_peak_mb(conn) -> float | None:
    """Return the PostgreSQL server process's peak RSS (VmHWM, MB) for `conn`, if readable."""
    try:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        status = Path(f"/proc/{pid}/status").read_text()
        return round(int(re.search(r"VmHWM:\s+(\d+)", status)[1]) / 1024, 1)
    except Exception:  # another host, or /proc not readable
        return None


# ------------------------------------------------------------------------------- databases
def is_pg(url: str) -> bool:
    return url.startswith("postgresql")


def pg_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def _pg_admin():
    return create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT")


def create_pg_database(name: str, template: str | None = None) -> str:
    """(Re)create database `name` on the benchmark server; return its URL."""
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"'
                                                         if template else "")))
    admin.dispose()
    return pg_url(name)


def drop_pg_database(name: str) -> None:
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def copy_city(url: str, name: str) -> str:
    """Copy a city (SQLite file or PostgreSQL template) for a run that changes it."""
    if is_pg(url):
        return create_pg_database(PG_PREFIX + name, template=url.rsplit("/", 1)[1])
    source = sqlite_path(url)
    target = source.with_name(name + ".sqlite3")
    remove_sqlite(target)
    checkpoint(url)
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


def drop_city(url: str) -> None:
    if is_pg(url):
        drop_pg_database(url.rsplit("/", 1)[1])
    else:
        remove_sqlite(sqlite_path(url))


def checkpoint(url: str) -> None:
    """Fold SQLite's WAL into the database file (so a copy of the file is the whole city)."""
    if not is_pg(url):
        con = sqlite3.connect(sqlite_path(url))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()


def city_url(name: str, *, on: str, subjects: int, records: int) -> str:
    """Return where a benchmark keeps its generated city of that size on `on` (sqlite or
    postgresql); `name` keeps one benchmark's city apart from another's ("" for none)."""
    tag = f"{subjects // 1000}k_{records // 1000}k"
    prefix = f"{name}_" if name else ""
    if on == "postgresql":
        return pg_url(f"{PG_PREFIX}citypoints_bench_{prefix}{tag}")
    return f"sqlite:///{WORKDIR / f'{prefix}city_{tag}.sqlite3'}"


def build(url: str, *, subjects: int, records: int, seed: int = 2026,
          today: date = CITY_TODAY) -> dict:
    """Build a city at `url` (a fresh SQLite file or PostgreSQL database); return its summary."""
    from app.migrations import upgrade
    from tests.benchmarks.city import build_city

    if is_pg(url):
        create_pg_database(url.rsplit("/", 1)[1])
    else:
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        remove_sqlite(sqlite_path(url))
    engine = create_engine(url)
    upgrade(engine)
    summary = build_city(engine, subjects=subjects, records=records, seed=seed, today=today)
    engine.dispose()
    return summary


def cities(urls: list[str], *, on: str, subjects: int, records: int, name: str = "",
           keep: bool = False) -> Iterator[tuple[str, dict | None]]:
    """Yield (url, build summary) for each city a benchmark runs on: the given `urls` as they
    are (summary None), else one built for each database named in `on` ("sqlite",
    "postgresql" or both, comma-separated), dropped after the benchmark's turn unless `keep`."""
    if urls:
        for url in urls:
            yield url, None
        return
    for database in on.split(","):
        url = city_url(name, on=database, subjects=subjects, records=records)
        print(f"building {url} ...", file=sys.stderr)
        built = build(url, subjects=subjects, records=records)
        print(json.dumps(built), file=sys.stderr)
        try:
            yield url, built
        finally:
            if not keep:
                drop_city(url)


def city_today(url: str) -> date:
    """The city's today: the day after its last record."""
    engine = create_engine(url)
    with engine.connect() as conn:
        last = conn.execute(text("SELECT MAX(occurred_on) FROM record")).scalar()
    engine.dispose()
    last = date.fromisoformat(last) if isinstance(last, str) else last
    return last + timedelta(days=1)


def app_env(url: str) -> dict:
    """The environment for `flask --app app ...` and gunicorn on the city at `url`."""
    return {**os.environ, "FLASK_DATABASE_URL": url, "FLASK_RULES_DIR": str(RULES),
            "FLASK_SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT)}


def make_app(url: str):
    from app import create_app

    return create_app({"DATABASE_URL": url, "RULES_DIR": str(RULES), "SECRET_KEY": SECRET})


# -------------------------------------------------------------------------- child processes
def run_child(module: str, *args: str, patches: str = "", timeout: float = 7200) -> dict:
    """Run `python -m module --child args...` with `patches` (see tests.benchmarks.patches)
    applied; return the JSON object it prints last."""
    from tests.benchmarks.patches import ENV

    proc = subprocess.run([sys.executable, "-m", module, "--child", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), ENV: patches})
    if proc.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_output(result: dict) -> None:
    """Print a child's result (with its peak memory and CPU time) as its last line."""
    print(json.dumps({**result, **usage(), "load_after": load()}, default=str))


class Clock:
    """Time named steps: `with clock("name"): ...`; `clock.seconds` maps name -> seconds."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        clock = self

        class _Step:
            def __enter__(self):
                self.started = time.perf_counter()

            def __exit__(self, *exc):
                clock.seconds[name] = clock.seconds.get(name, 0.0) + time.perf_counter() - \
                    self.started

        return _Step()


# ----------------------------------------------------------------------------------- output
def table(headers: list[str], rows: list[list]) -> str:
    """Format rows as a Markdown table (numbers right-aligned)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in rows) if rows else False
               for i in range(len(headers))]

    def line(values):
        return "| " + " | ".join(v.rjust(w) if n else v.ljust(w)
                                 for v, w, n in zip(values, widths, numeric, strict=True)) + " |"

    rule = "| " + " | ".join(("-" * (w - 1) + ":") if n else "-" * w
                             for w, n in zip(widths, numeric, strict=True)) + " |"
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) or value is None


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def header(title: str, facts: dict) -> str:
    return (f"## {title}\n\n" + ", ".join(f"{k}: {v}" for k, v in facts.items()) + "\n")
