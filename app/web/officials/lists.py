"""Lists: the public page of the public lists, and the officials' pages to read lists,
enter subjects on the lists their department keeps, remove entries early, and see the
flagged subjects with the watchlist entries behind each flag."""

from __future__ import annotations

from uuid import uuid4

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField

from app.db import get_session
from app.errors import CitypointsError, InvalidInput
from app.services.accounts.users import ADMIN, AUDITOR, RECORDER, REVIEWER
from app.services.intake.drafts import read_list_entry
from app.services.lists.audited import open_flags, open_list
from app.services.lists.entries import enter, entry_end, remove_from_list
from app.services.lists.queries import count_counting, public_entries
from app.web import export_tables, rulebook, today
from app.web.auth import role_required
from app.web.exports import wants_csv
from app.web.forms import TextForm

bp = Blueprint("lists", __name__)
READERS = (RECORDER, REVIEWER, AUDITOR, ADMIN)
PER_PAGE = 100
ENTRY_FIELDS = ("subject_id", "entered_on", "ends_on", "decision_ref", "legal_basis")


class EntryForm(TextForm):
    # No validators: the service checks every field and says what is wrong with it.
    subject_id = StringField(_l("Subject ID (Resident ID number or Unified Social Credit Code)"),
                             render_kw={"autocomplete": "off", "maxlength": 40})
    entered_on = StringField(_l("Entered on (the decision's date)"), render_kw={"type": "date"})
    ends_on = StringField(_l("Ends on (only if the decision ends it before the list's term)"),
                          render_kw={"type": "date"})
    decision_ref = StringField(_l("Decision reference"), render_kw={"maxlength": 200})
    legal_basis = TextAreaField(_l("Legal basis (leave empty for the list's own)"),
                                render_kw={"rows": 2, "maxlength": 2000})
    external_ref = HiddenField()


class RemovalForm(FlaskForm):
    reason = TextAreaField(_l("Why the entry ends now"), render_kw={"rows": 2, "maxlength": 2000})


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


@bp.get("/lists")
def public_lists():
    """Show the entries on public lists that count today: name, list, basis and dates only."""
    rules = rulebook()
    public = [x for x in rules.lists if x.public]
    wanted = request.args.get("list", "")[:64] or None
    if wanted is not None and wanted not in {x.code for x in public}:
        wanted = None
    page = _page_arg()
    entries, total = public_entries(get_session(), rulebook=rules, today=today(),
                                    list_code=wanted, offset=(page - 1) * PER_PAGE,
                                    limit=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("lists/public.html", lists=public, entries=entries, total=total,
                           page=min(page, pages), pages=pages, wanted=wanted)


@bp.get("/officials/lists")
@role_required(*READERS)
def index():
    """Show every list: who keeps it, how long an entry lasts, how many entries count today."""
    rules = rulebook()
    if wants_csv():
        return export_tables.lists(rules, count_counting(get_session(), rulebook=rules,
                                                         today=today()))
    return render_template("lists/index.html", rules=rules,
                           counts=count_counting(get_session(), rulebook=rules, today=today()))


def _list_or_404(code: str):
    list_def = rulebook().list_def(code)
    if list_def is None:
        abort(404)
    return list_def


def _keeps(list_def) -> bool:
    return current_user.role == RECORDER and current_user.department in list_def.departments


def _render_list(list_def, *, form=None, problems=None, summary=None, status=200):
    include_ended = request.args.get("all") == "1"
    rows = open_list(get_session(), rulebook=rulebook(), list_def=list_def, today=today(),
                     include_ended=include_ended, viewer=current_user.username)
    if wants_csv() and request.method == "GET":
        return export_tables.list_entries(
            list_def, rows, {entry.id: entry_end(entry, list_def) for entry, _ in rows})
    if form is None and _keeps(list_def):
        form = EntryForm(formdata=None)
        form.entered_on.data = today().isoformat()
        form.external_ref.data = f"web:{uuid4()}"
    return render_template(
        "lists/list.html", list_def=list_def, rows=rows, include_ended=include_ended,
        ends={entry.id: entry_end(entry, list_def) for entry, _ in rows}, form=form,
        removal=RemovalForm(formdata=None), problems=problems or {}, summary=summary,
        keeps=_keeps(list_def), rules=rulebook()), status


@bp.get("/officials/lists/<code>")
@role_required(*READERS)
def show(code: str):
    """Show one list's entries (those counting today, or all with ?all=1)."""
    return _render_list(_list_or_404(code[:64]))


@bp.post("/officials/lists/<code>/entries")
@role_required(RECORDER)
def enter_entry(code: str):
    """Enter a subject on a list the recorder's department keeps; others get 403."""
    list_def = _list_or_404(code[:64])
    if not _keeps(list_def):
        abort(403)
    form = EntryForm()
    if not form.validate_on_submit():
        return _render_list(list_def, form=form, summary="the form expired; send it again",
                            status=400)
    try:
        draft = read_list_entry({**form.text(ENTRY_FIELDS), "list_code": list_def.code,
                                 "external_ref": (form.external_ref.data or "")[:80]})
        done = enter(get_session(), draft, rulebook=rulebook(),
                     department=current_user.department, today=today(),
                     actor=current_user.username)
    except InvalidInput as error:
        problems: dict[str, list[str]] = {}
        for problem in error.problems:
            key = problem.field if problem.field in ENTRY_FIELDS else ""
            problems.setdefault(key, []).append(problem.message)
        return _render_list(list_def, form=form, problems=problems,
                            summary=error.message, status=error.status)
    entry = done.entry
    if not done.created:
        message = _("This form was already sent: entry %(id)s exists; nothing was added.",
                    id=entry.id)
    elif entry.ends_on:
        message = _("Entered %(subject)s on %(list)s from %(start)s, until %(end)s (entry %(id)s).",
                    subject=entry.subject_id, list=entry.list_code, start=entry.entered_on,
                    end=entry.ends_on.isoformat(), id=entry.id)
    else:
        message = _("Entered %(subject)s on %(list)s from %(start)s (entry %(id)s).",
                    subject=entry.subject_id, list=entry.list_code, start=entry.entered_on,
                    id=entry.id)
    flash(message, "success")
    return redirect(url_for("lists.show", code=list_def.code))


@bp.post("/officials/lists/<code>/entries/<int:entry_id>/removal")
@role_required(RECORDER)
def remove_entry(code: str, entry_id: int):
    """Remove an entry today, with the reason; only its department may (others get 403)."""
    list_def = _list_or_404(code[:64])
    if current_user.department not in list_def.departments:
        abort(403)
    form = RemovalForm()
    if not form.validate_on_submit():
        flash(_("The form expired; send it again."), "error")
        return redirect(url_for("lists.show", code=list_def.code))
    try:
        entry = remove_from_list(get_session(), rulebook=rulebook(), entry_id=entry_id,
                                 list_code=list_def.code, department=current_user.department,
                                 reason=form.reason.data, actor=current_user.username,
                                 today=today())
    except CitypointsError as error:
        if error.status == 403:
            raise
        flash(_("Entry %(id)s was not removed: %(reason)s", id=entry_id, reason=error.message),
              "error")
        return redirect(url_for("lists.show", code=list_def.code))
    flash(_("Entry %(id)s (%(subject)s on %(list)s) ends today, %(day)s; measures that "
            "followed from it stop at once.", id=entry.id, subject=entry.subject_id,
            list=entry.list_code, day=entry.removed_on), "success")
    return redirect(url_for("lists.show", code=list_def.code))


@bp.get("/officials/flags")
@role_required(*READERS)
def flags():
    """Show the subjects the last nightly run flagged, with the entries behind each flag."""
    flagged = open_flags(get_session(), rulebook=rulebook(), viewer=current_user.username)
    if wants_csv():
        return export_tables.flags(flagged)
    return render_template("lists/flags.html", flagged=flagged, rules=rulebook())
