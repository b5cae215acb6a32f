"""The scheduler process: a JOBS table, each job a thin wrapper around a service.

Started by `flask --app app scheduler`, never by create_app. Jobs are kept in the
database (APScheduler's SQLAlchemy job store), so a night missed while the process was
down is run once when it starts again (misfire handling with coalescing). The
recompute's own database lock keeps one run at a time across processes and hosts.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from dataclasses import dataclass

from flask import Flask

from app import clock
from app.db import get_engine, session_scope
from app.errors import Conflict
from app.services.rulebooks.registry import EXTENSION_KEY as RULEBOOKS

log = logging.getLogger(__name__)
JOBSTORE_TABLE = "apscheduler_jobs"
MISFIRE_GRACE = 20 * 3600  # a night missed by less than this is caught up at the next start
_apps: dict[str, Flask] = {}  # jobs are stored by reference; they find their app here


def nightly_recompute(app: Flask) -> None:
    """Reload the rulebook (keeping the last good one) and recompute every standing."""
    from app.services.standings.recompute import recompute

    with app.app_context():
        registry = app.extensions[RULEBOOKS]
        registry.reload(loaded_by="scheduler")
        with session_scope(app) as session:
            try:
                summary = recompute(session, rulebook=registry.in_force_today(),
                                    as_of=clock.today(), triggered_by="scheduler",
                                    incremental=True)
                log.info("nightly recompute: run %s (%s, %d recomputed), %d subjects, "
                         "%d tier changes, %d ms", summary.run_id, summary.scope,
                         summary.recomputed, summary.subjects, summary.tier_changes,
                         summary.duration_ms)
            except Conflict as error:
                log.warning("nightly recompute skipped: %s", error.message)
                return
            from app.services.due_process.notices import send_nightly_notices

            made = send_nightly_notices(session, rulebook=registry.in_force_today(),
                                        as_of=summary.as_of)
            log.info("nightly notices: %s", made.counts)


def deliver_notices(app: Flask) -> None:
    """Send the pending notices by email when a mail server is configured (with retry)."""
    from app.services.due_process.delivery import channel_from_config, deliver_pending

    channel = channel_from_config(app.config)
    if channel is None:
        return  # no mail server: the notices wait on the letters page
    with app.app_context(), session_scope(app, write=True) as session:
        result = deliver_pending(session, channel=channel,
                                 max_attempts=int(app.config.get("MAIL_MAX_ATTEMPTS", 10)),
                                 actor="scheduler")
        if result.attempted:
            log.info("notices delivered: %d sent, %d to retry, %d failed", result.sent,
                     result.retrying, result.failed)


def run_job(job_id: str) -> None:
    """Run the declared job `job_id` for the scheduler's app (the stored job's target)."""
    app = _apps["default"]
    for job in jobs(app):
        if job.id == job_id:
            job.func(app)
            return
    log.error("job %s is not declared any more; nothing run", job_id)


def publish_audit_digest(app: Flask) -> None:
    """Publish the day's head of the audit chain on the public transparency page."""
    from app.services.audit.chain import publish_digest

    with app.app_context(), session_scope(app, write=True) as session:
        digest = publish_digest(session, day=clock.today())
        if digest is not None:
            log.info("audit digest %s: event %d %s", digest.day, digest.head_id, digest.head_hash)


@dataclass(frozen=True)
class Job:
    id: str
    func: object
    hour: int | str  # cron fields: a number, or "*" and "*/N" (see CronTrigger)
    minute: int | str


def jobs(app: Flask) -> list[Job]:
    """Return the declared jobs, with times from the app's configuration."""
    hour, minute = (int(x) for x in app.config["RECOMPUTE_AT"].split(":"))
    return [Job("nightly-recompute", nightly_recompute, hour, minute),
            Job("audit-digest", publish_audit_digest, (hour + 1) % 24, minute),
            Job("deliver-notices", deliver_notices, "*",
                f"*/{int(app.config.get('NOTICES_DELIVER_EVERY', 10))}")]


def build_scheduler(app: Flask):
    """Return a (not started) background scheduler on the database job store, and the
    declared (job id, trigger) pairs to install once it is started paused."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    _apps["default"] = app
    scheduler = BackgroundScheduler(
        timezone=app.config["TIMEZONE"],
        jobstores={"default": SQLAlchemyJobStore(engine=get_engine(app),
                                                 tablename=JOBSTORE_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
    )
    return scheduler, [
        (job.id, CronTrigger(hour=job.hour, minute=job.minute, timezone=app.config["TIMEZONE"]))
        for job in jobs(app)
    ]


def install_jobs(scheduler, declared) -> None:
    """Add missing jobs, reschedule changed ones, drop undeclared ones (scheduler paused).

    A job already stored keeps its next run time, so a night missed while the process
    was down is still due, and runs once (coalesced) when the scheduler resumes.
    """
    stored = {job.id: job for job in scheduler.get_jobs()}
    for job_id, trigger in declared:
        job = stored.pop(job_id, None)
        if job is None:
            scheduler.add_job(run_job, trigger, args=[job_id], id=job_id)
        elif str(job.trigger) != str(trigger):
            scheduler.reschedule_job(job_id, trigger=trigger)
    for job_id in stored:
        scheduler.remove_job(job_id)


def start(app: Flask):
    """Start the scheduler for `app`: paused, jobs installed, then resumed; return it."""
    scheduler, declared = build_scheduler(app)
    scheduler.start(paused=True)
    install_jobs(scheduler, declared)
    for job in scheduler.get_jobs():
        log.info("job %s: next run %s", job.id, job.next_run_time)
    scheduler.resume()
    return scheduler


def run_scheduler(app: Flask) -> None:
    """Run the scheduler in the foreground until interrupted (SIGINT or SIGTERM)."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    scheduler = start(app)
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
