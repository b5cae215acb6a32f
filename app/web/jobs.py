"""A job's page: its progress while it runs (the page reloads itself), its result at the end.

The page that queued the job registers how its result is shown (`shows`); the job's owner
may open it from any browser, at any time, as often as they like.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.db import get_session, reader_will_read_this_write
from app.errors import Conflict
from app.models import Job
from app.services import jobs as job_service

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
Renderer = Callable[[Job, object], object]
RENDERERS: dict[str, Renderer] = {}
REFRESH_SECONDS = 2
KIND_TITLES = {"simulate": _l("Simulation"), "intake-preview": _l("Checking a file"),
               "intake-confirm": _l("Importing a file")}


def shows(kind: str) -> Callable[[Renderer], Renderer]:
    """Register how a finished job of `kind` is shown: render(job, result) -> response."""

    def register(function: Renderer) -> Renderer:
        RENDERERS[kind] = function
        return function

    return register


def queue(*, kind: str, key: str, title: str, params: dict, payload: bytes | None):
    """Queue a job for the current user and send the browser to its page.

    An identical job still queued or running is not started again: the browser goes to it,
    with a message saying so.
    """
    reader_will_read_this_write()  # the job's page, next, must find the job
    try:
        job = job_service.submit(get_session(), kind=kind, owner=current_user.username,
                                 key=key, title=title, params=params, payload=payload)
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("jobs.show", job_id=error.job_id)), 303  # type: ignore[attr-defined]
    return redirect(url_for("jobs.show", job_id=job.id), 303)


@bp.get("/<int:job_id>")
@login_required
def show(job_id: int):
    """Show a job: queued, running (with its progress) or its result."""
    job = job_service.job_of(get_session(), job_id, owner=current_user.username)
    if job.state == job_service.DONE and job.kind in RENDERERS:
        return RENDERERS[job.kind](job, job_service.result_of(job))
    return render_template("jobs/job.html", job=job, elapsed=job_service.elapsed(job),
                           kind_title=KIND_TITLES.get(job.kind, job.kind),
                           live=job.state in job_service.LIVE, refresh=REFRESH_SECONDS)
