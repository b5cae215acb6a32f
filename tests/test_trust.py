"""Trust: throttled logins, cookies, the secret key, audit digests, backups."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from app import create_app
from app.config import DEV_SECRET_KEY
from app.models import AuditEvent
from app.services.accounts.users import create_account
from app.services.audit import chain as audit
from tests.conftest import STRONG_KEY, TEST_RULES, csrf_token

PASSWORD = "correct horse battery"


def _try(client, username, password):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_logins_are_throttled_per_account_and_say_nothing_more(app, session, client):
    create_account(session, username="ana", password=PASSWORD, role="admin")
    for _ in range(5):
        assert _try(client, "ana", "wrong password!").status_code == 200
    locked = _try(client, "ana", PASSWORD)  # even the right password waits now
    assert locked.status_code == 429
    body = locked.get_data(as_text=True)
    assert "too many attempts" in body
    for _ in range(5):
        _try(client, "nobody", "wrong password!")
    ghost = _try(client, "nobody", "wrong password!")
    assert ghost.status_code == 429  # the same answer for an account that does not exist
    assert "too many attempts" in ghost.get_data(as_text=True)


def test_logins_are_throttled_per_address(app, session, client):
    for n in range(20):
        _try(client, f"user{n}", "wrong password!")
    assert _try(client, "someone-new", "wrong password!").status_code == 429


def test_the_app_refuses_to_serve_with_the_default_secret(database_url):
    with pytest.raises(RuntimeError, match="FLASK_SECRET_KEY"):
        create_app({"DATABASE_URL": database_url, "SECRET_KEY": DEV_SECRET_KEY})
    for weak in ("x", "a real secret", "s3cret-for-test" * 5, "ab" * 40,
                 "5f0c1e9a7b3d48e2a6c4f81d09b7e3a2"):  # 32 hex characters are 16 bytes
        with pytest.raises(RuntimeError, match="FLASK_SECRET_KEY is too weak"):
            create_app({"DATABASE_URL": database_url, "SECRET_KEY": weak})
    create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "TESTING": True})  # tests may
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": STRONG_KEY})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def _events(session, n):
    for i in range(n):
        audit.append(session, actor="t", action="test", target=str(i))
    session.commit()


def test_an_insider_rewrite_is_caught_against_published_digests(session, client):
    _events(session, 3)
    digest = audit.publish_digest(session, day=date(2026, 11, 1))
    _events(session, 2)
    assert audit.verify(session).ok
    page = client.get("/transparency/digests.txt").get_data(as_text=True)
    assert digest.head_hash in page and client.get("/transparency").status_code == 200
    published = [audit.Digest.parse(line) for line in page.splitlines() if line[:1].isdigit()]

    # An insider changes event 2 and re-seals every hash after it: the chain alone looks fine.
    events = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    prev = events[0].hash
    for event in events[1:]:
        target = "rewritten" if event.id == 2 else event.target
        new = audit.event_hash(prev_hash=prev, at=event.at, actor=event.actor,
                               action=event.action, subject_id=event.subject_id, target=target,
                               details=event.details)
        session.execute(text("UPDATE audit_event SET target = :t, prev_hash = :p, hash = :h "
                             "WHERE id = :i"), {"t": target, "p": prev, "h": new, "i": event.id})
        prev = new
    session.commit()
    session.expire_all()
    assert audit.verify(session).ok
    result = audit.verify(session, digests=published)
    assert not result.ok and result.broken_id == 3 and "published" in result.reason


def test_backup_of_a_running_sqlite_database_restores_with_its_chain(app, session, runner,
                                                                     tmp_path, database_url):
    if not database_url.startswith("sqlite"):
        result = runner.invoke(args=["backup", str(tmp_path / "x.sqlite3")])
        assert result.exit_code == 1 and "pg_dump" in result.output
        return
    _events(session, 5)
    dest = tmp_path / "backups" / "copy.sqlite3"
    result = runner.invoke(args=["backup", str(dest)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["backup", str(dest)]).exit_code == 1  # never overwrites
    restored = create_app({"TESTING": True, "SECRET_KEY": "x",
                           "DATABASE_URL": f"sqlite:///{dest}"})
    from app.db import session_scope

    with session_scope(restored) as copy:
        check = audit.verify(copy)
    assert check.ok and check.events == 5
    with sqlite3.connect(dest) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_check_goes_on_from_an_earlier_one_only_while_its_head_stands(session):
    _events(session, 3)
    digest = audit.publish_digest(session, day=date(2026, 11, 1))
    first = audit.verify(session, digests=[audit.Digest(digest.day, digest.head_id,
                                                        digest.head_hash)])
    assert first.ok and first.events == 3 and first.new_events is None
    _events(session, 2)
    digests = audit.published_digests(session)
    second = audit.verify(session, digests=digests, after=first)
    assert second.ok and second.events == 5 and second.new_events == 2
    assert second.head_id > first.head_id
    # The event the earlier check ended on is changed: the walk starts again from the first.
    session.execute(text("UPDATE audit_event SET hash = :h WHERE id = :i"),
                    {"h": "f" * 64, "i": first.head_id})
    session.commit()
    again = audit.verify(session, digests=digests, after=second)
    assert again.ok is False and again.new_events is None
    third = audit.verify(session, digests=digests, after=first)
    assert third.ok is False and third.broken_id == first.head_id


def _try_from(client, username, password, client_address):
    headers = {"X-Forwarded-For": client_address}
    page = client.get("/login", headers=headers)
    return client.post("/login", headers=headers,
                       data={"username": username, "password": password,
                             "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_the_right_password_is_slowed_not_refused(app, session, client):
    import time_machine

    create_account(session, username="ana", password=PASSWORD, role="admin")
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        for _ in range(6):
            _try(client, "ANA", "wrong password!")  # any case of the name counts for it
        waiting = _try(client, "ana", PASSWORD)
        assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) >= 1
        traveller.shift(int(waiting.headers["Retry-After"]) + 1)
        assert _try(app.test_client(), "ana", PASSWORD).status_code == 302  # in, after it
        for _ in range(20):  # a guesser never waits more than a minute between tries
            _try(client, "ana", "wrong password!")
            traveller.shift(61)
        assert _try(app.test_client(), "ana", PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(app_config):
    proxied = create_app({**app_config, "PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1})
    from app.db import session_scope

    with proxied.app_context(), session_scope(proxied) as s:
        create_account(s, username="ana", password=PASSWORD, role="admin")
    client = proxied.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.1"  # the proxy
    for n in range(20):
        _try_from(client, f"user{n}", "wrong password!", "203.0.113.7")
    assert _try_from(client, "someone", "wrong password!", "203.0.113.7").status_code == 429
    # Everyone else, behind the same proxy, logs in as usual.
    assert _try_from(client, "ana", PASSWORD, "198.51.100.2").status_code == 302


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(app, client):
    for n in range(20):
        _try_from(client, f"user{n}", "wrong password!", f"192.0.2.{n}")
    assert _try_from(client, "someone", "wrong password!", "192.0.2.99").status_code == 429


def test_a_proxy_setting_must_be_a_number(database_url):
    with pytest.raises(RuntimeError, match="FLASK_PROXY_FIX_X_FOR"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "PROXY_FIX_X_FOR": "yes"})


def test_the_database_its_backups_and_uploads_are_the_service_accounts_alone(tmp_path):
    import os
    import stat

    from app.db import get_engine
    from app.migrations import upgrade
    from app.services.backup import backup_sqlite
    from app.services.intake.uploads import UploadStore

    def mode(path):
        return stat.S_IMODE(os.stat(path).st_mode)

    old = os.umask(0o022)  # the usual umask, which made them world-readable
    try:
        folder = tmp_path / "instance"
        app = create_app({"TESTING": True, "SECRET_KEY": "x", "RULES_DIR": str(TEST_RULES),
                          "DATABASE_URL": f"sqlite:///{folder / 'db' / 'city.sqlite3'}"})
        upgrade(get_engine(app))
        with get_engine(app).begin() as conn:
            conn.execute(text("INSERT INTO department (code, title) VALUES ('x', 'X')"))
        database = folder / "db" / "city.sqlite3"
        assert mode(database) == 0o600 and mode(folder / "db") == 0o700
        for extra in (f"{database}-wal", f"{database}-shm"):
            if os.path.exists(extra):
                assert mode(extra) == 0o600, extra
        store = UploadStore(tmp_path / "uploads" / "intake")
        upload = store.save(data=b"subject_id\n", owner="ana", department="x", kind="records",
                            name="a.csv")
        assert mode(tmp_path / "uploads") == 0o700 and mode(store.directory) == 0o700
        for suffix in ("data", "json"):
            assert mode(store.directory / f"{upload.token}.{suffix}") == 0o600
        copy = backup_sqlite(get_engine(app), tmp_path / "backups" / "copy.sqlite3")
        assert mode(copy.path) == 0o600 and mode(tmp_path / "backups") == 0o700
        get_engine(app).dispose()
    finally:
        os.umask(old)
