"""Bulk intake from the web: a recorder uploads the department's CSV of records or list
entries, sees every row's problems by row and column (or what would be added), and confirms.

Nothing is written before the confirmation, and only when every row is valid. The file
stays on the server between preview and confirmation (instance/uploads/, under a random
token, for the account that sent it); the confirmation imports exactly those bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice

from app.db import get_session
from app.errors import InvalidInput
from app.job_kinds import INTAKE_CONFIRM, INTAKE_PREVIEW
from app.services.accounts.users import RECORDER
from app.services.intake.drafts import LIST_ENTRY_FILE, RECORD_FILE
from app.services.intake.rows import read_rows
from app.services.intake.uploads import UploadQuotaExceeded, UploadStore
from app.services.jobs import DONE, LIVE, job_key, latest_job, result_of
from app.services.lists.entries import import_list_entries_file
from app.services.records.conduct import import_records_file
from app.web import rulebook, today
from app.web.auth import role_required
from app.web.jobs import queue, shows

bp = Blueprint("intake", __name__, url_prefix="/officials/intake")

KINDS = {"records": (_l("Records of conduct"), RECORD_FILE.columns),
         "list-entries": (_l("List entries"), LIST_ENTRY_FILE.columns)}
MAX_UPLOAD = 32 * 1024 * 1024  # 100,000 rows of records are about 10 MB
QUOTA = 96 * 1024 * 1024  # what one account's uploads waiting for confirmation may take
SHOW_PROBLEM_ROWS = 200  # bad rows shown with their cells; every problem is in the CSV report
SHOW_PLANNED = 50


class UploadForm(FlaskForm):
    kind = RadioField(_l("What the file holds"), default="records",
                      choices=[SelectChoice(k, v[0]) for k, v in KINDS.items()])
    file = FileField(_l("File (CSV with a header row, or JSON lines)"),
                     validators=[FileRequired(message=_l("choose a file to upload"))],
                     render_kw={"accept": ".csv,.jsonl,.json,.txt,text/csv"})


class ConfirmForm(FlaskForm):
    """A form with only its CSRF token: confirming or discarding an upload."""


def _store() -> UploadStore:
    return UploadStore(current_app.config.get("UPLOAD_DIR")
                       or os.path.join(current_app.instance_path, "uploads"))


def _check(upload, data: bytes, *, dry_run: bool):
    """Run the import of `upload` (a dry run for the preview); return its result."""
    common = dict(rulebook=rulebook(), department=upload.department, data=data,
                  name=upload.name, today=today(), dry_run=dry_run)
    if upload.kind == "list-entries":
        return import_list_entries_file(get_session(), actor=current_user.username, **common)
    return import_records_file(get_session(), recorded_by=current_user.username, **common)


@bp.route("", methods=["GET", "POST"])
@role_required(RECORDER)
def upload():
    """Take a department file and keep it for the preview."""
    limit = current_app.config.get("INTAKE_MAX_BYTES", MAX_UPLOAD)
    if (request.content_length or 0) > limit:
        abort(413)  # (the app-wide MAX_CONTENT_LENGTH already bounds what is read at all)
    form = UploadForm()
    if form.validate_on_submit():
        data = form.file.data.read(limit + 1)
        if len(data) > limit:
            abort(413)
        try:
            kept = _store().save(
                data=data, owner=current_user.username, department=current_user.department,
                kind=form.kind.data,
                name=secure_filename(form.file.data.filename or "") or "upload.csv",
                quota=current_app.config.get("INTAKE_QUOTA_BYTES", QUOTA))
        except UploadQuotaExceeded as full:
            form.file.errors = [_(
                "Your uploads waiting for confirmation take %(used)s MB of your %(quota)s MB, "
                "and this file is %(size)s MB. Confirm or discard them first (each is removed "
                "a day after it was sent).", used=f"{full.used / 2**20:.1f}",
                quota=f"{full.quota / 2**20:.1f}", size=f"{full.size / 2**20:.1f}")]
            return render_template("intake/upload.html", form=form, kinds=KINDS,
                                   max_mb=limit >> 20), 413
        return redirect(url_for("intake.preview", token=kept.token))
    status = 422 if form.errors else 200
    return render_template("intake/upload.html", form=form, kinds=KINDS,
                           max_mb=current_app.config.get("INTAKE_MAX_BYTES", MAX_UPLOAD) >> 20), \
        status


def _problem_rows(data: bytes, upload, problems) -> tuple[list[str], list[dict]]:
    """Return the columns and the first bad rows, each with its cells and problems by column."""
    columns = list(KINDS[upload.kind][1])
    by_row: dict[int, dict[str, list[str]]] = {}
    for problem in problems:
        if problem.row is not None and (problem.row in by_row or
                                        len(by_row) < SHOW_PROBLEM_ROWS):
            by_row.setdefault(problem.row, {}).setdefault(problem.field or "", []).append(
                problem.message)
    if not by_row:
        return columns, []
    try:
        rows = read_rows(data, name=upload.name, columns=KINDS[upload.kind][1], required=())
    except InvalidInput:
        rows = []
    cells = {r.line: r.values for r in rows if r.line in by_row}
    out = [{"line": line, "cells": cells.get(line, {}), "problems": marks}
           for line, marks in sorted(by_row.items())]
    return columns, out


def _preview_key(upload) -> str:
    return job_key(INTAKE_PREVIEW, upload.owner, upload.token, upload.sha256)


def _job_params(upload) -> dict:
    return {"token": upload.token, "kind": upload.kind, "department": upload.department,
            "name": upload.name}


@bp.get("/<token>")
@role_required(RECORDER)
def preview(token: str):
    """Check every row of the upload without writing (a job); show the problems or what
    would be added."""
    upload, data = _store().load(token, owner=current_user.username)
    latest = latest_job(get_session(), key=_preview_key(upload))
    if latest is not None and latest.state == DONE:
        return _preview_page(upload, data, result_of(latest))
    if latest is not None and latest.state in LIVE:
        return redirect(url_for("jobs.show", job_id=latest.id))
    return queue(kind=INTAKE_PREVIEW, key=_preview_key(upload), title=upload.name,
                 params=_job_params(upload), payload=data)


def _preview_page(upload, data: bytes, outcome: dict):
    result, error = outcome["result"], outcome["error"]
    columns, bad_rows = _problem_rows(data, upload, error.problems) if error else ([], [])
    return render_template(
        "intake/preview.html", upload=upload, kind_title=KINDS[upload.kind][0], result=result,
        error=error, columns=columns, bad_rows=bad_rows,
        other_problems=[p for p in (error.problems if error else []) if p.row is None],
        planned=(result.planned[:SHOW_PLANNED] if result else []), form=ConfirmForm(),
        rules=rulebook()), 422 if error else 200


@shows(INTAKE_PREVIEW)
def _preview_done(job, outcome):
    upload, data = _store().load(json.loads(job.params)["token"], owner=job.owner)
    return _preview_page(upload, data, outcome)


@bp.get("/<token>/problems.csv")
@role_required(RECORDER)
def problems_csv(token: str):
    """Every problem of the upload as CSV: row, column, message."""
    upload, data = _store().load(token, owner=current_user.username)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "column", "message"])
    latest = latest_job(get_session(), key=_preview_key(upload))
    error = result_of(latest)["error"] if latest is not None and latest.state == DONE else None
    if latest is None or latest.state != DONE:
        try:
            _check(upload, data, dry_run=True)
        except InvalidInput as exc:
            error = exc
    for p in error.problems if error else ():
        writer.writerow([p.row if p.row is not None else p.where, p.field, p.message])
    return current_app.response_class(
        out.getvalue(), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{upload.name}.problems.csv"'})


@bp.post("/<token>/confirm")
@role_required(RECORDER)
def confirm(token: str):
    """Import the upload: every row, or none if any row is (now) invalid."""
    store = _store()
    upload, data = store.load(token, owner=current_user.username)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("intake.preview", token=token))
    return queue(kind=INTAKE_CONFIRM, title=upload.name, params=_job_params(upload),
                 key=job_key(INTAKE_CONFIRM, upload.owner, upload.token, upload.sha256),
                 payload=data)


@shows(INTAKE_CONFIRM)
def _confirm_done(job, outcome):
    """A finished import: what was added; or, when a row was (now) invalid, its problems."""
    params = json.loads(job.params)
    result, error = outcome["result"], outcome["error"]
    if error is not None:
        upload, data = _store().load(params["token"], owner=job.owner)
        flash(_("Nothing was written: the file has problems (see below)."), "error")
        return _preview_page(upload, data, outcome)
    flash(_("%(name)s: %(rows)s rows; %(added)s added, %(unchanged)s were already there "
            "(nothing is added twice).", name=params["name"], rows=result.rows,
            added=result.added, unchanged=result.unchanged), "success")
    return redirect(url_for("intake.upload"))


@bp.post("/<token>/discard")
@role_required(RECORDER)
def discard(token: str):
    """Throw an upload away without importing it."""
    store = _store()
    upload = store.describe(token, owner=current_user.username)
    if ConfirmForm().validate_on_submit():
        store.discard(token)
        flash(_("%(name)s was discarded; nothing was written.", name=upload.name), "info")
    return redirect(url_for("intake.upload"))
