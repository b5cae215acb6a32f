"""The OpenAPI 3.1 document of /api/v1, assembled from the pydantic models the views use.

The schemas come from pydantic; only the list of paths is written here. A library that
derives paths from the views (flask-openapi3, spectree, apispec) was weighed and left: each
would own the views' request parsing and error answers, which the API deliberately keeps in
one place (app/web/api/errors.py), to save about a hundred lines of path table."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from app.web.api import schemas as s

PREFIX = "/api/v1"
ERRORS = {
    400: "Malformed JSON (the body is not a JSON document)",
    401: "No valid API token: missing, unknown, expired or revoked",
    403: "The token's department may not do this (another department's code or list)",
    404: "No such subject, measure, list or list entry",
    409: "Conflict: the external_ref (or subject) already names something different, or the "
         "entry was already removed",
    413: "The body is too large",
    415: "The body is not application/json",
    422: "The input is not valid (a field, or an unknown query parameter); `details` names "
         "each problem and its field",
    503: "No valid rulebook is in force",
}


def _ref(keys, model, mode: str) -> dict:
    return keys[(model, mode)]


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(keys, *codes: int) -> dict:
    error = _ref(keys, s.ErrorOut, "serialization")
    return {str(code): _json(error, ERRORS[code]) for code in codes}


def _path(name: str, description: str, example: str, max_length: int = 64) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1, "maxLength": max_length},
            "example": example}


AS_OF = {"name": "as_of", "in": "query", "required": False,
         "description": "The date to answer for (YYYY-MM-DD, from 1949-10-01 to 2999-12-31); "
                        "default today. A past date is answered as of that date.",
         "schema": {"type": "string", "format": "date"}, "example": "2026-01-15"}
SUBJECT_IN_PATH = _path("subject_id", "A Resident Identity Card number or Unified Social "
                                      "Credit Code", "371082199001010017", 40)
WRITE = (400, 401, 413, 415, 422, 503)


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document (built once; it depends only on the code)."""
    models = [(m, "validation") for m in s.REQUESTS] + [(m, "serialization") for m in s.RESPONSES]
    keys, schemas = models_json_schema(models, ref_template="#/components/schemas/{model}")
    ref = lambda model, mode="serialization": _ref(keys, model, mode)  # noqa: E731

    def body(model) -> dict:
        return {"required": True,
                "content": {"application/json": {"schema": ref(model, "validation")}}}

    paths = {
        "/records": {"post": {
            "operationId": "recordConduct", "tags": ["records"],
            "summary": "Record one conduct for one subject (idempotent on external_ref)",
            "description": "The token's department must be one the rule gives the code to. "
                           "Points are fixed now (repeat, then cap). Sending the same "
                           "external_ref with the same subject, code and date again answers 200 "
                           "with the stored record and adds nothing; with other content, 409.",
            "requestBody": body(s.RecordIn),
            "responses": {"201": _json(ref(s.RecordOut), "Recorded"),
                          "200": _json(ref(s.RecordOut), "Already recorded (a replay)"),
                          **_errors(keys, 403, 409, *WRITE)}}},
        "/subjects/{subject_id}/standing": {"get": {
            "operationId": "getStanding", "tags": ["standing"],
            "summary": "A subject's standing on a date, with every record that counts",
            "parameters": [SUBJECT_IN_PATH, AS_OF],
            "responses": {"200": _json(ref(s.StandingOut), "The standing"),
                          **_errors(keys, 401, 404, 422, 503)}}},
        "/measures/{code}/check": {"get": {
            "operationId": "checkMeasure", "tags": ["standing"],
            "summary": "Whether a measure applies to a subject on a date, and every reason",
            "description": "Each reason names the tier, list entry or flag and its legal basis. "
                           "A measure reaches an organisation's legal representative where it "
                           "says `reaches: [legal_representative]`.",
            "parameters": [_path("code", "The measure's code", "TENDER-BAN"),
                           {"name": "subject_id", "in": "query", "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 40},
                            "example": "371082199001010017"}, AS_OF],
            "responses": {"200": _json(ref(s.MeasureCheckOut), "The answer"),
                          **_errors(keys, 401, 404, 422, 503)}}},
        "/rulebook": {"get": {
            "operationId": "getRulebook", "tags": ["rulebook"], "security": [],
            "summary": "The rulebook in force and its fingerprint (public, no token needed)",
            "responses": {"200": _json(ref(s.RulebookOut), "The rulebook in force"),
                          **_errors(keys, 422, 503)}}},
        "/lists/{code}/entries": {"post": {
            "operationId": "enterOnList", "tags": ["lists"],
            "summary": "Enter a subject on a list the token's department keeps",
            "description": "The entry ends by itself after the list's `lasts`. Idempotent on "
                           "external_ref, as records are.",
            "parameters": [_path("code", "The list's code", "court-defaulters")],
            "requestBody": body(s.ListEntryIn),
            "responses": {"201": _json(ref(s.ListEntryOut), "Entered"),
                          "200": _json(ref(s.ListEntryOut), "Already entered (a replay)"),
                          **_errors(keys, 403, 404, 409, *WRITE)}}},
        "/lists/{code}/entries/{entry_id}/removal": {"post": {
            "operationId": "removeFromList", "tags": ["lists"],
            "summary": "End a list entry today, with the reason (it takes effect at once)",
            "description": "Only the department that made the entry may remove it. The entry "
                           "is kept, with the removal's date, who and why.",
            "parameters": [_path("code", "The list's code", "court-defaulters"),
                           {"name": "entry_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1,
                                       "maximum": 2147483647}, "example": 1}],
            "requestBody": body(s.RemovalIn),
            "responses": {"200": _json(ref(s.ListEntryOut), "Removed"),
                          **_errors(keys, 403, 404, 409, *WRITE)}}},
        "/subjects": {"post": {
            "operationId": "registerSubject", "tags": ["subjects"],
            "summary": "Register a person or organisation in the population register",
            "description": "Only a token of a department that keeps the register "
                           "(`keeps_register: true`) may register subjects; others get 403. "
                           "Registering the same subject with the same fields again answers "
                           "200; with other fields, 409 (use PUT to update).",
            "requestBody": body(s.SubjectIn),
            "responses": {"201": _json(ref(s.SubjectOut), "Registered"),
                          "200": _json(ref(s.SubjectOut), "Already registered, unchanged"),
                          **_errors(keys, 403, 409, *WRITE)}}},
        "/subjects/{subject_id}": {"put": {
            "operationId": "updateSubject", "tags": ["subjects"],
            "summary": "Update a registered subject (its kind cannot change)",
            "description": "Only a token of a department that keeps the register may update "
                           "it (403 otherwise). Consent is the subject's own: a change of "
                           "consent is refused with 403. A new legal representative counts "
                           "from today (`legal_representative_since`) and is sent a notice.",
            "parameters": [SUBJECT_IN_PATH],
            "requestBody": body(s.SubjectFields),
            "responses": {"200": _json(ref(s.SubjectOut), "Updated (or unchanged)"),
                          **_errors(keys, 403, 404, *WRITE)}}},
        "/openapi.json": {"get": {
            "operationId": "getOpenapi", "tags": ["meta"], "security": [],
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document"),
                          **_errors(keys, 422)}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "citypoints API", "version": "1",
                 "description": "Records, standings, measure checks, lists and subjects for the "
                                "departments' systems. Every call but the rulebook and this "
                                "document needs a department's bearer token. Errors are "
                                "`{\"error\": {\"code\", \"message\", \"details\"}}`."},
        "paths": {PREFIX + path: item for path, item in paths.items()},
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "`flask tokens create "
                                                              "--department CODE`"}},
        },
        "security": [{"bearerAuth": []}],
    }
