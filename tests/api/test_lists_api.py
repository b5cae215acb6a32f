"""POST /api/v1/lists/{code}/entries and .../removal: entering, replaying, removing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta

from app import clock
from tests.api.conftest import assert_error, days_ago
from tests.conftest import new_person_id


def entry(subject: str, **overrides) -> dict:
    body = {"subject_id": subject, "entered_on": days_ago(30),
            "decision_ref": "(2026) Lu 1082 Zhi 317", "legal_basis": "Civil Procedure Law",
            "external_ref": "CD-1"}
    body.update(overrides)
    return body


def test_enter_replay_and_conflict(api, new_subject, counts):
    subject = new_subject()
    first = api.post("/lists/court-defaulters/entries", department="court", json=entry(subject))
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["list_code"] == "court-defaulters" and body["department"] == "court"
    assert body["legal_basis"] == "Civil Procedure Law"
    entered = clock.today() - timedelta(days=30)
    assert body["ends_on"] == (entered + relativedelta(years=2)).isoformat()  # lasts: 2y
    assert body["removed_on"] is None and body["created_by"].startswith("api#")
    again = api.post("/lists/court-defaulters/entries", department="court", json=entry(subject))
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    clash = api.post("/lists/court-defaulters/entries", department="court",
                     json=entry(subject, entered_on=days_ago(5)))
    assert_error(clash, 409, "conflict", field="external_ref")
    # Any field that differs makes a replay a conflict, not the old entry answered as 200.
    for change in ({"decision_ref": "(2026) Lu 1082 Zhi 999"}, {"legal_basis": "Other law"},
                   {"ends_on": days_ago(-10)}):
        clash = api.post("/lists/court-defaulters/entries", department="court",
                         json=entry(subject, **change))
        assert f"another {next(iter(change))}" in assert_error(clash, 409, "conflict",
                                                                field="external_ref")
    assert counts.entries() == 1
    assert counts.audit("list.enter") == 1


def test_a_department_that_does_not_keep_the_list_cannot_write_to_it(api, new_subject, counts):
    subject = new_subject()
    response = api.post("/lists/court-defaulters/entries", department="traffic-police",
                        json=entry(subject))
    assert "may not write to list court-defaulters" in assert_error(response, 403, "forbidden")
    assert_error(api.post("/lists/no-such-list/entries", department="court",
                          json=entry(subject)), 404, "not_found")
    assert counts.entries() == 0


@pytest.mark.parametrize("change, field", [
    ({"entered_on": (clock.today() + timedelta(days=1)).isoformat()}, "entered_on"),
    ({"entered_on": "1800-01-01"}, "entered_on"),
    ({"entered_on": "not a date"}, "entered_on"),
    ({"ends_on": days_ago(40)}, "ends_on"),
    ({"ends_on": (clock.today() + timedelta(days=5000)).isoformat()}, "ends_on"),
    ({"decision_ref": "   "}, "decision_ref"),
    ({"decision_ref": ""}, "decision_ref"),
    ({"subject_id": "37108219900101001X"}, "subject_id"),
    ({"extra": True}, "extra"),
])
def test_invalid_entries_are_422_naming_the_field(api, new_subject, counts, change, field):
    response = api.post("/lists/court-defaulters/entries", department="court",
                        json=entry(new_subject(), **change))
    assert_error(response, 422, "invalid", field=field)
    assert counts.entries() == 0


def test_unknown_subject_is_refused(api, counts):
    response = api.post("/lists/court-defaulters/entries", department="court",
                        json=entry(new_person_id()))
    assert "population register" in assert_error(response, 422, field="subject_id")


def test_removal_ends_the_measure_at_once(api, new_subject, counts):
    subject = new_subject(kind="organisation")
    made = api.post("/lists/court-defaulters/entries", department="court",
                    json=entry(subject)).get_json()
    check = f"/measures/TENDER-BAN/check?subject_id={subject}"
    assert api.get(check).get_json()["applies"] is True
    path = f"/lists/court-defaulters/entries/{made['id']}/removal"
    assert_error(api.post(path, department="traffic-police", json={"reason": "paid"}), 403)
    assert_error(api.post(path, department="court", json={"reason": ""}), 422, field="reason")
    removed = api.post(path, department="court", json={"reason": "the debt was paid in full"})
    assert removed.status_code == 200, removed.get_json()
    body = removed.get_json()
    assert body["removed_on"] == clock.today().isoformat()
    assert body["removed_reason"] == "the debt was paid in full"
    assert body["removed_by"].startswith("api#")
    after = api.get(check).get_json()
    assert after["applies"] is False and after["reasons"] == []
    yesterday = api.get(check + f"&as_of={days_ago(1)}").get_json()
    assert yesterday["applies"] is True  # the past is not rewritten
    assert_error(api.post(path, department="court", json={"reason": "again"}), 409, "conflict")
    assert counts.entries() == 1  # never deleted
    assert counts.audit("list.remove") == 1


def test_removal_of_unknown_entries(api, new_subject):
    subject = new_subject()
    made = api.post("/lists/court-defaulters/entries", department="court",
                    json=entry(subject)).get_json()
    for path in (f"/lists/court-defaulters/entries/{made['id'] + 1}/removal",
                 f"/lists/model-citizens/entries/{made['id']}/removal",
                 "/lists/court-defaulters/entries/0/removal",
                 "/lists/court-defaulters/entries/99999999999999999999/removal",
                 "/lists/court-defaulters/entries/-1/removal",
                 "/lists/nope/entries/1/removal"):
        assert_error(api.post(path, department="court", json={"reason": "x"}), 404)


def test_a_watchlist_entry_is_removed_only_by_its_department(api, new_subject):
    subject = new_subject()
    made = api.post("/lists/priority-scrutiny/entries", department="court",
                    json=entry(subject)).get_json()
    path = f"/lists/priority-scrutiny/entries/{made['id']}/removal"
    message = assert_error(api.post(path, department="traffic-police", json={"reason": "x"}), 403)
    assert "only the department that made entry" in message
