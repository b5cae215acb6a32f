"""The scheduler process: a JOBS table, each job a thin wrapper around a service.

Started by `flask --app app scheduler`, never by create_app. The recompute's own
database lock keeps one run at a time across processes and hosts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from flask import Flask

from app.db import session_scope
from app.errors import Conflict
from app.services.rulebooks import EXTENSION_KEY as RULEBOOKS

log = logging.getLogger(__name__)


def nightly_recompute(app: Flask) -> None:
    """Reload the rulebook (keeping the last good one) and recompute every standing."""
    from app.services.recompute import recompute

    with app.app_context():
        registry = app.extensions[RULEBOOKS]
        registry.reload(loaded_by="scheduler")
        with session_scope(app) as session:
            try:
                summary = recompute(session, rulebook=registry.current(), as_of=date.today(),
                                    triggered_by="scheduler")
                log.info("nightly recompute: run %s, %d subjects, %d tier changes, %d ms",
                         summary.run_id, summary.subjects, summary.tier_changes,
                         summary.duration_ms)
            except Conflict as error:
                log.warning("nightly recompute skipped: %s", error.message)


@dataclass(frozen=True)
class Job:
    id: str
    func: object
    hour: int
    minute: int


def jobs(app: Flask) -> list[Job]:
    """Return the declared jobs, with times from the app's configuration."""
    hour, minute = (int(x) for x in app.config["RECOMPUTE_AT"].split(":"))
    return [Job("nightly-recompute", nightly_recompute, hour, minute)]


def build_scheduler(app: Flask, scheduler_class=None):
    """Return an APScheduler scheduler with every job added (not started)."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    scheduler = (scheduler_class or BlockingScheduler)(timezone=app.config["TIMEZONE"])
    for job in jobs(app):
        scheduler.add_job(
            job.func, CronTrigger(hour=job.hour, minute=job.minute,
                                  timezone=app.config["TIMEZONE"]),
            args=[app], id=job.id, replace_existing=True, coalesce=True, max_instances=1,
            misfire_grace_time=6 * 3600,
        )
    return scheduler


def run_scheduler(app: Flask) -> None:
    """Run the scheduler in the foreground until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = build_scheduler(app)
    for job in scheduler.get_jobs():
        log.info("job %s: next run %s", job.id, job.next_run_time or job.trigger)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
