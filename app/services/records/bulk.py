"""Storing an import's new records set-based: the driver's executemany (SQLite) or COPY
(PostgreSQL) for the records, then one INSERT ... SELECT makes every notice. The rows
were checked and their points fixed by app.services.records.conduct. Each row's canonical
fields are serialised in the pass that writes it, and its seal (the leaf of the Merkle log)
is made as soon as the database has given it an id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.models import Record
from app.rulebook import Rulebook
from app.services.audit import merkle, seals
from app.services.due_process import notices as notices

SQLITE_CACHE_MAX_KIB = 1024 * 1024  # 1 GiB, for files of a million rows and more

# The columns an import writes, in the order of a checked record's values.
COLUMNS = ("subject_id", "rule_code", "rule_version", "rulebook_fingerprint", "department_code",
           "occurred_on", "ends_on", "repairable_on", "base_points", "factor", "points", "note",
           "evidence", "external_ref", "recorded_at", "recorded_by")
# The record's other columns, empty in a new record (a void, a repair, an annulment).
_UNSET = {c.name: None for c in Record.__table__.columns
          if c.name not in COLUMNS and not c.primary_key}
_DAYS = (5, 6, 7)  # occurred_on, ends_on, repairable_on


def _fields(v: tuple, stamp: str) -> str:
    """Return the canonical fields of a new record (see app.services.audit.seals)."""
    fields = dict(zip(COLUMNS, v, strict=False))
    for i in _DAYS:
        if v[i] is not None:
            fields[COLUMNS[i]] = v[i].isoformat()
    fields["recorded_at"] = stamp
    return seals.fields_json({**_UNSET, **fields})


def _seal(session: Session, ids: list[int], fields: list[str]) -> None:
    kind = seals.KINDS["record"]
    seals.add_leaves(session, [
        ("record", kind.fact_key(i), merkle.leaf_hash(
            seals.leaf_data("record", i, f)).hex()) for i, f in zip(ids, fields, strict=True)])


@contextmanager
def page_cache(session: Session) -> Iterator:
    """Yield a function `grow(kib)`: on SQLite it gives this connection a page cache of
    `kib` KiB for a large import, and the one it had comes back when the block ends (after
    the commit). A million new records update indexes of ten million at random places; with
    SQLite's default 2 MB each update re-reads its pages (measured: 4 times slower)."""
    restore: list = []

    def grow(kib: int) -> None:
        conn = session.connection()
        if conn.dialect.name != "sqlite":
            return
        dbapi = conn.connection.dbapi_connection
        current = dbapi.execute("PRAGMA cache_size").fetchone()[0]
        if (-current if current < 0 else current * 4) >= kib:  # positive: pages of about 4 KiB
            return
        dbapi.execute(f"PRAGMA cache_size={-int(kib)}")
        restore.append(lambda: dbapi.execute(f"PRAGMA cache_size={int(current)}"))

    try:
        yield grow
    finally:
        for undo in restore:
            undo()  # a web worker must not keep a gigabyte of pages


def store_records(session: Session, new: list[tuple], *, rulebook: Rulebook, department: str,
           today: date) -> None:
    """Insert the new records in file order, each with its notice and outbox row, inside
    the caller's transaction."""
    conn = session.connection()
    versions = {(v[1], v[2]) for v in new}
    sealed_at = seals.plain(new[0][14])
    fields: list[str] = []
    if conn.dialect.name == "postgresql":
        refs = _store_postgres(conn, new, rulebook=rulebook, department=department,
                               today=today, versions=versions, fields=fields)
        _seal(session, [refs[v[13]] for v in new], fields)
    else:
        after_record = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM record")).scalar()
        after_notice = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM notice")).scalar()
        table = Record.__table__
        to_day = table.c.occurred_on.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        stamp = (table.c.recorded_at.type.dialect_impl(conn.dialect)
                 .bind_processor(conn.dialect)(new[0][14]))
        days: dict[date, str] = {}

        def day(value: date | None) -> str | None:
            if value is None:
                return None
            text_ = days.get(value)
            if text_ is None:
                text_ = days[value] = to_day(value)
            return text_

        sql = (f"INSERT INTO record ({', '.join(COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(COLUMNS))})")
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for i in range(0, len(new), 20000):
                rows = []
                for v in new[i:i + 20000]:
                    rows.append((*v[:5], day(v[5]), day(v[6]), day(v[7]), *v[8:14], stamp, v[15]))
                    fields.append(_fields(v, sealed_at))
                cursor.executemany(sql, rows)
        except conn.dialect.loaded_dbapi.IntegrityError as error:
            # the driver's own error: an external_ref recorded since the rows were checked
            raise IntegrityError(sql, None, error) from error
        finally:
            cursor.close()
        # the import holds the write lock: its rows took the ids after the highest one
        _seal(session, list(range(after_record + 1, after_record + 1 + len(new))), fields)
        notices.notify_imported_after(session, rulebook=rulebook, department=department,
                                      today=today, after_record=after_record,
                                      after_notice=after_notice, versions=versions)
    first = session.execute(select(Record.id).where(
        Record.department_code == department,
        Record.external_ref == new[0][13])).scalar_one()
    notices.check_record_notice(session, rulebook=rulebook, record_id=first, today=today)


def _store_postgres(conn, new: list[tuple], *, rulebook: Rulebook, department: str,
                    today: date, versions, fields: list[str]) -> dict[str, int]:
    """COPY the records into a temporary table, then insert records, notices and outbox rows
    in one statement (other transactions may take record ids meanwhile, so the notices are
    made from the rows this statement inserts, not from a range of ids). Append each row's
    canonical fields to `fields`; return the new ids by external_ref."""
    columns = ", ".join(COLUMNS)
    stamp = new[0][14].astimezone(UTC).replace(tzinfo=None)  # stored as UTC, like utcnow()
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute("CREATE TEMPORARY TABLE cp_import ON COMMIT DROP AS "
                       f"SELECT 0 AS n, {columns} FROM record WITH NO DATA")
        with cursor.copy(f"COPY cp_import (n, {columns}) FROM STDIN") as copy:
            sealed_at = seals.plain(stamp)
            for n, v in enumerate(new):
                copy.write_row((n, *v[:14], stamp, v[15]))
                fields.append(_fields(v, sealed_at))
    finally:
        cursor.close()
    sql = notices.record_notice_sql(rulebook, department=department, today=today,
                                    dialect="postgresql", versions=versions, records="ins")
    refs = dict(conn.execute(text(
        f"WITH {sql.rules}, "
        f"ins AS (INSERT INTO record ({columns}) SELECT {columns} FROM cp_import ORDER BY n "
        "RETURNING id, subject_id, rule_code, rule_version, occurred_on, ends_on, points, note, "
        f"evidence, external_ref), {sql.heads}, "
        f"nts AS ({notices.NOTICE_INSERT} SELECT {sql.columns} FROM ins r {sql.joins} "
        "ORDER BY r.id "
        "RETURNING id, created_at), "
        f"obx AS ({notices.OUTBOX_INSERT} SELECT id, 'pending', 0, created_at FROM nts "
        "ORDER BY id RETURNING 1) "
        "SELECT external_ref, id FROM ins"),
        sql.params).all())
    conn.execute(text("DROP TABLE cp_import"))
    return refs
