"""Officials' pages for a resident's other ways out (on the officials blueprint): the
recording department's queue of applications for repair, and the reviewers' decisions on
applications and on objections to list entries."""

from __future__ import annotations

from flask import abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from app.db import get_session
from app.models import EntryObjection, ListEntry, Record, RepairRequest, Subject
from app.services.accounts.users import ADMIN, AUDITOR, RECORDER, REVIEWER
from app.services.due_process.ways_out import (
    decide_entry_objection,
    decide_repair,
    repair_queue,
)
from app.web import rulebook, today
from app.web.auth import role_required
from app.web.due_forms import EntryDecisionForm, RepairDecisionForm
from app.web.officials import bp
from app.web.officials.decisions import found_or_404, post_decision


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
    application = found_or_404(session, RepairRequest, request_id)
    department = _department()
    if department is not None and department != application.department_code:
        abort(403)
    form = RepairDecisionForm()
    posted = post_decision(
        form, may_decide=current_user.role != AUDITOR, then="officials.repairs",
        decide=lambda: decide_repair(
            session, rulebook=rulebook(), request_id=request_id,
            grant=form.decision.data == "grant", reason=form.reason.data,
            department=department, actor=current_user.username, today=today()),
        said=lambda decided: _(
            "Application %(id)s decided: %(outcome)s. The subject is notified.",
            id=request_id,
            outcome=_("granted") if decided.status == "granted" else _("refused")))
    if posted.done is not None:
        return posted.done
    record = session.get(Record, application.record_id)
    subject = session.get(Subject, application.subject_id)
    return render_template("officials/repair.html", application=application, record=record,
                           subject=subject, form=form, problems=posted.problems,
                           rules=rulebook()), posted.status


@bp.route("/entry-objections/<int:objection_id>", methods=["GET", "POST"])
@role_required(REVIEWER, AUDITOR, ADMIN)
def entry_objection(objection_id: int):
    """One objection to a list entry; a reviewer decides it here, with reasons."""
    session = get_session()
    objection = found_or_404(session, EntryObjection, objection_id)
    form = EntryDecisionForm()
    posted = post_decision(
        form, may_decide=current_user.role == REVIEWER, then="officials.objections",
        decide=lambda: decide_entry_objection(
            session, rulebook=rulebook(), objection_id=objection_id,
            outcome=form.outcome.data or "", reason=form.reason.data,
            reviewer=current_user.username, today=today()),
        said=lambda decided: _(
            "Objection to entry %(id)s decided: the entry %(outcome)s. The subject is "
            "notified.", id=decided.list_entry_id,
            outcome=_("ends today") if decided.outcome == "ended" else _("stands")))
    if posted.done is not None:
        return posted.done
    entry = session.get(ListEntry, objection.list_entry_id)
    subject = session.get(Subject, objection.subject_id)
    return render_template("officials/entry_objection.html", objection=objection, entry=entry,
                           subject=subject, form=form, problems=posted.problems,
                           rules=rulebook()), posted.status
