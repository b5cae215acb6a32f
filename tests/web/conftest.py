"""Web fixtures: accounts of each role and subjects, made in their own app context.

Setup runs in a short-lived app context so that the client's requests each get their own
(a test that holds the `session` fixture open would share `g`, and with it the logged-in
user and the database session, across requests).
"""

from __future__ import annotations

import html
import itertools
import re
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.models import Record
from app.services.accounts.users import create_account

PASSWORD = "correct horse battery"
_names = itertools.count(1)


@pytest.fixture
def db(app):
    """Return a context manager that opens a session in its own app context."""

    @contextmanager
    def open_session():
        with app.app_context(), session_scope(app) as s:
            yield s

    return open_session


@pytest.fixture
def make_account(db, rulebook):
    """Return a factory: make_account(role, department=..., subject_id=...) -> user name."""

    def factory(role: str, *, department: str | None = None, subject_id: str | None = None,
                display_name: str = "") -> str:
        username = f"{role}-{next(_names)}"
        with db() as s:
            create_account(s, username=username, password=PASSWORD, role=role,
                           department=department, subject_id=subject_id,
                           display_name=display_name)
        return username

    return factory


@pytest.fixture
def new_subject(db, make_subject):
    """Return a factory: new_subject(**overrides) -> subject_id (committed)."""

    def factory(**overrides) -> str:
        with db() as s:
            return make_subject(s, **overrides).subject_id

    return factory


@pytest.fixture
def resident(make_account, new_subject):
    """A resident account linked to a fresh subject."""
    subject_id = new_subject(name="Wang Fang")
    username = make_account("resident", subject_id=subject_id)
    return SimpleNamespace(username=username, password=PASSWORD, subject_id=subject_id)


@pytest.fixture
def recorder(make_account):
    """A recorder of the traffic police (it owns TRAFFIC-TICKET and DRUNK-DRIVING)."""
    username = make_account("recorder", department="traffic-police")
    return SimpleNamespace(username=username, password=PASSWORD, department="traffic-police")


@pytest.fixture
def count_records(db):
    """Return a function counting the stored records (of one subject, if given)."""

    def count(subject_id: str | None = None) -> int:
        query = select(func.count()).select_from(Record)
        if subject_id is not None:
            query = query.where(Record.subject_id == subject_id)
        with db() as s:
            return s.execute(query).scalar_one()

    return count


def page_text(response) -> str:
    """Return the page's visible text: tags dropped, entities decoded, spaces collapsed."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
