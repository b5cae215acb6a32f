"""Admin pages: accounts (list, create, deactivate) and the departments' API tokens (list,
create with the secret shown once, revoke). For the admin role only; every change is audited
by the services."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import Length

from app.db import get_session
from app.errors import CitypointsError, Conflict, InvalidInput, Problem
from app.models import utcnow
from app.services.accounts import tokens as token_service
from app.services.accounts import users as account_service
from app.services.accounts.users import ADMIN, MIN_PASSWORD, ROLES
from app.services.subjects.consent import set_consent
from app.web import export_tables, rulebook, today
from app.web.auth import role_required
from app.web.exports import wants_csv
from app.web.i18n import local_title
from app.web.terms import term

bp = Blueprint("admin", __name__, url_prefix="/admin")

ACCOUNT_FIELDS = ("username", "password", "role", "department", "subject_id", "display_name")
TOKEN_FIELDS = ("department", "name", "expires_in")


class AccountForm(FlaskForm):
    # Few validators here: create_account checks the fields and says what is wrong.
    username = StringField(_l("User name"), validators=[Length(max=80)],
                           render_kw={"autocomplete": "off", "autocapitalize": "none",
                                      "maxlength": 80})
    password = PasswordField(_l("Password (at least %(num)s characters)", num=MIN_PASSWORD),
                             validators=[Length(max=500)],
                             render_kw={"autocomplete": "new-password"})
    role = SelectField(_l("Role"), choices=[(r, r) for r in ROLES])
    department = SelectField(_l("Department (recorders and reviewers need one)"), choices=[],
                             validate_choice=False)  # create_account checks it
    subject_id = StringField(_l("Subject ID (residents only)"), validators=[Length(max=40)],
                             render_kw={"autocomplete": "off", "maxlength": 40,
                                        "autocapitalize": "characters"})
    display_name = StringField(_l("Display name (optional)"), validators=[Length(max=200)],
                               render_kw={"maxlength": 200})


class TokenForm(FlaskForm):
    department = SelectField(_l("Department the token acts for"), choices=[],
                             validate_choice=False)  # create_token checks it
    name = StringField(_l("What it is for (the calling system)"), validators=[Length(max=200)],
                       render_kw={"maxlength": 200})
    expires_in = StringField(_l("Expires in (e.g. 365d, 6m, 1y, or never)"), default="365d",
                             validators=[Length(max=20)], render_kw={"maxlength": 20})


def _departments() -> list[tuple[str, str]]:
    return [(d.code, f"{local_title(d)} ({d.code})" if d.title else d.code)
            for d in rulebook().departments]


def _account_form() -> AccountForm:
    form = AccountForm()
    form.role.choices = [(r, term(r)) for r in ROLES]  # the roles' names in the page's language
    form.department.choices = [("", _("— none —"))] + _departments()
    return form


def _token_form() -> TokenForm:
    form = TokenForm()
    form.department.choices = [("", _("— choose the department —"))] + _departments()
    return form


def _account_field(message: str) -> str:
    """Return the form field an account error is about ("" for the whole form)."""
    text = message.lower()
    if text.startswith("the password"):
        return "password"
    if "user name" in text:
        return "username"
    if "role" in text:
        return "role"
    if "department" in text:
        return "department"
    if "subject" in text:
        return "subject_id"
    return ""


def _web_words(message: str) -> str:
    """The service speaks in CLI options here and there; say it as on the form."""
    return message.replace("--department", "a department").replace("--subject", "a subject")


def _problems_of(error: CitypointsError, fields, guess) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if error.problems:
        for problem in error.problems:
            field = problem.field if problem.field in fields else guess(problem.message)
            problems.setdefault(field, []).append(_web_words(problem.message))
    else:
        problems.setdefault(guess(error.message), []).append(_web_words(error.message))
    return problems


def _merged(form, problems: dict[str, list[str]]) -> dict[str, list[str]]:
    """Return the form's own errors and the service's, by field."""
    merged = {name: list(errors) for name, errors in form.errors.items() if name != "csrf_token"}
    for name, messages in problems.items():
        merged.setdefault(name, []).extend(messages)
    if "csrf_token" in form.errors:
        merged.setdefault("", []).append(
            "the form expired or was sent from elsewhere; reload it and send it again")
    return merged


def _accounts_page(form: AccountForm, problems: dict[str, list[str]]):
    problems = _merged(form, problems)
    return render_template("admin/accounts.html", form=form, problems=problems,
                           accounts=account_service.list_accounts(get_session())), \
        422 if problems else 200


@bp.get("/accounts")
@role_required(ADMIN)
def accounts():
    """List the accounts, with the form for a new one."""
    if wants_csv():
        return export_tables.accounts(account_service.list_accounts(get_session()))
    return _accounts_page(_account_form(), {})


@bp.post("/accounts")
@role_required(ADMIN)
def create_account():
    """Create an account (audited); show every problem by its field."""
    session = get_session()
    form = _account_form()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            # The policy first, so its message lands on the password field.
            account_service.check_password_policy(form.password.data or "",
                                                  (form.username.data or "").strip())
            account = account_service.create_account(
                session, username=form.username.data, password=form.password.data,
                role=form.role.data, department=form.department.data or None,
                subject_id=(form.subject_id.data or "").strip().upper() or None,
                display_name=(form.display_name.data or "").strip(),
                actor=current_user.username)
        except (InvalidInput, Conflict) as error:
            problems = _problems_of(error, ACCOUNT_FIELDS, _account_field)
        else:
            flash(_("Account %(name)s (%(role)s) created.", name=account.username,
                    role=term(account.role)), "success")
            return redirect(url_for("admin.accounts"))
    return _accounts_page(form, problems)


# The buttons below post the CSRF token of the page (CSRFProtect checks every POST).
@bp.post("/accounts/<int:account_id>/deactivate")
@role_required(ADMIN)
def deactivate_account(account_id: int):
    """Deactivate an account: it can no longer log in (audited)."""
    account = account_service.set_active(get_session(), account_id=account_id, active=False,
                                         actor=current_user.username)
    flash(_("Account %(name)s deactivated: it can no longer log in.", name=account.username),
          "success")
    return redirect(url_for("admin.accounts"))


@bp.post("/subjects/<subject_id>/consent")
@role_required(ADMIN)
def subject_consent(subject_id: str):
    """Give or withdraw a subject's consent for them, saying why (kept and audited)."""
    reason = (request.form.get("reason") or "").strip()[:1000]
    give = request.form.get("consent") == "yes"
    if not reason:
        raise InvalidInput(_("Say why you change this subject's consent for them."),
                           problems=[Problem("the reason is empty", field="reason")])
    change = set_consent(get_session(), subject_id=subject_id[:40], consent=give,
                         actor=current_user.username, today=today(), reason=reason)
    flash(_("Consent recorded for this subject.") if give
          else _("Consent withdrawn for this subject."), "success")
    return redirect(url_for("officials.subject_file", subject_id=change.subject_id))


def _token_field(message: str) -> str:
    text = message.lower()
    if "department" in text:
        return "department"
    if "expires" in text:
        return "expires_in"
    if "name" in text:
        return "name"
    return ""


def _tokens_page(form: TokenForm, problems: dict[str, list[str]], created=None):
    problems = _merged(form, problems) if created is None else {}
    response = make_response(render_template(
        "admin/tokens.html", form=form, problems=problems, created=created,
        tokens=token_service.list_tokens(get_session()), now=utcnow(),
        status_of=token_service.status_of), 422 if problems else 200)
    response.headers["Cache-Control"] = "no-store"  # the secret must not sit in a cache
    return response


@bp.get("/tokens")
@role_required(ADMIN)
def tokens():
    """List the API tokens (never their secret), with the form for a new one."""
    if wants_csv():
        return export_tables.tokens(token_service.list_tokens(get_session()),
                                    token_service.status_of)
    return _tokens_page(_token_form(), {})


@bp.post("/tokens")
@role_required(ADMIN)
def create_token():
    """Create a token (audited) and show its secret this once."""
    form = _token_form()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            created = token_service.create_token(
                get_session(), rulebook=rulebook(), department=form.department.data,
                name=form.name.data or "", expires_in=form.expires_in.data,
                actor=current_user.username)
        except InvalidInput as error:
            problems = _problems_of(error, TOKEN_FIELDS, _token_field)
        else:
            fresh = _token_form()
            fresh.process(formdata=None)  # an empty form below the secret
            return _tokens_page(fresh, {}, created)
    return _tokens_page(form, problems)


@bp.post("/tokens/<int:token_id>/revoke")
@role_required(ADMIN)
def revoke_token(token_id: int):
    """Revoke an API token at once (audited)."""
    token = token_service.revoke_token(get_session(), token_id=token_id,
                                       actor=current_user.username)
    flash(_("Token %(id)s (%(prefix)s…, %(department)s) revoked.", id=token.id,
            prefix=token.prefix, department=token.department_code), "success")
    return redirect(url_for("admin.tokens"))
