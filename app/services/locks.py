"""Write locks that work on SQLite and PostgreSQL alike."""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session


def is_postgres(session: Session) -> bool:
    """Return True when `session` talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


WRITING = "citypoints.writing"  # session.info: this session has begun to write
_SQLITE_LOCKED = "citypoints.sqlite_locked"  # session.info: the transaction holding the lock
RECORDS = "records"  # whatever decides how records count: shared by one-record writers,
#                      held alone by a bulk import, which fixes points for many subjects


def begin_write(session: Session, key: str, *, shared: bool = False) -> None:
    """Serialise writers on `key` for the rest of the current transaction.

    PostgreSQL: a transaction-level advisory lock on the key (`shared`: many holders may
    share it, and only an exclusive holder waits for them). SQLite: the database's
    single write lock, taken now (with the busy timeout) rather than at the first write,
    so a read-then-write transaction cannot fail half-way on a lock upgrade. Call it
    before adding objects to the session: a transaction that had only read is restarted.
    """
    session.info[WRITING] = True  # a session that reads a replica turns to the primary
    if is_postgres(session):
        session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:k)" if shared
                 else "SELECT pg_advisory_xact_lock(:k)"),
            {"k": zlib.crc32(key.encode()) - 2**31},
        )
    else:
        # SQLite has one lock for every key: a transaction that holds it (a recording takes
        # the records', the subject's and the audit chain's) does not ask again.
        if session.info.get(_SQLITE_LOCKED) is session.get_transaction() is not None:
            return
        take = text("UPDATE scheduler_lock SET holder = holder WHERE name = '~'")
        try:
            session.execute(take)
        except OperationalError as error:
            if "locked" not in str(error.orig):
                raise
            # The transaction had only read (a writer would already hold the lock), and a
            # reader's snapshot cannot be upgraded once another writer committed: start
            # afresh with the lock as the first statement, which waits the busy timeout.
            session.rollback()
            session.execute(take)
        session.info[_SQLITE_LOCKED] = session.get_transaction()


def begin_record_write(session: Session, subject_id: str) -> None:
    """Lock for a change to one subject's records (a record, a void, a repair, an
    annulment): the subject's own lock, after a share of `RECORDS`, which a bulk import
    holds alone while it fixes points from the records already stored."""
    begin_write(session, RECORDS, shared=True)
    begin_write(session, f"subject:{subject_id}")
