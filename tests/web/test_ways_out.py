"""A resident's ways out through the pages: applying for repair (decided by the recording
department) and objecting to a list entry (decided by a reviewer), with CSRF."""

from __future__ import annotations

from datetime import timedelta

from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from tests.web.conftest import PASSWORD, page_text
from tests.web.test_due_process import post_form


def logout(client):
    assert post_form(client, "/logout", page_url="/").request.path == "/"


def test_a_resident_applies_for_repair_and_the_department_grants_it(
        client, login, resident, db, rulebook, today, make_account):
    with db() as s:
        rec = record_conduct(s, RecordDraft(subject_id=resident.subject_id,
                                            rule_code="HEAT-TAMPER",
                                            occurred_on=today - timedelta(days=100),
                                            evidence="seal broken"),
                             rulebook=rulebook, department="heating-company",
                             recorded_by="heat-1", today=today - timedelta(days=100)).record
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert f"Record {rec.id}" in me and "repairable from" in me and "Apply for repair" in me
    url = f"/me/records/{rec.id}/repair"
    assert post_form(client, url, statement=" ").status_code == 422
    done = post_form(client, url, statement="seal restored, fine paid")
    assert done.request.path == "/me"
    assert "the department decides by" in page_text(done).lower()
    logout(client)
    traffic = make_account("recorder", department="traffic-police")
    login(traffic, PASSWORD)
    assert "No application for repair is pending" in page_text(client.get("/officials/repairs"))
    logout(client)
    heating = make_account("recorder", department="heating-company")
    login(heating, PASSWORD)
    queue = client.get("/officials/repairs")
    assert f"{rec.id}" in page_text(queue) and "HEAT-TAMPER" in page_text(queue)
    decide = "/officials/repairs/1"
    granted = post_form(client, decide, decision="grant", reason="receipt checked")
    assert granted.request.path == "/officials/repairs", page_text(granted)
    logout(client)
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert "1000 points" in me


def test_a_resident_objects_to_a_list_entry_and_a_reviewer_ends_it(
        client, login, resident, db, rulebook, today, make_account):
    with db() as s:
        entry = enter(s, ListEntryDraft(subject_id=resident.subject_id,
                                        list_code="court-defaulters",
                                        entered_on=today - timedelta(days=2),
                                        decision_ref="(2026) Lu 1082 Zhi 9"),
                      rulebook=rulebook, department="court", today=today,
                      actor="judge-1").entry
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert "Lists and flags" in me and "published on the public list" in me
    url = f"/me/entries/{entry.id}/objection"
    assert post_form(client, url, reason="").status_code == 422
    done = post_form(client, url, reason="the debt was paid")
    assert done.request.path == "/me" and "A reviewer decides by" in page_text(done)
    logout(client)
    reviewer = make_account("reviewer", department="court")
    login(reviewer, PASSWORD)
    queue = page_text(client.get("/officials/objections"))
    assert "Objections to list entries" in queue and "Applications for repair" in queue
    decided = post_form(client, "/officials/entry-objections/1", outcome="ended",
                        reason="payment confirmed")
    assert decided.request.path == "/officials/objections", page_text(decided)
    # Deciding it again answers with the decision page, showing the decision taken (an
    # objection to a record answers 409 instead: tests/web/test_due_process.py).
    again = post_form(client, "/officials/entry-objections/1", page_url="/officials/objections",
                      outcome="upheld", reason="second thoughts")
    assert again.status_code == 422 and "Entry ended on" in page_text(again)
    logout(client)
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert "Objection accepted" not in me  # the entry ended: it is no longer listed
    assert "Your objection was accepted" in me  # the notice in the inbox


def test_others_may_not_decide(client, login, resident, make_account):
    auditor = make_account("auditor")
    login(auditor, PASSWORD)
    assert client.post("/officials/entry-objections/1").status_code in (400, 403, 404)
    logout(client)
    login(resident.username, PASSWORD)
    assert client.get("/officials/repairs").status_code in (302, 403)
    assert client.get("/me/entries/999/objection").status_code == 404
