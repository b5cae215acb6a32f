"""Officials' pages: roles, finding a subject, the audited file, recording by form and file."""

from __future__ import annotations

import io
import re
import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import AuditEvent
from app.services.rulebooks.registry import EXTENSION_KEY
from tests.conftest import TEST_RULES, csrf_token, new_person_id
from tests.web.conftest import PASSWORD, page_text


def form_of(page) -> dict:
    """Return the record form's prefilled values (token, hidden external_ref, date)."""
    html = page.get_data(as_text=True)
    ref = re.search(r'name="external_ref"[^>]*value="([^"]+)"', html) or \
        re.search(r'id="external_ref"[^>]*value="([^"]+)"', html)
    return {"csrf_token": csrf_token(html), "external_ref": ref.group(1)}


def field_error(page, name: str) -> str:
    """Return the error text shown next to field `name` ('' if none)."""
    match = re.search(rf'id="{name}-error">(.*?)</span>', page.get_data(as_text=True), re.S)
    return match.group(1) if match else ""


@pytest.fixture
def recording(client, login, recorder):
    """Log the recorder in; return post(**fields) -> response, using a freshly rendered form."""
    login(recorder.username, PASSWORD)

    def post(*, form=None, follow=True, checked=True, **fields):
        """Post the form; `checked`: as after the recorder has seen the subject on it."""
        values = dict(form or form_of(client.get("/officials/record")))
        values.update(fields)
        if checked:
            values.setdefault("checked_subject", str(fields.get("subject_id", "")))
        return client.post("/officials/record", data=values, follow_redirects=follow)

    return post


def test_recorder_records_through_the_form_and_sees_it_on_the_file(
        client, recording, new_subject, today, count_records):
    subject = new_subject(name="Zhang Wei")
    page = client.get("/officials/record")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'value="{today.isoformat()}"' in html  # the date defaults to today
    assert form_of(page)["external_ref"].startswith("web:")
    day = (today - timedelta(days=3)).isoformat()
    done = recording(subject_id=subject, rule_code="TRAFFIC-TICKET", occurred_on=day,
                     evidence="ticket RC-2031")
    assert done.status_code == 200
    assert done.request.path == f"/officials/subjects/{subject}"
    text = page_text(done)
    assert f"Recorded TRAFFIC-TICKET on {day}: -5 points fixed" in text  # the flash
    assert "995 points" in text and "Traffic ticket" in text and "ticket RC-2031" in text
    assert "Road Traffic Safety Law" in text
    assert count_records(subject) == 1
    again = recording(subject_id=subject, rule_code="TRAFFIC-TICKET", occurred_on=day,
                      evidence="ticket RC-2032")
    text = page_text(again)
    assert "-10 points fixed (" in text  # the repeat within a year doubles it; the note says so
    assert "985 points" in text


def test_the_recorder_sees_the_subjects_name_and_tier_before_anything_is_saved(
        client, recording, new_subject, today, count_records):
    subject = new_subject(name="Zhang Wei")
    fields = {"subject_id": subject, "rule_code": "TRAFFIC-TICKET",
              "occurred_on": today.isoformat(), "evidence": "ticket RC-7"}
    form = form_of(client.get("/officials/record"))
    first = recording(form=form, checked=False, **fields)
    assert first.status_code == 200 and first.request.path == "/officials/record"
    text = page_text(first)
    assert "Zhang Wei" in text and "Today: 1000 points, tier" in text
    assert '<span class="tier tier-A">A</span>' in first.get_data(as_text=True)
    assert count_records(subject) == 0  # nothing saved on the first press
    checked = re.search(r'name="checked_subject"[^>]*value="([^"]*)"',
                        first.get_data(as_text=True)) or re.search(
        r'id="checked_subject"[^>]*value="([^"]*)"', first.get_data(as_text=True))
    assert checked.group(1) == subject
    # The second press, on the subject seen, saves; with another subject typed in, it shows
    # that one first.
    other = new_subject(name="Li Na")
    switched = recording(form=form, checked=False, checked_subject=subject,
                         **{**fields, "subject_id": other})
    assert "Li Na" in page_text(switched) and count_records(other) == 0
    saved = recording(form=form, checked=False, checked_subject=subject, **fields)
    assert saved.request.path == f"/officials/subjects/{subject}"
    assert count_records(subject) == 1
    # Coming from the subject's file, the subject shows at once.
    page = client.get(f"/officials/record?subject_id={subject}")
    assert "Zhang Wei" in page_text(page)


def test_recorder_cannot_pick_another_departments_code(client, recording, new_subject,
                                                       today, count_records):
    subject = new_subject()
    html = client.get("/officials/record").get_data(as_text=True)
    assert 'value="TRAFFIC-TICKET"' in html and 'value="DRUNK-DRIVING"' in html
    assert "HEAT-TAMPER" not in html and "VOL-HOURS" not in html
    page = recording(subject_id=subject, rule_code="HEAT-TAMPER",
                     occurred_on=today.isoformat(), evidence="x")
    assert page.status_code == 422
    assert "Nothing was stored" in page_text(page)
    assert "may not record HEAT-TAMPER" in field_error(page, "rule_code")
    assert count_records() == 0


def test_bad_check_digit_is_shown_next_to_the_subject_field(recording, new_subject, today,
                                                           count_records):
    good = new_subject()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    page = recording(subject_id=bad, rule_code="TRAFFIC-TICKET", occurred_on=today.isoformat())
    assert page.status_code == 422
    message = field_error(page, "subject_id")
    assert "check digit" in message and bad in message
    assert field_error(page, "rule_code") == ""
    assert f'value="{bad}"' in page.get_data(as_text=True)  # the input is kept for correction
    assert count_records() == 0


def test_future_date_is_refused(recording, new_subject, today, count_records):
    subject = new_subject()
    tomorrow = (today + timedelta(days=1)).isoformat()
    page = recording(subject_id=subject, rule_code="TRAFFIC-TICKET", occurred_on=tomorrow)
    assert page.status_code == 422
    assert "is in the future" in field_error(page, "occurred_on")
    assert count_records() == 0
    blank = recording(subject_id=subject, rule_code="", occurred_on="")
    assert "the rule code is empty" in field_error(blank, "rule_code")
    assert "not a date" in field_error(blank, "occurred_on")


def test_double_submit_records_once(client, recording, new_subject, today, count_records):
    subject = new_subject()
    form = form_of(client.get("/officials/record"))
    fields = {"subject_id": subject, "rule_code": "DRUNK-DRIVING",
              "occurred_on": today.isoformat(), "evidence": "breath test"}
    first = recording(form=form, **fields)
    second = recording(form=form, **fields)
    assert "-200 points fixed" in page_text(first)
    assert "already sent" in page_text(second) and "nothing was added" in page_text(second)
    assert count_records(subject) == 1
    assert page_text(second).count("breath test") == 1


def test_a_failed_form_keeps_its_external_ref(client, recording, new_subject, today,
                                              count_records):
    subject = new_subject()
    form = form_of(client.get("/officials/record"))
    failed = recording(form=form, subject_id=subject, rule_code="TRAFFIC-TICKET",
                       occurred_on="2999-01-01")
    assert form_of(failed)["external_ref"] == form["external_ref"]


def test_evidence_is_escaped_on_the_file(client, recording, new_subject, today):
    subject = new_subject()
    page = recording(subject_id=subject, rule_code="TRAFFIC-TICKET",
                     occurred_on=today.isoformat(), evidence="<script>alert(1)</script>")
    html = page.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html


def test_search_by_name_and_by_id(client, login, make_account, new_subject):
    subject = new_subject(name="Chen Jing")
    new_subject(name="Liu Yang")
    login(make_account("reviewer", department="court"), PASSWORD)
    by_name = page_text(client.get("/officials/subjects?q=chen"))
    assert "Chen Jing" in by_name and "Liu Yang" not in by_name
    by_id = client.get(f"/officials/subjects?q={subject}").get_data(as_text=True)
    assert f'href="/officials/subjects/{subject}"' in by_id
    assert "No subject matches" in page_text(client.get("/officials/subjects?q=nobody"))


def test_each_look_at_a_file_is_audited(client, login, make_account, new_subject, db):
    subject = new_subject()
    username = make_account("auditor")
    login(username, PASSWORD)
    assert client.get(f"/officials/subjects/{subject}").status_code == 200
    with db() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "subject.view")
                           ).scalars().all()
    assert [(e.actor, e.subject_id) for e in events] == [(username, subject)]


def test_subject_file_errors(client, login, make_account, new_subject, person_id_with_bad_check):
    subject = new_subject()
    login(make_account("admin"), PASSWORD)
    bad_date = client.get(f"/officials/subjects/{subject}?as_of=31.12.2024")
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in page_text(bad_date)
    assert client.get(f"/officials/subjects/{person_id_with_bad_check(subject)}"
                      ).status_code == 422
    missing = client.get(f"/officials/subjects/{new_person_id()}")
    assert missing.status_code == 404 and "No subject" in page_text(missing)


@pytest.fixture
def person_id_with_bad_check():
    return lambda good: good[:-1] + ("0" if good[-1] != "0" else "1")


@pytest.mark.parametrize("role,department", [("reviewer", "court"), ("auditor", None),
                                             ("admin", None), ("rule-author", None)])
def test_only_recorders_may_record(client, login, make_account, role, department):
    login(make_account(role, department=department), PASSWORD)
    assert client.get("/officials").status_code == 200
    assert client.get("/officials/record").status_code == 403
    assert client.get("/officials/import").status_code == 403
    html = client.get("/officials").get_data(as_text=True)
    assert "/officials/record" not in html


def test_rule_author_opens_no_individual_file(client, login, make_account, new_subject):
    subject = new_subject()
    login(make_account("rule-author"), PASSWORD)
    assert client.get(f"/officials/subjects/{subject}").status_code == 403
    assert client.get("/officials/subjects?q=Test").status_code == 403


def test_anonymous_is_redirected_to_login(client, new_subject):
    subject = new_subject()
    for url in ("/officials", "/officials/record", f"/officials/subjects/{subject}"):
        page = client.get(url)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login"), url


def test_record_post_without_csrf_is_refused(client, recording, new_subject, today,
                                            count_records):
    subject = new_subject()
    page = client.post("/officials/record", data={
        "subject_id": subject, "rule_code": "TRAFFIC-TICKET", "occurred_on": today.isoformat(),
        "external_ref": "web:forged"})
    assert page.status_code == 400
    assert count_records() == 0


def test_home_shows_runs_and_the_recorders_recent_records(client, recording, new_subject,
                                                          today, db, rulebook):
    from app.services.standings.recompute import recompute

    subject = new_subject()
    recording(subject_id=subject, rule_code="TRAFFIC-TICKET", occurred_on=today.isoformat())
    with db() as s:
        recompute(s, rulebook=rulebook, as_of=today, triggered_by="test")
    text = page_text(client.get("/officials"))
    assert "Recent records of traffic-police" in text and subject in text
    assert f"{today.isoformat()} ok" in text


def test_import_reports_each_bad_row_or_the_counts(client, recording, new_subject, today,
                                                  count_records):
    subject = new_subject()
    day = today.isoformat()
    bad = (f"subject_id,rule_code,occurred_on,evidence,external_ref\n"
           f"{subject},TRAFFIC-TICKET,{day},ok,r1\n"
           f"{subject},HEAT-TAMPER,{day},not ours,r2\n"
           f"{subject},TRAFFIC-TICKET,31/12/2024,bad date,r3\n")
    page_ = client.get("/officials/import")
    token = csrf_token(page_.get_data(as_text=True))
    refused = client.post("/officials/import", data={
        "csrf_token": token, "file": (io.BytesIO(bad.encode()), "tickets.csv")},
        content_type="multipart/form-data")
    assert refused.status_code == 422
    text = page_text(refused)
    assert "Nothing was recorded" in text
    assert "row on line 3, column rule_code: department traffic-police may not record" in text
    assert "row on line 4, column occurred_on:" in text
    assert count_records() == 0
    good = bad.splitlines()[0] + "\n" + bad.splitlines()[1] + "\n"
    for added in (1, 0):
        done = client.post("/officials/import", data={
            "csrf_token": token, "file": (io.BytesIO(good.encode()), "tickets.csv")},
            content_type="multipart/form-data")
        assert done.status_code == 200
        assert f"1 rows read, {added} recorded, {1 - added} already recorded" in page_text(done)
    assert count_records() == 1


class TestRefusedReload:
    """An admin sees the rulebook in force and, after a refused reload, each problem."""

    @pytest.fixture
    def app_config(self, database_url, tmp_path):
        rules = tmp_path / "rules"
        shutil.copytree(TEST_RULES, rules)
        return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
                "RULES_DIR": str(rules)}

    def test_admin_sees_the_rulebook_state(self, app, client, login, make_account, rulebook,
                                           app_config):
        login(make_account("admin"), PASSWORD)
        html = client.get("/officials").get_data(as_text=True)
        assert rulebook.fingerprint[:12] in html and "rules directory" in html
        assert "refused" not in html
        scheme = f"{app_config['RULES_DIR']}/scheme.yaml"
        with open(scheme) as f:
            text = f.read()
        with open(scheme, "w") as f:
            f.write(text.replace("starting_points: 1000", "starting_points: lots"))
        with app.app_context():
            state = app.extensions[EXTENSION_KEY].reload()
        assert state.problems
        page = page_text(client.get("/officials"))
        assert "The last reload was refused" in page
        assert rulebook.fingerprint[:12] in page  # the last good one stays in force
        for problem in state.problems:
            assert str(problem) in page
        assert "scheme.yaml:" in page

    def test_others_do_not_see_it(self, client, login, make_account):
        login(make_account("auditor"), PASSWORD)
        assert "Rulebook" not in page_text(client.get("/officials"))


def test_only_a_same_site_look_at_a_file_is_audited(client, login, make_account, new_subject,
                                                    db):
    subject = new_subject(name="Sun Li")
    username = make_account("auditor")
    login(username, PASSWORD)
    path = f"/officials/subjects/{subject}"
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Referer": "https://elsewhere.example/page"},
                    {"Origin": "https://elsewhere.example"}):
        page = client.get(path, headers=headers)
        assert page.status_code == 200
        text = page_text(page)
        assert "You came here from another site" in text and "Sun Li" not in text
        assert f'href="{path}?"' in page.get_data(as_text=True)
    with db() as s:
        assert s.execute(select(AuditEvent).where(AuditEvent.action == "subject.view")
                         ).scalars().all() == []
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"},
                    {"Referer": f"http://localhost/officials/subjects?q={subject}"}, {}):
        assert "Sun Li" in page_text(client.get(path, headers=headers))
    with db() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "subject.view")
                           ).scalars().all()
    assert [(e.actor, e.subject_id) for e in events] == [(username, subject)] * 4


def test_pages_with_personal_data_are_not_stored(client, login, make_account, new_subject):
    subject = new_subject()
    login(make_account("admin"), PASSWORD)
    for path in (f"/officials/subjects/{subject}", "/officials/lists", "/admin/accounts",
                 "/lists", "/officials"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/static/css/simple.min.css").headers.get(
        "Cache-Control", "")


def test_a_residents_page_is_not_stored(client, login, resident):
    login(resident.username, resident.password)
    response = client.get("/me")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
