"""Production serving: gunicorn with several workers plus the scheduler process, on loopback."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db import get_engine
from app.services.accounts.users import create_account
from tests.conftest import STRONG_KEY, TEST_RULES

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def test_gunicorn_workers_and_the_scheduler_serve_together(app, session, database_url,
                                                           make_subject):
    subject = make_subject(session)
    create_account(session, username="ana", password="correct horse battery", role="resident",
                   subject_id=subject.subject_id)
    port = _free_port()
    env = {**os.environ, "FLASK_DATABASE_URL": database_url, "FLASK_SECRET_KEY": STRONG_KEY,
           "FLASK_RULES_DIR": str(TEST_RULES), "FLASK_SECURE_COOKIES": "false"}
    web = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--bind",
                            f"127.0.0.1:{port}", "app:create_app()"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    scheduler = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(port, web)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        assert opener.open(base + "/").status == 200
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": "ana", "password": "correct horse battery",
                                       "csrf_token": token}).encode()
        try:
            after = opener.open(base + "/login", data=form)
        except urllib.error.HTTPError as error:
            web.terminate()
            raise AssertionError(web.communicate()[0].decode()[-4000:]) from error
        assert after.geturl().endswith("/me")
        for _ in range(6):  # several requests: both workers answer with the same session
            body = opener.open(base + "/me").read().decode()
            assert subject.subject_id in body
        deadline = time.monotonic() + 20
        with get_engine(app).connect() as conn:
            while conn.execute(text("SELECT COUNT(*) FROM apscheduler_jobs")).scalar() < 2:
                assert scheduler.poll() is None, scheduler.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.2)
                conn.rollback()
    finally:
        for proc in (web, scheduler):
            proc.send_signal(signal.SIGTERM)
        for proc in (web, scheduler):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
    assert web.returncode == 0, web.stdout.read().decode()[-2000:]
    assert scheduler.returncode == 0, scheduler.stdout.read().decode()[-2000:]
