"""GET standing, GET measure check (on today and past dates), GET rulebook."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from app import clock
from app.rulebook import canonical_json
from tests.api.conftest import assert_error, days_ago
from tests.conftest import new_person_id


def _record(api, subject, code, day, ref):
    response = api.post("/records", json={"subject_id": subject, "rule_code": code,
                                          "occurred_on": day, "external_ref": ref})
    assert response.status_code == 201, response.get_json()


def _enter(api, subject, day, ref="C-1", list_code="court-defaulters", department="court"):
    response = api.post(f"/lists/{list_code}/entries", department=department,
                        json={"subject_id": subject, "entered_on": day,
                              "decision_ref": f"(2026) Lu 1082 Zhi {ref}", "external_ref": ref})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_standing_today_and_on_a_past_date(api, new_subject, counts):
    subject = new_subject()
    _record(api, subject, "DRUNK-DRIVING", days_ago(10), "DD-1")
    now = api.get(f"/subjects/{subject}/standing")
    assert now.status_code == 200
    body = now.get_json()
    assert body["points"] == 800 and body["tier"] == "C"
    assert [r["rule_code"] for r in body["records"]] == ["DRUNK-DRIVING"]
    assert body["records"][0]["legal_basis"] == "Road Traffic Safety Law, art. 91"
    occurred = clock.today() - timedelta(days=10)
    assert body["records"][0]["ends_on"] == (occurred + relativedelta(years=2)).isoformat()
    before = api.get(f"/subjects/{subject}/standing?as_of={days_ago(11)}").get_json()
    assert before["points"] == 1000 and before["records"] == []
    assert before["as_of"] == days_ago(11)
    assert counts.audit("subject.view") == 2  # each look is audited


def test_standing_rejections(api, new_subject):
    subject = new_subject()
    assert_error(api.get(f"/subjects/{subject}/standing?as_of=yesterday"), 422, field="as_of")
    assert_error(api.get(f"/subjects/{subject}/standing?as_of=0001-01-01"), 422, field="as_of")
    assert_error(api.get(f"/subjects/{new_person_id()}/standing"), 404, "not_found")
    bad = subject[:-1] + ("0" if subject[-1] != "0" else "1")
    assert "check digit" in assert_error(api.get(f"/subjects/{bad}/standing"), 422)
    assert_error(api.get("/subjects/abc/standing"), 422, field="subject_id")
    assert_error(api.get(f"/subjects/{subject}/standing", department=None), 401)


def test_measure_check_list_reason_notice_and_past_dates(api, new_subject):
    subject = new_subject(kind="organisation", name="Haiyang Fisheries")
    entry = _enter(api, subject, days_ago(30))
    check = api.get(f"/measures/TENDER-BAN/check?subject_id={subject}").get_json()
    assert check["applies"] is True and check["measure"] == "TENDER-BAN"
    assert check["subject_id"] == subject and check["as_of"] == clock.today().isoformat()
    assert check["since"] == days_ago(23)  # 7 days' notice after the entry
    (reason,) = check["reasons"]
    assert reason["kind"] == "list" and reason["code"] == "court-defaulters"
    assert reason["list_entries"][0]["id"] == entry["id"]
    assert reason["list_entries"][0]["decision_ref"] == "(2026) Lu 1082 Zhi C-1"
    assert reason["legal_basis"]  # the list's (or the entry's) legal basis
    assert reason["via"] is None
    # Asked about a past date, it answers as of that date.
    pending = api.get(f"/measures/TENDER-BAN/check?subject_id={subject}&as_of={days_ago(27)}")
    body = pending.get_json()
    assert body["applies"] is False and body["as_of"] == days_ago(27)
    assert body["pending"] == {"holds_since": days_ago(30), "takes_effect_on": days_ago(23)}
    before = api.get(f"/measures/TENDER-BAN/check?subject_id={subject}&as_of={days_ago(31)}")
    assert before.get_json()["applies"] is False and before.get_json()["reasons"] == []


def test_measure_check_tier_and_flag_reasons(api, new_subject):
    person = new_subject()
    for n in range(3):
        _record(api, person, "DRUNK-DRIVING", days_ago(40 + n), f"DD-{n}")
    check = api.get(f"/measures/TENDER-BAN/check?subject_id={person}").get_json()
    assert check["applies"] is True
    assert [(r["kind"], r["code"]) for r in check["reasons"]] == [("tier", "D")]
    assert "points 400" in check["reasons"][0]["detail"]
    assert check["reasons"][0]["because"] == {"code": "tier",
                                              "values": {"tier": "D", "points": 400}}
    assert check["reasons"][0]["legal_basis"] == "Tendering and Bidding Law, arts. 53, 54, 60"
    watched = new_subject()
    for n, department in enumerate(["court", "traffic-police", "court"]):
        _enter(api, watched, days_ago(100 * n + 1), ref=f"PS-{n}", list_code="priority-scrutiny",
               department=department)
    flag = api.get(f"/measures/SCRUTINY/check?subject_id={watched}").get_json()
    assert flag["applies"] is True
    (reason,) = flag["reasons"]
    assert reason["kind"] == "flag" and reason["code"] == "priority-scrutiny"
    assert len(reason["list_entries"]) == 3
    assert reason["legal_basis"] == "Priority scrutiny provisions"


def test_measure_check_rejections(api, new_subject):
    subject = new_subject()
    assert_error(api.get(f"/measures/NO-SUCH/check?subject_id={subject}"), 404, "not_found")
    assert_error(api.get("/measures/TENDER-BAN/check"), 422, field="subject_id")
    assert_error(api.get(f"/measures/TENDER-BAN/check?subject_id={subject}&as_of=2024-13-01"),
                 422, field="as_of")
    assert_error(api.get(f"/measures/TENDER-BAN/check?subject_id={new_person_id()}"), 404)
    assert_error(api.get(f"/measures/TENDER-BAN/check?subject_id={subject}%00"), 422)
    assert_error(api.get(f"/measures/TENDER-BAN/check?subject_id={subject}", department=None),
                 401)


def test_rulebook_is_public_with_its_fingerprint(api, rulebook):
    response = api.get("/rulebook", department=None)
    assert response.status_code == 200
    body = response.get_json()
    assert body["fingerprint"] == rulebook.fingerprint
    text = json.dumps(body["content"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert text == canonical_json(scheme=rulebook.scheme, departments=rulebook.departments,
                                  tables=rulebook.tables, measures=rulebook.measures,
                                  lists=rulebook.lists)
    assert hashlib.sha256(text.encode()).hexdigest() == rulebook.fingerprint
    codes = [m["code"] for m in body["content"]["measures"]]
    assert "TENDER-BAN" in codes
    assert rulebook.fingerprint in [v["fingerprint"] for v in body["history"]]


def test_a_standing_is_not_stored_by_caches(api, new_subject):
    subject = new_subject()
    answer = api.get(f"/subjects/{subject}/standing")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"


def test_the_rulebook_answer_names_no_path_and_no_person(api, rulebook, db, app_config):
    from app.services.rulebooks.history import IN_FORCE, record_event

    with db() as s:
        record_event(s, action=IN_FORCE, actor="li.wei", source="/srv/citypoints/rules",
                     fingerprint=rulebook.fingerprint)
        s.commit()
    response = api.get("/rulebook", department=None)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    for secret in ("li.wei", "/srv/citypoints", app_config["RULES_DIR"]):
        assert secret not in text
    body = response.get_json()
    assert body["source"] in ("rules directory", "database")
    assert {(v["by"], v["source"]) for v in body["history"]} == {
        ("an official", "rules directory"), ("system", "rules directory")}


def test_a_department_reads_only_its_own_evidence(api, new_subject):
    subject = new_subject()
    response = api.post("/records", json={"subject_id": subject, "rule_code": "DRUNK-DRIVING",
                                          "occurred_on": days_ago(3), "external_ref": "E-1",
                                          "evidence": "breath test 0.9 mg/l, plate LU-F 123"})
    assert response.status_code == 201
    own = api.get(f"/subjects/{subject}/standing").get_json()["records"]
    assert [(r["evidence"], r["evidence_redacted"]) for r in own] == [
        ("breath test 0.9 mg/l, plate LU-F 123", False)]
    other = api.get(f"/subjects/{subject}/standing", department="court")
    assert other.status_code == 200
    assert "breath test" not in other.get_data(as_text=True)
    assert [(r["department"], r["evidence"], r["evidence_redacted"])
            for r in other.get_json()["records"]] == [("traffic-police", "", True)]
