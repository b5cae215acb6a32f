"""Storing an import's new records set-based: the driver's executemany (SQLite) or COPY
(PostgreSQL) for the records, then one INSERT ... SELECT makes every notice. The rows
were checked and their points fixed by app.services.records.conduct. Each row's canonical
fields are serialised in the pass that writes it, and its seal (the leaf of the Merkle log)
is made as soon as the database has given it an id."""

from __future__ import annotations

import hashlib
import json
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date
from json.encoder import encode_basestring  # type: ignore[attr-defined]

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.models import Record
from app.rulebook import Rulebook
from app.services.audit import seals
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


_VARYING = (0, 12, 13)  # subject_id, evidence, external_ref: the values a row's fields vary in
_MARK = "\x00cp-import-field-{}\x00"  # stands for a varying value while a template is made


class _Leaves:
    """The seal leaves of an import's new records, hashed in the pass that writes them.

    A record's leaf is the canonical JSON of its fields (app.services.audit.seals), so it
    is made the way seals.fields_json makes it, once per shape (rule, dates, points, note:
    a few hundred in a file of a million rows) with marks in place of the values each
    row has of its own (subject, evidence, reference); a row's fields are then that
    template with its own values JSON-encoded in. tests/services/test_seals.py holds the
    two to the same bytes.
    """

    def __init__(self, stamp: str) -> None:
        self.stamp = stamp  # recorded_at, as canonical JSON holds it
        self._templates: dict[tuple, tuple] = {}

    def _template(self, v: tuple) -> tuple:
        """Return (text before the first varying value, which value, text after it, ...)."""
        fields = dict(zip(COLUMNS, v, strict=False))
        for i in _DAYS:
            if v[i] is not None:
                fields[COLUMNS[i]] = v[i].isoformat()
        fields["recorded_at"] = self.stamp
        for i in _VARYING:
            fields[COLUMNS[i]] = _MARK.format(i)
        text_ = seals.fields_json({**_UNSET, **fields})
        marks = {encode_basestring(_MARK.format(i)): i for i in _VARYING}
        pattern = re.compile("|".join(re.escape(m) for m in marks))
        order = [marks[m.group()] for m in pattern.finditer(text_)]
        parts = pattern.split(text_)
        assert sorted(order) == list(_VARYING) and len(parts) == len(order) + 1
        return (parts[0], *(x for n, i in enumerate(order, start=1) for x in (i, parts[n])))

    def fields(self, v: tuple) -> str:
        """Return the canonical fields of a new record's values (COLUMNS order)."""
        key = v[1:12] + v[15:16]
        found = self._templates.get(key)
        if found is None:
            found = self._templates[key] = self._template(v)
        p0, a, p1, b, p2, c, p3 = found
        try:
            return (f"{p0}{encode_basestring(v[a])}{p1}{encode_basestring(v[b])}{p2}"
                    f"{encode_basestring(v[c])}{p3}")
        except TypeError:  # not text: never from a file, but then as canonical JSON has it
            return f"{p0}{_encode(v[a])}{p1}{_encode(v[b])}{p2}{_encode(v[c])}{p3}"

    @staticmethod
    def leaf(record_id: int, fields: str) -> bytes:
        """Return the leaf hash of the record `record_id` with these fields."""
        return hashlib.sha256(
            f'\x00{{"fields":{fields},"id":{record_id},"kind":"record"}}'.encode()).digest()


def _encode(value: object) -> str:
    """Return a value as canonical JSON writes it (seals.fields_json's encoder)."""
    if type(value) is str:
        return encode_basestring(value)
    return json.dumps(seals.plain(value), ensure_ascii=False, separators=(",", ":"))


def _seal(session: Session, ids: Iterable[int], leaves: Iterable[bytes | bytearray]) -> None:
    """Seal the records `ids` with their leaf hashes (concatenated in any pieces)."""
    seals.add_leaf_run(session, seals.LeafRun("record", array("q", ids), b"".join(leaves)))


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
    leaves = _Leaves(seals.plain(new[0][14]))
    if conn.dialect.name == "postgresql":
        fields: list[str] = []
        refs = _store_postgres(conn, new, rulebook=rulebook, department=department,
                               today=today, versions=versions, fields=fields,
                               make_fields=leaves.fields)
        ids = [refs[v[13]] for v in new]
        _seal(session, ids, map(leaves.leaf, ids, fields))
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
        # the import holds the write lock: its rows take the ids after the highest one
        ids = range(after_record + 1, after_record + 1 + len(new))
        digests = bytearray()  # the leaf hashes, 32 bytes each
        make_fields, leaf = leaves.fields, leaves.leaf
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for i in range(0, len(new), 20000):
                rows = []
                for record_id, v in zip(ids[i:i + 20000], new[i:i + 20000], strict=True):
                    rows.append((*v[:5], day(v[5]), day(v[6]), day(v[7]), *v[8:14], stamp, v[15]))
                    digests += leaf(record_id, make_fields(v))
                cursor.executemany(sql, rows)
        except conn.dialect.loaded_dbapi.IntegrityError as error:
            # the driver's own error: an external_ref recorded since the rows were checked
            raise IntegrityError(sql, None, error) from error
        finally:
            cursor.close()
        _seal(session, ids, [digests])
        notices.notify_imported_after(session, rulebook=rulebook, department=department,
                                      today=today, after_record=after_record,
                                      after_notice=after_notice, versions=versions)
    first = session.execute(select(Record.id).where(
        Record.department_code == department,
        Record.external_ref == new[0][13])).scalar_one()
    notices.check_record_notice(session, rulebook=rulebook, record_id=first, today=today)


def _store_postgres(conn, new: list[tuple], *, rulebook: Rulebook, department: str,
                    today: date, versions, fields: list[str],
                    make_fields: Callable[[tuple], str]) -> dict[str, int]:
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
            for n, v in enumerate(new):
                copy.write_row((n, *v[:14], stamp, v[15]))
                fields.append(make_fields(v))
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
