"""POST /api/v1/subjects and PUT /api/v1/subjects/{id}: the population register."""

from __future__ import annotations

import json
from functools import partial

from sqlalchemy import select

from app.models import AuditEvent, Subject
from app.services.audit.chain import verify
from tests.api.conftest import assert_error
from tests.conftest import new_organisation_id, new_person_id

KEEPER = "credit-centre"  # keeps_register: true in tests/data/rules/departments.yaml


def _as_keeper(api):
    return partial(api.post, department=KEEPER), partial(api.put, department=KEEPER)


def test_register_replay_conflict_and_update(api, counts):
    post, put = _as_keeper(api)
    person, org = new_person_id(), new_organisation_id()
    made = post("/subjects", json={"subject_id": person, "kind": "person",
                                       "name": "Wang Wei", "district": "Yatou",
                                       "consent": True})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["subject_id"] == person and body["consent"] is True
    assert body["consent_changed_on"] is not None
    same = post("/subjects", json={"subject_id": person, "kind": "person",
                                       "name": "Wang Wei", "district": "Yatou",
                                       "consent": True})
    assert same.status_code == 200
    other = post("/subjects", json={"subject_id": person, "kind": "person",
                                        "name": "Wang Wu"})
    assert "PUT" in assert_error(other, 409, "conflict")
    company = post("/subjects", json={"subject_id": org.lower(), "kind": "organisation",
                                          "name": "Haiyang Fisheries",
                                          "legal_representative": person})
    assert company.status_code == 201
    assert company.get_json()["legal_representative"] == person
    updated = put(f"/subjects/{person}",
                      json={"kind": "person", "name": "Wang Wu", "district": "Yatou",
                            "village": "Xishan", "consent": True})
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["name"] == "Wang Wu" and updated.get_json()["consent"] is True
    # Consent is the subject's own: even the register's keeper may not change it.
    withdrawn = put(f"/subjects/{person}",
                        json={"kind": "person", "name": "Wang Wu", "district": "Yatou",
                              "village": "Xishan", "consent": False})
    assert "subject's own" in assert_error(withdrawn, 403, "forbidden", field="consent")
    kept = put(f"/subjects/{person}", json={"kind": "person", "name": "Wang Wu",
                                            "district": "Yatou", "village": "Xishan"})
    assert kept.status_code == 200 and kept.get_json()["consent"] is True  # left out: kept
    assert counts.audit("subject.register") == 2 and counts.audit("subject.update") == 1


def test_register_and_update_rejections(api, counts):
    post, put = _as_keeper(api)
    person = new_person_id()
    bad = person[:-1] + ("0" if person[-1] != "0" else "1")
    response = post("/subjects", json={"subject_id": bad, "kind": "person", "name": "X"})
    assert "check digit" in assert_error(response, 422, "invalid", field="subject_id")
    assert_error(post("/subjects", json={"subject_id": person, "kind": "robot",
                                             "name": "X"}), 422, field="kind")
    assert_error(post("/subjects", json={"subject_id": person, "kind": "person",
                                             "name": "X", "legal_representative": person}),
                 422, field="legal_representative")
    assert_error(put(f"/subjects/{person}", json={"kind": "person", "name": "X"}), 404)
    assert post("/subjects", json={"subject_id": person, "kind": "person",
                                       "name": "X"}).status_code == 201
    assert_error(put(f"/subjects/{person}", json={"kind": "organisation", "name": "X"}),
                 422, field="kind")
    assert_error(put(f"/subjects/{person}", json={"name": "X"}), 422, field="kind")
    assert_error(put("/subjects/123", json={"kind": "person", "name": "X"}), 422)
    assert_error(api.post("/subjects", department=None, json={}), 401)


def test_only_the_registers_keeper_writes_it(api, counts, new_subject, db):
    """A department that does not keep the register gets 403 and changes nothing."""
    person = new_person_id()
    body = {"subject_id": person, "kind": "person", "name": "Wang Wei", "consent": True}
    assert "does not keep the population register" in assert_error(
        api.post("/subjects", department="traffic-police", json=body), 403, "forbidden")
    company = new_subject(kind="organisation", name="Haiyang Fisheries", consent=True)
    change = {"kind": "organisation", "name": "Renamed Ltd", "legal_representative": person,
              "consent": False}
    for department in ("traffic-police", "court", "heating-company"):
        assert_error(api.put(f"/subjects/{company}", department=department, json=change), 403,
                     "forbidden")
    with db() as s:
        stored = s.get(Subject, company)
        assert (stored.name, stored.legal_representative, stored.consent) == (
            "Haiyang Fisheries", None, True)
        assert s.get(Subject, person) is None
    assert counts.audit("subject.register") == counts.audit("subject.update") == 0


def test_every_register_change_is_audited_with_the_subject_before_and_after(api, db):
    person = new_person_id()
    assert api.post("/subjects", department=KEEPER, json={
        "subject_id": person, "kind": "person", "name": "Wang Wei", "district": "Yatou",
        "consent": True}).status_code == 201
    assert api.put(f"/subjects/{person}", department=KEEPER, json={
        "kind": "person", "name": "Wang Wu", "district": "Yatou", "village": "Xishan",
        "consent": True}).status_code == 200
    with db() as s:
        made, changed = s.execute(select(AuditEvent).where(AuditEvent.subject_id == person)
                                  .order_by(AuditEvent.id)).scalars()
    assert (made.action, made.target) == ("subject.register", f"subject:{person}")
    assert made.actor.endswith(":credit-centre")
    assert json.loads(made.details)["after"]["name"] == "Wang Wei"
    assert (changed.action, changed.target) == ("subject.update", f"subject:{person}")
    assert json.loads(changed.details)["before"] == {"name": "Wang Wei", "village": ""}
    assert json.loads(changed.details)["after"] == {"name": "Wang Wu", "village": "Xishan"}
    with db() as s:
        assert verify(s).ok
