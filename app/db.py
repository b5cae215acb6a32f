"""The database engine (one per app) and a session per app context.

With `DATABASE_REPLICA_URL` (a PostgreSQL streaming standby of `DATABASE_URL`), a GET
request reads from the replica: its session sends every read there until the request
begins to write (`locks.begin_write`, a flush, an INSERT/UPDATE/DELETE), and from then on
everything to the primary, so the audit chain's head is always read where it is written.
Everything else (other methods, the CLI, the scheduler and the nightly run, the audit
pages) uses the primary alone. A browser or token that has just written reads from the
primary until the replica has replayed past the primary's WAL position at its write
(`pg_current_wal_lsn()` then, kept in the Flask session or, for tokens, a cookie, against
`pg_last_wal_replay_lsn()` on the replica). Without the setting nothing of this runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask import session as web_session
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import Session

from app.files import create_private_file
from app.services.locks import WRITING

EXTENSION_KEY = "citypoints.engine"
REPLICA_KEY = "citypoints.replica_engine"
WRITE_OPTION = "citypoints_write"
LSN_KEY = "_wal_lsn"  # in the Flask session, and the cookie's name for token callers
LSN_COOKIE = "citypoints_wal_lsn"
READS = ("GET", "HEAD")
_PRIMARY_ONLY = "_citypoints_primary_only"
log = logging.getLogger(__name__)


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


def get_replica_engine(app: Flask | None = None) -> Engine | None:
    """Return the replica's engine, or None when no replica is configured."""
    app = app or current_app
    return app.extensions.get(REPLICA_KEY)


class ReplicaReadSession(Session):
    """A session that reads from the replica until it begins to write, then uses the primary.

    SQLAlchemy's documented routing pattern (`Session.get_bind`), with one rule added: once
    the session has written or taken a write lock, every later statement goes to the
    primary, so that a write never follows a read of the replica's older snapshot.
    """

    def __init__(self, primary: Engine, replica: Engine, **kwargs: Any):
        super().__init__(bind=primary, **kwargs)
        self.primary, self.replica = primary, replica

    def get_bind(self, mapper=None, *, clause=None, **kwargs):  # type: ignore[override]
        if self.info.get(WRITING) or self._flushing or isinstance(clause, UpdateBase):
            self.info[WRITING] = True
            return self.primary
        return self.replica


def primary_only(view: Callable) -> Callable:
    """Mark a view that must read the primary even for a GET (the audit chain's pages)."""
    setattr(view, _PRIMARY_ONLY, True)
    return view


def _stored_lsn() -> str | None:
    return web_session.get(LSN_KEY) or request.cookies.get(LSN_COOKIE)


def _replica_caught_up(replica: Engine, lsn: str) -> bool:
    """Return True when the replica has replayed the primary's WAL up to `lsn`."""
    try:
        with replica.connect() as conn:
            return bool(conn.execute(
                text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"),
                {"lsn": lsn}).scalar())
    except DBAPIError as error:  # a replica that is down or lagging oddly: use the primary
        log.warning("replica check failed, reading from the primary: %s", error)
        return False


def _reads_replica() -> bool:
    """Return True when this request's reads may go to the replica."""
    if get_replica_engine() is None or request.method not in READS:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, _PRIMARY_ONLY, False):
        return False
    lsn = _stored_lsn()
    if lsn is None:
        return True
    if not _replica_caught_up(get_replica_engine(), lsn):
        return False
    g.lsn_replayed = True  # the write is on the replica: stop checking for it
    return True


def get_session() -> Session:
    """Return the session of the current app context, opening it on first use.

    In a GET request, with a replica configured, it is a `ReplicaReadSession`.
    """
    if "db_session" not in g:
        if has_request_context() and _reads_replica():
            g.db_session = ReplicaReadSession(get_engine(), get_replica_engine(),
                                              expire_on_commit=False)
        else:
            g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def used_replica() -> bool:
    """Return True when this request's session read from the replica (for tests, logs)."""
    return isinstance(g.get("db_session"), ReplicaReadSession)


def reader_will_read_this_write() -> None:
    """Say that this GET writes something its browser reads next (a job it queues)."""
    g.reader_wrote = True


def _remember_writes(response):
    """After a request that may have written, note the primary's WAL position for later reads.

    Only requests that mean to change something (not GET or HEAD) are noted, and a GET that
    says so (`reader_will_read_this_write`): a GET's other writes are the audit of a look,
    which the reader never reads back.
    """
    if getattr(g, "lsn_replayed", False):
        web_session.pop(LSN_KEY, None)
        response.delete_cookie(LSN_COOKIE)
    if "db_session" not in g or (request.method in READS and not g.get("reader_wrote")):
        return response
    with get_engine().connect() as conn:
        lsn = conn.execute(text("SELECT CAST(pg_current_wal_lsn() AS text)")).scalar_one()
    if request.headers.get("Authorization"):  # a token caller: no Flask session
        response.set_cookie(LSN_COOKIE, lsn, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    else:
        web_session[LSN_KEY] = lsn
    return response


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
    replica_url = app.config.get("DATABASE_REPLICA_URL")
    if replica_url:
        if not (replica_url.startswith("postgresql")
                and app.config["DATABASE_URL"].startswith("postgresql")):
            raise RuntimeError("DATABASE_REPLICA_URL needs PostgreSQL for both the primary "
                               "(DATABASE_URL) and the replica (a streaming standby of it)")
        app.extensions[REPLICA_KEY] = make_engine(replica_url,
                                                  echo=app.config.get("SQL_ECHO", False))
        app.after_request(_remember_writes)
