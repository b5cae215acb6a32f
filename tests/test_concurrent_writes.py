"""No lost writes: several processes record hundreds of records each through gunicorn,
racing on shared idempotency keys; every accepted record is stored exactly once and
every refused one got an error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from app import clock
from app.db import get_engine
from app.services.accounts.tokens import create_token
from tests.conftest import STRONG_KEY, TEST_RULES
from tests.test_production import _free_port, _wait_for

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
CLIENTS, PER_CLIENT, SHARED = 4, 150, 30


def _post(base: str, token: str, body: dict) -> int:
    request = urllib.request.Request(
        base + "/api/v1/records", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _client(args) -> list[tuple[str, int]]:
    base, token, subjects, n = args
    out = []
    today = clock.today()
    for i in range(PER_CLIENT):
        if i % 5 == 0:  # a shared key: every client sends the same record
            k = (i // 5) % SHARED
            ref, subject, day = f"race-{k}", subjects[k % len(subjects)], today - timedelta(days=k)
        else:
            ref, subject, day = f"c{n}-{i}", subjects[(n + i) % len(subjects)], today
        body = {"subject_id": subject, "rule_code": "TRAFFIC-TICKET",
                "occurred_on": day.isoformat(), "evidence": "", "external_ref": ref}
        if i % 17 == 0:  # a bad one: a date in the future
            body["occurred_on"] = (today + timedelta(days=3)).isoformat()
            ref = f"bad-{n}-{i}"
            body["external_ref"] = ref
        out.append((ref, _post(base, token, body)))
    return out


def test_concurrent_recordings_are_stored_exactly_once(app, session, database_url, make_subject,
                                                       rulebook):
    subjects = [make_subject(session).subject_id for _ in range(12)]
    token = create_token(session, rulebook=rulebook, department="traffic-police",
                         expires_in="never", actor="test").secret
    session.close()
    port = _free_port()
    env = {**os.environ, "FLASK_DATABASE_URL": database_url, "FLASK_SECRET_KEY": STRONG_KEY,
           "FLASK_RULES_DIR": str(TEST_RULES)}
    web = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "3", "--threads", "2", "--bind",
                            f"127.0.0.1:{port}", "app:create_app()"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(port, web)
        base = f"http://127.0.0.1:{port}"
        with ProcessPoolExecutor(CLIENTS) as pool:
            results = [r for chunk in pool.map(
                _client, [(base, token, subjects, n) for n in range(CLIENTS)]) for r in chunk]
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=20)
    statuses = [status for _, status in results]
    log = web.stdout.read().decode()
    assert not [s for s in statuses if s >= 500], log[:6000]
    accepted = {ref for ref, status in results if status in (200, 201)}
    refused = [(ref, status) for ref, status in results if status not in (200, 201)]
    assert all(ref.startswith("bad-") and status == 422 for ref, status in refused), refused
    created = sum(1 for _, status in results if status == 201)
    with get_engine(app).connect() as conn:
        rows = conn.execute(text("SELECT external_ref, COUNT(*) FROM record "
                                 "GROUP BY external_ref")).all()
    stored = dict(rows)
    assert set(stored) == accepted  # every accepted record is there, nothing else
    assert all(count == 1 for count in stored.values())  # exactly once, races included
    assert created == len(accepted)  # each key was created by exactly one request
    shared = [ref for ref in accepted if ref.startswith("race-")]
    assert set(shared) == {f"race-{(i // 5) % SHARED}" for i in range(PER_CLIENT)
                           if i % 5 == 0 and i % 17 != 0}
    print(f"\n{database_url.split(':')[0]}: {len(results)} attempted, {len(stored)} stored, "
          f"{len(refused)} refused, {len(results) - created - len(refused)} idempotent replays")
