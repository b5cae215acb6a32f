"""SQLite transactions that will write hold the write lock from their first statement.

A reader's snapshot cannot be upgraded to a write once another process has committed:
SQLite then fails at once with "database is locked" instead of waiting its busy timeout.
That is how a login (read the account, then write the attempt) failed under gunicorn while
the scheduler process stored the rulebook. Requests with an unsafe method, and sessions
opened with ``session_scope(write=True)``, therefore begin with BEGIN IMMEDIATE.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from app.db import get_session, session_scope


# SQLite only: PostgreSQL has no database-wide write lock to take.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def sqlite_app(app, database_url):
    assert database_url.startswith("sqlite")
    return app


def _other_writer_is_locked_out(database_url: str) -> bool:
    """Try a write from another connection without waiting; True if the lock is held."""
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.05)
    try:
        other.execute("UPDATE scheduler_lock SET holder = holder")
        other.commit()
        return False
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    finally:
        other.close()


@pytest.mark.parametrize("method, holds", [("POST", True), ("DELETE", True), ("GET", False),
                                           ("HEAD", False)])
def test_a_request_that_writes_takes_the_lock_when_it_begins(sqlite_app, database_url, method,
                                                             holds):
    with sqlite_app.test_request_context("/", method=method):
        session = get_session()
        session.execute(text("SELECT 1 FROM scheduler_lock")).all()  # only read so far
        assert _other_writer_is_locked_out(database_url) is holds
        session.rollback()
    assert not _other_writer_is_locked_out(database_url)


@pytest.mark.parametrize("write", [True, False])
def test_session_scope_takes_the_lock_only_when_asked(sqlite_app, database_url, write):
    with sqlite_app.app_context(), session_scope(sqlite_app, write=write) as session:
        session.execute(text("SELECT 1 FROM scheduler_lock")).all()
        assert _other_writer_is_locked_out(database_url) is write


def test_without_the_lock_a_read_then_write_fails_at_once(sqlite_app, database_url):
    """The hazard the tests above guard against, shown on a reading (GET) transaction."""
    insert = text("INSERT INTO login_attempt (at, username, address, success) "
                  "VALUES ('2026-11-26 10:00:00', 'ana', '127.0.0.1', 1)")
    with sqlite_app.test_request_context("/", method="GET"):
        session = get_session()
        session.execute(text("SELECT COUNT(*) FROM login_attempt")).scalar()
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        other.execute("INSERT INTO login_attempt (at, username, address, success) "
                      "VALUES ('2026-11-26 09:59:00', 'bo', '127.0.0.1', 0)")
        other.commit()  # another process commits after our read
        other.close()
        with pytest.raises(Exception, match="locked"):
            session.execute(insert)
        session.rollback()
    with sqlite_app.test_request_context("/login", method="POST"):
        session = get_session()
        session.execute(text("SELECT COUNT(*) FROM login_attempt")).scalar()
        assert _other_writer_is_locked_out(database_url)  # the other process must wait
        session.execute(insert)
        session.commit()
