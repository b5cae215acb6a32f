"""The resident standing page and the measure-check API under wrk, against a static file.

    python -m tests.benchmarks.bench_http --subjects 100000 --records 1000000
    python -m tests.benchmarks.bench_http --url sqlite:////tmp/city.sqlite3 --duration 15

The app runs under gunicorn (2 sync workers) on 127.0.0.1 over a copy of the city (the
check API audits every look, so it writes). wrk (Debian package `wrk`) drives, for a
bounded time each:
- baseline: GET /static/css/app.css, a file the app serves without a database;
- page: GET /me for logged-in residents (a rotating set of sessions, so many subjects);
- check: GET /api/v1/measures/TENDER-BAN/check?subject_id=... (a rotating set of
  subjects; bearer token from `flask --app app tokens create --department finance-bureau`).
Each at a few concurrencies; figures are requests/s and p50/p95/p99 latency from wrk's own
histogram, and the CPU time gunicorn's workers spent per request (on a shared machine the
latencies follow the load; the CPU per request much less). Goal: p95 < 50 ms for the page,
< 20 ms for the check and < 50 ms for a recording, at 8 connections.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from sqlalchemy import create_engine, text

from app import clock
from tests.benchmarks import common

MEASURE = "TENDER-BAN"
TOKEN_DEPARTMENT = "finance-bureau"
RECORD_DEPARTMENT = "traffic-police"
RESIDENTS = 24
CHECK_SUBJECTS = 2000
PASSWORD = "bench-Passw0rd-long-enough"
DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50": %d, "p90": %d, "p95": %d, "p99": %d, '
    .. '"max": %d, "status_errors": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_list(name: str, values: list[str]) -> str:
    return f"local {name} = {{" + ", ".join(json.dumps(v) for v in values) + "}\n"


def rotating_script(*, paths: list[str], cookies: list[str] | None = None,
                    headers: dict | None = None) -> str:
    """A wrk script whose requests rotate over `paths` and `cookies` (one session each)."""
    fixed = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items())
    lua = "local n = 0\n" + _lua_list("paths", paths)
    if cookies:
        lua += _lua_list("cookies", cookies)
    lua += ("request = function()\n  n = n + 1\n  local h = {" + fixed + "}\n" +
            ("  h['Cookie'] = cookies[(n % #cookies) + 1]\n" if cookies else "") +
            "  return wrk.format('GET', paths[(n % #paths) + 1], h)\nend\n")
    return lua + DONE_LUA


def posting_script(*, path: str, subjects: list[str], day: str, headers: dict) -> str:
    """A wrk script that records one traffic ticket per request, each with a new
    external_ref (this run, thread number and counter), for a rotating set of persons."""
    run = f"{time.time_ns():x}"  # a city measured in place again gets new references
    fixed = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    return ("local threads = 0\nsetup = function(thread)\n  threads = threads + 1\n"
            "  thread:set('tid', threads)\nend\nlocal n = 0\n" + _lua_list("ids", subjects)
            + "request = function()\n  n = n + 1\n  local h = {" + fixed + "}\n"
            "  local body = string.format('{\"subject_id\": \"%s\", \"rule_code\": "
            "\"TRAFFIC-TICKET\", \"occurred_on\": \"" + day + "\", \"evidence\": "
            "\"bench\", \"external_ref\": \"bench-http-" + run + "-%s-%d\"}', "
            "ids[(n % #ids) + 1], "
            "tostring(tid), n)\n"
            f"  return wrk.format('POST', {json.dumps(path)}, h, body)\nend\n" + DONE_LUA)


# ------------------------------------------------------------------------------ preparation
def choose_subjects(url: str, seed: int = 11) -> tuple[list[str], list[str]]:
    """Return (persons to log in as, subjects to check): some with many records."""
    engine = create_engine(url)
    with engine.connect() as conn:
        persons = conn.execute(text("SELECT subject_id FROM subject WHERE kind = 'person' "
                                    "ORDER BY subject_id")).scalars().all()
        everyone = conn.execute(text("SELECT subject_id FROM subject ORDER BY subject_id")
                                ).scalars().all()
    engine.dispose()
    rng = random.Random(seed)
    residents = rng.sample(persons, RESIDENTS)
    # Every tenth subject of the city draws about four times the records (see city.py).
    residents[: RESIDENTS // 4] = [everyone[i * 10] for i in
                                   rng.sample(range(len(persons) // 10), RESIDENTS // 4)]
    return residents, rng.sample(everyone, min(CHECK_SUBJECTS, len(everyone)))


def create_accounts(url: str, residents: list[str]) -> list[str]:
    from app.db import session_scope
    from app.services.accounts.users import create_account

    app = common.make_app(url)
    names = []
    with app.app_context(), session_scope(app) as session:
        known = set(session.execute(text("SELECT username FROM account WHERE username "
                                         "LIKE 'bench-resident-%'")).scalars())
        for i, sid in enumerate(residents):
            name = f"bench-resident-{i}"
            if name not in known:  # a city benchmarked in place before keeps its accounts
                create_account(session, username=name, password=PASSWORD, role="resident",
                               subject_id=sid, display_name=name, actor="bench")
            names.append(name)
        session.commit()
    return names


def create_token(url: str, department: str = TOKEN_DEPARTMENT) -> str:
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "tokens", "create",
                           "--department", department, "--name", f"benchmark {department}"],
                          cwd=common.ROOT, env=common.app_env(url), capture_output=True,
                          text=True, check=True)
    return proc.stdout.strip().splitlines()[-1].strip()  # printed last, once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int, patches: str = "",
                   options: tuple[str, ...] = ()) -> subprocess.Popen:
    from tests.benchmarks.patches import ENV

    entry = "tests.benchmarks.patches:create_app()" if patches else "app:create_app()"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), *options,
                             "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                             "--access-logfile", "/dev/null", "--error-logfile", "-", entry],
                            cwd=common.ROOT, env={**common.app_env(url), ENV: patches},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            if get(port, "/static/css/app.css")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not answer within 60 s")


def get(port: int, path: str, headers: dict | None = None, body: str | None = None,
        method: str = "GET") -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, response.headers, data


def _session_cookie(headers) -> str | None:
    for value in headers.get_all("Set-Cookie") or []:
        match = re.match(r"\s*(session=[^;]+)", value)
        if match:
            return match[1]
    return None


def login(port: int, username: str) -> str:
    """Log in through the form (CSRF included); return the session cookie."""
    status, headers, page = get(port, "/login")
    cookie = _session_cookie(headers)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if not (status == 200 and cookie and token):
        raise RuntimeError(f"no login form: {status}")
    body = urllib.parse.urlencode({"csrf_token": token[1], "username": username,
                                   "password": PASSWORD})
    status, headers, _ = get(port, "/login", method="POST", body=body,
                             headers={"Cookie": cookie,
                                      "Content-Type": "application/x-www-form-urlencoded"})
    cookie = _session_cookie(headers) or cookie
    if status != 302:
        raise RuntimeError(f"login of {username} answered {status}")
    return cookie


def server_cpu(server: subprocess.Popen) -> float:
    """Return the CPU seconds (user + system) that gunicorn's workers have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    except OSError:
        return 0.0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def wrk(port: int, script: str, path: str, *, connections: int, duration: int,
        threads: int = 2) -> dict:
    script_path = common.WORKDIR / f"wrk_{abs(hash(script))}.lua"
    script_path.write_text(script)
    proc = subprocess.run(["wrk", f"-t{min(threads, connections)}", f"-c{connections}",
                           f"-d{duration}s", "--timeout", "10s", "--latency", "-s",
                           str(script_path), f"http://127.0.0.1:{port}{path}"],
                          capture_output=True, text=True, timeout=duration + 60)
    script_path.unlink()
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk said: {proc.stdout} {proc.stderr}")
    data = json.loads(line[len("WRKJSON "):])
    seconds = data["duration_us"] / 1e6
    return {"rps": data["requests"] / seconds, "requests": data["requests"],
            **{k: data[k] / 1000 for k in ("p50", "p90", "p95", "p99", "max")},
            "errors": data["status_errors"] + data["socket_errors"], "load_after": common.load()}


# ------------------------------------------------------------------------------ the driver
def bench(url: str, *, duration: int, connections: list[int], workers: int,
          patch_sets: list[str], options: tuple[str, ...] = (), post: bool = True,
          only: tuple[str, ...] = ()) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    today = common.city_today(url)
    common.WORKDIR.mkdir(parents=True, exist_ok=True)
    residents, checked = choose_subjects(url)
    names = create_accounts(url, residents)
    token = create_token(url)
    recorder = create_token(url, RECORD_DEPARTMENT) if post else None
    me = f"/me?as_of={today.isoformat()}"
    checks = [f"/api/v1/measures/{MEASURE}/check?subject_id={sid}&as_of={today.isoformat()}"
              for sid in checked]
    auth = {"Authorization": f"Bearer {token}"}
    results, page_bytes = {}, 0
    waits = {}
    for patches in patch_sets:
        for old in common.WORKDIR.glob("lock_wait_*.json"):
            old.unlink()
        port = free_port()
        server = start_gunicorn(url, port, workers, patches, options)
        try:
            cookies = [login(port, name) for name in names]
            # One request of each by hand: the pages must answer 200 before they are timed.
            status_page, _, body = get(port, me, {"Cookie": cookies[0]})
            status_check, _, check_body = get(port, checks[0], auth)
            if status_page != 200 or status_check != 200:
                raise RuntimeError(f"page {status_page}, check {status_check}: "
                                   f"{check_body[:500]}")
            page_bytes = len(body)
            targets = {
                "baseline: GET /static/css/app.css": ("/static/css/app.css", DONE_LUA),
                "page: GET /me (resident)": (me, rotating_script(paths=[me], cookies=cookies)),
                f"check: GET /api/v1/measures/{MEASURE}/check": (
                    checks[0], rotating_script(paths=checks, headers=auth)),
            }
            if recorder:
                from app.identifiers import PERSON, validate_subject_id

                persons = [sid for sid in checked if validate_subject_id(sid)[1] == PERSON][:500]
                # The city's today is the day after its last record: after a run in place,
                # a day after the app's own today, which it refuses as the future.
                day = min(today, clock.today()).isoformat()
                post_headers = {"Authorization": f"Bearer {recorder}",
                                "Content-Type": "application/json"}
                status_post, _, post_body = get(
                    port, "/api/v1/records", post_headers, method="POST", body=json.dumps({
                        "subject_id": persons[0], "rule_code": "TRAFFIC-TICKET",
                        "occurred_on": day, "evidence": "bench",
                        "external_ref": f"bench-http-first-{time.time_ns():x}"}))
                if status_post != 201:  # as for the page and the check: answer before timing
                    raise RuntimeError(f"record {status_post}: {post_body[:500]}")
                targets["record: POST /api/v1/records"] = ("/api/v1/records", posting_script(
                    path="/api/v1/records", subjects=persons, day=day,
                    headers=post_headers))
            for name, (path, script) in targets.items():
                if patches and name.startswith("baseline"):
                    continue  # the static file does not change with app patches
                if only and not name.startswith(("baseline", *only)):
                    continue
                wrk(port, script, path, connections=connections[0], duration=2)  # warm-up
                for c in connections:
                    label = f"{name}{f' + {patches}' if patches else ''}"
                    cpu = server_cpu(server)
                    found = wrk(port, script, path, connections=c, duration=duration)
                    # The workers' CPU per request: what a shared machine's load does not
                    # change much, unlike the latencies.
                    found["cpu_ms"] = 1000 * (server_cpu(server) - cpu) / max(1, found["requests"])
                    results[f"{label} | c={c}"] = found
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if "lock-wait" in patches:  # each worker's totals, written at its exit
            found = [json.loads(f.read_text()) for f in common.WORKDIR.glob("lock_wait_*.json")]
            waits[patches] = {k: (max if k.endswith("max_s") else sum)(w[k] for w in found)
                              for k in (found[0] if found else {})}
    return {"url": url, "today": today.isoformat(), "page_bytes": page_bytes,
            "options": list(options), "results": results, "lock_waits": waits}


def report(result: dict, build: dict | None, workers: int) -> str:
    db = "PostgreSQL" if common.is_pg(result["url"]) else "SQLite"
    server = " ".join(result.get("options", ())) or "sync workers"
    out = [common.header(f"HTTP under wrk: gunicorn, {workers} workers ({server}), {db}",
                         common.machine())]
    if build:
        out.append(f"city: {build['subjects']:,} subjects, {build['records']:,} records\n")
    rows = []
    base = {}
    for key, r in result["results"].items():
        name, conc = key.split(" | ")
        if name.startswith("baseline"):
            base[conc] = r
        b = base.get(conc)
        rows.append([name, conc, r["rps"], r["p50"], r["p95"], r["p99"], r["max"], r["errors"],
                     r.get("cpu_ms"),
                     (b["rps"] / r["rps"]) if b else None,
                     (r["p95"] / b["p95"]) if b and b["p95"] else None, r["load_after"]])
    out.append(common.table(["target", "conns", "req/s", "p50 ms", "p95 ms", "p99 ms",
                             "max ms", "errors", "server CPU ms/req", "baseline req/s / req/s",
                             "p95 / baseline p95", "load after"], rows))
    for patches, w in result.get("lock_waits", {}).items():
        if w.get("begin_write_calls"):
            out.append(f"\n{patches}, all targets and workers together: "
                       f"{w['begin_write_calls']:,} begin_write calls, mean "
                       f"{1000 * w['begin_write_s'] / w['begin_write_calls']:.2f} ms, max "
                       f"{1000 * w['begin_write_max_s']:.1f} ms; {w['commits']:,} commits, mean "
                       f"{1000 * w['commit_s'] / max(1, w['commits']):.2f} ms, max "
                       f"{1000 * w['commit_max_s']:.1f} ms")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="an existing city (a copy is used)")
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--on", default="sqlite", help="sqlite or postgresql (when building)")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run (<= 20)")
    parser.add_argument("--connections", default="2,8")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gunicorn", default="",
                        help="more gunicorn options, e.g. '--worker-class gthread --threads 4' "
                             "or '--config app/gunicorn_conf.py'")
    parser.add_argument("--no-post", dest="post", action="store_false",
                        help="leave out POST /api/v1/records (it adds records to the copy)")
    parser.add_argument("--only", default="",
                        help="measure only these targets besides the baseline, comma-separated "
                             "(page, check, record)")
    parser.add_argument("--in-place", action="store_true",
                        help="use the city itself, not a copy (accounts and audit rows stay)")
    parser.add_argument("--patch", action="append", default=[],
                        help="also measure the app with these patches (tests/benchmarks/"
                             "patches.py), comma-separated; repeatable")
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    duration = min(args.duration, 20)
    url, build = args.url, None
    if url is None:
        url = common.city_url("http", on=args.on, subjects=args.subjects,
                              records=args.records)
        print(f"building {url} ...", file=sys.stderr)
        build = common.build(url, subjects=args.subjects, records=args.records)
    work = url if (args.in_place or build) else common.copy_city(url, "http_city")
    try:
        result = bench(work, duration=duration,
                       connections=[int(c) for c in args.connections.split(",")],
                       workers=args.workers, patch_sets=["", *args.patch],
                       options=tuple(args.gunicorn.split()), post=args.post,
                       only=tuple(filter(None, args.only.split(","))))
    finally:
        if work != url or build:
            common.drop_city(work)
    print(report(result, build, args.workers))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"build": build, **result}, indent=1))


if __name__ == "__main__":
    main()
