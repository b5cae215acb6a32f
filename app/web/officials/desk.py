"""Officials' pages: runs and rulebook state, finding a subject, a subject's file, and
recording conduct (by form or file) for the recorder's own department."""

from __future__ import annotations

from uuid import uuid4

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.utils import secure_filename

from app.db import get_session
from app.errors import InvalidInput, NotFound
from app.identifiers import clean
from app.models import Subject
from app.services.accounts.users import ADMIN, AUDITOR, OFFICIAL_ROLES, RECORDER, REVIEWER
from app.services.intake.drafts import read_record
from app.services.records.conduct import import_records_file, record_conduct
from app.services.standings.recompute import last_runs
from app.services.subject_file.chart import points_over_time
from app.services.subject_file.due_process import due_process_of
from app.services.subject_file.standing import (
    open_subject_file,
    recent_records,
    standing_seen_by,
)
from app.services.subjects.register import find_subjects
from app.web import export_tables, rulebook, rulebook_state, same_origin_request, today
from app.web.auth import role_required
from app.web.exports import wants_csv
from app.web.forms import ImportForm, RecordForm
from app.web.i18n import current_language, local_title
from app.web.inputs import as_of_arg
from app.web.officials import bp

# A rule author works on the tables, not on people: no individual files (principle 5).
FILE_READERS = (RECORDER, REVIEWER, AUDITOR, ADMIN)
RECORD_FIELDS = ("subject_id", "rule_code", "occurred_on", "evidence")


@bp.get("")
@role_required(*OFFICIAL_ROLES)
def home():
    """Show the last nightly runs; a recorder's recent records; an admin the rulebook state."""
    session = get_session()
    runs = last_runs(session, limit=10)
    records = (recent_records(session, department=current_user.department, limit=10)
               if current_user.role == RECORDER and current_user.department else [])
    state = rulebook_state() if current_user.role == ADMIN else None
    from app.web.officials.dashboard import dashboard, dashboard_csv

    data = dashboard(session)
    if wants_csv():
        return dashboard_csv(data, runs=runs, records=records)
    return render_template("officials/home.html", runs=runs, records=records, state=state,
                           **data)


@bp.get("/subjects")
@role_required(*FILE_READERS)
def subjects():
    """Find subjects by identifier or part of the name."""
    query = request.args.get("q", "").strip()[:200]
    found = find_subjects(get_session(), query) if query else []
    if wants_csv():
        return export_tables.subjects(found, query=query)
    return render_template("officials/subjects.html", query=query, found=found)


@bp.get("/subjects/<subject_id>")
@role_required(*FILE_READERS)
def subject_file(subject_id: str):
    """Show one subject's file on `as_of` (each look is audited)."""
    if not same_origin_request():
        # A link on another site must not make an official look (and be audited as
        # looking): the official opens the file from here, or not at all.
        return render_template("officials/look.html", subject_id=subject_id[:40],
                               again=request.full_path)
    as_of = as_of_arg()
    rules = rulebook()
    file = open_subject_file(get_session(), rulebook=rules, subject_id=subject_id[:40],
                             as_of=as_of, viewer=current_user.username)
    sid = file.subject.subject_id
    table = request.args.get("table") if wants_csv() else None
    if wants_csv() and table not in ("history", "due-process"):
        return export_tables.subject_records(file)
    over_time = points_over_time(get_session(), rulebook=rules, subject_id=sid, as_of=as_of,
                              you=False)
    if table == "history":
        return export_tables.points_over_time(file, over_time)
    due_process = due_process_of(get_session(), rulebook=rules, subject_id=sid, today=today(),
                                 reader_language=current_language())
    if table == "due-process":
        return export_tables.subject_due_process(file, due_process)
    return render_template(
        "officials/subject.html", file=file, rules=rules, over_time=over_time,
        due_process=due_process, as_of_action=url_for("officials.subject_file", subject_id=sid))


def _code_choices(rules, department: str | None, day) -> list[tuple[str, str]]:
    choices = [("", _("— choose the conduct —"))]
    for code in rules.codes_for_department(department or "", day):
        rule = rules.rule_on(code, day)
        label = f"{code}: {local_title(rule)} ({rule.points:+d})" if rule else code
        choices.append((code, label))
    return choices


def _fresh_ref() -> str:
    return f"web:{uuid4()}"


@bp.route("/record", methods=["GET", "POST"])
@role_required(RECORDER)
def record():
    """Record one conduct from the department's codes; show each problem by its field."""
    rules, day = rulebook(), today()
    form = RecordForm()
    form.rule_code.choices = _code_choices(rules, current_user.department, day)
    problems: dict[str, list[str]] = {}
    summary = None
    seen = None
    if request.method == "GET":
        form.subject_id.data = request.args.get("subject_id", "")[:40]
        form.occurred_on.data = day.isoformat()
        form.external_ref.data = _fresh_ref()
        seen = _subject_to_check(form.subject_id.data, day) if form.subject_id.data else None
    elif form.validate_on_submit() and (
            clean(form.subject_id.data or "") != (form.checked_subject.data or "")
            and (seen := _subject_to_check(form.subject_id.data or "", day)) is not None):
        pass  # a subject not yet seen on this form: show its name and tier, save nothing
    elif form.validate_on_submit():
        try:
            done = record_conduct(
                get_session(), read_record(form.text(RECORD_FIELDS + ("external_ref",))),
                rulebook=rules, department=current_user.department,
                recorded_by=current_user.username, today=day)
        except InvalidInput as error:
            for problem in error.problems:
                field = problem.field if problem.field in RECORD_FIELDS else ""
                problems.setdefault(field, []).append(problem.message)
            marked = len(problems) - ("" in problems)
            summary = (f"correct the {marked} field{'s' * (marked != 1)} marked below"
                       if marked else error.message)
        else:
            flash(_recorded_message(done.record, created=done.created), "success")
            return redirect(url_for("officials.subject_file",
                                    subject_id=done.record.subject_id))
    ref = (form.external_ref.data or "").strip()
    if not ref.startswith("web:") or len(ref) > 80:
        form.external_ref.data = _fresh_ref()
    status = 422 if summary or form.errors else 200
    if seen is not None:
        form.checked_subject.data = seen[0].subject_id
    elif clean(form.subject_id.data or "") != (form.checked_subject.data or ""):
        form.checked_subject.data = ""
    department = rules.department(current_user.department or "")
    return render_template("officials/record.html", form=form, problems=problems,
                           summary=summary, department=department, seen=seen), status


def _subject_to_check(subject_id: str, day):
    """Return (subject, standing today) for the recorder to check before saving a record, or
    None when the identifier names no one (record_conduct then says what is wrong with it).
    The look is audited like any official's look at a subject's standing."""
    try:
        standing = standing_seen_by(get_session(), rulebook=rulebook(), subject_id=subject_id,
                                    as_of=day, viewer=current_user.username, via="record form")
    except (InvalidInput, NotFound):
        return None
    return get_session().get(Subject, standing.subject_id), standing


def _recorded_message(record, *, created: bool) -> str:
    how = record.note or _("the rule's points, no repeat or cap applied")
    points = format(record.points, "+d")
    if not created:
        return _("This form was already sent: record %(id)s (%(code)s, %(points)s points) is "
                 "recorded once; nothing was added.", id=record.id, code=record.rule_code,
                 points=points)
    return _("Recorded %(code)s on %(day)s: %(points)s points fixed (%(how)s).",
             code=record.rule_code, day=record.occurred_on.isoformat(), points=points, how=how)


@bp.route("/import", methods=["GET", "POST"])
@role_required(RECORDER)
def import_records():
    """Import a department file: all rows or none; show each bad row and column."""
    form = ImportForm()
    result = error = None
    name = ""
    if form.validate_on_submit():
        upload = form.file.data
        name = secure_filename(upload.filename or "") or "upload.csv"
        try:
            result = import_records_file(
                get_session(), rulebook=rulebook(), department=current_user.department,
                data=upload.read(), name=name, recorded_by=current_user.username,
                today=today())
        except InvalidInput as exc:
            error = exc
    status = 422 if error or form.errors else 200
    return render_template("officials/import.html", form=form, result=result, error=error,
                           name=name), status

