"""The scheduler process: a JOBS table, each job a thin wrapper around a service.

Started by `flask --app app scheduler`, never by create_app. Jobs are kept in the
database (APScheduler's SQLAlchemy job store), so a night missed while the process was
down is run once when it starts again (misfire handling with coalescing). The
recompute's own database lock keeps one run at a time across processes and hosts.

Several scheduler processes may run against one database (a standby for failover, or a
second host by mistake): only the one holding the leader lease (`app.services.scheduling`)
starts its jobs; the others stand by and try to take the lease every few seconds, so one
takes over within `SCHEDULER_LEASE_SECONDS` (plus a heartbeat) after the leader dies. Each
run first claims its job's due time in the database, so no job runs twice for one due
time, whatever the processes do.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import STATE_PAUSED
from flask import Flask

from app import clock
from app.db import get_engine, session_scope
from app.errors import Conflict
from app.services.rulebooks.registry import EXTENSION_KEY as RULEBOOKS

log = logging.getLogger(__name__)
JOBSTORE_TABLE = "apscheduler_jobs"
MISFIRE_GRACE = 20 * 3600  # a night missed by less than this is caught up at the next start
LOOK_BACK = (timedelta(hours=2), timedelta(seconds=MISFIRE_GRACE) + timedelta(days=1))
_apps: dict[str, Flask] = {}  # jobs are stored by reference; they find their app here
_holders: dict[str, str] = {}  # and this process's name in the leader lease


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
                                    incremental=True,
                                    slices=app.config["RECOMPUTE_SLICES"])
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
        languages = app.extensions[RULEBOOKS].current().scheme.languages
        result = deliver_pending(session, channel=channel,
                                 max_attempts=int(app.config.get("MAIL_MAX_ATTEMPTS", 10)),
                                 actor="scheduler", default_language=(languages or ("en",))[0])
        if result.attempted:
            log.info("notices delivered: %d sent, %d to retry, %d failed", result.sent,
                     result.retrying, result.failed)


def run_job(job_id: str) -> None:
    """Run the declared job `job_id` for the scheduler's app (the stored job's target),
    once its due time is claimed: never twice for one due time, nor by a process that
    does not hold the leader lease."""
    from app.services.scheduling.lease import claim_due_time

    app = _apps["default"]
    for job in jobs(app):
        if job.id == job_id:
            now = datetime.now(UTC)
            due = due_time(app, job, now)
            with app.app_context(), session_scope(app, write=True) as session:
                claimed = claim_due_time(session, job_id=job_id, due_at=due,
                                         holder=_holders.get("default", ""), now=now)
            if not claimed:
                log.info("job %s due %s: run already, or this scheduler is not the "
                         "leader; skipped", job_id, due.isoformat())
                return
            job.func(app)
            return
    log.error("job %s is not declared any more; nothing run", job_id)


def due_time(app: Flask, job: Job, now: datetime) -> datetime:
    """Return the job's latest due time at or before `now` (UTC): the time this run is for."""
    trigger = _trigger(app, job)
    for back in LOOK_BACK:
        fire = trigger.get_next_fire_time(None, now - back)
        latest = None
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if latest is not None:
            return latest.astimezone(UTC)
    return now  # run by hand, long after any due time


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

    _apps["default"] = app
    scheduler = BackgroundScheduler(
        timezone=app.config["TIMEZONE"],
        jobstores={"default": SQLAlchemyJobStore(engine=get_engine(app),
                                                 tablename=JOBSTORE_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
    )
    return scheduler, [(job.id, _trigger(app, job)) for job in jobs(app)]


def _trigger(app: Flask, job: Job):
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(hour=job.hour, minute=job.minute, timezone=app.config["TIMEZONE"])


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


def holder_name() -> str:
    """Return a name for this process in the leader lease: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


def lease_seconds(app: Flask) -> float:
    """Return how long the leader lease lasts without a renewal (SCHEDULER_LEASE_SECONDS)."""
    seconds = float(app.config.get("SCHEDULER_LEASE_SECONDS", 30))
    if seconds <= 0:
        raise Conflict("SCHEDULER_LEASE_SECONDS must be more than 0")
    return seconds


def heartbeat(app: Flask, holder: str) -> bool:
    """Take or renew the leader lease for `holder`; return whether it holds it."""
    from app.services.scheduling.lease import hold_lease

    with app.app_context(), session_scope(app, write=True) as session:
        return hold_lease(session, holder=holder, seconds=lease_seconds(app))


def start(app: Flask, holder: str | None = None):
    """Start the scheduler for `app` as the leader: take the lease (Conflict if another
    scheduler holds it), start paused, install the jobs, resume; return it."""
    holder = holder or holder_name()
    if not heartbeat(app, holder):
        raise Conflict("another scheduler holds the leader lease")
    _holders["default"] = holder
    scheduler, declared = build_scheduler(app)
    scheduler.start(paused=True)
    install_jobs(scheduler, declared)
    for job in scheduler.get_jobs():
        log.info("job %s: next run %s", job.id, job.next_run_time)
    scheduler.resume()
    return scheduler


def run_scheduler(app: Flask) -> None:
    """Run the scheduler in the foreground until interrupted (SIGINT or SIGTERM): the
    leader runs the jobs, a standby waits for the lease, and either renews or tries every
    third of the lease."""
    from app.services.scheduling.lease import release_lease

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    seconds = lease_seconds(app)
    holder = holder_name()
    scheduler = None
    held_until = 0.0  # monotonic: when our lease runs out if no renewal gets through
    log.info("scheduler %s started; lease %s s", holder, seconds)
    from app.jobs import JobWorker

    # The pages' long work (simulations, intake) runs here too, on every scheduler process
    # (leader or standby): each job is claimed once in the database.
    worker = JobWorker(app)
    worker.start()
    try:
        while True:
            beat = time.monotonic()
            try:
                leading = heartbeat(app, holder)
            except Exception:  # the database is away or locked: keep what we know
                log.exception("scheduler %s: the lease could not be renewed", holder)
                leading = beat < held_until
            else:
                held_until = beat + seconds if leading else 0.0
            if leading and scheduler is None:
                log.info("scheduler %s leads: starting the jobs", holder)
                scheduler = start(app, holder)
            elif leading and scheduler.state == STATE_PAUSED:
                log.info("scheduler %s leads again: resuming the jobs", holder)
                scheduler.resume()
            elif not leading and scheduler is not None and scheduler.state != STATE_PAUSED:
                log.warning("scheduler %s lost the lease: standing by", holder)
                scheduler.pause()
            elif not leading and scheduler is None:
                log.debug("scheduler %s stands by", holder)
            time.sleep(max(0.5, seconds / 3))
    except (KeyboardInterrupt, SystemExit):
        worker.stop()
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        try:
            with app.app_context(), session_scope(app, write=True) as session:
                release_lease(session, holder=holder)
        except Exception:
            log.exception("scheduler %s: the lease could not be released", holder)
        worker.join(timeout=60)
        log.info("scheduler stopped")
