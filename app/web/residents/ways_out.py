"""A resident's ways out besides objecting to a record (on the residents blueprint):
applying for a record's repair, and objecting to a list entry."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.db import get_session
from app.errors import Conflict, InvalidInput
from app.services.accounts.users import RESIDENT
from app.services.due_process.ways_out import (
    apply_for_repair,
    entries_of,
    object_to_entry,
)
from app.services.subject_file.due_process import due_process_of
from app.web import rulebook, today
from app.web.auth import role_required
from app.web.due_forms import EntryObjectionForm, RepairApplicationForm, problems_of
from app.web.residents import bp


def _subject_id() -> str:
    if not current_user.subject_id:
        abort(403)
    return current_user.subject_id


@bp.route("/me/records/<int:record_id>/repair", methods=["GET", "POST"])
@role_required(RESIDENT)
def apply_for_record_repair(record_id: int):
    """Apply to have one of my records marked repaired, saying what was put right."""
    file = due_process_of(get_session(), rulebook=rulebook(), subject_id=_subject_id(),
                          today=today())
    status = next((r for r in file.records if r.record.id == record_id), None)
    if status is None or status.repairable_on is None:
        abort(404)
    form = RepairApplicationForm()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            application = apply_for_repair(
                get_session(), rulebook=rulebook(), subject_id=_subject_id(),
                record_id=record_id, statement=form.statement.data,
                actor=current_user.username, today=today())
        except InvalidInput as error:
            problems = problems_of(error)
        except Conflict as error:
            problems = {"": [str(error)]}
        else:
            flash(_("Your application to repair record %(id)s is filed. The department decides "
                    "by %(day)s.", id=record_id, day=application.deadline.isoformat()),
                  "success")
            return redirect(url_for("residents.me"))
    code = 422 if problems or (request.method == "POST" and form.errors) else 200
    return render_template("residents/repair.html", status=status, form=form,
                           problems=problems, rules=rulebook()), code


@bp.route("/me/entries/<int:entry_id>/objection", methods=["GET", "POST"])
@role_required(RESIDENT)
def object_to_list_entry(entry_id: int):
    """Object to one of my list entries, within the list's window, with a reason."""
    entries = entries_of(get_session(), rulebook=rulebook(), subject_id=_subject_id(),
                         today=today())
    status = next((e for e in entries if e.entry.id == entry_id), None)
    if status is None:
        abort(404)
    form = EntryObjectionForm()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            objection = object_to_entry(
                get_session(), rulebook=rulebook(), subject_id=_subject_id(),
                entry_id=entry_id, reason=form.reason.data, actor=current_user.username,
                today=today())
        except InvalidInput as error:
            problems = problems_of(error)
        except Conflict as error:
            problems = {"": [str(error)]}
        else:
            flash(_("Your objection to the entry is filed. A reviewer decides by %(day)s.",
                    day=objection.deadline.isoformat()), "success")
            return redirect(url_for("residents.me"))
    code = 422 if problems or (request.method == "POST" and form.errors) else 200
    return render_template("residents/entry_objection.html", status=status, form=form,
                           problems=problems, rules=rulebook()), code
