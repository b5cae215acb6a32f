"""Logging in and out through the real form, with CSRF."""

from __future__ import annotations

from tests.conftest import csrf_token
from tests.web.conftest import PASSWORD


def test_login_page_renders_a_form_with_csrf(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert csrf_token(html)
    assert 'name="username"' in html and 'name="password"' in html


def test_resident_logs_in_and_lands_on_own_page(client, login, resident):
    page = login(resident.username, PASSWORD)
    assert page.status_code == 200
    assert page.request.path == "/me"
    assert resident.subject_id in page.get_data(as_text=True)


def test_official_lands_on_officials_home(client, login, recorder):
    page = login(recorder.username, PASSWORD)
    assert page.request.path == "/officials"
    assert "Nightly runs" in page.get_data(as_text=True)


def test_wrong_password_and_unknown_user_get_the_same_message(client, login, resident):
    wrong = login(resident.username, "not the password at all")
    unknown = login("nobody-here", "not the password at all")
    for page in (wrong, unknown):
        assert page.request.path == "/login"
        assert "user name or password is wrong" in page.get_data(as_text=True)
    assert client.get("/me").status_code == 302  # still logged out


def test_login_without_csrf_token_is_refused(client, resident):
    page = client.post("/login", data={"username": resident.username, "password": PASSWORD})
    assert page.status_code == 400
    assert "form expired" in page.get_data(as_text=True)
    assert client.get("/me").status_code == 302


def test_logout_is_a_post_with_csrf(client, login, resident):
    page = login(resident.username, PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token: refused, still logged in
    assert client.get("/me").status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))},
                      follow_redirects=True)
    assert out.request.path == "/"
    assert "You are logged out." in out.get_data(as_text=True)
    assert client.get("/me").status_code == 302


def test_next_is_followed_only_to_local_paths(client, resident):
    def login_with(target):
        page = client.get("/login", query_string={"next": target})
        done = client.post("/login", query_string={"next": target},
                           data={"username": resident.username, "password": PASSWORD,
                                 "csrf_token": csrf_token(page.get_data(as_text=True))})
        token = csrf_token(client.get("/").get_data(as_text=True))
        client.post("/logout", data={"csrf_token": token})
        return done

    assert login_with("/scheme?x=1").headers["Location"] == "/scheme?x=1"
    for target in ("https://evil.example/x", "//evil.example/x", "/\\evil.example",
                   "javascript:alert(1)", "/\tevil"):
        done = login_with(target)
        assert done.status_code == 302
        assert done.headers["Location"] == "/me", target


def test_anonymous_is_sent_to_login_with_next(client):
    page = client.get("/officials/subjects")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=")


def test_pages_carry_a_strict_csp_and_no_inline_code(client, login, resident):
    login(resident.username, PASSWORD)
    for url in ("/", "/scheme", "/login", "/me", "/me?as_of=bad", "/officials"):
        page = client.get(url)
        assert "script-src 'self'" in page.headers["Content-Security-Policy"], url
        html = page.get_data(as_text=True)
        assert "<script" not in html and "style=" not in html and "<style" not in html, url
