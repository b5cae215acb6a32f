"""Everything a user typed is escaped on every page that shows it."""

from __future__ import annotations

from app import clock
from app.services.due_process.objections import file_objection
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from tests.conftest import csrf_token

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PASSWORD = "correct horse battery"


def _login(app, username):
    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"username": username, "password": PASSWORD,
                                "csrf_token": csrf_token(page.get_data(as_text=True))})
    return client


def test_script_payloads_in_every_free_text_field_are_escaped(app, db, make_account,
                                                              new_subject, rulebook):
    today = clock.today()
    sid = new_subject(name=PAYLOAD, district=PAYLOAD, village=PAYLOAD)
    with db() as s:
        record = record_conduct(
            s, RecordDraft(subject_id=sid, rule_code="TRAFFIC-TICKET", occurred_on=today,
                           evidence=PAYLOAD, external_ref=PAYLOAD[:60]),
            rulebook=rulebook, department="traffic-police", recorded_by="t", today=today).record
        enter(
            s, ListEntryDraft(subject_id=sid, list_code="court-defaulters", entered_on=today,
                              legal_basis=PAYLOAD, decision_ref=PAYLOAD),
            rulebook=rulebook, department="court", today=today, actor="t")
        objection = file_objection(s, rulebook=rulebook, subject_id=sid, record_id=record.id,
                                   reason=PAYLOAD, attachment_ref=PAYLOAD[:100], today=today,
                                   actor="resident")
    resident = make_account("resident", subject_id=sid, display_name=PAYLOAD)
    recorder = make_account("recorder", department="traffic-police", display_name=PAYLOAD)
    reviewer = make_account("reviewer", department="court")
    pages = {
        resident: ["/me"],
        recorder: [f"/officials/subjects?q={sid}", f"/officials/subjects/{sid}", "/officials"],
        reviewer: ["/officials/objections", f"/officials/objections/{objection.id}",
                   "/officials/lists/court-defaulters", "/officials/flags"],
    }
    shown = 0
    anonymous = app.test_client()
    for url in ["/lists"]:
        body = anonymous.get(url).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body
        shown += "&lt;script&gt;" in body
    for username, urls in pages.items():
        client = _login(app, username)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            body = response.get_data(as_text=True)
            assert "<script>alert" not in body, url
            assert "<img src=x" not in body, url
            shown += "&lt;script&gt;" in body
    assert shown >= 6  # the payload really was on the pages, escaped
