"""Two scheduler processes against one database, the leader killed: exactly one acts at a
time, the standby takes over within a minute, no job runs twice for one due time, and a
real SMTP server on loopback receives every notice exactly once."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from email import message_from_bytes
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app import clock
from app.db import session_scope
from app.models import NoticeOutbox, Run, SchedulerJobRun
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from app.services.scheduling.lease import lease_holder
from app.services.subjects.consent import set_contact_email
from tests.conftest import TEST_RULES
from tests.services.test_notices import Collect, _free_port

pytestmark = pytest.mark.slow
LEASE_SECONDS = 4


def _notify(session, rulebook, make_subject, n: int) -> None:
    """Make `n` subjects with an email address and one record each (one notice each)."""
    today = clock.today()
    for _ in range(n):
        subject = make_subject(session)
        set_contact_email(session, subject_id=subject.subject_id,
                          email=f"s{subject.subject_id[-6:]}@example.org", actor="test")
        record_conduct(session, RecordDraft(
            subject_id=subject.subject_id, rule_code="DRUNK-DRIVING",
            occurred_on=today - timedelta(days=2), evidence="file TP-7"),
            rulebook=rulebook, department="traffic-police", recorded_by="officer", today=today)


def _count(session, query) -> int:
    session.rollback()  # a fresh snapshot: see what the schedulers committed
    return session.execute(query).scalar_one()


def _pending(session) -> int:
    return _count(session, select(func.count()).select_from(NoticeOutbox)
                  .where(NoticeOutbox.state != "sent"))


def _holder(session) -> str | None:
    session.rollback()
    return lease_holder(session)


def _wait(what, condition, procs, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"a scheduler exited while waiting for {what}: "
                                     f"{proc.stdout.read().decode()[-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _start(env, log_path):
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler"],
                            env=env, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)


def _away_from_a_minute_boundary() -> None:
    """Return at a moment when no job is due (jobs fire on whole minutes)."""
    while not 5 <= datetime.now().second <= 50:
        time.sleep(0.5)


def test_two_schedulers_one_killed_run_each_job_once_and_mail_each_notice_once(
        app, session, rulebook, make_subject, database_url, tmp_path):
    server = Collect()
    smtp = Controller(server, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    _notify(session, rulebook, make_subject, 3)
    # The nightly run is due at the next whole minute (in the city's zone), with time to
    # start both processes first.
    zone = ZoneInfo(app.config["TIMEZONE"])
    _away_from_a_minute_boundary()
    due = (datetime.now(zone) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    env = {**os.environ, "FLASK_DATABASE_URL": database_url,
           "FLASK_SECRET_KEY": secrets.token_hex(32), "FLASK_RULES_DIR": str(TEST_RULES),
           "FLASK_MAIL_SERVER": "127.0.0.1", "FLASK_MAIL_PORT": str(smtp.port),
           "FLASK_NOTICES_DELIVER_EVERY": "1", "FLASK_RECOMPUTE_AT": due.strftime("%H:%M"),
           "FLASK_SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS)}
    first = _start(env, tmp_path / "first.log")
    procs = [first]
    try:
        _wait("the first scheduler to lead", lambda: (_holder(session) or "").split(":")[1:2]
              == [str(first.pid)], procs, 60)
        second = _start(env, tmp_path / "second.log")
        procs.append(second)
        # Both run through the due minute: one recompute, every notice mailed once.
        _wait("the nightly run and the first deliveries",
              lambda: _count(session, select(func.count()).select_from(Run)) >= 1
              and _pending(session) == 0, procs, 150)
        assert str(first.pid) in _holder(session).split(":")
        _away_from_a_minute_boundary()
        first.send_signal(signal.SIGKILL)  # the leader dies without a word
        first.wait(10)
        procs.remove(first)
        killed_at = time.monotonic()
        session.rollback()
        with session_scope(app, write=True) as writer:  # waits for the standby's writes
            _notify(writer, rulebook, make_subject, 2)
        _wait("the standby to take over", lambda: str(second.pid) in (
            _holder(session) or "").split(":"), procs, 60)
        assert time.monotonic() - killed_at < 60
        _wait("the standby's deliveries", lambda: _pending(session) == 0, procs, 150)
        time.sleep(2)  # a second (wrong) delivery would show itself now
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        smtp.stop()
    logs = "\n".join((tmp_path / f"{name}.log").read_text(errors="replace")
                     for name in ("first", "second"))
    sent = _count(session, select(func.count()).select_from(NoticeOutbox)
                  .where(NoticeOutbox.state == "sent"))
    ids = [message_from_bytes(m.content)["Message-ID"] for m in server.messages]
    assert len(ids) == len(set(ids)) == sent >= 5, logs[-4000:]
    runs = _count(session, select(func.count()).select_from(Run))
    assert runs == 1, logs[-4000:]
    session.rollback()
    claims = session.execute(select(SchedulerJobRun)).scalars().all()
    holders = {c.holder.split(":")[1] for c in claims if c.job_id == "deliver-notices"}
    assert str(second.pid) in holders and str(first.pid) in holders
    assert [c.job_id for c in claims].count("nightly-recompute") == 1
