"""POST /api/v1/records: recording, replay, and every way a request is refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.models import ApiToken, AuditEvent
from app.services.accounts.tokens import revoke_token
from tests.api.conftest import assert_error, days_ago


def ticket(subject_id: str, **overrides) -> dict:
    body = {"subject_id": subject_id, "rule_code": "TRAFFIC-TICKET", "occurred_on": days_ago(3),
            "evidence": "ticket RC-1", "external_ref": "TP-1"}
    body.update(overrides)
    return body


def test_record_is_created_then_replayed(api, new_subject, counts, db):
    subject = new_subject()
    first = api.post("/records", json=ticket(subject))
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["subject_id"] == subject and body["points"] == -5
    assert body["department"] == "traffic-police" and body["external_ref"] == "TP-1"
    assert body["rule_version"] == 1 and body["voided"] is False
    again = api.post("/records", json=ticket(subject))
    assert again.status_code == 200
    assert again.get_json()["id"] == body["id"]
    assert counts.records() == 1
    with db() as s:
        event = s.execute(select(AuditEvent).where(
            AuditEvent.action == "record.create")).scalar_one()
        token_id = s.execute(select(ApiToken.id)).scalar_one()
    assert event.actor == f"api#{token_id}:traffic-police"  # the API write is audited
    second = api.post("/records", json=ticket(subject, external_ref="TP-2"))
    assert second.status_code == 201
    assert second.get_json()["points"] == -10  # the repeat within a year doubles it


def test_same_external_ref_with_other_content_is_a_conflict(api, new_subject, counts):
    subject = new_subject()
    assert api.post("/records", json=ticket(subject)).status_code == 201
    clash = api.post("/records", json=ticket(subject, rule_code="DRUNK-DRIVING"))
    message = assert_error(clash, 409, "conflict", field="external_ref")
    assert "already recorded" in message
    # Other evidence under the same reference is a conflict too, never the old record as 200.
    clash = api.post("/records", json=ticket(subject, evidence="another photo"))
    assert "another evidence" in assert_error(clash, 409, "conflict", field="external_ref")
    assert api.post("/records", json=ticket(subject)).status_code == 200  # the same: a replay
    assert counts.records() == 1


def test_wrong_department_is_forbidden(api, new_subject, counts):
    subject = new_subject()
    response = api.post("/records", json=ticket(subject, rule_code="HEAT-TAMPER"))
    assert "may not record HEAT-TAMPER" in assert_error(response, 403, "forbidden")
    heating = api.post("/records", department="heating-company",
                       json=ticket(subject, rule_code="HEAT-TAMPER"))
    assert heating.status_code == 201
    assert counts.records() == 1


@pytest.mark.parametrize("change, field, words", [
    ({"rule_code": "NO-SUCH-CODE"}, "rule_code", "unknown rule code"),
    ({"occurred_on": (clock.today() + timedelta(days=1)).isoformat()}, "occurred_on", "future"),
    ({"occurred_on": "1900-01-01"}, "occurred_on", "mistyped"),
    ({"occurred_on": "2024-02-30"}, "occurred_on", "date"),
    ({"occurred_on": "15/01/2024"}, "occurred_on", "date"),
    ({"occurred_on": 20240115}, "occurred_on", "date"),
    ({"evidence": "x" * 2001}, "evidence", "2000"),
    ({"evidence": "nul \x00 byte"}, "evidence", "control characters"),
    ({"external_ref": ""}, "external_ref", "at least 1"),
    ({"surprise": 1}, "surprise", "unknown field"),
    ({"rule_code": 5}, "rule_code", "string"),
])
def test_invalid_fields_are_422_naming_the_field(api, new_subject, counts, change, field, words):
    response = api.post("/records", json=ticket(new_subject(), **change))
    assert words in assert_error(response, 422, "invalid", field=field)
    assert counts.records() == 0


def test_bad_check_digit_and_unknown_subject(api, new_subject, counts):
    good = new_subject()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = api.post("/records", json=ticket(bad))
    assert "check digit" in assert_error(response, 422, "invalid", field="subject_id")
    from tests.conftest import new_person_id
    unknown = api.post("/records", json=ticket(new_person_id()))
    assert "population register" in assert_error(unknown, 422, field="subject_id")
    missing = api.post("/records", json={"rule_code": "TRAFFIC-TICKET"})
    assert "is required" in assert_error(missing, 422, field="subject_id")
    assert counts.records() == 0


@pytest.mark.parametrize("data, status, code", [
    (b'{"subject_id": ', 400, "malformed_json"),
    (b"\xff\xfe not text", 400, "malformed_json"),
    (b'{"a": "\\ud800"}', 400, "malformed_json"),
    (b"[1, 2]", 422, "invalid"),
    (b"null", 422, "invalid"),
    (b"", 400, "malformed_json"),
    (b"[" * 10000, 400, "malformed_json"),
])
def test_malformed_bodies_are_4xx_never_500(api, counts, data, status, code):
    response = api.post("/records", data=data, content_type="application/json")
    assert_error(response, status, code)
    assert counts.records() == 0


def test_wrong_content_type_and_huge_body(api, new_subject, counts):
    body = json.dumps(ticket(new_subject()))
    assert_error(api.post("/records", data=body, content_type="text/plain"), 415,
                 "unsupported_media_type")
    assert_error(api.post("/records", data=body), 415)
    huge = json.dumps(ticket(new_subject(), evidence="x" * 200_000))
    assert_error(api.post("/records", data=huge, content_type="application/json"), 413,
                 "too_large")
    assert counts.records() == 0


def test_tokens_missing_unknown_expired_revoked(api, make_token, new_subject, db, counts):
    body = ticket(new_subject())
    response = api.post("/records", department=None, json=body)
    assert "needs an API token" in assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(api.post("/records", token="cpt_not-a-real-token", json=body), 401)
    assert_error(api.post("/records", department=None, json=body,
                          headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    assert_error(api.post("/records", department=None, json=body,
                          headers={"Authorization": "Bearer " + "é" * 30}), 401)
    expired = make_token("traffic-police", expires_in="1d")
    with db() as s:
        token = s.execute(select(ApiToken).order_by(ApiToken.id.desc())).scalars().first()
        token.expires_at = token.created_at - timedelta(seconds=1)
        s.commit()
    assert "expired" in assert_error(api.post("/records", token=expired, json=body), 401)
    revoked = make_token("traffic-police")
    with db() as s:
        token_id = s.execute(select(ApiToken.id).order_by(ApiToken.id.desc())).scalars().first()
        revoke_token(s, token_id=token_id, actor="test")
    assert "revoked" in assert_error(api.post("/records", token=revoked, json=body), 401)
    assert counts.records() == 0


def test_unknown_paths_and_methods_answer_json(api):
    assert_error(api.get("/no-such-thing"), 404, "not_found")
    response = api.call("DELETE", "/records")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_control_characters_are_refused_by_one_policy(api, new_subject, counts):
    """The API refuses what the imports refuse: C0 (but tab and line breaks in free text),
    DEL and C1 control characters."""
    subject = new_subject()
    for evidence in ("photo\x00", "photo\x1b[2J", "photo\x85", "photo\x7f"):
        assert_error(api.post("/records", json=ticket(subject, evidence=evidence)), 422,
                     "invalid", field="evidence")
    assert_error(api.post("/records", json=ticket(subject, external_ref="TP\t1")), 422,
                 field="external_ref")
    assert api.post("/records", json=ticket(subject, evidence="line 1\n\tline 2")
                    ).status_code == 201
    assert counts.records() == 1
