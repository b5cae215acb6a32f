"""Fixtures: `app`, `session`, `client`, `runner`, factories; each test gets a fresh database.

Tests that take the `app` fixture run once on SQLite and once on PostgreSQL. PostgreSQL is
taken from CITYPOINTS_TEST_POSTGRES (default: the local server's `test` cluster); when it
cannot be reached the PostgreSQL runs are skipped, saying so, unless CITYPOINTS_REQUIRE_POSTGRES
is set (as CI does), in which case they fail.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from app import clock, create_app
from app.db import get_engine, get_replica_engine, session_scope
from app.identifiers import organisation_id, person_id
from app.migrations import upgrade
from app.models import Subject

TESTS = Path(__file__).resolve().parent
TEST_RULES = TESTS / "data" / "rules"
SAMPLE_RULES = TESTS.parent / "rules"
PG_URL = os.environ.get("CITYPOINTS_TEST_POSTGRES",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_TEST_DB = f"citypoints_test_{os.getpid()}"  # one per run: parallel runs stay apart
# A key that passes the serving check (32 random bytes); tests that serve outside TESTING use it.
STRONG_KEY = "5f0c1e9a7b3d48e2a6c4f81d09b7e3a25c6d8f1e4a7b90c3d2e5f8a1b4c7d0e9"
REQUIRE_PG = os.environ.get("CITYPOINTS_REQUIRE_POSTGRES", "") not in ("", "0", "false")

_pg_state: dict = {}


def _pg_test_url() -> str:
    return re.sub(r"/[^/?]+(\?|$)", f"/{PG_TEST_DB}\\1", PG_URL, count=1) \
        if PG_URL.count("/") >= 3 else PG_URL


def _prepare_postgres() -> str | None:
    """Create the PostgreSQL test database once per run; return its URL or None (skip)."""
    if "url" in _pg_state or "error" in _pg_state:
        return _pg_state.get("url")
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_TEST_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {PG_TEST_DB}"))
        admin.dispose()
        url = _pg_test_url()
        engine = create_engine(url)
        upgrade(engine)
        _pg_state["tables"] = [t for t in inspect(engine).get_table_names()
                               if t != "alembic_version"]
        engine.dispose()
        _pg_state["url"] = url
    except Exception as error:  # unreachable server, missing driver, refused login
        _pg_state["error"] = f"{type(error).__name__}: {error}".splitlines()[0]
    return _pg_state.get("url")


def pytest_report_header(config):
    return [f"PostgreSQL for tests: {PG_URL} (required: {REQUIRE_PG})"]


def pytest_sessionfinish(session, exitstatus):
    if "url" not in _pg_state:
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_TEST_DB} WITH (FORCE)"))
    admin.dispose()


def pytest_terminal_summary(terminalreporter):
    if "error" in _pg_state:
        terminalreporter.write_line(
            f"PostgreSQL part SKIPPED: cannot reach {PG_URL}: {_pg_state['error']}. "
            "The suite ran on SQLite only.", yellow=True)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, _sqlite_template) -> str:
    """A fresh, migrated, empty database for one test."""
    if request.param == "sqlite":
        path = tmp_path / "citypoints.sqlite3"
        shutil.copy(_sqlite_template, path)
        return f"sqlite:///{path}"
    return fresh_postgres()


def postgres_or_skip() -> str:
    """Return the PostgreSQL test database's URL; skip (or fail, when required) without it."""
    url = _prepare_postgres()
    if url is None:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but unreachable: {_pg_state['error']}")
        pytest.skip(f"PostgreSQL unreachable: {_pg_state['error']}")
    return url


def fresh_postgres() -> str:
    """Empty the PostgreSQL test database (migrated once per run) and return its URL."""
    url = postgres_or_skip()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(_pg_state["tables"]) +
                          " RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO scheduler_lock (name) VALUES ('~')"))
    engine.dispose()
    return url


@pytest.fixture
def app_config(database_url) -> dict:
    """The configuration of the test app; override it in a module to change settings."""
    return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
            "RULES_DIR": str(TEST_RULES)}


@pytest.fixture
def app(app_config):
    application = create_app(app_config)
    yield application
    get_engine(application).dispose()
    replica = get_replica_engine(application)
    if replica is not None:
        replica.dispose()


@pytest.fixture
def session(app):
    # No app context is held open here: the test client's requests must each get their
    # own (a shared one would carry `g`, and the logged-in user, from request to request).
    with session_scope(app) as s:
        yield s


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def rulebook(app):
    """The rulebook in force in the test app (tests/data/rules)."""
    from app.services.rulebooks.registry import EXTENSION_KEY

    with app.app_context():
        return app.extensions[EXTENSION_KEY].current()


_serial = itertools.count(1)


def new_person_id() -> str:
    """Return a fresh valid Resident ID number."""
    n = next(_serial)
    return person_id(f"371082{1990 + n % 20}0101{n % 1000:03d}"[:17])


def new_organisation_id() -> str:
    """Return a fresh valid Unified Social Credit Code."""
    n = next(_serial)
    return organisation_id(f"91371082{n:09d}")


@pytest.fixture
def make_subject():
    """Return a factory: make_subject(session, **overrides) -> Subject (committed)."""

    def factory(session, **overrides) -> Subject:
        kind = overrides.get("kind", "person")
        values = {
            "subject_id": new_person_id() if kind == "person" else new_organisation_id(),
            "kind": kind, "name": f"Test {kind} {next(_serial)}", "district": "Yatou",
            "village": "Dongshan", "consent": True,
        }
        values.update(overrides)
        subject = Subject(**values)
        session.add(subject)
        session.commit()
        return subject

    return factory


@pytest.fixture
def today() -> date:
    return clock.today()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form in `html`."""
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1)


@pytest.fixture
def login(client):
    """Return a function that logs `client` in through the real form (with CSRF)."""

    def do(username: str, password: str):
        page = client.get("/login")
        return client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_token(page.get_data(as_text=True))},
                           follow_redirects=True)

    return do


@pytest.fixture(scope="session")
def pg_standby():
    """A streaming standby of the PostgreSQL test server, started once and stopped at the end."""
    from tests.standby import StandbyUnavailable, start_standby

    postgres_or_skip()  # the test database exists before the copy is taken
    primary = make_url(PG_URL)
    try:
        standby = start_standby(host=primary.host or "127.0.0.1", primary_port=primary.port or 5432,
                                user=primary.username or "postgres")
    except StandbyUnavailable as error:
        if REQUIRE_PG:
            pytest.fail(f"a PostgreSQL standby is required but cannot start: {error}")
        pytest.skip(f"no PostgreSQL standby: {error}")
    yield standby
    standby.stop()


@pytest.fixture
def run_jobs(app):
    """Return a function that runs the queued jobs (what the scheduler's worker does)."""
    from app.jobs import run_pending

    return lambda: run_pending(app)
