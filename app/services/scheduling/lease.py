"""The scheduler's leader lease and the claims of jobs' due times.

Every scheduler process (`flask --app app scheduler`) tries to take or renew the lease
named `LEADER` every few seconds. Only the holder runs jobs; the others stand by. The
holder renews it before it runs out; if the holder dies, its lease runs out after
`SCHEDULER_LEASE_SECONDS` and the first standby to try takes it over. A job run first
claims its due time (one row per job and due time, a primary key): a second claim of the
same due time, by another process or after a takeover, is refused, and the job does not
run again. Times are naive UTC in the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlmodel import Session

from app.models import SchedulerJobRun, SchedulerLease, utcnow
from app.services.locks import begin_write
from app.services.transaction import atomic

LEADER = "scheduler"
LOCK = "scheduler-lease"
KEEP_CLAIMS = timedelta(days=30)


def _now(now: datetime | None) -> datetime:
    return _utc(now or utcnow())


def _utc(value: datetime) -> datetime:
    """Return `value` aware in UTC (the database gives naive UTC back)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _expires(lease: SchedulerLease) -> datetime | None:
    return None if lease.expires_at is None else _utc(lease.expires_at)


@atomic
def hold_lease(session: Session, *, holder: str, seconds: float,
               now: datetime | None = None) -> bool:
    """Take or renew the leader lease for `holder`; return whether it holds it now.

    Taken when nobody holds it, when its holder's time ran out, or when `holder` already
    holds it (renewed for another `seconds`).
    """
    begin_write(session, LOCK)
    at = _now(now)
    lease = session.get(SchedulerLease, LEADER, populate_existing=True)
    if lease is None:
        lease = SchedulerLease(name=LEADER)
        session.add(lease)
    elif lease.holder not in (None, holder) and (_expires(lease) or at) > at:
        return False
    lease.holder = holder
    lease.expires_at = at + timedelta(seconds=seconds)
    lease.renewed_at = at
    return True


@atomic
def release_lease(session: Session, *, holder: str) -> None:
    """Give the lease up at once (an orderly stop), if `holder` holds it."""
    begin_write(session, LOCK)
    lease = session.get(SchedulerLease, LEADER, populate_existing=True)
    if lease is not None and lease.holder == holder:
        lease.holder = None
        lease.expires_at = None


def lease_holder(session: Session, *, now: datetime | None = None) -> str | None:
    """Return who holds the lease now (None when nobody does, or it ran out)."""
    lease = session.get(SchedulerLease, LEADER, populate_existing=True)
    if lease is None or lease.holder is None or lease.expires_at is None:
        return None
    return lease.holder if (_expires(lease) or _now(now)) > _now(now) else None


@atomic
def claim_due_time(session: Session, *, job_id: str, due_at: datetime, holder: str,
                   now: datetime | None = None) -> bool:
    """Claim the run of `job_id` for `due_at`; return False if it was claimed before, or
    if `holder` does not hold the lease (then another scheduler acts, and this one not)."""
    begin_write(session, LOCK)
    at = _now(now)
    lease = session.get(SchedulerLease, LEADER, populate_existing=True)
    if lease is None or lease.holder != holder or (_expires(lease) or at) <= at:
        return False
    due = _now(due_at)
    if session.get(SchedulerJobRun, (job_id, due), populate_existing=True) is not None:
        return False
    session.add(SchedulerJobRun(job_id=job_id, due_at=due, holder=holder, claimed_at=at))
    session.execute(delete(SchedulerJobRun).where(SchedulerJobRun.due_at < at - KEEP_CLAIMS))
    return True


def claims(session: Session, job_id: str) -> list[SchedulerJobRun]:
    """Return the claimed due times of `job_id`, oldest first."""
    return list(session.execute(select(SchedulerJobRun).where(
        SchedulerJobRun.job_id == job_id).order_by(SchedulerJobRun.due_at)).scalars())
