"""One clock: "today" is the date in the city's time zone on every path, never the host's.

Each test stops the clock (time-machine) at 20:30 UTC on 1 March 2026, which is 04:30 on
2 March in Shanghai (the test app's `TIMEZONE` is the default, Asia/Shanghai): a path that
asks the host for the date answers 1 March and fails here.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from app import clock
from app import scheduler as sched
from app.db import session_scope
from app.models import AuditDigest, Run
from app.services.accounts.tokens import create_token
from app.services.accounts.users import create_account
from app.services.audit import chain as audit
from app.services.transaction import transaction
from tests.conftest import csrf_token

MOMENT = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
HOST_DAY, CITY_DAY = date(2026, 3, 1), date(2026, 3, 2)
PASSWORD = "correct horse battery"


@pytest.fixture
def travel():
    with time_machine.travel(MOMENT, tick=False):
        yield


def test_the_clock_answers_the_city_date_not_the_utc_date(app, travel):
    assert datetime.now(UTC).date() == HOST_DAY
    with app.app_context():
        assert clock.today() == CITY_DAY
        assert clock.day_of(datetime.now(UTC)) == CITY_DAY
    assert clock.today() == CITY_DAY  # outside an app: the default zone, the same city


def test_the_clock_follows_the_configured_zone(app, travel):
    app.config["TIMEZONE"] = "UTC"
    with app.app_context():
        assert clock.today() == HOST_DAY


def _audit_something(app) -> None:
    with app.app_context(), session_scope(app) as s, transaction(s):
        audit.append(s, actor="test", action="test.event")


def _token(app, rulebook) -> str:
    with app.app_context(), session_scope(app) as s:
        return create_token(s, rulebook=rulebook, department="traffic-police",
                            actor="test").secret


def test_api_takes_conduct_of_the_city_today_and_answers_for_it(app, client, rulebook,
                                                                make_subject, travel):
    with session_scope(app) as s:
        subject = make_subject(s).subject_id
    headers = {"Authorization": f"Bearer {_token(app, rulebook)}"}
    body = {"subject_id": subject, "rule_code": "TRAFFIC-TICKET",
            "occurred_on": CITY_DAY.isoformat(), "evidence": "ticket", "external_ref": "TP-1"}
    made = client.post("/api/v1/records", json=body, headers=headers)
    assert made.status_code == 201, made.get_json()  # not "in the future"
    tomorrow = dict(body, occurred_on="2026-03-03", external_ref="TP-2")
    assert client.post("/api/v1/records", json=tomorrow, headers=headers).status_code == 422
    standing = client.get(f"/api/v1/subjects/{subject}/standing", headers=headers)
    assert standing.status_code == 200
    assert standing.get_json()["as_of"] == CITY_DAY.isoformat()
    assert standing.get_json()["points"] == 995  # the ticket of the city's today counts


def test_web_record_form_and_exports_use_the_city_today(app, client, rulebook, travel):
    with app.app_context(), session_scope(app) as s:
        create_account(s, username="rec", password=PASSWORD, role="recorder",
                       department="traffic-police")
    page = client.get("/login")
    client.post("/login", data={"username": "rec", "password": PASSWORD,
                                "csrf_token": csrf_token(page.get_data(as_text=True))})
    form = client.get("/officials/record").get_data(as_text=True)
    assert f'value="{CITY_DAY.isoformat()}"' in form
    export = client.get("/officials?format=csv")
    assert export.status_code == 200
    assert f'-{CITY_DAY.isoformat()}.csv"' in export.headers["Content-Disposition"]


def test_commands_default_to_the_city_today(app, runner, make_subject, travel):
    with session_scope(app) as s:
        subject = make_subject(s).subject_id
    done = runner.invoke(args=["recompute"])
    assert done.exit_code == 0, done.output
    assert CITY_DAY.isoformat() in done.output
    shown = runner.invoke(args=["standing", subject, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["as_of"] == CITY_DAY.isoformat()
    notices = runner.invoke(args=["notices", "nightly"])
    assert notices.exit_code == 0, notices.output
    assert f"notices as of {CITY_DAY.isoformat()}" in notices.output
    _audit_something(app)
    published = runner.invoke(args=["audit", "publish"])
    assert published.exit_code == 0, published.output
    with session_scope(app) as s:
        assert s.execute(select(AuditDigest.day)).scalars().all() == [CITY_DAY]


def test_scheduler_jobs_run_for_the_city_today(app, make_subject, travel):
    with session_scope(app) as s:
        make_subject(s)
    _audit_something(app)
    sched.nightly_recompute(app)
    sched.publish_audit_digest(app)
    with session_scope(app) as s:
        assert s.execute(select(Run.as_of)).scalars().all() == [CITY_DAY]
        assert s.execute(select(AuditDigest.day)).scalars().all() == [CITY_DAY]


def test_nothing_but_the_clock_asks_the_host_for_the_date():
    import re
    from pathlib import Path

    root = Path(clock.__file__).parent
    asks = re.compile(r"\bdate\.today\(|datetime\.today\(|\btime\.localtime\(|"
                      r"datetime\.now\(\s*\)|\bdatetime\.utcnow\(")
    found = [f"{path.relative_to(root)}:{n}" for path in root.rglob("*.py")
             for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
             if asks.search(line)]
    assert found == []
