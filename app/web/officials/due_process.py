"""Officials' due-process pages (on the officials blueprint): the reviewers' queue and
decisions, a recorder's void and repair of their department's records, and the pending
letters to print.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.db import get_session
from app.errors import InvalidInput
from app.services.accounts.users import ADMIN, AUDITOR, RECORDER, REVIEWER
from app.services.due_process.delivery import (
    channel_from_config,
    count_pending_letters,
    letters_to_print,
    mark_letters_posted,
)
from app.services.due_process.objections import (
    decide_objection,
    open_objection,
    recently_decided,
    review_queue,
)
from app.services.due_process.ways_out import entry_objection_queue, repair_queue
from app.services.records.corrections import (
    record_to_correct,
    repair_record,
    repairable_on,
    void_record,
)
from app.web import export_tables, rulebook, today
from app.web.auth import role_required
from app.web.due_forms import DecisionForm, PostedForm, RepairForm, VoidForm, problems_of
from app.web.exports import wants_csv
from app.web.inputs import page_arg
from app.web.officials import bp
from app.web.officials.decisions import post_decision

LETTERS_PER_PAGE = 50


@bp.get("/objections")
@role_required(REVIEWER, AUDITOR, ADMIN)
def objections():
    """The pending objections, the nearest deadline first, overdue ones marked."""
    session = get_session()
    if wants_csv():
        return export_tables.objections(review_queue(session, today=today()))
    return render_template("officials/objections.html", queue=review_queue(session, today=today()),
                           decided=recently_decided(session), rules=rulebook(),
                           entry_queue=entry_objection_queue(session, today=today()),
                           repair_queue=repair_queue(session, department=None, today=today()))


@bp.route("/objections/<int:objection_id>", methods=["GET", "POST"])
@role_required(REVIEWER, AUDITOR, ADMIN)
def objection(objection_id: int):
    """One objection with its record; a reviewer decides it here, with reasons."""
    session = get_session()
    form = DecisionForm()

    def said(decided) -> str:
        return (_("Objection %(id)s decided: record %(record)s annulled. The subject is "
                  "notified.", id=objection_id, record=decided.record_id)
                if decided.outcome == "annulled" else
                _("Objection %(id)s decided: record %(record)s upheld. The subject is "
                  "notified.", id=objection_id, record=decided.record_id))

    posted = post_decision(
        form, may_decide=current_user.role == REVIEWER, said=said, then="officials.objections",
        conflicts_on_page=False,  # a decision already taken goes to the 409 page, as always
        decide=lambda: decide_objection(
            session, rulebook=rulebook(), objection_id=objection_id,
            outcome=form.outcome.data or "", reason=form.reason.data,
            reviewer=current_user.username, today=today()))
    if posted.done is not None:
        return posted.done
    file = open_objection(session, objection_id=objection_id, viewer=current_user.username)
    return render_template("officials/objection.html", file=file, form=form,
                           problems=posted.problems, rules=rulebook()), posted.status


def _department_record(record_id: int, what: str):
    """Return the record if it is the recorder's department's (the look is audited)."""
    return record_to_correct(get_session(), record_id=record_id,
                             department=current_user.department, viewer=current_user.username,
                             purpose=what)


@bp.route("/records/<int:record_id>/void", methods=["GET", "POST"])
@role_required(RECORDER)
def void(record_id: int):
    """Void a record of my department entered in error, saying why."""
    form = VoidForm()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            record = void_record(get_session(), record_id=record_id,
                                 department=current_user.department, reason=form.reason.data,
                                 actor=current_user.username)
        except InvalidInput as error:
            problems = problems_of(error)
        else:
            flash(_("Record %(id)s is voided; it stays on file, marked, and no longer counts.",
                    id=record.id), "success")
            return redirect(url_for("officials.subject_file", subject_id=record.subject_id))
    record = _department_record(record_id, "void")
    return render_template("officials/correction.html", record=record, form=form,
                           problems=problems, action="void", rules=rulebook(),
                           repair_from=None), 422 if problems else 200


@bp.route("/records/<int:record_id>/repair", methods=["GET", "POST"])
@role_required(RECORDER)
def repair(record_id: int):
    """Mark a record of my department repaired, with evidence, after its minimum period."""
    form = RepairForm()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            record = repair_record(get_session(), rulebook=rulebook(), record_id=record_id,
                                   department=current_user.department,
                                   evidence=form.evidence.data, actor=current_user.username,
                                   today=today())
        except InvalidInput as error:
            problems = problems_of(error)
        else:
            flash(_("Record %(id)s is marked repaired from %(day)s; the subject is notified.",
                    id=record.id, day=record.repaired_on), "success")
            return redirect(url_for("officials.subject_file", subject_id=record.subject_id))
    record = _department_record(record_id, "repair")
    return render_template("officials/correction.html", record=record, form=form,
                           problems=problems, action="repair", rules=rulebook(),
                           repair_from=repairable_on(rulebook(), record)), \
        422 if problems else 200


def _email_enabled() -> bool:
    return channel_from_config(current_app.config) is not None


@bp.get("/letters")
@role_required(ADMIN)
def letters():
    """The notices waiting to go by post, LETTERS_PER_PAGE to a page (one letter per sheet
    when printed), the oldest first; the CSV holds the first 500."""
    session = get_session()
    if wants_csv():
        return export_tables.letters(letters_to_print(
            session, email_enabled=_email_enabled(), viewer=current_user.username))
    page = page_arg()
    found = letters_to_print(session, email_enabled=_email_enabled(),
                             viewer=current_user.username, limit=LETTERS_PER_PAGE + 1,
                             offset=(page - 1) * LETTERS_PER_PAGE,
                             default_language=(rulebook().scheme.languages or ("en",))[0])
    return render_template("officials/letters.html", letters=found[:LETTERS_PER_PAGE],
                           has_next=len(found) > LETTERS_PER_PAGE, page=page,
                           per_page=LETTERS_PER_PAGE,
                           total=count_pending_letters(session, email_enabled=_email_enabled()),
                           form=PostedForm(), email_enabled=_email_enabled(), rules=rulebook())


@bp.post("/letters/posted")
@role_required(ADMIN)
def letters_posted():
    """Mark the printed letters (listed on the page) as posted."""
    form = PostedForm()
    if not form.validate_on_submit():
        abort(400)
    ids = [int(v) for v in request.form.getlist("outbox_id") if v.isdigit()]
    done = mark_letters_posted(get_session(), outbox_ids=ids, email_enabled=_email_enabled(),
                               actor=current_user.username)
    flash(ngettext("%(num)d letter marked as posted.", "%(num)d letters marked as posted.",
                   done), "success")
    return redirect(url_for("officials.letters"))
