"""The pages' forms (Flask-WTF: each carries its CSRF token). Checking belongs to the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField(_l("User name"),
                           validators=[DataRequired(message=_l("enter your user name")),
                                       Length(max=80)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"),
                             validators=[DataRequired(message=_l("enter your password")),
                                         Length(max=500)],
                             render_kw={"autocomplete": "current-password"})


class PasswordForm(FlaskForm):
    """A new password for one's own account (the service checks its strength)."""

    current = PasswordField(_l("Current password"),
                            validators=[DataRequired(message=_l("enter your password")),
                                        Length(max=500)],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("New password"),
                        validators=[DataRequired(message=_l("enter a new password")),
                                    Length(max=500)],
                        render_kw={"autocomplete": "new-password"})


class TextForm(FlaskForm):
    """A form of text fields that a service's draft reads (app.services.intake.drafts), as
    it reads a file's row: the service checks every field and says what is wrong with it."""

    def text(self, names: tuple[str, ...]) -> dict[str, str]:
        """Return the named fields' text (empty for a missing value)."""
        return {name: str(self[name].data or "") for name in names}


class RecordForm(TextForm):
    # No validators here: record_conduct checks every field and says what is wrong with it.
    subject_id = StringField(_l("Subject ID (Resident ID number or Unified Social Credit Code)"),
                             render_kw={"autocomplete": "off", "maxlength": 40,
                                        "autocapitalize": "characters"})
    rule_code = SelectField(_l("Conduct (rule code)"), choices=[], validate_choice=False)
    occurred_on = StringField(_l("Date of the conduct"), render_kw={"type": "date"})
    evidence = TextAreaField(_l("Evidence (file number, decision, what was seen)"),
                             render_kw={"rows": 3, "maxlength": 2000})
    external_ref = HiddenField()
    # The subject the recorder has seen (name and tier) on this form: saving needs it to be
    # the subject in subject_id, so the first press of Record on a new subject only shows it.
    checked_subject = HiddenField()


class ImportForm(FlaskForm):
    file = FileField(_l("Records file (CSV or JSON lines)"),
                     validators=[FileRequired(message=_l("choose a file to import"))],
                     render_kw={"accept": ".csv,.jsonl,.json,.txt,text/csv"})
