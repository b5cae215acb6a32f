"""The scheduler: declared jobs in the database job store; a missed night runs once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app import scheduler as sched
from app.models import Run


def _runs(session) -> int:
    session.rollback()  # end the read transaction: see what the scheduler committed
    return session.execute(select(func.count()).select_from(Run)).scalar()


def test_jobs_are_declared_with_stable_ids_and_safe_defaults(app):
    scheduler, declared = sched.build_scheduler(app)
    assert [job_id for job_id, _ in declared] == ["nightly-recompute", "audit-digest",
                                                  "deliver-notices"]
    scheduler.start(paused=True)
    try:
        sched.install_jobs(scheduler, declared)
        job = scheduler.get_job("nightly-recompute")
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == sched.MISFIRE_GRACE
        assert (job.next_run_time.hour, job.next_run_time.minute) == (2, 0)
    finally:
        scheduler.shutdown(wait=False)


def test_a_missed_night_is_caught_up_once_on_the_next_start(app, session, make_subject):
    make_subject(session)
    scheduler, declared = sched.build_scheduler(app)
    scheduler.start(paused=True)
    sched.install_jobs(scheduler, declared)
    # The process was down when the job was due, an hour ago and again thirty minutes ago.
    missed = datetime.now(UTC) - timedelta(hours=1)
    scheduler.modify_job("nightly-recompute", next_run_time=missed)
    # The process dies here (no orderly shutdown: APScheduler's own shutdown would process
    # due jobs once more on its way out). Its thread is left waiting, paused, for good.
    del scheduler
    assert _runs(session) == 0

    scheduler = sched.start(app)
    try:
        deadline = time.monotonic() + 20
        while _runs(session) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # give a second (wrong) catch-up run the time to show itself
        assert _runs(session) == 1
        next_run = scheduler.get_job("nightly-recompute").next_run_time
        assert next_run > datetime.now(UTC)
    finally:
        scheduler.shutdown(wait=True)


def test_changing_the_configured_time_reschedules(app):
    scheduler, declared = sched.build_scheduler(app)
    scheduler.start(paused=True)
    sched.install_jobs(scheduler, declared)
    scheduler.shutdown(wait=False)
    app.config["RECOMPUTE_AT"] = "03:30"
    scheduler, declared = sched.build_scheduler(app)
    scheduler.start(paused=True)
    try:
        sched.install_jobs(scheduler, declared)
        job = scheduler.get_job("nightly-recompute")
        assert (job.next_run_time.hour, job.next_run_time.minute) == (3, 30)
    finally:
        scheduler.shutdown(wait=False)
