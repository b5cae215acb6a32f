"""The due-process forms (each carries its CSRF token). Checking belongs to the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField, TextAreaField

from app.errors import InvalidInput

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) pairs

    def SelectChoice(value: str, label: str):  # noqa: N802
        return (value, label)


def problems_of(error: InvalidInput) -> dict[str, list[str]]:
    """Return an input error's messages by field ("" for the form as a whole)."""
    problems: dict[str, list[str]] = {}
    for problem in error.problems or []:
        problems.setdefault(problem.field or "", []).append(problem.message)
    if not problems:
        problems[""] = [error.message]
    return problems


class ObjectionForm(FlaskForm):
    reason = TextAreaField(_l("Why is the record wrong?"), render_kw={"rows": 5, "maxlength": 4000})
    attachment_ref = StringField(_l("Reference of a supporting document (optional)"),
                                 render_kw={"maxlength": 500, "autocomplete": "off"})


class DecisionForm(FlaskForm):
    outcome = RadioField(_l("Decision"), validate_choice=False, choices=[
        SelectChoice("upheld", _l("Upheld: the record stands (the objection is rejected)")),
        SelectChoice("annulled", _l("Annulled: the record is annulled (the objection succeeds)"))])
    reason = TextAreaField(_l("Reasons (the subject reads them)"),
                           render_kw={"rows": 6, "maxlength": 4000})


class RepairApplicationForm(FlaskForm):
    statement = TextAreaField(_l("What was put right? (the debt paid, the training done, ...)"),
                              render_kw={"rows": 4, "maxlength": 4000})


class EntryObjectionForm(FlaskForm):
    reason = TextAreaField(_l("Why is the entry wrong?"), render_kw={"rows": 5, "maxlength": 4000})


class RepairDecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"), validate_choice=False, choices=[
        SelectChoice("grant", _l("Granted: the record is marked repaired")),
        SelectChoice("refuse", _l("Refused: the record counts as before"))])
    reason = TextAreaField(_l("Reasons (the subject reads them)"),
                           render_kw={"rows": 4, "maxlength": 4000})


class EntryDecisionForm(FlaskForm):
    outcome = RadioField(_l("Decision"), validate_choice=False, choices=[
        SelectChoice("upheld", _l("Upheld: the entry stands (the objection is rejected)")),
        SelectChoice("ended", _l("Ended: the entry ends today (the objection succeeds)"))])
    reason = TextAreaField(_l("Reasons (the subject reads them)"),
                           render_kw={"rows": 6, "maxlength": 4000})


class VoidForm(FlaskForm):
    reason = TextAreaField(_l("Why was it entered in error?"),
                           render_kw={"rows": 3, "maxlength": 2000})


class RepairForm(FlaskForm):
    evidence = TextAreaField(_l("Evidence of the repair (debt paid, training completed, ...)"),
                             render_kw={"rows": 3, "maxlength": 2000})


class ConsentForm(FlaskForm):
    consent = HiddenField()  # "give" or "withdraw"


class ContactForm(FlaskForm):
    email = StringField(_l("Email address for notices (leave empty for letters by post)"),
                        render_kw={"type": "email", "maxlength": 254, "autocomplete": "email"})


class LanguageForm(FlaskForm):
    language = StringField(_l("Language of my notices"))


class PostedForm(FlaskForm):
    """Marks the letters listed on the page as posted (their ids come as `outbox_id`)."""
