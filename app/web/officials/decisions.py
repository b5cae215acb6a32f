"""The shape the officials' decision pages share (an objection, an application for repair,
an objection to a list entry): a POST by someone who may decide is checked, decided by one
service call, said in a flash and answered with a redirect; otherwise the page is shown
with the problems found, 422 when the post did not go through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from flask import abort, flash, redirect, request, url_for
from flask_wtf import FlaskForm
from sqlmodel import Session
from werkzeug.wrappers import Response

from app.errors import Conflict, InvalidInput
from app.web.due_forms import problems_of

T = TypeVar("T")
M = TypeVar("M")


@dataclass
class Posted:
    """What came of a decision form: the redirect to answer with, or the page's problems and
    status."""

    done: Response | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)
    status: int = 200


def post_decision(form: FlaskForm, *, may_decide: bool, decide: Callable[[], T],
                  said: Callable[[T], str], then: str,
                  conflicts_on_page: bool = True) -> Posted:
    """Decide on a POST of `form` (403 unless `may_decide`): call `decide`, flash `said` of
    its result and redirect to the endpoint `then`. A user's error stays on the page as its
    problems; a conflict too if `conflicts_on_page`, else it goes to the error handler."""
    if request.method != "POST":
        return Posted()
    if not may_decide:
        abort(403)
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            decided = decide()
        except InvalidInput as error:
            problems = problems_of(error)
        except Conflict as error:
            if not conflicts_on_page:
                raise
            problems = {"": [str(error)]}
        else:
            flash(said(decided), "success")
            return Posted(done=redirect(url_for(then)))
    return Posted(problems=problems, status=422 if problems or form.errors else 200)


def found_or_404(session: Session, model: type[M], key: int) -> M:
    """Return the row of `model` with id `key`, or answer 404 (also for an id out of the
    column's range, which the database would refuse)."""
    row = session.get(model, key) if 0 < key < 2**31 else None
    if row is None:
        abort(404)
    return row
