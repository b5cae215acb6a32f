"""The JSON API's requests and responses as pydantic models; the OpenAPI document is built
from them, so what the document promises is what the views check and send."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.services.intake.text import FREE_TEXT_PATTERN, ONE_LINE_PATTERN

# No control characters (tabs and line breaks are allowed in free text): the services' one
# character policy (app.services.intake.text), said here so the document shows it.
NO_CONTROL = FREE_TEXT_PATTERN
ONE_LINE = ONE_LINE_PATTERN


def _text(max_length: int, min_length: int = 0, pattern: str = NO_CONTROL):
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,
                                            pattern=pattern)]


SubjectId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=ONE_LINE),
                      Field(description="A Resident Identity Card number (18 characters) or a "
                                        "Unified Social Credit Code; check digits are checked.",
                            examples=["371082199001010017"])]
Code = _text(64, 1, ONE_LINE)
ExternalRef = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=ONE_LINE),
                        Field(description="The department's own id for this fact; sending it "
                                          "again replays the first answer and adds nothing.")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    # Every field is always sent, so the document marks them all required.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


# ------------------------------------------------------------------------------ errors
class ErrorDetail(Response):
    code: str = Field(description="A stable code: unauthorized, forbidden, not_found, conflict, "
                                  "invalid, malformed_json, too_large, unsupported_media_type...")
    message: str = Field(description="What is wrong, in words a person can act on.")
    details: Any = Field(description="Where: a list of {message, field, where, "
                                                   "row} (one per problem), or null.")


class ErrorOut(Response):
    error: ErrorDetail


# ----------------------------------------------------------------------------- records
class RecordIn(Request):
    subject_id: SubjectId
    rule_code: Code = Field(examples=["TRAFFIC-TICKET"])
    occurred_on: date = Field(description="The date of the conduct (not in the future).")
    evidence: _text(2000) = ""
    external_ref: ExternalRef


class RecordOut(Response):
    id: int
    subject_id: str
    rule_code: str
    rule_version: int
    department: str
    occurred_on: date
    ends_on: date = Field(description="The first day the record no longer counts.")
    repairable_on: date | None
    base_points: int
    factor: int
    points: int = Field(description="Fixed when recorded: repeat and cap applied.")
    note: str = Field(description="How repeat and cap changed the points, in words.")
    evidence: str
    external_ref: str | None
    recorded_at: datetime
    recorded_by: str
    rulebook_fingerprint: str
    voided: bool


# ---------------------------------------------------------------------------- standing
class MeasureOut(Response):
    code: str
    kind: str
    since: date | None


class StandingRecordOut(Response):
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)
    id: int
    rule_code: str
    rule_version: int
    title: str
    points: int
    occurred_on: date
    ends_on: date
    legal_basis: str
    department: str
    evidence: str = Field(description="Given only to the department that recorded it; empty "
                                      "for another department's record.")
    evidence_redacted: bool = Field(False, description="True when the record has evidence "
                                                       "that this caller is not given.")
    note: str


class PendingMeasureOut(Response):
    code: str
    kind: str
    holds_since: date
    takes_effect_on: date


class BecauseOut(Response):
    """A reason as data: a code and its values (dates as ISO text); `reason`/`detail` beside
    it says the same in English."""

    code: str = Field(description="What the reason says, for example lapsed, suspended, tier, "
                                  "list, flag (see app/standing/because.py for every code).",
                      examples=["lapsed"])
    values: dict[str, Any] = Field(description="The reason's values by name, for example "
                                               "{\"on\": \"2027-03-04\"}.")


class ExcludedRecordOut(Response):
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)
    id: int
    rule_code: str
    reason: str = Field(description="Why it does not count, in English.")
    because: BecauseOut


class RulebookInForceOut(Response):
    """The rulebook in force on the standing's day."""

    fingerprint: str
    in_force_from: date | None = Field(description="its first day in force; null when it is "
                                                   "the only rulebook known")


class StandingOut(Response):
    """A subject's standing on a date, with the records that count and the explanation."""

    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)
    subject_id: str
    as_of: date
    points: int | None = Field(description="null when the subject is not scored (no consent "
                                           "where the scheme requires it).")
    tier: str | None
    lists: list[str]
    flags: list[str]
    measures: list[MeasureOut]
    records: list[StandingRecordOut]
    scored: bool
    starting_points: int
    pending_measures: list[PendingMeasureOut]
    excluded: list[ExcludedRecordOut]
    explanation: list[str]
    fingerprint: str
    rulebook: RulebookInForceOut


# ------------------------------------------------------------------------ measure check
class ListEntryRef(Response):
    id: int
    list_code: str
    subject_id: str
    department: str
    entered_on: date
    ends_on: date | None
    removed_on: date | None
    decision_ref: str
    legal_basis: str


class ViaOut(Response):
    subject_id: str
    name: str


class ReasonOut(Response):
    kind: Literal["tier", "list", "flag"]
    code: str = Field(description="The tier, list or flag code.")
    detail: str = Field(description="The reason in English.")
    because: BecauseOut
    legal_basis: str
    via: ViaOut | None = Field(description="The organisation whose legal representative the "
                                           "subject is, when the measure reaches them through it.")
    list_entries: list[ListEntryRef] = Field(description="The list entry, or the watchlist "
                                                         "entries behind a flag.")


class PendingOut(Response):
    holds_since: date
    takes_effect_on: date


class MeasureCheckOut(Response):
    subject_id: str
    measure: str
    kind: str
    title: str
    legal_basis: str
    as_of: date
    applies: bool
    since: date | None = Field(description="When it took effect (null: before any fact).")
    pending: PendingOut | None = Field(description="Its condition holds but its notice period "
                                                   "has not run out yet: it does not apply.")
    reasons: list[ReasonOut]
    fingerprint: str


# ---------------------------------------------------------------------------- rulebook
class RulebookVersionOut(Response):
    fingerprint: str
    at: str = Field(description="When it was put in force (ISO 8601).")
    by: str = Field(description="'system', 'scheduler', 'signal:SIGHUP' or 'an official' "
                                "(no person's name).")
    source: str = Field(description="'rules directory' or 'database' (no server path).")
    kind: str


class RulebookChangeOut(Response):
    """One change in meaning as data (app/rulebook/diff.py), to word in any language."""

    code: str = Field(description="What changed, for example tier_min, rule_points, "
                                  "measure_when, list_lasts.")
    values: dict[str, Any] = Field(description="The change's values by name, for example "
                                               "{tier: 'A', before: 960, after: 1000}.")


class ScheduledRulebookOut(Response):
    fingerprint: str
    in_force_from: date = Field(description="Its first day in force (city time).")
    changes: list[str] = Field(description="What it changes in meaning, against the rulebook "
                                           "in force before that day.")
    change_data: list[RulebookChangeOut] = Field(
        description="The same changes as codes and values, in the order of `changes`.")


class RulebookOut(Response):
    fingerprint: str = Field(description="sha256 of the canonical JSON text of `content`.")
    format: str
    source: str = Field(description="'rules directory' or 'database' (no server path).")
    loaded_at: datetime | None
    content: dict[str, Any] = Field(description="The rulebook in force: scheme, departments, "
                                                "conduct tables, measures and lists. Each "
                                                "`title` is plain text (English, or the only "
                                                "language written); an item whose rule file "
                                                "gives its title per language also carries "
                                                "`titles`: {language code: text}; other "
                                                "texts written per language (description, "
                                                "legal_basis) are under `texts`: {key: "
                                                "{language code: text}}, and the scheme's "
                                                "`languages` when it names them.")
    history: list[RulebookVersionOut] = Field(
        description="Every rulebook put in force, newest first (diffs: /authors/diff).")
    scheduled: list[ScheduledRulebookOut] = Field(
        description="Rulebooks put in force from a later day (`in_force_from`), soonest "
                    "first: announced, not yet applied.")


# ------------------------------------------------------------------------------- lists
class ListEntryIn(Request):
    subject_id: SubjectId
    entered_on: date
    ends_on: date | None = Field(default=None, description="Earlier than the list's `lasts`, "
                                                           "if the decision says so.")
    legal_basis: _text(2000) = Field(default="", description="Default: the list's.")
    decision_ref: _text(200, 1)
    external_ref: ExternalRef | None = None


class RemovalIn(Request):
    reason: _text(2000, 1) = Field(examples=["the debt was paid in full"])


class ListEntryOut(Response):
    id: int
    list_code: str
    subject_id: str
    department: str
    entered_on: date
    ends_on: date | None
    legal_basis: str
    decision_ref: str
    external_ref: str | None
    created_at: datetime
    created_by: str
    removed_on: date | None
    removed_by: str | None
    removed_reason: str | None


# ---------------------------------------------------------------------------- subjects
class SubjectFields(Request):
    kind: Literal["person", "organisation"]
    name: _text(200, 1, ONE_LINE)
    district: _text(100, 0, ONE_LINE) = ""
    village: _text(100, 0, ONE_LINE) = ""
    legal_representative: _text(200, 0, ONE_LINE) | None = Field(
        default=None, description="An organisation's legal representative: a person's "
                                  "subject_id (list restrictions reach them) or a name.")
    consent: bool | None = Field(
        default=None, description="Whether the subject consented to be scored, as their "
                                  "registration says (omitted: no). Consent is the subject's "
                                  "own: an update may leave it out or repeat it, but a change "
                                  "is refused (403).")


class SubjectIn(SubjectFields):
    subject_id: SubjectId


class SubjectOut(Response):
    subject_id: str
    kind: str
    name: str
    district: str
    village: str
    legal_representative: str | None
    legal_representative_since: date | None = Field(
        description="The day the register named this legal representative: measures that "
                    "reach legal representatives reach them from this day, never earlier.")
    consent: bool
    consent_changed_on: date | None
    registered_at: datetime
    updated_at: datetime


REQUESTS = (RecordIn, ListEntryIn, RemovalIn, SubjectIn, SubjectFields)
RESPONSES = (ErrorOut, RecordOut, StandingOut, MeasureCheckOut, RulebookOut, ListEntryOut,
             SubjectOut)
