"""Long work off the request: queue a job, claim it in a worker, report its progress, keep
its result for a page that can be reloaded.

A job is a row (`Job`): a page queues it and redirects to the job's page; the scheduler's
job worker claims it, runs it and stores the result. The browser may go away and come
back. A job with the key of one still queued or running is refused (`Conflict`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from app.errors import Conflict, NotFound
from app.models import Job, utcnow
from app.services.locks import begin_write
from app.services.transaction import atomic, transaction

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
LIVE = (QUEUED, RUNNING)
_LOCK = "jobs"

# A progress callback: progress(done, total, step) — what part of how much, in words.
ProgressFn = Callable[[int, int, str], None]


def job_key(kind: str, owner: str, *parts: str | bytes) -> str:
    """Return the key that says two jobs would do the same work."""
    digest = hashlib.sha256(f"{kind}\0{owner}".encode())
    for part in parts:
        digest.update(b"\0" + (part if isinstance(part, bytes) else part.encode()))
    return digest.hexdigest()


@atomic
def submit(session: Session, *, kind: str, owner: str, key: str, title: str,
           params: dict | None = None, payload: bytes | None = None) -> Job:
    """Queue a job, or refuse it when an identical one is queued or running."""
    begin_write(session, _LOCK)
    running = session.execute(
        select(Job).where(Job.key == key, Job.state.in_(LIVE)).order_by(Job.id).limit(1)
    ).scalar_one_or_none()
    if running is not None:
        error = Conflict(f"the same work is already {running.state} as job {running.id} "
                         f"(since {running.created_at:%Y-%m-%d %H:%M} UTC); wait for it "
                         "to finish and open its page instead of starting it again")
        error.job_id = running.id  # type: ignore[attr-defined]
        raise error
    job = Job(kind=kind, owner=owner, key=key, title=title[:200],
              params=json.dumps(params or {}, sort_keys=True, default=str), payload=payload)
    session.add(job)
    session.flush()
    return job


def job_of(session: Session, job_id: int, *, owner: str | None) -> Job:
    """Return job `job_id` (of `owner`, unless None); NotFound otherwise."""
    job = session.get(Job, job_id)
    if job is None or (owner is not None and job.owner != owner):
        raise NotFound(f"there is no job {job_id} of yours")
    return job


def latest_job(session: Session, *, key: str) -> Job | None:
    """Return the newest job with `key`, whatever its state."""
    return session.execute(
        select(Job).where(Job.key == key).order_by(Job.id.desc()).limit(1)
    ).scalar_one_or_none()


@atomic
def claim_next(session: Session, *, worker: str) -> Job | None:
    """Take the oldest queued job for `worker` (marked running); None when there is none."""
    begin_write(session, _LOCK)
    job = session.execute(
        select(Job).where(Job.state == QUEUED).order_by(Job.id).limit(1)
    ).scalar_one_or_none()
    if job is None:
        return None
    job.state, job.worker, job.started_at = RUNNING, worker[:200], utcnow()
    session.flush()
    return job


@atomic
def requeue_abandoned(session: Session, *, is_gone: Callable[[str], bool]) -> int:
    """Put back in the queue the running jobs whose worker `is_gone`; return how many."""
    begin_write(session, _LOCK)
    gone = [job for job in session.execute(select(Job).where(Job.state == RUNNING)).scalars()
            if is_gone(job.worker or "")]
    for job in gone:
        job.state, job.worker, job.started_at, job.done, job.step = QUEUED, None, None, 0, ""
    return len(gone)


@atomic
def finish(session: Session, job_id: int, *, result: Any = None, error: str | None = None) -> None:
    """Store a job's result (or its error) and mark it done (or failed)."""
    begin_write(session, _LOCK)
    job = session.get(Job, job_id)
    assert job is not None
    job.state = FAILED if error is not None else DONE
    job.error = error
    job.result = pickle.dumps(result) if error is None else None
    job.payload = None  # the input is not needed any more
    job.finished_at = utcnow()
    if job.total and error is None:
        job.done = job.total


def result_of(job: Job) -> Any:
    """Return the result a finished job stored (written by this app's worker only)."""
    return pickle.loads(job.result) if job.result is not None else None  # noqa: S301


class Progress:
    """A progress callback that writes the job's progress at most every `every` seconds."""

    def __init__(self, open_session: Callable[[], Any], job_id: int, *, every: float = 0.5):
        self.open_session, self.job_id, self.every = open_session, job_id, every
        self._last = 0.0

    def __call__(self, done: int, total: int, step: str = "") -> None:
        now = time.monotonic()
        if now - self._last < self.every and done < total:
            return
        self._last = now
        with self.open_session() as session, transaction(session):
            session.execute(update(Job).where(Job.id == self.job_id).values(
                done=done, total=total, step=step[:200]))


def elapsed(job: Job, now: datetime | None = None) -> float:
    """Return the seconds the job has run (or ran)."""
    if job.started_at is None:
        return 0.0
    end = job.finished_at or now or utcnow()
    start = job.started_at
    if start.tzinfo is None:
        end = end.replace(tzinfo=None)
    return max(0.0, (end - start).total_seconds())
