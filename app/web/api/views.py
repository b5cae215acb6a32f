"""The JSON API under /api/v1: bearer tokens per department, pydantic in and out.

Each view parses its input with the request model, calls one service and answers with the
response model; the OpenAPI document (app.web.api.openapi) is built from the same models.
A token acts only within its department's codes and lists. No input yields a 500.
"""

from __future__ import annotations

import json
from datetime import date

from flask import current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError

from app.db import get_session
from app.errors import CitypointsError, Conflict, InvalidInput, NotFound, Problem
from app.identifiers import clean
from app.models import ApiToken, ListEntry, Record, Subject, utcnow
from app.rulebook import canonical_json
from app.rulebook.fingerprint import FORMAT
from app.services.accounts.tokens import authenticate
from app.services.intake.drafts import ListEntryDraft, RecordDraft, SubjectDraft
from app.services.intake.rows import parse_iso_date
from app.services.lists.entries import enter, remove_from_list
from app.services.records.conduct import record_conduct
from app.services.rulebooks.history import rulebook_history
from app.services.rulebooks.in_force import coming_rulebooks
from app.services.subject_file.standing import check_measure as check_measure_service
from app.services.subject_file.standing import standing_seen_by
from app.services.subjects.register import register_subject, update_subject
from app.standing import standing_to_json
from app.web import rulebook, rulebook_state, today
from app.web.api import bp
from app.web.api import schemas as s
from app.web.api.openapi import openapi_document

PUBLIC = {"api.get_rulebook", "api.openapi"}
QUERY = {"api.get_standing": {"as_of"}, "api.check_measure": {"subject_id", "as_of"}}
MAX_BODY = 64 * 1024  # API bodies are one fact each; a larger body is refused with 413
EARLIEST, LATEST = date(1949, 10, 1), date(2999, 12, 31)


class MalformedJson(CitypointsError):
    code = "malformed_json"
    status = 400


class UnsupportedMediaType(CitypointsError):
    code = "unsupported_media_type"
    status = 415


@bp.before_request
def _authenticate():
    request.max_content_length = current_app.config.get("API_MAX_BODY", MAX_BODY)
    if request.endpoint not in PUBLIC:
        g.api_token = authenticate(get_session(), now=utcnow(),
                                   authorization=request.headers.get("Authorization"))
    unknown = sorted(set(request.args) - QUERY.get(request.endpoint, set()))
    if unknown:
        names = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise InvalidInput(f"unknown query parameter(s) {names}",
                           problems=[Problem("unknown query parameter", field=n[:40])
                                     for n in unknown[:20]])


def _token() -> ApiToken:
    return g.api_token


def _actor() -> str:
    token = _token()
    return f"api#{token.id}:{token.department_code}"[:80]


def _parse(model: type[BaseModel]):
    """Return the request body as `model`, or raise 400/413/415/422 saying what is wrong."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(f"send the body as application/json (got "
                                   f"{request.mimetype or 'no Content-Type'})")
    raw = request.get_data(cache=False)  # raises 413 beyond request.max_content_length
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        errors = error.errors(include_url=False, include_input=False, include_context=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise MalformedJson(f"the body is not valid JSON: {errors[0]['msg']}") from None
        problems = [Problem(_message(e), field=".".join(str(p) for p in e["loc"]))
                    for e in errors]
        raise InvalidInput("the request is not valid: " + "; ".join(
            f"{p.field or 'body'}: {p.message}" for p in problems), problems=problems) from None


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "string_pattern_mismatch":
        return "must not contain control characters"
    return error["msg"]


def _respond(model: type[BaseModel], data: dict, status: int = 200):
    return current_app.response_class(
        model.model_validate(data).model_dump_json(), status=status, mimetype="application/json")


def _text_arg(name: str, value: str | None, *, required: bool = False, max_length: int = 40) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{name} is required", problems=[Problem("is required", field=name)])
    if len(value) > max_length or not value.isprintable():
        raise InvalidInput(f"{name} is not valid: at most {max_length} printable characters",
                           problems=[Problem("is not valid", field=name)])
    return value


def _subject_arg(name: str, value: str | None) -> str:
    """Return a subject identifier from the path or query, cleaned; 422 if it cannot be one."""
    sid = clean(_text_arg(name, value, required=True))
    if not sid.isascii() or not sid.isalnum() or len(sid) != 18:
        raise InvalidInput(f"{name}: {value!r} is not a Resident Identity Card number or Unified "
                           "Social Credit Code (18 letters and digits)",
                           problems=[Problem("is not an 18-character identifier", field=name)])
    return sid


def _as_of() -> date:
    if "as_of" not in request.args:
        return today()
    raw = _text_arg("as_of", request.args.get("as_of"), required=True)
    try:
        day = parse_iso_date(raw)
    except ValueError as error:
        raise InvalidInput(f"as_of: {error}", problems=[Problem(str(error), field="as_of")]) \
            from None
    if not EARLIEST <= day <= LATEST:
        message = f"{day} is outside {EARLIEST} to {LATEST}"
        raise InvalidInput(f"as_of: {message}", problems=[Problem(message, field="as_of")])
    return day


# ----------------------------------------------------------------------------- records
def _record_json(record: Record) -> dict:
    return {"id": record.id, "subject_id": record.subject_id, "rule_code": record.rule_code,
            "rule_version": record.rule_version, "department": record.department_code,
            "occurred_on": record.occurred_on, "ends_on": record.ends_on,
            "repairable_on": record.repairable_on, "base_points": record.base_points,
            "factor": record.factor, "points": record.points, "note": record.note,
            "evidence": record.evidence, "external_ref": record.external_ref,
            "recorded_at": record.recorded_at, "recorded_by": record.recorded_by,
            "rulebook_fingerprint": record.rulebook_fingerprint,
            "voided": record.voided_at is not None}


@bp.post("/records")
def post_record():
    """Record one conduct for the token's department (201), or replay it (200)."""
    body = _parse(s.RecordIn)
    draft = RecordDraft(subject_id=body.subject_id, rule_code=body.rule_code,
                        occurred_on=body.occurred_on, evidence=body.evidence,
                        external_ref=body.external_ref)
    done = record_conduct(get_session(), draft, rulebook=rulebook(),
                          department=_token().department_code, recorded_by=_actor(),
                          today=today())
    return _respond(s.RecordOut, _record_json(done.record), 201 if done.created else 200)


# ---------------------------------------------------------------------------- standing
@bp.get("/subjects/<subject_id>/standing")
def get_standing(subject_id: str):
    """Answer a subject's standing on `as_of` (default today); the look is audited."""
    sid, as_of = _subject_arg("subject_id", subject_id), _as_of()
    standing = standing_seen_by(get_session(), rulebook=rulebook(), subject_id=sid, as_of=as_of,
                                viewer=_actor(), via="api")
    body = standing_to_json(standing)
    # A department needs its own records' evidence; another's is that department's file.
    own = _token().department_code
    for record in body["records"]:
        record["evidence_redacted"] = record["department"] != own and bool(record["evidence"])
        if record["department"] != own:
            record["evidence"] = ""
    return _respond(s.StandingOut, body)


def _entry_json(entry) -> dict:
    return {"id": entry.id, "list_code": entry.list_code, "subject_id": entry.subject_id,
            "department": entry.department, "entered_on": entry.entered_on,
            "ends_on": entry.ends_on, "removed_on": entry.removed_on,
            "decision_ref": entry.decision_ref, "legal_basis": entry.legal_basis}


def _reason_json(reason) -> dict:
    via = reason.via
    return {"kind": reason.kind, "code": reason.code, "detail": reason.detail,
            "because": reason.because.as_json(), "legal_basis": reason.legal_basis,
            "via": {"subject_id": via.subject_id, "name": via.name} if via else None,
            "list_entries": [_entry_json(e) for e in reason.entries]}


@bp.get("/measures/<code>/check")
def check_measure(code: str):
    """Answer whether a measure applies to a subject on `as_of`, with every reason."""
    sid, as_of = _subject_arg("subject_id", request.args.get("subject_id")), _as_of()
    check = check_measure_service(get_session(), rulebook=rulebook(), code=code, subject_id=sid,
                                  as_of=as_of, viewer=_actor())
    measure, active, pending = check.measure, check.active, check.pending
    return _respond(s.MeasureCheckOut, {
        "subject_id": check.standing.subject_id, "measure": measure.code, "kind": measure.kind,
        "title": measure.title, "legal_basis": measure.legal_basis, "as_of": as_of,
        "applies": active is not None, "since": active.since if active else None,
        "pending": {"holds_since": pending.holds_since,
                    "takes_effect_on": pending.takes_effect_on} if pending else None,
        "reasons": [_reason_json(r) for r in check.reasons],
        "fingerprint": check.standing.fingerprint})


@bp.get("/rulebook")
def get_rulebook():
    """Answer the rulebook in force: its fingerprint and its content (public)."""
    rules, state = rulebook(), rulebook_state()
    content = json.loads(canonical_json(scheme=rules.scheme, departments=rules.departments,
                                        tables=rules.tables, measures=rules.measures,
                                        lists=rules.lists))
    # Public: neither the server's paths nor the names of the people who loaded them.
    history = [{**entry.as_dict(), "by": _public_actor(entry.by),
                "source": _public_source(entry.source)}
               for entry in rulebook_history(get_session())]
    return _respond(s.RulebookOut, {"fingerprint": rules.fingerprint, "format": FORMAT,
                                    "source": _public_source(state.source),
                                    "loaded_at": state.loaded_at,
                                    "content": content, "history": history,
                                    "scheduled": coming_rulebooks(get_session(), rules,
                                                                  today=today())})


def _public_source(source: str) -> str:
    """Return where a rulebook came from without the server's paths."""
    return "database" if source.startswith("database") else "rules directory"


def _public_actor(actor: str) -> str:
    """Return who put a rulebook in force without a person's name: the system, or an official."""
    return actor if actor in ("system", "scheduler", "signal:SIGHUP") else "an official"


@bp.get("/openapi.json")
def openapi():
    """Answer the OpenAPI document of this API."""
    return jsonify(openapi_document())


# ------------------------------------------------------------------------------- lists
def _list_entry_json(entry: ListEntry) -> dict:
    return {"id": entry.id, "list_code": entry.list_code, "subject_id": entry.subject_id,
            "department": entry.department_code, "entered_on": entry.entered_on,
            "ends_on": entry.ends_on, "legal_basis": entry.legal_basis,
            "decision_ref": entry.decision_ref, "external_ref": entry.external_ref,
            "created_at": entry.created_at, "created_by": entry.created_by,
            "removed_on": entry.removed_on, "removed_by": entry.removed_by,
            "removed_reason": entry.removed_reason}


def _list_or_404(code: str):
    rules = rulebook()
    if rules.list_def(code) is None:
        raise NotFound(f"no list {code[:64]!r} in the rulebook in force; the lists are "
                       f"{', '.join(x.code for x in rules.lists)}")
    return rules


@bp.post("/lists/<code>/entries")
def post_list_entry(code: str):
    """Enter a subject on a list the token's department keeps (201), or replay it (200)."""
    rules = _list_or_404(code)
    body = _parse(s.ListEntryIn)
    draft = ListEntryDraft(subject_id=body.subject_id, list_code=code,
                           entered_on=body.entered_on, ends_on=body.ends_on,
                           legal_basis=body.legal_basis, decision_ref=body.decision_ref,
                           external_ref=body.external_ref or "")
    done = enter(get_session(), draft, rulebook=rules, department=_token().department_code,
                 today=today(), actor=_actor())
    return _respond(s.ListEntryOut, _list_entry_json(done.entry), 201 if done.created else 200)


@bp.post("/lists/<code>/entries/<int:entry_id>/removal")
def post_list_removal(code: str, entry_id: int):
    """End a list entry today, with the reason; it stops counting at once."""
    rules = _list_or_404(code)
    body = _parse(s.RemovalIn)
    entry = remove_from_list(get_session(), rulebook=rules, entry_id=entry_id, list_code=code,
                             department=_token().department_code, reason=body.reason,
                             actor=_actor(), today=today())
    return _respond(s.ListEntryOut, _list_entry_json(entry))


# ---------------------------------------------------------------------------- subjects
def _subject_json(subject: Subject) -> dict:
    return {k: getattr(subject, k) for k in s.SubjectOut.model_fields}


def _draft(sid: str, fields: s.SubjectFields, *, consent: bool | None = False) -> SubjectDraft:
    """The subject's draft; `consent` when the body leaves it out (None: unchanged)."""
    return SubjectDraft(subject_id=sid, kind=fields.kind, name=fields.name,
                        district=fields.district, village=fields.village,
                        legal_representative=fields.legal_representative,
                        consent=consent if fields.consent is None else fields.consent)


@bp.post("/subjects")
def post_subject():
    """Register a subject (201); the same subject again answers 200, a different one 409."""
    body = _parse(s.SubjectIn)
    done = register_subject(get_session(), _draft(body.subject_id, body), actor=_actor(),
                            department=_token().department_code, rulebook=rulebook(),
                            today=today())
    if not done.same:
        sid = done.subject.subject_id
        raise Conflict(f"{sid} is already registered with other fields; update it with "
                       f"PUT /api/v1/subjects/{sid}")
    return _respond(s.SubjectOut, _subject_json(done.subject), 201 if done.created else 200)


@bp.put("/subjects/<subject_id>")
def put_subject(subject_id: str):
    """Update a registered subject's name, place or representative (the register's keeper
    only; consent is the subject's own)."""
    sid = _subject_arg("subject_id", subject_id)
    body = _parse(s.SubjectFields)
    subject = update_subject(get_session(), _draft(sid, body, consent=None), actor=_actor(),
                             department=_token().department_code, rulebook=rulebook(),
                             today=today())
    return _respond(s.SubjectOut, _subject_json(subject))
