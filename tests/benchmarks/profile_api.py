"""Where one measure check and one recording spend their time: cProfile over the Flask test
client, with the statements each call sends and the CPU time it takes.

    python -m tests.benchmarks.profile_api --url sqlite:////tmp/city.sqlite3 --calls 300

It works on a copy of the city (both calls write: the check is audited, the recording
stores a record). Printed per call: CPU ms (process time), wall ms, SQL statements (by
kind), Python function calls (a count the load does not change), then the functions with
the most cumulative time, for each of the two calls.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from collections import Counter

from sqlalchemy import event

from app import clock
from tests.benchmarks import common
from tests.benchmarks.bench_http import (
    MEASURE,
    RECORD_DEPARTMENT,
    TOKEN_DEPARTMENT,
    choose_subjects,
)


def _token(app, department: str) -> str:
    from app.db import session_scope
    from app.services.accounts.tokens import create_token
    from app.web import rulebook

    with app.test_request_context(), session_scope(app) as session:
        return create_token(session, rulebook=rulebook(), department=department,
                            name=f"profile {department}", actor="bench").secret


def profile(url: str, *, calls: int, top: int) -> str:
    from app.db import get_engine
    from app.identifiers import PERSON, validate_subject_id

    _, subjects = choose_subjects(url)
    persons = [sid for sid in subjects if validate_subject_id(sid)[1] == PERSON]
    app = common.make_app(url)
    today = common.city_today(url)
    day = min(today, clock.today()).isoformat()
    check_auth = {"Authorization": f"Bearer {_token(app, TOKEN_DEPARTMENT)}"}
    record_auth = {"Authorization": f"Bearer {_token(app, RECORD_DEPARTMENT)}"}
    statements: Counter = Counter()

    @event.listens_for(get_engine(app), "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        words = statement.lstrip().split(None, 3)
        head = " ".join(words[:3] if words[:1] == ["UPDATE"] else words[:1]).upper()
        statements[head] += 1

    client = app.test_client()
    run = f"{time.time_ns():x}"

    def check(i: int):
        sid = subjects[i % len(subjects)]
        response = client.get(f"/api/v1/measures/{MEASURE}/check?subject_id={sid}"
                              f"&as_of={today.isoformat()}", headers=check_auth)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    def record(i: int):
        body = {"subject_id": persons[i % len(persons)], "rule_code": "TRAFFIC-TICKET",
                "occurred_on": day, "evidence": "profile", "external_ref": f"prof-{run}-{i}"}
        response = client.post("/api/v1/records", data=json.dumps(body),
                               headers={**record_auth, "Content-Type": "application/json"})
        assert response.status_code == 201, response.get_data(as_text=True)[:300]

    out = [common.header("One call profiled (Flask test client, one process)",
                         common.machine()), f"city: {url}\n"]
    for name, call in (("check: GET /api/v1/measures/TENDER-BAN/check", check),
                       ("record: POST /api/v1/records", record)):
        for i in range(20):  # warm-up: imports, caches, the rulebook
            call(10_000 + i)
        statements.clear()
        profiler = cProfile.Profile(time.process_time)  # CPU: the machine is shared
        cpu, wall = time.process_time(), time.perf_counter()
        profiler.enable()
        for i in range(calls):
            call(i)
        profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        per = {k: round(v / calls, 2) for k, v in sorted(statements.items())
               if not k.startswith("PRAGMA")}
        # The same calls again without the profiler: its overhead inflates the first figure.
        cpu2, wall2 = time.process_time(), time.perf_counter()
        for i in range(calls):
            call(calls + i)
        cpu2, wall2 = time.process_time() - cpu2, time.perf_counter() - wall2
        out.append(f"### {name}\n\n{calls} calls: CPU {1000 * cpu2 / calls:.2f} ms/call, wall "
                   f"{1000 * wall2 / calls:.2f} ms/call unprofiled (profiled: CPU "
                   f"{1000 * cpu / calls:.2f}, wall {1000 * wall / calls:.2f}); "
                   f"statements per call: {sum(per.values()):.1f} "
                   f"{json.dumps(per)}\n")
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        # Python function calls per call: a count, which the machine's load does not change
        # (the CPU times above move by a third between runs on a shared machine).
        out.append(f"Python function calls per call: {stats.total_calls / calls:,.0f}\n")
        stats.sort_stats("cumulative").print_stats(top)
        out.append("```\n" + "\n".join(text.getvalue().splitlines()[6:]) + "\n```\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a city (a copy is used)")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args(argv)
    work = common.copy_city(args.url, "profile_city")
    try:
        print(profile(work, calls=args.calls, top=args.top))
    finally:
        common.drop_city(work)


if __name__ == "__main__":
    main()
