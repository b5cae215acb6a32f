"""API fixtures: tokens per department, subjects, and a small client that sends the token."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.db import session_scope
from app.models import AuditEvent, ListEntry, Record
from app.services.accounts.tokens import create_token


@pytest.fixture
def db(app):
    """Return a context manager that opens a session in its own app context."""

    @contextmanager
    def open_session():
        with app.app_context(), session_scope(app) as s:
            yield s

    return open_session


@pytest.fixture
def make_token(db, rulebook):
    """Return a factory: make_token(department, **options) -> the bearer secret."""

    def factory(department: str = "traffic-police", **options) -> str:
        with db() as s:
            return create_token(s, rulebook=rulebook, department=department, actor="test",
                                **options).secret

    return factory


@pytest.fixture
def new_subject(db, make_subject):
    """Return a factory: new_subject(**overrides) -> subject_id (committed)."""

    def factory(**overrides) -> str:
        with db() as s:
            return make_subject(s, **overrides).subject_id

    return factory


class Api:
    """Calls /api/v1 with a department's token (made on first use)."""

    def __init__(self, client, make_token):
        self.client = client
        self.make_token = make_token
        self.tokens: dict[str, str] = {}

    def token(self, department: str) -> str:
        if department not in self.tokens:
            self.tokens[department] = self.make_token(department)
        return self.tokens[department]

    def call(self, method: str, path: str, *, department: str | None = "traffic-police",
             token: str | None = None, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        secret = token or (self.token(department) if department else None)
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.call("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.call("PUT", path, **kwargs)


@pytest.fixture
def api(client, make_token) -> Api:
    return Api(client, make_token)


@pytest.fixture
def counts(db):
    """Return a function counting records, list entries and audit events (by action)."""

    def count(what, action: str | None = None) -> int:
        query = select(func.count()).select_from(what)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        with db() as s:
            return s.execute(query).scalar_one()

    count.records = lambda: count(Record)
    count.entries = lambda: count(ListEntry)
    count.audit = lambda action=None: count(AuditEvent, action)
    return count


def days_ago(n: int) -> str:
    return (clock.today() - timedelta(days=n)).isoformat()


def assert_error(response, status: int, code: str | None = None, field: str | None = None):
    """Assert `response` is the API's JSON error with `status` (and `code`, and a problem
    naming `field`); return its message."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code is not None:
        assert error["code"] == code
    if field is not None:
        fields = [d.get("field") for d in error["details"] or []]
        assert field in fields, error
    return error["message"]
