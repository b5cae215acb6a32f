"""List pages: the public page shows only what a published list shows and only while an
entry counts; officials of the keeping department enter and remove; others get 403."""

from __future__ import annotations

import re
from datetime import timedelta

from app import clock
from app.services.intake.drafts import ListEntryDraft
from app.services.lists.entries import enter, remove_from_list
from app.services.standings.recompute import recompute
from tests.conftest import csrf_token
from tests.web.conftest import PASSWORD, page_text


def _enter(db, rulebook, subject_id, *, list_code="court-defaulters", department="court",
           days=10, **extra):
    with db() as s:
        draft = ListEntryDraft(subject_id=subject_id, list_code=list_code,
                               entered_on=clock.today() - timedelta(days=days),
                               decision_ref=f"D-{subject_id[-4:]}", **extra)
        return enter(s, draft, rulebook=rulebook, department=department, today=clock.today(),
                     actor="clerk").entry


def test_public_page_shows_name_list_basis_and_dates_only(client, db, rulebook, new_subject):
    listed = new_subject(name="Zhao Listed", district="Yatou")
    paid = new_subject(name="Qian Paid")
    watched = new_subject(name="Sun Watched")
    entry = _enter(db, rulebook, listed, legal_basis="Civil Procedure Law, art. 255")
    gone = _enter(db, rulebook, paid)
    _enter(db, rulebook, watched, list_code="priority-scrutiny")
    with db() as s:
        remove_from_list(s, rulebook=rulebook, entry_id=gone.id, department="court",
                         reason="paid", actor="judge", today=clock.today())
    page = client.get("/lists")
    assert page.status_code == 200
    text = page_text(page)
    assert "Zhao Listed" in text and "Dishonest judgment debtors" in text
    assert "Civil Procedure Law, art. 255" in text
    assert entry.entered_on.isoformat() in text and entry.ends_on.isoformat() in text
    assert "Qian Paid" not in text  # removed today: gone from the page at once
    assert "Sun Watched" not in text  # a watchlist is not public
    html = page.get_data(as_text=True)
    assert listed not in html and "D-" not in html and "Yatou" not in html  # nothing more
    assert "clerk" not in html and "court" not in text.replace("Dishonest", "")
    only = page_text(client.get("/lists?list=model-citizens"))
    assert "Zhao Listed" not in only and "Nobody is on this list today" in only


def test_public_page_hides_entries_that_ended_by_themselves(client, db, rulebook, new_subject):
    lapsed = new_subject(name="Li Lapsed")
    _enter(db, rulebook, lapsed, list_code="model-citizens", department="civil-affairs",
           days=366)
    assert "Li Lapsed" not in page_text(client.get("/lists"))
    assert client.get("/lists?page=abc&list=<script>").status_code == 200


def _list_page(client, code="court-defaulters"):
    page = client.get(f"/officials/lists/{code}")
    assert page.status_code == 200
    return page


def test_court_recorder_enters_and_removes(client, login, make_account, new_subject, db,
                                          rulebook):
    login(make_account("recorder", department="court"), PASSWORD)
    subject = new_subject(name="Wu Debtor")
    page = _list_page(client)
    html = page.get_data(as_text=True)
    ref = re.search(r'name="external_ref"[^>]*value="([^"]+)"', html) or \
        re.search(r'id="external_ref"[^>]*value="([^"]+)"', html)
    form = {"csrf_token": csrf_token(html), "external_ref": ref.group(1),
            "subject_id": subject, "entered_on": (clock.today() - timedelta(days=3)).isoformat(),
            "ends_on": "", "decision_ref": "(2026) Lu 1082 Zhi 88", "legal_basis": ""}
    bad = client.post("/officials/lists/court-defaulters/entries",
                      data={**form, "decision_ref": "", "entered_on": "2026-13-01"})
    assert bad.status_code == 422
    assert "decision reference is empty" in page_text(bad) and "not a date" in page_text(bad)
    done = client.post("/officials/lists/court-defaulters/entries", data=form,
                       follow_redirects=True)
    assert "Entered " + subject in page_text(done)
    again = client.post("/officials/lists/court-defaulters/entries", data=form,
                        follow_redirects=True)
    assert "already sent" in page_text(again)
    html = done.get_data(as_text=True)
    action = re.search(r'action="(/officials/lists/court-defaulters/entries/\d+/removal)"',
                       html).group(1)
    removed = client.post(action, data={"csrf_token": csrf_token(html),
                                        "reason": "the debt was paid"}, follow_redirects=True)
    text = page_text(removed)
    assert "ends today" in text and "Wu Debtor" not in text.split("Entries that count today")[1]
    full = page_text(client.get("/officials/lists/court-defaulters?all=1"))
    assert "removed on" in full and "the debt was paid" in full


def test_other_departments_get_403(client, login, recorder, new_subject, db, rulebook):
    entry = _enter(db, rulebook, new_subject())
    login(recorder.username, PASSWORD)  # traffic police
    page = _list_page(client)
    html = page.get_data(as_text=True)
    assert "Enter a subject on this list" not in html and "/removal" not in html
    token = csrf_token(client.get("/officials/intake").get_data(as_text=True))
    assert client.post("/officials/lists/court-defaulters/entries",
                       data={"csrf_token": token, "subject_id": "x"}).status_code == 403
    assert client.post(f"/officials/lists/court-defaulters/entries/{entry.id}/removal",
                       data={"csrf_token": token, "reason": "x"}).status_code == 403
    assert client.get("/officials/lists/no-such-list").status_code == 404


def test_flagged_subjects_with_the_entries_behind_each_flag(client, login, make_account,
                                                           new_subject, db, rulebook):
    flagged = new_subject(name="Zheng Flagged")
    for days in (5, 50, 150):
        _enter(db, rulebook, flagged, list_code="priority-scrutiny", days=days,
               external_ref=f"PS-{days}")
    _enter(db, rulebook, new_subject(name="Feng Once"), list_code="priority-scrutiny")
    with db() as s:
        recompute(s, rulebook=rulebook, as_of=clock.today())
    login(make_account("reviewer", department="court"), PASSWORD)
    page = client.get("/officials/flags")
    assert page.status_code == 200
    text = page_text(page)
    assert "Zheng Flagged" in text and "Feng Once" not in text
    assert "3 entries on priority-scrutiny within 1y (threshold 3)" in text
    for days in (5, 50, 150):
        assert (clock.today() - timedelta(days=days)).isoformat() in text
    overview = page_text(client.get("/officials/lists"))
    assert "Priority" in overview or "priority-scrutiny" in overview


def test_residents_cannot_read_the_officials_list_pages(client, login, resident):
    login(resident.username, resident.password)
    for path in ("/officials/lists", "/officials/lists/court-defaulters", "/officials/flags"):
        assert client.get(path).status_code == 403
