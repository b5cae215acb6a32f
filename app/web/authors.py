"""Pages for rule authors (and admins): the rulebook in force, its history and diffs, the
last refused reload, a reload button, and simulating a candidate before it takes effect."""

from __future__ import annotations

import pickle

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField

from app.db import get_session
from app.errors import CitypointsError, Forbidden, InvalidInput
from app.job_kinds import SIMULATE
from app.services.accounts.users import ADMIN, RULE_AUTHOR
from app.services.jobs import job_key
from app.services.rulebooks.announce import simulate_first_day
from app.services.rulebooks.candidates import (
    candidate_dir,
    candidate_dirs,
    candidate_from_dir,
    candidate_from_texts,
    read_zip,
)
from app.services.rulebooks.dates import check_run_day
from app.services.rulebooks.history import rulebook_diff, rulebook_history, rulebook_status
from app.services.rulebooks.in_force import cancel as cancel_scheduled
from app.services.rulebooks.in_force import coming_rulebooks, scheduling_problems
from app.services.rulebooks.registry import EXTENSION_KEY as RULEBOOKS
from app.web import rulebook, today
from app.web.auth import role_required
from app.web.exports import csv_response, wants_csv
from app.web.jobs import queue, shows

bp = Blueprint("authors", __name__, url_prefix="/authors")
AUTHORS = (RULE_AUTHOR, ADMIN)


class ReloadForm(FlaskForm):
    # An admin's decision (audited): a rules directory without rule tests is refused otherwise.
    without_tests = BooleanField(_l("Put it in force even if it has no rule tests (admins only; "
                                    "audited)"))


class SimulateForm(FlaskForm):
    upload = FileField(_l("A zip of the candidate rules directory"),
                       render_kw={"accept": ".zip,application/zip"})
    directory = SelectField(_l("or a candidate directory on the server"), choices=[],
                            validate_choice=False)
    as_of = StringField(_l("Compare on"), render_kw={"type": "date"})


def _registry():
    return current_app.extensions[RULEBOOKS]


@bp.get("")
@role_required(*AUTHORS)
def home():
    """Show the rulebook in force, the last refused reload, the history and a diff form."""
    session = get_session()
    registry = _registry()
    try:
        registry.current()
    except CitypointsError:
        pass  # the page says that nothing is in force
    history = rulebook_history(session)
    if wants_csv():
        return csv_response(history, HISTORY_COLUMNS, name="rulebook-history")
    coming = (coming_rulebooks(session, registry.state.rulebook, today=today())
              if registry.state.rulebook is not None else [])
    return render_template("authors/home.html", state=registry.state,
                           status=rulebook_status(session), history=history,
                           form=ReloadForm(), rules_dir=registry.rules_dir, coming=coming,
                           in_force_today=rulebook() if registry.state.rulebook else None)


HISTORY_COLUMNS = [("fingerprint", "fingerprint"), ("at", "at"), ("by", "by"), ("how", "kind"),
                   ("source", "source")]


@bp.post("/reload")
@role_required(*AUTHORS)
def reload():
    """Reload the rules directory, in two steps: first the simulation of what it holds on its
    first day against the rulebook in force that day, then (confirmed) putting it in force or
    scheduling it. A directory a reload would refuse is refused at once, with its problems."""
    form = ReloadForm()
    if not form.validate_on_submit():
        raise CitypointsError("the form expired; reload the page and press the button again")
    without_tests = bool(form.without_tests.data)
    if without_tests and current_user.role != ADMIN:
        raise Forbidden("only an admin may put a rulebook without rule tests in force")
    registry = _registry()
    confirmed = request.form.get("confirm", "")[:64]
    preview = _preview(registry, without_tests=without_tests)
    if preview is not None and confirmed != preview[0].rulebook.fingerprint:
        if confirmed:
            flash(_("The rules directory changed since its simulation; this is the simulation "
                    "of what it holds now."), "error")
        candidate, report, first = preview
        return render_template("authors/confirm_reload.html", form=form, candidate=candidate,
                               report=report, first_day=first, scheduled=first > today(),
                               rules_dir=registry.rules_dir, without_tests=without_tests)
    state = registry.reload(loaded_by=current_user.username, without_tests=without_tests)
    if state.problems:
        flash(_("The reload was refused with %(num)s problem(s); the rulebook in force stays. "
                "The problems are listed below.", num=len(state.problems)), "error")
    elif (state.rulebook.scheme.in_force_from or today()) > today():
        flash(_("Rulebook %(fingerprint)s is scheduled from %(day)s (%(tests)s); until then "
                "the rulebook in force stays.", fingerprint=state.rulebook.fingerprint[:12],
                day=state.rulebook.scheme.in_force_from.isoformat(),
                tests=state.tests or _("no rule tests")), "success")
    else:
        flash(_("Rulebook %(fingerprint)s is in force (%(tests)s).",
                fingerprint=state.rulebook.fingerprint[:12],
                tests=state.tests or _("no rule tests")), "success")
    return redirect(url_for("authors.home"))


def _preview(registry, *, without_tests: bool = False):
    """Return the rules directory as a candidate, its simulation on its first day and that
    day; None when a reload would refuse it (or nothing is in force to compare with): a
    directory without rule tests is simulated only when an admin puts it in force so."""
    try:
        registry.current()
        candidate = candidate_from_dir(registry.rules_dir)
    except CitypointsError:  # nothing in force, or a directory the reload will refuse
        return None
    session = get_session()
    if not candidate.tests.ok or (not candidate.tests.files and not without_tests) or \
            scheduling_problems(session, candidate.rulebook, today=today()):
        return None
    report = simulate_first_day(session, current=registry.state.rulebook,
                                candidate=candidate.rulebook, today=today(),
                                actor=current_user.username,
                                sample=current_app.config["SIMULATION_SAMPLE"],
                                source=f"reload of {registry.rules_dir}")
    return candidate, report, report.as_of


@bp.post("/cancel")
@role_required(*AUTHORS)
def cancel():
    """Cancel a scheduled rulebook before its first day (audited)."""
    form = ReloadForm()
    if not form.validate_on_submit():
        raise CitypointsError("the form expired; reload the page and press the button again")
    event = cancel_scheduled(get_session(), fingerprint=request.form.get("fingerprint", "")[:64],
                             actor=current_user.username, today=today())
    flash(_("Rulebook %(fingerprint)s will not come into force: its schedule is cancelled.",
            fingerprint=(event.fingerprint or "")[:12]), "success")
    return redirect(url_for("authors.home"))


@bp.get("/diff")
@role_required(*AUTHORS)
def diff():
    """Show what changed between two stored rulebooks (?from=FINGERPRINT&to=FINGERPRINT)."""
    old, new = request.args.get("from", "")[:64], request.args.get("to", "")[:64]
    if not old or not new:
        raise InvalidInput("choose two rulebooks to compare (?from=...&to=..., fingerprints "
                           "or their first 6 or more characters)")
    a, b, result = rulebook_diff(get_session(), old=old, new=new)
    return render_template("authors/diff.html", a=a, b=b, result=result)


def _simulate_form() -> SimulateForm:
    form = SimulateForm()
    names = candidate_dirs(current_app.config.get("RULES_CANDIDATES_DIR"))
    form.directory.choices = [("", _("— none —"))] + [(n, n) for n in names]
    return form


@bp.route("/simulate", methods=["GET", "POST"])
@role_required(*AUTHORS)
def simulate_page():
    """Compare a candidate rulebook (zip or server directory) with the one in force."""
    form = _simulate_form()
    root = current_app.config.get("RULES_CANDIDATES_DIR")
    if request.method == "GET" or not form.validate_on_submit():
        if request.method == "POST":
            flash(_("The form expired; send it again."), "error")
        return render_template("authors/simulate.html", form=form, root=root, report=None,
                               default_as_of=today())
    try:
        as_of = as_of_arg_from(form.as_of.data)
        upload = form.upload.data
        limits = _registry().limits
        if upload and getattr(upload, "filename", ""):
            candidate = candidate_from_texts(read_zip(upload.read(), limits=limits),
                                             source=f"upload {upload.filename}",
                                             label=upload.filename.removesuffix(".zip"),
                                             limits=limits)
        elif form.directory.data:
            path = candidate_dir(root, form.directory.data)
            candidate = candidate_from_dir(path, limits=limits)
        else:
            raise InvalidInput("upload a zip of the candidate rules directory, or choose a "
                               "candidate directory on the server")
        check_run_day(as_of, rulebooks=[rulebook(), candidate.rulebook], today=today())
    except InvalidInput as error:
        return render_template("authors/simulate.html", form=form, root=root, report=None,
                               error=error, default_as_of=today()), error.status
    in_force = rulebook()
    return queue(kind=SIMULATE, title=candidate.source, params={"as_of": as_of.isoformat()},
                 key=job_key(SIMULATE, current_user.username, in_force.fingerprint,
                             candidate.rulebook.fingerprint, as_of.isoformat()),
                 payload=pickle.dumps(candidate))


@shows(SIMULATE)
def _simulation_done(job, result):
    """A finished simulation: the report under the form, to simulate another."""
    as_of = result["report"].as_of
    return render_template("authors/simulate.html", form=_simulate_form(),
                           root=current_app.config.get("RULES_CANDIDATES_DIR"),
                           report=result["report"], candidate=result["candidate"],
                           default_as_of=as_of)


def as_of_arg_from(raw: str | None):
    """Return the date typed in the form, or today (a bad date is a readable error)."""
    from app.services.intake.rows import parse_iso_date

    raw = (raw or "").strip()
    if not raw:
        return today()
    try:
        return parse_iso_date(raw[:40])
    except ValueError as error:
        raise InvalidInput(f"compare on: {error}") from None

