"""The job worker: runs the long work pages queue (a simulation, an intake preview or
confirmation) outside the request, in a thread of the scheduler process.

Each kind of job is a thin wrapper around a service, registered in `HANDLERS`; it gets the
app, a session, the job and a progress callback, and returns what the job's page shows.
`flask --app app jobs work` runs the worker alone (a second host, or development without
the scheduler).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db import get_engine, session_scope
from app.errors import CitypointsError
from app.models import Job
from app.services import jobs

log = logging.getLogger(__name__)
Handler = Callable[[Flask, Any, Job, jobs.ProgressFn], Any]
HANDLERS: dict[str, Handler] = {}
IDLE_SECONDS = 1.0


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`."""

    def register(function: Handler) -> Handler:
        HANDLERS[kind] = function
        return function

    return register


def _progress_sessions(app: Flask):
    """Open a short session for progress writes; on SQLite it gives up at once when a job's
    own transaction holds the write lock (the progress of an import is then seen at its end)."""

    @contextmanager
    def open_session():
        with session_scope(app) as session:
            if get_engine(app).dialect.name == "sqlite":
                session.execute(text("PRAGMA busy_timeout=50"))
            try:
                yield session
            finally:
                if get_engine(app).dialect.name == "sqlite":
                    session.rollback()
                    session.execute(text("PRAGMA busy_timeout=30000"))

    return open_session


class _QuietProgress(jobs.Progress):
    def __call__(self, done: int, total: int, step: str = "") -> None:
        try:
            super().__call__(done, total, step)
        except OperationalError:  # the write lock is busy: report at the next step
            pass


def run_job(app: Flask, job: Job) -> None:
    """Run one claimed job and store its result or its error."""
    _load_handlers()
    progress = _QuietProgress(_progress_sessions(app), job.id)
    with app.app_context():
        try:
            with session_scope(app) as session:
                result = HANDLERS[job.kind](app, session, job, progress)
        except CitypointsError as error:
            with session_scope(app) as session:
                jobs.finish(session, job.id, result=None, error=error.message)
            return
        except Exception as error:  # the page says it failed; the log has the trace
            log.exception("job %s (%s) failed", job.id, job.kind)
            with session_scope(app) as session:
                jobs.finish(session, job.id, error=f"the job failed: {type(error).__name__}")
            return
        with session_scope(app) as session:
            jobs.finish(session, job.id, result=result)


def run_pending(app: Flask, *, worker: str | None = None, limit: int | None = None) -> int:
    """Run queued jobs one after another until none is left (or `limit`); return how many."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    count = 0
    while limit is None or count < limit:
        with app.app_context(), session_scope(app) as session:
            job = jobs.claim_next(session, worker=worker)
        if job is None:
            return count
        run_job(app, job)
        count += 1
    return count


class JobWorker(threading.Thread):
    """A thread that runs queued jobs until `stop()`."""

    def __init__(self, app: Flask):
        super().__init__(name="citypoints-jobs", daemon=True)
        self.app = app
        self.stopping = threading.Event()

    def run(self) -> None:
        with self.app.app_context(), session_scope(self.app) as session:
            again = jobs.requeue_abandoned(session, is_gone=_gone)
        if again:
            log.warning("job worker: %d job(s) left running by a stopped worker run again", again)
        while not self.stopping.is_set():
            try:
                ran = run_pending(self.app)
            except Exception:  # keep the worker alive; the next loop tries again
                log.exception("job worker: could not claim a job")
                ran = 0
            if not ran:
                self.stopping.wait(IDLE_SECONDS)

    def stop(self) -> None:
        self.stopping.set()


def _gone(worker: str) -> bool:
    """Return True when `worker` (host:pid:thread) was a process of this host that ended."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _load_handlers() -> None:
    from app import job_kinds  # noqa: F401  (registers the handlers)
