"""A resident's due-process pages (on the residents blueprint): object to a record, ask for
reconsideration, give or withdraw consent, and say where notices are mailed.

The subject always comes from the logged-in account, never from the request.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.db import get_session
from app.errors import InvalidInput
from app.services.accounts.users import RESIDENT
from app.services.subject_file.due_process import due_process_of
from app.services.subjects.consent import set_consent, set_contact_email, set_language
from app.web import rulebook, today
from app.web.auth import role_required
from app.web.due_forms import ConsentForm, ContactForm, LanguageForm, ObjectionForm, problems_of
from app.web.i18n import LANGUAGES
from app.web.residents import bp


def _subject_id() -> str:
    if not current_user.subject_id:
        abort(403)
    return current_user.subject_id


def _status_of(record_id: int):
    file = due_process_of(get_session(), rulebook=rulebook(), subject_id=_subject_id(),
                            today=today())
    status = next((r for r in file.records if r.record.id == record_id), None)
    if status is None:
        abort(404)
    return status


@bp.route("/me/records/<int:record_id>/objection", methods=["GET", "POST"])
@role_required(RESIDENT)
def object_to_record(record_id: int):
    """Object to one of my records, with a reason and an optional document reference."""
    from app.services.due_process.objections import file_objection

    status = _status_of(record_id)
    form = ObjectionForm()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            objection = file_objection(
                get_session(), rulebook=rulebook(), subject_id=_subject_id(),
                record_id=record_id, reason=form.reason.data,
                attachment_ref=form.attachment_ref.data, actor=current_user.username,
                today=today())
        except InvalidInput as error:
            problems = problems_of(error)
        else:
            flash(_("Your objection to record %(id)s is filed. A reviewer decides by %(day)s.",
                    id=record_id, day=objection.deadline.isoformat()), "success")
            return redirect(url_for("residents.me"))
    status_code = 422 if problems else 200
    return render_template("residents/objection.html", status=status, form=form,
                           problems=problems, level=1, rules=rulebook()), status_code


@bp.route("/me/objections/<int:objection_id>/reconsideration", methods=["GET", "POST"])
@role_required(RESIDENT)
def ask_for_reconsideration(objection_id: int):
    """Ask once for a different reviewer to reconsider the decision on my objection."""
    from app.services.due_process.objections import ask_reconsideration

    file = due_process_of(get_session(), rulebook=rulebook(), subject_id=_subject_id(),
                            today=today())
    status = next((r for r in file.records
                   if any(o.id == objection_id and o.level == 1 for o in r.objections)), None)
    if status is None:
        abort(404)
    form = ObjectionForm()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            second = ask_reconsideration(
                get_session(), rulebook=rulebook(), subject_id=_subject_id(),
                objection_id=objection_id, reason=form.reason.data,
                attachment_ref=form.attachment_ref.data, actor=current_user.username,
                today=today())
        except InvalidInput as error:
            problems = problems_of(error)
        else:
            flash(_("Your request for reconsideration of record %(id)s is filed. A different "
                    "reviewer decides by %(day)s.", id=status.record.id,
                    day=second.deadline.isoformat()), "success")
            return redirect(url_for("residents.me"))
    status_code = 422 if problems else 200
    return render_template("residents/objection.html", status=status, form=form,
                           problems=problems, level=2, rules=rulebook()), status_code


@bp.post("/me/consent")
@role_required(RESIDENT)
def change_consent():
    """Give or withdraw my consent to be scored (recorded with today's date)."""
    form = ConsentForm()
    if not form.validate_on_submit() or form.consent.data not in ("give", "withdraw"):
        abort(400)
    give = form.consent.data == "give"
    set_consent(get_session(), subject_id=_subject_id(), consent=give,
                actor=current_user.username, today=today())
    flash(_("You gave consent: you are scored from today.") if give else
          _("You withdrew consent: from today you have no points and no tier; your records "
            "are kept."), "success")
    return redirect(url_for("residents.me"))


@bp.post("/me/contact")
@role_required(RESIDENT)
def change_contact():
    """Set the email address my notices are sent to (empty: letters by post)."""
    form = ContactForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        email = set_contact_email(get_session(), subject_id=_subject_id(),
                                  email=form.email.data, actor=current_user.username)
    except InvalidInput as error:
        flash(error.message, "error")
    else:
        flash(_("Notices will be emailed to %(email)s.", email=email) if email else
              _("Notices will be sent to you by post."), "success")
    return redirect(url_for("residents.me") + "#contact-heading")


@bp.post("/me/language")
@role_required(RESIDENT)
def change_language():
    """Choose the language my notices (inbox, email, letters) are written in."""
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        set_language(get_session(), subject_id=_subject_id(), language=form.language.data or "",
                     actor=current_user.username)
    except InvalidInput as error:
        flash(error.message, "error")
    else:
        flash(_("Your notices will be written in %(language)s.",
                language=LANGUAGES[form.language.data]), "success")
    return redirect(url_for("residents.me") + "#contact-heading")
