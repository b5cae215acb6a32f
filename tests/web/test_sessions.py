"""Sessions end: a cookie saved before logout, deactivation or a new password opens nothing
afterwards, on this device or any other."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Account
from app.services.accounts.users import change_password, set_active
from tests.conftest import csrf_token
from tests.web.conftest import PASSWORD

NEW_PASSWORD = "quiet lantern orchard 42"


@pytest.fixture
def auditor(make_account):
    return make_account("auditor")


def _log_in(client, username, password=PASSWORD) -> str:
    page = client.get("/login")
    done = client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))},
                       follow_redirects=True)
    assert "Log out" in done.get_data(as_text=True)
    return csrf_token(done.get_data(as_text=True))


def _saved(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie: str):
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/audit")


def _account_id(db, username) -> int:
    with db() as s:
        return s.execute(select(Account.id).where(Account.username == username)).scalar_one()


def test_a_cookie_saved_before_logout_opens_nothing_after_it(app, client, auditor):
    token = _log_in(client, auditor)
    saved = _saved(client)
    assert _replay(app, saved).status_code == 200  # the copy works while the session lives
    client.post("/logout", data={"csrf_token": token})
    replayed = _replay(app, saved)
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]


def test_logout_on_one_device_ends_the_sessions_on_the_others(app, client, auditor):
    other = app.test_client()
    _log_in(other, auditor)
    token = _log_in(client, auditor)
    client.post("/logout", data={"csrf_token": token})
    assert other.get("/audit").status_code == 302


def test_deactivation_ends_every_session(app, client, db, auditor, make_account):
    _log_in(client, auditor)
    saved = _saved(client)
    admin = make_account("admin")
    with db() as s:
        set_active(s, account_id=_account_id(db, auditor), active=False, actor=admin)
        set_active(s, account_id=_account_id(db, auditor), active=True, actor=admin)
    # Switched on again, the account must log in anew: the old session stays ended.
    assert _replay(app, saved).status_code == 302


def test_a_password_change_ends_every_earlier_session(app, client, db, auditor):
    _log_in(client, auditor)
    saved = _saved(client)
    with db() as s:
        change_password(s, account_id=_account_id(db, auditor), new_password=NEW_PASSWORD,
                        actor="cli")
    assert _replay(app, saved).status_code == 302
    assert client.get("/audit").status_code == 302


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(app, client,
                                                                            auditor):
    elsewhere = app.test_client()
    _log_in(elsewhere, auditor)
    _log_in(client, auditor)
    page = client.get("/account/password")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    wrong = client.post("/account/password", data={"csrf_token": token, "current": "nope",
                                                   "new": NEW_PASSWORD})
    assert wrong.status_code == 422 and "current password is wrong" in wrong.get_data(
        as_text=True)
    weak = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                  "new": "password12"})
    assert weak.status_code == 422 and "too easy to guess" in weak.get_data(as_text=True)
    done = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                  "new": NEW_PASSWORD})
    assert done.status_code == 302
    assert client.get("/audit").status_code == 200
    assert elsewhere.get("/audit").status_code == 302
    fresh = app.test_client()
    _log_in(fresh, auditor, NEW_PASSWORD)


def test_cli_sets_a_password_and_ends_the_sessions(app, client, runner, auditor):
    _log_in(client, auditor)
    result = runner.invoke(args=["users", "set-password", auditor.upper(),
                                 "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert client.get("/audit").status_code == 302
    weak = runner.invoke(args=["users", "set-password", auditor, "--password", "1234567890"])
    assert weak.exit_code == 1 and "too easy to guess" in weak.output
