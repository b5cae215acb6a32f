"""The database engine (one per app) and a session per app context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from app.files import create_private_file

EXTENSION_KEY = "citypoints.engine"
WRITE_OPTION = "citypoints_write"


def _writes(conn) -> bool:
    """Return True when the transaction about to begin on `conn` is meant to write.

    A session from ``session_scope(write=True)`` says so in its engine's execution options.
    Request sessions do not: a POST that reads for seconds (a preview, a simulation) must
    not hold up every other writer; their services call `locks.begin_write` before their
    first write instead.
    """
    return bool(conn.get_execution_options().get(WRITE_OPTION))


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            # SQLite would create it world-readable (umask 022); its -wal and -shm files
            # take the database file's mode.
            create_private_file(database)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised via engine
            # pysqlite's own transaction handling is replaced by an explicit BEGIN below
            # (SQLAlchemy's documented recipe) so that reads see one consistent snapshot.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - exercised via engine
            # A transaction that reads and then writes must hold the write lock from its
            # start: SQLite cannot upgrade a reader's snapshot once another process has
            # committed, and fails at once ("database is locked") instead of waiting.
            # BEGIN IMMEDIATE waits the busy timeout for the lock; readers still use BEGIN
            # so that a long nightly run never holds up a page.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _writes(conn) else "BEGIN")

        return engine
    # Timestamps are stored without a time zone, meaning UTC: a server whose default zone
    # is local (Asia/Shanghai on a host set up in China) would shift aware values by hours.
    return create_engine(url, echo=echo, pool_pre_ping=True,
                         connect_args={"options": "-c timezone=UTC"})


def get_engine(app: Flask | None = None) -> Engine:
    """Return the app's engine."""
    app = app or current_app
    return app.extensions[EXTENSION_KEY]


def get_session() -> Session:
    """Return the session of the current app context, opening it on first use."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


@contextmanager
def session_scope(app: Flask | None = None, *, write: bool = False) -> Iterator[Session]:
    """Open a session outside a request (CLI, scheduler) and close it afterwards.

    ``write=True`` says the session's transactions will write: on SQLite they then take
    the write lock when they begin (see `make_engine`); on PostgreSQL nothing changes.
    """
    engine = get_engine(app)
    if write:
        engine = engine.execution_options(**{WRITE_OPTION: True})
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Create the engine for `app` and close the session at the end of each app context."""
    app.extensions[EXTENSION_KEY] = make_engine(
        app.config["DATABASE_URL"], echo=app.config.get("SQL_ECHO", False)
    )
    app.teardown_appcontext(_close_session)
