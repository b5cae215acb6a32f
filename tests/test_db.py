"""SQLite: a transaction that read and then writes survives another process's commit.

A reader's snapshot cannot be upgraded to a write once another process has committed:
SQLite then fails at once with "database is locked" instead of waiting its busy timeout.
That is how a login (read the account, then write the attempt) failed under gunicorn while
the scheduler process stored the rulebook. Services call `locks.begin_write` before their
first write (it restarts a transaction that had only read), and CLI and scheduler writers
open ``session_scope(write=True)``, which begins with BEGIN IMMEDIATE.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from app.db import session_scope
from app.services.accounts.users import authenticate, create_account

# SQLite only: PostgreSQL has no database-wide write lock to upgrade.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _path(database_url: str) -> str:
    return database_url.removeprefix("sqlite:///")


def _other_writer_is_locked_out(database_url: str) -> bool:
    """Try a write from another connection without waiting; True if the lock is held."""
    other = sqlite3.connect(_path(database_url), timeout=0.05)
    try:
        other.execute("UPDATE scheduler_lock SET holder = holder")
        other.commit()
        return False
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    finally:
        other.close()


def _another_process_commits(database_url: str, username: str = "bo") -> None:
    other = sqlite3.connect(_path(database_url), timeout=5)
    other.execute("INSERT INTO login_attempt (at, username, address, success) "
                  "VALUES ('2026-11-26 09:59:00', ?, '127.0.0.1', 0)", (username,))
    other.commit()
    other.close()


@pytest.mark.parametrize("write", [True, False])
def test_session_scope_takes_the_lock_only_when_asked(app, database_url, write):
    with app.app_context(), session_scope(app, write=write) as session:
        session.execute(text("SELECT 1 FROM scheduler_lock")).all()
        assert _other_writer_is_locked_out(database_url) is write
    assert not _other_writer_is_locked_out(database_url)


def test_without_the_lock_a_read_then_write_fails_at_once(app, database_url):
    """The hazard itself, on a plain reading transaction."""
    with app.app_context(), session_scope(app) as session:
        session.execute(text("SELECT COUNT(*) FROM login_attempt")).scalar()
        _another_process_commits(database_url)
        with pytest.raises(Exception, match="locked"):
            session.execute(text("INSERT INTO login_attempt (at, username, address, success) "
                                 "VALUES ('2026-11-26 10:00:00', 'ana', '127.0.0.1', 1)"))


def test_a_login_survives_a_commit_between_its_read_and_its_write(app, session, database_url,
                                                                  make_subject, monkeypatch):
    subject = make_subject(session)
    create_account(session, username="ana", password="correct horse battery", role="resident",
                   subject_id=subject.subject_id)
    session.close()
    from app.services.accounts import users as accounts

    real = accounts.check_password_hash

    def check_then_commit_elsewhere(*args):  # runs between the login's reads and its write
        _another_process_commits(database_url)
        return real(*args)

    monkeypatch.setattr(accounts, "check_password_hash", check_then_commit_elsewhere)
    with app.app_context(), session_scope(app) as login:
        account = authenticate(login, username="ana", password="correct horse battery")
        assert account is not None and account.username == "ana"
    with app.app_context(), session_scope(app) as check:
        rows = check.execute(text("SELECT username, success FROM login_attempt "
                                  "ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("bo", 0), ("ana", 1)]
