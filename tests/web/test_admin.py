"""Admin pages (accounts, API tokens) for the admin only, and the audit trail for auditors
and admins: through the test client, with real logins and CSRF tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import clock
from app.models import Account, ApiToken, AuditEvent
from app.services.audit.chain import search
from tests.conftest import csrf_token
from tests.web.conftest import PASSWORD, page_text

OTHER_ROLES = ("resident", "recorder", "reviewer", "rule-author", "auditor")
SECRET_RE = re.compile(r"cpt_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def account_of(make_account, new_subject):
    """Return a factory: account_of(role) -> user name, with what the role needs."""

    def factory(role: str) -> str:
        if role == "resident":
            return make_account(role, subject_id=new_subject())
        if role in ("recorder", "reviewer"):
            return make_account(role, department="traffic-police")
        return make_account(role)

    return factory


def _as(login, username):
    page = login(username, PASSWORD)
    assert page.status_code == 200 and "Log out" in page.get_data(as_text=True), username
    return csrf_token(page.get_data(as_text=True))


def _account(db, username) -> Account:
    with db() as s:
        return s.execute(select(Account).where(Account.username == username)).scalar_one()


def test_admin_creates_an_account_and_deactivates_it(client, login, db, account_of):
    admin = account_of("admin")
    _as(login, admin)
    page = client.get("/admin/accounts")
    assert page.status_code == 200 and admin in page_text(page)
    token = csrf_token(page.get_data(as_text=True))
    done = client.post("/admin/accounts", data={
        "csrf_token": token, "username": "new-reviewer", "password": PASSWORD,
        "role": "reviewer", "department": "court", "subject_id": "", "display_name": "Ma Li"},
        follow_redirects=True)
    assert done.status_code == 200
    text = page_text(done)
    assert "Account new-reviewer (reviewer) created." in text
    created = _account(db, "new-reviewer")
    assert (created.role, created.department_code, created.active) == ("reviewer", "court", True)
    with db() as s:
        assert search(s, action="account.create", actor=admin)[0].target == "account:new-reviewer"

    # The new official logs in, then is deactivated: the open session ends, and no new login.
    other = client.application.test_client()
    assert "Log out" in other.post("/login", data={
        "username": "new-reviewer", "password": PASSWORD,
        "csrf_token": csrf_token(other.get("/login").get_data(as_text=True))},
        follow_redirects=True).get_data(as_text=True)
    gone = client.post(f"/admin/accounts/{created.id}/deactivate", data={"csrf_token": token},
                       follow_redirects=True)
    assert gone.status_code == 200
    assert "Account new-reviewer deactivated" in page_text(gone)
    assert _account(db, "new-reviewer").active is False
    assert other.get("/officials").status_code == 302  # the open session is over
    again = other.post("/login", data={
        "username": "new-reviewer", "password": PASSWORD,
        "csrf_token": csrf_token(other.get("/login").get_data(as_text=True))})
    assert again.status_code == 200 and "user name or password is wrong" in page_text(again)
    with db() as s:
        event = search(s, action="account.deactivate")[0]
    assert (event.actor, event.target) == (admin, "account:new-reviewer")
    # Deactivating twice is refused, and nobody can deactivate themselves.
    assert client.post(f"/admin/accounts/{created.id}/deactivate",
                       data={"csrf_token": token}).status_code == 409
    own = client.post(f"/admin/accounts/{_account(db, admin).id}/deactivate",
                      data={"csrf_token": token})
    assert own.status_code == 422 and "your own account" in page_text(own)
    assert client.post("/admin/accounts/99999/deactivate",
                       data={"csrf_token": token}).status_code == 404


def test_account_errors_are_shown_by_field(client, login, db, account_of):
    admin = account_of("admin")
    token = _as(login, admin)
    short = client.post("/admin/accounts", data={
        "csrf_token": token, "username": "clerk", "password": "short", "role": "recorder",
        "department": ""})
    assert short.status_code == 422
    body = short.get_data(as_text=True)
    assert re.search(r'id="password-error">the password must have at least 10', body)
    nodep = client.post("/admin/accounts", data={
        "csrf_token": token, "username": "clerk", "password": PASSWORD, "role": "recorder",
        "department": ""})
    assert nodep.status_code == 422
    assert re.search(r'id="department-error">a recorder account needs a department',
                     nodep.get_data(as_text=True))
    taken = client.post("/admin/accounts", data={
        "csrf_token": token, "username": admin, "password": PASSWORD, "role": "auditor"})
    assert taken.status_code == 422
    assert re.search(r'id="username-error">the user name .* is taken',
                     taken.get_data(as_text=True))
    nosub = client.post("/admin/accounts", data={
        "csrf_token": token, "username": "res", "password": PASSWORD, "role": "resident",
        "subject_id": "<b>x</b>"})
    assert nosub.status_code == 422
    nosub_html = nosub.get_data(as_text=True)
    assert 'id="subject_id-error"' in nosub_html and "<b>x</b>" not in nosub_html  # escaped
    bad_role = client.post("/admin/accounts", data={
        "csrf_token": token, "username": "x1", "password": PASSWORD, "role": "god"})
    assert bad_role.status_code == 422 and 'id="role-error"' in bad_role.get_data(as_text=True)
    with db() as s:
        names = set(s.execute(select(Account.username)).scalars())
    assert names == {admin}
    assert client.post("/admin/accounts", data={
        "username": "nocsrf", "password": PASSWORD, "role": "auditor"}).status_code == 400


def test_admin_creates_a_token_sees_the_secret_once_and_revokes_it(client, login, db,
                                                                    account_of):
    admin = account_of("admin")
    token = _as(login, admin)
    made = client.post("/admin/tokens", data={"csrf_token": token, "department": "court",
                                               "name": "tender system", "expires_in": "1y"})
    assert made.status_code == 200
    assert "no-store" in made.headers["Cache-Control"]
    secrets_shown = SECRET_RE.findall(made.get_data(as_text=True))
    assert len(secrets_shown) == 1
    secret = secrets_shown[0]
    assert "shown only this once" in page_text(made)
    with db() as s:
        stored = s.execute(select(ApiToken)).scalar_one()
    assert secret.startswith(stored.prefix) and stored.created_by == admin
    assert stored.department_code == "court" and stored.name == "tender system"

    # The API takes it; the list never shows it again (only the prefix).
    api = client.get(f"/api/v1/subjects/{'1' * 18}/standing",
                     headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code != 401
    listing = client.get("/admin/tokens")
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200 and secret not in html and not SECRET_RE.search(html)
    assert stored.prefix in html and "tender system" in page_text(listing)

    revoked = client.post(f"/admin/tokens/{stored.id}/revoke", data={"csrf_token": token},
                          follow_redirects=True)
    assert revoked.status_code == 200 and f"Token {stored.id}" in page_text(revoked)
    with db() as s:
        assert s.get(ApiToken, stored.id).revoked_by == admin
        assert [e.action for e in search(s, actor=admin, action="token.revoke")] == \
            ["token.revoke"]
    after = client.get(f"/api/v1/subjects/{'1' * 18}/standing",
                       headers={"Authorization": f"Bearer {secret}"})
    assert after.status_code == 401
    assert client.post(f"/admin/tokens/{stored.id}/revoke",
                       data={"csrf_token": token}).status_code == 409


def test_token_errors_are_shown_by_field(client, login, db, account_of):
    token = _as(login, account_of("admin"))
    bad = client.post("/admin/tokens", data={"csrf_token": token, "department": "court",
                                              "name": "x", "expires_in": "soon"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="expires_in-error"' in html and not SECRET_RE.search(html)
    nodep = client.post("/admin/tokens", data={"csrf_token": token, "department": "",
                                                "expires_in": "1y"})
    assert nodep.status_code == 422 and 'id="department-error"' in nodep.get_data(as_text=True)
    with db() as s:
        assert s.execute(select(ApiToken)).first() is None


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_get_403_on_admin_pages(client, login, account_of, role):
    token = _as(login, account_of(role))
    for path in ("/admin/accounts", "/admin/tokens"):
        assert client.get(path).status_code == 403, path
    posts = {"/admin/accounts": {"username": "sneaky", "password": PASSWORD, "role": "admin"},
             "/admin/tokens": {"department": "court", "expires_in": "1y"},
             "/admin/accounts/1/deactivate": {}, "/admin/tokens/1/revoke": {}}
    for path, data in posts.items():
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    nav = client.get("/").get_data(as_text=True)
    assert "/admin/" not in nav


def test_anonymous_is_sent_to_log_in(client, db):
    for path in ("/admin/accounts", "/admin/tokens", "/audit"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/admin/accounts/1/deactivate", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_auditor_searches_the_trail_by_action_and_subject(client, login, db, account_of,
                                                          make_account, new_subject):
    subject = new_subject()
    make_account("resident", subject_id=subject)  # account.create with this subject
    make_account("resident", subject_id=new_subject())  # another subject
    _as(login, account_of("auditor"))
    page = client.get(f"/audit?action=account.create&subject_id={subject.lower()}")
    assert page.status_code == 200
    text = page_text(page)
    assert "The chain holds" in text and "No digest has been published yet" in text
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>", page.get_data(as_text=True))
    with db() as s:
        expected = s.execute(select(AuditEvent.id).where(
            AuditEvent.action == "account.create", AuditEvent.subject_id == subject)).scalars()
        assert rows == [str(i) for i in expected]
    assert len(rows) == 1 and subject in text
    none = client.get(f"/audit?action=token.create&subject_id={subject}")
    assert "No event matches" in page_text(none)
    day = clock.today().isoformat()
    assert len(re.findall(r"<code>account\.create</code>", client.get(
        f"/audit?action=account.create&since={day}&until={day}").get_data(as_text=True))) == 3
    assert "No event matches" in page_text(client.get(
        "/audit?action=account.create&until=2000-01-01"))


def test_audit_pages_by_fifty_newest_first(client, login, db, account_of):
    from app.services.audit.chain import append

    with db() as s:
        for n in range(60):
            append(s, actor="bulk", action="test.event", target=f"n:{n}")
        s.commit()
    _as(login, account_of("admin"))  # admins read the trail too
    first = client.get("/audit?actor=bulk").get_data(as_text=True)
    targets = re.findall(r"<td>n:(\d+)</td>", first)
    assert targets == [str(n) for n in range(59, 9, -1)]
    assert 'rel="next"' in first and "page=2" in first and "actor=bulk" in first
    second = client.get("/audit?actor=bulk&page=2").get_data(as_text=True)
    assert re.findall(r"<td>n:(\d+)</td>", second) == [str(n) for n in range(9, -1, -1)]
    assert 'rel="next"' not in second and 'rel="prev"' in second
    assert client.get("/audit?page=abc").status_code == 200


def test_bad_dates_are_a_400_with_a_clear_message(client, login, account_of):
    _as(login, account_of("auditor"))
    bad = client.get("/audit?since=31.01.2024")
    assert bad.status_code == 400
    assert "Since: '31.01.2024' is not a date: write it as YYYY-MM-DD" in page_text(bad)
    assert client.get("/audit?until=2024-02-30").status_code == 400
    backwards = client.get("/audit?since=2024-02-01&until=2024-01-01")
    assert backwards.status_code == 400 and "is after until" in page_text(backwards)
    assert client.get("/audit?until=9999-12-31").status_code == 200


def test_a_resident_gets_403_on_the_audit_trail(client, login, account_of):
    _as(login, account_of("resident"))
    assert client.get("/audit").status_code == 403
    assert client.get("/audit?action=account.create").status_code == 403


def test_the_audit_page_walks_only_new_events_and_still_sees_tampering(
        client, login, db, account_of, make_account, new_subject):
    from sqlalchemy import text as sql

    make_account("resident", subject_id=new_subject())
    _as(login, account_of("auditor"))
    first = page_text(client.get("/audit"))
    assert "The chain holds" in first and "checked on this load" not in first
    make_account("resident", subject_id=new_subject())  # new events (account.create)
    second = page_text(client.get("/audit"))
    assert "The chain holds" in second and "checked on this load" in second
    make_account("resident", subject_id=new_subject())
    with db() as s:  # an event written since the last check is changed behind the app's back
        last = s.execute(sql("SELECT MAX(id) FROM audit_event WHERE action = 'account.create'"
                             )).scalar()
        s.execute(sql("UPDATE audit_event SET details = '{}' WHERE id = :i"), {"i": last})
        s.commit()
    assert f"The chain is broken at event {last}" in page_text(client.get("/audit"))
    with db() as s:  # and an old one: only the whole walk, which the page offers, reads it
        s.execute(sql("UPDATE audit_event SET details = '{}' WHERE id = (SELECT MIN(id) FROM "
                      "audit_event)"))
        s.commit()
        first_id = s.execute(sql("SELECT MIN(id) FROM audit_event")).scalar()
    full = page_text(client.get("/audit?verify=full"))
    assert f"The chain is broken at event {first_id}" in full


def test_audit_filters_come_from_menus_and_details_are_folded(client, login, db, account_of):
    from app.services.audit.chain import append

    with db() as s:
        append(s, actor="clerk-7", action="records.import", target="tickets.csv",
               details={"file": "tickets.csv", "rows": 3, "problems": ["a", "b"]})
        s.commit()
    _as(login, account_of("auditor"))
    html = client.get("/audit").get_data(as_text=True)
    actions = re.search(r'<select id="action" name="action">(.*?)</select>', html, re.S).group(1)
    assert '<option value="records.import">' in actions
    assert '<option value="account.create">' in actions  # every action written so far
    actors = re.search(r'<select id="actor" name="actor">(.*?)</select>', html, re.S).group(1)
    assert 'value="system"' in actors
    # details: a folded list of names and values, not one long line of JSON
    assert '<details class="audit-details">' in html and "<summary>3 details</summary>" in html
    assert "<dt>file</dt><dd>tickets.csv</dd>" in html and "<dt>rows</dt><dd>3</dd>" in html
    assert '{"file"' not in html
    # the cells lead to the same search narrowed to that actor
    assert 'href="/audit?actor=clerk-7"' in html
    filtered = client.get("/audit?action=records.import").get_data(as_text=True)
    assert '<option value="records.import" selected>' in filtered
    assert "tickets.csv" in filtered and "account.create</code>" not in filtered


def test_an_admin_changes_a_subjects_consent_only_with_a_reason(client, login, account_of,
                                                                new_subject, db):
    """Consent is the subject's own; an admin may change it for them, saying why (kept on
    the consent change and in the audit trail); no other role may."""
    from app.models import ConsentChange, Subject

    subject = new_subject(consent=True)
    token = _as(login, account_of("recorder"))
    page = client.get(f"/officials/subjects/{subject}")
    assert "Withdraw consent for this subject" not in page_text(page)
    assert client.post(f"/admin/subjects/{subject}/consent", data={
        "csrf_token": token, "consent": "no", "reason": "x"}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    admin = account_of("admin")
    _as(login, admin)
    page = client.get(f"/officials/subjects/{subject}")
    html = page.get_data(as_text=True)
    assert "Withdraw consent for this subject" in page_text(page)
    refused = client.post(f"/admin/subjects/{subject}/consent", data={
        "csrf_token": csrf_token(html), "consent": "no", "reason": "  "})
    assert refused.status_code == 422
    done = client.post(f"/admin/subjects/{subject}/consent", data={
        "csrf_token": csrf_token(html), "consent": "no",
        "reason": "the subject's written withdrawal, letter 2026-17"}, follow_redirects=True)
    assert done.status_code == 200 and "Consent withdrawn" in page_text(done)
    with db() as s:
        assert s.get(Subject, subject).consent is False
        (change,) = s.execute(select(ConsentChange)).scalars()
        assert (change.changed_by, change.reason) == (
            admin, "the subject's written withdrawal, letter 2026-17")
        (event,) = search(s, action="subject.consent")
        assert event.subject_id == subject and "letter 2026-17" in event.details
