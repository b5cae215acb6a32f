"""Due process through the pages, logged in with CSRF: objections and reconsideration,
the reviewers' queue and decisions, voids and repair, consent, contact, history, letters."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from app.models import AuditEvent, ConsentChange, Notice, NoticeOutbox, Objection, Record
from app.services.due_process.objections import file_objection
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from tests.conftest import TEST_RULES, csrf_token
from tests.web.conftest import PASSWORD, page_text


@pytest.fixture
def record(db, rulebook, today):
    """Return record(subject_id, code, days_ago=..., notified_days_ago=0, by=...) -> Record."""

    def do(subject_id, code="DRUNK-DRIVING", *, days_ago=5, notified_days_ago=0, by="officer",
           department="traffic-police", evidence="breath test 0.9"):
        with db() as s:
            return record_conduct(
                s, RecordDraft(subject_id=subject_id, rule_code=code,
                               occurred_on=today - timedelta(days=days_ago), evidence=evidence),
                rulebook=rulebook, department=department, recorded_by=by,
                today=today - timedelta(days=notified_days_ago)).record

    return do


def post_form(client, url, page_url=None, **fields):
    """Post `fields` to `url` with the CSRF token of the page at `page_url` (default `url`)."""
    page = client.get(page_url or url)
    return client.post(url, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                  **fields}, follow_redirects=True)


def field_error(page, name):
    match = re.search(rf'id="{name}-error">(.*?)</span>', page.get_data(as_text=True), re.S)
    return match.group(1) if match else ""


def actions(db):
    with db() as s:
        return [(e.actor, e.action) for e in s.execute(
            select(AuditEvent).order_by(AuditEvent.id)).scalars()]


@pytest.fixture
def reviewer(make_account):
    return make_account("reviewer", department="court")


# --- objections ------------------------------------------------------------------------------
def test_a_resident_objects_and_the_record_stops_counting(client, login, resident, record, db,
                                                           today):
    rec = record(resident.subject_id)
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert "800 points" in me and "You may object to these records" in me
    assert "New record: Drunk driving (-200 points)" in me  # the notice, in the inbox
    url = f"/me/records/{rec.id}/objection"
    empty = post_form(client, url, reason="  ")
    assert empty.status_code == 422
    assert "the reason is empty" in field_error(empty, "reason")
    done = post_form(client, url, reason="I was not driving", attachment_ref="witness W-1")
    assert done.status_code == 200 and done.request.path == "/me"
    text = page_text(done)
    assert f"Your objection to record {rec.id} is filed" in text
    assert "1000 points" in text and "pending" in text
    assert f"a reviewer decides by {(today + timedelta(days=15)).isoformat()}" in text
    assert "suspended: objection pending since" in text
    with db() as s:
        objection = s.execute(select(Objection)).scalar_one()
        assert (objection.reason, objection.attachment_ref, objection.filed_by) == (
            "I was not driving", "witness W-1", resident.username)
    again = post_form(client, url, page_url="/me", reason="again")
    assert again.status_code == 409 and "already objected" in page_text(again)
    assert (resident.username, "objection.file") in actions(db)


def test_an_objection_after_the_window_is_refused(client, login, resident, record):
    rec = record(resident.subject_id, days_ago=60, notified_days_ago=31)
    login(resident.username, PASSWORD)
    assert "Object</a>" not in client.get("/me").get_data(as_text=True)
    late = post_form(client, f"/me/records/{rec.id}/objection", reason="too late?")
    assert late.status_code == 422
    assert "the time to object to record" in page_text(late) and "ended on" in page_text(late)


def test_a_resident_cannot_object_to_anothers_record_or_without_csrf(client, login, resident,
                                                                       record, new_subject):
    other = record(new_subject(name="Li Na"))
    login(resident.username, PASSWORD)
    assert client.get(f"/me/records/{other.id}/objection").status_code == 404
    mine = record(resident.subject_id)
    refused = client.post(f"/me/records/{mine.id}/objection", data={"reason": "no token"})
    assert refused.status_code == 400


def test_the_queue_marks_overdue_and_a_decision_needs_a_reason(client, login, resident, record,
                                                               reviewer, db, rulebook, today):
    rec = record(resident.subject_id, days_ago=30, notified_days_ago=20)
    with db() as s:
        objection = file_objection(s, rulebook=rulebook, subject_id=resident.subject_id,
                                   record_id=rec.id, reason="not me", actor="r",
                                   today=today - timedelta(days=20))
    login(reviewer, PASSWORD)
    queue = client.get("/officials/objections")
    text = page_text(queue)
    assert "overdue 5 days" in text and resident.subject_id in text
    url = f"/officials/objections/{objection.id}"
    assert "not me" in page_text(client.get(url))
    no_reason = post_form(client, url, outcome="annulled", reason="")
    assert no_reason.status_code == 422
    assert "a decision needs a written reason" in field_error(no_reason, "reason")
    done = post_form(client, url, outcome="annulled", reason="the plate was misread")
    assert done.request.path == "/officials/objections"
    assert f"record {rec.id} annulled" in page_text(done)
    with db() as s:
        assert s.get(Record, rec.id).annulled_on == today
    final = post_form(client, url, page_url="/officials/objections", outcome="upheld",
                      reason="changed my mind")
    assert final.status_code == 409 and "final" in page_text(final)
    assert (reviewer, "objection.view") in actions(db)
    assert (reviewer, "objection.decide") in actions(db)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/officials").get_data(
        as_text=True))})
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert "Your objection succeeded: record" in me and "the plate was misread" in me
    assert "annulled after an objection" in me


def test_a_reviewer_who_recorded_the_record_cannot_decide_it(client, login, resident, record,
                                                             reviewer, db, rulebook, today):
    rec = record(resident.subject_id, by=reviewer)
    with db() as s:
        objection = file_objection(s, rulebook=rulebook, subject_id=resident.subject_id,
                                   record_id=rec.id, reason="x", actor="r", today=today)
    login(reviewer, PASSWORD)
    refused = post_form(client, f"/officials/objections/{objection.id}", outcome="annulled",
                        reason="fine")
    assert refused.status_code == 403 and "you recorded record" in page_text(refused).lower()
    with db() as s:
        assert s.get(Objection, objection.id).decided_on is None


def test_only_reviewers_decide(client, login, resident, record, recorder, make_account, db,
                               rulebook, today):
    rec = record(resident.subject_id)
    with db() as s:
        objection = file_objection(s, rulebook=rulebook, subject_id=resident.subject_id,
                                   record_id=rec.id, reason="x", actor="r", today=today)
    login(recorder.username, PASSWORD)
    assert client.get("/officials/objections").status_code == 403
    login_auditor = make_account("auditor")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/officials").get_data(
        as_text=True))})
    login(login_auditor, PASSWORD)
    assert client.get(f"/officials/objections/{objection.id}").status_code == 200
    refused = post_form(client, f"/officials/objections/{objection.id}", outcome="annulled",
                        reason="x")
    assert refused.status_code == 403


def test_reconsideration_by_a_different_reviewer(client, login, resident, record, reviewer,
                                                 make_account, db, rulebook, today):
    rec = record(resident.subject_id)
    with db() as s:
        first = file_objection(s, rulebook=rulebook, subject_id=resident.subject_id,
                               record_id=rec.id, reason="x", actor="r", today=today)
    login(reviewer, PASSWORD)
    post_form(client, f"/officials/objections/{first.id}", outcome="upheld",
              reason="the test was valid")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/officials").get_data(
        as_text=True))})
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert "record upheld" in me and "Ask for reconsideration" in me
    asked = post_form(client, f"/me/objections/{first.id}/reconsideration",
                      reason="new evidence", attachment_ref="receipt 9")
    assert "Your request for reconsideration" in page_text(asked)
    with db() as s:
        second = s.execute(select(Objection).where(Objection.level == 2)).scalar_one()
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/me").get_data(
        as_text=True))})
    login(reviewer, PASSWORD)
    same = post_form(client, f"/officials/objections/{second.id}", outcome="annulled",
                     reason="x")
    assert same.status_code == 403 and "different reviewer" in page_text(same).lower()
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/officials").get_data(
        as_text=True))})
    login(make_account("reviewer", department="court"), PASSWORD)
    done = post_form(client, f"/officials/objections/{second.id}", outcome="annulled",
                     reason="the receipt proves it")
    assert done.status_code == 200 and "annulled" in page_text(done)


# --- voids and repair --------------------------------------------------------------------------
def test_the_recording_department_voids_with_a_reason(client, login, resident, record, recorder,
                                                      make_account, db):
    rec = record(resident.subject_id)
    other = make_account("recorder", department="heating-company")
    login(other, PASSWORD)
    assert client.get(f"/officials/records/{rec.id}/void").status_code == 403
    page = client.get(f"/officials/subjects/{resident.subject_id}")
    token = csrf_token(page.get_data(as_text=True))
    refused = client.post(f"/officials/records/{rec.id}/void",
                          data={"csrf_token": token, "reason": "mine now"})
    assert refused.status_code == 403
    assert "only the recording department" in page_text(refused).lower()
    client.post("/logout", data={"csrf_token": token})
    login(recorder.username, PASSWORD)
    file = client.get(f"/officials/subjects/{resident.subject_id}").get_data(as_text=True)
    assert f"/officials/records/{rec.id}/void" in file
    url = f"/officials/records/{rec.id}/void"
    empty = post_form(client, url, reason="")
    assert empty.status_code == 422 and "the reason is empty" in field_error(empty, "reason")
    done = post_form(client, url, reason="wrong plate number")
    assert done.request.path == f"/officials/subjects/{resident.subject_id}"
    text = page_text(done)
    assert f"Record {rec.id} is voided" in text and "voided (entered in error)" in text
    assert f"Voided by {recorder.username}: wrong plate number" in text
    twice = post_form(client, url, page_url=f"/officials/subjects/{resident.subject_id}",
                      reason="again")
    assert twice.status_code == 409
    with db() as s:
        assert s.get(Record, rec.id).void_reason == "wrong plate number"
    assert (recorder.username, "record.void") in actions(db)


def test_repair_after_its_minimum_period_only(client, login, resident, record, recorder,
                                              make_account, db, today):
    early = record(resident.subject_id)  # DRUNK-DRIVING: repairable after 1 year
    old = record(resident.subject_id, "HEAT-TAMPER", days_ago=100, department="heating-company",
                 by="heat-officer")
    login(recorder.username, PASSWORD)
    refused = post_form(client, f"/officials/records/{early.id}/repair", evidence="paid")
    assert refused.status_code == 422 and "may be marked repaired from" in page_text(refused)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/officials").get_data(
        as_text=True))})
    login(make_account("recorder", department="heating-company"), PASSWORD)
    file = client.get(f"/officials/subjects/{resident.subject_id}").get_data(as_text=True)
    assert f"/officials/records/{old.id}/repair" in file
    done = post_form(client, f"/officials/records/{old.id}/repair",
                     evidence="meter seal restored, receipt 77")
    text = page_text(done)
    assert f"Record {old.id} is marked repaired from {today.isoformat()}" in text
    assert "meter seal restored" in text
    with db() as s:
        assert s.get(Record, old.id).repaired_on == today
        assert s.execute(select(Notice).where(Notice.kind == "record_repaired")).scalar_one()


# --- consent, contact ------------------------------------------------------------------------
class TestConsent:
    @pytest.fixture
    def app_config(self, database_url, tmp_path):
        rules = tmp_path / "rules"
        shutil.copytree(TEST_RULES, rules)
        scheme = rules / "scheme.yaml"
        scheme.write_text(scheme.read_text().replace("requires_consent: false",
                                                     "requires_consent: true"))
        return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
                "RULES_DIR": str(rules)}

    def test_a_resident_gives_and_withdraws_consent(self, client, login, make_account,
                                                     new_subject, record, db, today):
        subject = new_subject(consent=False)
        record(subject)
        login(make_account("resident", subject_id=subject), PASSWORD)
        text = page_text(client.get("/me"))
        assert "Not scored" in text and "You have not consented" in text
        given = post_form(client, "/me/consent", page_url="/me", consent="give")
        text = page_text(given)
        assert "You gave consent" in text and "800 points" in text
        assert f"{today.isoformat()}: consent given" in text
        withdrawn = post_form(client, "/me/consent", page_url="/me", consent="withdraw")
        assert "Not scored" in page_text(withdrawn)
        with db() as s:
            assert [c.consent for c in s.execute(select(ConsentChange)).scalars()] == [
                True, False]
        assert client.post("/me/consent", data={"consent": "give"}).status_code == 400


def test_a_resident_sets_where_notices_are_mailed(client, login, resident):
    login(resident.username, PASSWORD)
    bad = post_form(client, "/me/contact", page_url="/me", email="nope")
    assert "is not an email address" in page_text(bad)
    done = post_form(client, "/me/contact", page_url="/me", email="wang@example.org")
    assert "Notices will be emailed to wang@example.org" in page_text(done)


def test_a_resident_chooses_the_language_of_their_notices(client, login, resident, db):
    from app.models import Subject

    login(resident.username, PASSWORD)
    assert 'name="language"' in client.get("/me").get_data(as_text=True)
    done = post_form(client, "/me/language", page_url="/me", language="zh")
    assert "Your notices will be written in 简体中文" in page_text(done)
    assert '<option value="zh" lang="zh" selected>' in done.get_data(as_text=True)
    with db() as s:
        assert s.get(Subject, resident.subject_id).language == "zh"
    bad = post_form(client, "/me/language", page_url="/me", language="fr")
    assert "is not a language" in page_text(bad)


# --- history ---------------------------------------------------------------------------------
def test_the_history_chart_and_next_tier_sentence(client, login, resident, record, recorder,
                                                  today):
    rec = record(resident.subject_id, "TRAFFIC-TICKET", days_ago=30)
    record(resident.subject_id, "DRUNK-DRIVING", days_ago=20)
    login(resident.username, PASSWORD)
    page = client.get("/me")
    html = page.get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="points-chart"' in html
    assert 'class="band band-' in html and 'class="line past"' in html
    assert "<script" not in html and " style=" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    text = page_text(page)
    assert f"On {rec.ends_on.isoformat()} 1 record (TRAFFIC-TICKET) stops counting" in text
    drunk_ends = today - timedelta(days=20) + relativedelta(years=2)
    assert f"On {drunk_ends.isoformat()} one record lapses and you return to A." in text
    past = today - timedelta(days=25)
    then = page_text(client.get(f"/me?as_of={past.isoformat()}"))
    assert f"Points and tier on {past.isoformat()}" in then and "995 points" in then
    assert "Objections are filed, and their state shown, on today's page" in then
    client.post("/logout", data={"csrf_token": csrf_token(html)})
    login(recorder.username, PASSWORD)
    file = client.get(f"/officials/subjects/{resident.subject_id}?as_of={past.isoformat()}")
    text = page_text(file)
    starts = (today - timedelta(days=20)).isoformat()
    assert "995 points" in text
    assert f"On {starts} one record starts counting and the subject drops to C." in text
    assert 'class="points-chart"' in file.get_data(as_text=True)


# --- letters ---------------------------------------------------------------------------------
def test_an_admin_prints_pending_letters_and_marks_them_posted(client, login, resident, record,
                                                               recorder, make_account, db):
    record(resident.subject_id)
    login(recorder.username, PASSWORD)
    assert client.get("/officials/letters").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/officials").get_data(
        as_text=True))})
    admin = make_account("admin")
    login(admin, PASSWORD)
    page = client.get("/officials/letters")
    text = page_text(page)
    assert "Wang Fang" in text and "New record: Drunk driving (-200 points)" in text
    assert "you may object until" in text
    done = post_form(client, "/officials/letters/posted", page_url="/officials/letters",
                     outbox_id=re.findall(r'name="outbox_id" value="(\d+)"',
                                          page.get_data(as_text=True)))
    assert "1 letter marked as posted" in page_text(done)
    assert "No letter is waiting" in page_text(done)
    with db() as s:
        row = s.execute(select(NoticeOutbox)).scalar_one()
        assert (row.state, row.channel, row.sent_by) == ("sent", "letter", admin)
    assert (admin, "notices.letters.view") in actions(db)
    assert (admin, "notices.posted") in actions(db)


def test_the_letters_page_is_paginated_and_marks_only_its_own_letters(
        client, login, resident, record, make_account, db, monkeypatch):
    from app.web.officials import due_process as views

    monkeypatch.setattr(views, "LETTERS_PER_PAGE", 2)
    for days_ago in (5, 6, 7):
        record(resident.subject_id, "TRAFFIC-TICKET", days_ago=days_ago)
    with db() as s:
        waiting = len(s.execute(select(NoticeOutbox.id)).all())
    assert waiting >= 3
    login(make_account("admin"), PASSWORD)
    first = client.get("/officials/letters")
    html = first.get_data(as_text=True)
    assert html.count('<article class="letter">') == 2
    assert f"{waiting} letters are waiting; this page holds 1 to 2" in page_text(first)
    assert 'rel="next"' in html and "?page=2" in html and 'rel="prev"' not in html
    # The address block (what an envelope's window shows) has no identity number.
    address = re.search(r'<p class="letter-address">(.*?)</p>', html, re.S).group(1)
    assert "Wang Fang" in address and resident.subject_id not in address
    assert resident.subject_id in html
    pages = (waiting + 1) // 2
    last = client.get(f"/officials/letters?page={pages}")
    assert f"Page {pages} of {pages}" in page_text(last)
    assert 'rel="prev"' in last.get_data(as_text=True)
    assert 'rel="next"' not in last.get_data(as_text=True)
    assert "No letter on page 99." in page_text(client.get("/officials/letters?page=99"))
    # Marking posted takes this page's letters only; the rest move up to page 1.
    done = post_form(client, "/officials/letters/posted", page_url="/officials/letters",
                     outbox_id=re.findall(r'name="outbox_id" value="(\d+)"', html))
    assert "2 letters marked as posted" in page_text(done)
    with db() as s:
        assert len(s.execute(select(NoticeOutbox.id).where(
            NoticeOutbox.state != "sent")).all()) == waiting - 2
    # The CSV still holds every waiting letter, not a page of them.
    import csv
    import io

    csv_text = client.get("/officials/letters?format=csv").get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == waiting - 2


def test_a_chinese_residents_notice_reads_in_chinese_on_me_and_on_the_letter(
        client, login, resident, record, make_account, db):
    from app.services.subjects.consent import set_language

    with db() as s:
        set_language(s, subject_id=resident.subject_id, language="zh", actor="test")
    rec = record(resident.subject_id)
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert "新记录：Drunk driving（-200 分）" in me and f"在记录 {rec.id} 旁选择“提出异议”" in me
    assert "New record: Drunk driving" not in me
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/me").get_data(
        as_text=True))})
    login(make_account("admin"), PASSWORD)
    letters = page_text(client.get("/officials/letters"))
    assert "新记录：Drunk driving（-200 分）" in letters and "证据编号：breath test 0.9" in letters


def test_a_reviewers_decision_reaches_a_chinese_resident_in_chinese(
        client, login, resident, record, reviewer, db, rulebook, today):
    from app.services.subjects.consent import set_language

    with db() as s:
        set_language(s, subject_id=resident.subject_id, language="zh", actor="test")
    rec = record(resident.subject_id, days_ago=30, notified_days_ago=20)
    with db() as s:
        objection = file_objection(s, rulebook=rulebook, subject_id=resident.subject_id,
                                   record_id=rec.id, reason="not me", actor="r",
                                   today=today - timedelta(days=20))
    login(reviewer, PASSWORD)
    done = post_form(client, f"/officials/objections/{objection.id}", outcome="annulled",
                     reason="the plate was misread")
    assert done.request.path == "/officials/objections"
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/officials").get_data(
        as_text=True))})
    login(resident.username, PASSWORD)
    me = page_text(client.get("/me"))
    assert f"您的异议成立：记录 {rec.id} 已撤销" in me
    assert f"记录 {rec.id}（DRUNK-DRIVING）自 {today.isoformat()} 起撤销" in me
    assert "理由：the plate was misread" in me and "Your objection succeeded" not in me
