"""Officials' pages for a resident's other ways out (on the officials blueprint): the
recording department's queue of applications for repair, and the reviewers' decisions on
applications and on objections to list entries."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.db import get_session
from app.errors import Conflict, InvalidInput
from app.models import EntryObjection, ListEntry, Record, RepairRequest, Subject
from app.services.accounts.users import ADMIN, AUDITOR, RECORDER, REVIEWER
from app.services.due_process.ways_out import (
    decide_entry_objection,
    decide_repair,
    repair_queue,
)
from app.web import rulebook, today
from app.web.auth import role_required
from app.web.due_forms import EntryDecisionForm, RepairDecisionForm, problems_of
from app.web.officials import bp


def _department() -> str | None:
    """A recorder decides for their department only; a reviewer or admin for any."""
    return current_user.department if current_user.role == RECORDER else None


@bp.get("/repairs")
@role_required(RECORDER, REVIEWER, AUDITOR, ADMIN)
def repairs():
    """The pending applications for repair, the nearest deadline first."""
    queue = repair_queue(get_session(), department=_department(), today=today())
    return render_template("officials/repairs.html", queue=queue, rules=rulebook())


@bp.route("/repairs/<int:request_id>", methods=["GET", "POST"])
@role_required(RECORDER, REVIEWER, AUDITOR, ADMIN)
def repair_application(request_id: int):
    """One application for repair with its record; the department decides it here."""
    session = get_session()
    application = session.get(RepairRequest, request_id) if 0 < request_id < 2**31 else None
    if application is None:
        abort(404)
    department = _department()
    if department is not None and department != application.department_code:
        abort(403)
    form = RepairDecisionForm()
    problems: dict[str, list[str]] = {}
    if request.method == "POST":
        if current_user.role == AUDITOR:
            abort(403)
        if form.validate_on_submit():
            try:
                decided = decide_repair(
                    session, rulebook=rulebook(), request_id=request_id,
                    grant=form.decision.data == "grant", reason=form.reason.data,
                    department=department, actor=current_user.username, today=today())
            except InvalidInput as error:
                problems = problems_of(error)
            except Conflict as error:
                problems = {"": [str(error)]}
            else:
                flash(_("Application %(id)s decided: %(outcome)s. The subject is notified.",
                        id=request_id, outcome=_("granted") if decided.status == "granted"
                        else _("refused")), "success")
                return redirect(url_for("officials.repairs"))
    record = session.get(Record, application.record_id)
    subject = session.get(Subject, application.subject_id)
    code = 422 if problems or (request.method == "POST" and form.errors) else 200
    return render_template("officials/repair.html", application=application, record=record,
                           subject=subject, form=form, problems=problems,
                           rules=rulebook()), code


@bp.route("/entry-objections/<int:objection_id>", methods=["GET", "POST"])
@role_required(REVIEWER, AUDITOR, ADMIN)
def entry_objection(objection_id: int):
    """One objection to a list entry; a reviewer decides it here, with reasons."""
    session = get_session()
    objection = session.get(EntryObjection, objection_id) if 0 < objection_id < 2**31 else None
    if objection is None:
        abort(404)
    form = EntryDecisionForm()
    problems: dict[str, list[str]] = {}
    if request.method == "POST":
        if current_user.role != REVIEWER:
            abort(403)
        if form.validate_on_submit():
            try:
                decided = decide_entry_objection(
                    session, rulebook=rulebook(), objection_id=objection_id,
                    outcome=form.outcome.data or "", reason=form.reason.data,
                    reviewer=current_user.username, today=today())
            except InvalidInput as error:
                problems = problems_of(error)
            except Conflict as error:
                problems = {"": [str(error)]}
            else:
                flash(_("Objection to entry %(id)s decided: the entry %(outcome)s. The subject "
                        "is notified.", id=decided.list_entry_id,
                        outcome=_("ends today") if decided.outcome == "ended" else _("stands")),
                      "success")
                return redirect(url_for("officials.objections"))
    entry = session.get(ListEntry, objection.list_entry_id)
    subject = session.get(Subject, objection.subject_id)
    code = 422 if problems or (request.method == "POST" and form.errors) else 200
    return render_template("officials/entry_objection.html", objection=objection, entry=entry,
                           subject=subject, form=form, problems=problems,
                           rules=rulebook()), code
