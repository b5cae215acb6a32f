"""POST /api/v1/subjects and PUT /api/v1/subjects/{id}: the population register."""

from __future__ import annotations

from tests.api.conftest import assert_error
from tests.conftest import new_organisation_id, new_person_id


def test_register_replay_conflict_and_update(api, counts):
    person, org = new_person_id(), new_organisation_id()
    made = api.post("/subjects", json={"subject_id": person, "kind": "person",
                                       "name": "Wang Wei", "district": "Yatou",
                                       "consent": True})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["subject_id"] == person and body["consent"] is True
    assert body["consent_changed_on"] is not None
    same = api.post("/subjects", json={"subject_id": person, "kind": "person",
                                       "name": "Wang Wei", "district": "Yatou",
                                       "consent": True})
    assert same.status_code == 200
    other = api.post("/subjects", json={"subject_id": person, "kind": "person",
                                        "name": "Wang Wu"})
    assert "PUT" in assert_error(other, 409, "conflict")
    company = api.post("/subjects", json={"subject_id": org.lower(), "kind": "organisation",
                                          "name": "Haiyang Fisheries",
                                          "legal_representative": person})
    assert company.status_code == 201
    assert company.get_json()["legal_representative"] == person
    updated = api.put(f"/subjects/{person}", json={"kind": "person", "name": "Wang Wu",
                                                   "district": "Yatou", "village": "Xishan",
                                                   "consent": False})
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["name"] == "Wang Wu" and updated.get_json()["consent"] is False
    assert counts.audit("subjects.import") == 3


def test_register_and_update_rejections(api, counts):
    person = new_person_id()
    bad = person[:-1] + ("0" if person[-1] != "0" else "1")
    response = api.post("/subjects", json={"subject_id": bad, "kind": "person", "name": "X"})
    assert "check digit" in assert_error(response, 422, "invalid", field="subject_id")
    assert_error(api.post("/subjects", json={"subject_id": person, "kind": "robot",
                                             "name": "X"}), 422, field="kind")
    assert_error(api.post("/subjects", json={"subject_id": person, "kind": "person",
                                             "name": "X", "legal_representative": person}),
                 422, field="legal_representative")
    assert_error(api.put(f"/subjects/{person}", json={"kind": "person", "name": "X"}), 404)
    assert api.post("/subjects", json={"subject_id": person, "kind": "person",
                                       "name": "X"}).status_code == 201
    assert_error(api.put(f"/subjects/{person}", json={"kind": "organisation", "name": "X"}),
                 422, field="kind")
    assert_error(api.put(f"/subjects/{person}", json={"name": "X"}), 422, field="kind")
    assert_error(api.put("/subjects/123", json={"kind": "person", "name": "X"}), 422)
    assert_error(api.post("/subjects", department=None, json={}), 401)
