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
from bisect import bisect_left
from collections.abc import Iterable, Iterator
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

# The page cache an import gives its SQLite connection: 1 KiB a row, at most 128 MiB. It
# counts in the import's memory (the goal: under 500 MB for a million rows; with 192 MiB a
# million-row import reached 550 MB by its 150,000th row); 1 GiB made it peak above 1.5 GB.
SQLITE_CACHE_KIB_PER_ROW = 1
SQLITE_CACHE_MAX_KIB = 128 * 1024

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
    """Seal the records `ids` with their leaf hashes (concatenated in any pieces). An array
    of ids and one piece are kept as they are: at a million rows each copy is 8 or 32 MB
    more at the commit, the import's peak."""
    pieces = list(leaves)
    digests = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    seals.add_leaf_run(session, seals.LeafRun(
        "record", ids if isinstance(ids, array) else array("q", ids), digests))  # type: ignore[arg-type]


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
        for undo in reversed(restore):  # the one it had first is the one it gets back
            undo()  # a web worker must not keep a gigabyte of pages


def store_records(session: Session, new: list[tuple], *, rulebook: Rulebook, department: str,
                  today: date) -> None:
    """Insert the new records in file order, each with its notice and outbox row, inside
    the caller's transaction (in one piece: see RecordWriter for a file in chunks)."""
    writer = RecordWriter(session, rulebook=rulebook, department=department, today=today)
    writer.write(new)
    writer.finish()


class RecordWriter:
    """Writes an import's new records chunk by chunk inside the caller's transaction (which
    holds the records' write lock), then their notices, outbox rows and seal in `finish`.

    Each chunk's records go in by the driver's executemany (SQLite) or COPY (PostgreSQL),
    with ids the writer gives them: on SQLite those after the highest one, on PostgreSQL
    ids taken from the record sequence; the seal's leaves are hashed in the same pass, so
    only the ids (8 bytes) and leaf hashes (32 bytes) of the rows are kept, not the rows.
    The notices are made by the database, from the records, in one INSERT ... SELECT.
    """

    def __init__(self, session: Session, *, rulebook: Rulebook, department: str,
                 today: date) -> None:
        self.session = session
        self.rulebook = rulebook
        self.department = department
        self.today = today
        self.conn = conn = session.connection()
        self.pg = conn.dialect.name == "postgresql"
        self.after_record = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM record")).scalar()
        self.after_notice = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM notice")).scalar()
        self.versions: set[tuple[str, int]] = set()
        self.ids = array("q")  # ascending: SQLite's after the highest, PostgreSQL's sequence
        self.lines = array("q")  # the file line of each
        self.digests = bytearray()  # the leaf hashes, 32 bytes each
        self.leaves: _Leaves | None = None
        self.first_ref: str | None = None
        self.next_id = self.after_record + 1  # SQLite
        table = Record.__table__
        self._to_day = table.c.occurred_on.type.dialect_impl(conn.dialect).bind_processor(
            conn.dialect)
        self._to_stamp = table.c.recorded_at.type.dialect_impl(conn.dialect).bind_processor(
            conn.dialect)
        self._days: dict[date, str] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def _day(self, value: date | None) -> str | None:
        if value is None:
            return None
        found = self._days.get(value)
        if found is None:
            found = self._days[value] = self._to_day(value)
        return found

    def line_of(self, record_id: int) -> int | None:
        """Return the file line of a record this writer wrote, or None."""
        n = bisect_left(self.ids, record_id)
        if n < len(self.ids) and self.ids[n] == record_id and n < len(self.lines):
            return self.lines[n]
        return None

    def write(self, new: list[tuple], lines: Iterable[int] = ()) -> None:
        """Insert these new records (checked values in COLUMNS order), in order; `lines`:
        the file line of each (for line_of)."""
        if not new:
            return
        self.lines.extend(lines)
        if self.leaves is None:
            self.leaves = _Leaves(seals.plain(new[0][14]))
            self.first_ref = new[0][13]
        self.versions.update((v[1], v[2]) for v in new)
        make_fields, leaf, digests = self.leaves.fields, self.leaves.leaf, self.digests
        cursor = self.conn.connection.dbapi_connection.cursor()
        try:
            if self.pg:
                ids = [row[0] for row in self.conn.execute(text(
                    "SELECT nextval('record_id_seq') FROM generate_series(1, :n)"),
                    {"n": len(new)})]
                stamp = new[0][14].astimezone(UTC).replace(tzinfo=None)  # stored as UTC
                with cursor.copy(f"COPY record (id, {', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for record_id, v in zip(ids, new, strict=True):
                        copy.write_row((record_id, *v[:14], stamp, v[15]))
                        digests += leaf(record_id, make_fields(v))
                self.ids.extend(ids)
            else:
                day, stamp = self._day, self._to_stamp(new[0][14])
                first = self.next_id
                rows = []
                for record_id, v in enumerate(new, first):
                    rows.append((record_id, *v[:5], day(v[5]), day(v[6]), day(v[7]), *v[8:14],
                                 stamp, v[15]))
                    digests += leaf(record_id, make_fields(v))
                cursor.executemany(_SQLITE_INSERT, rows)
                self.next_id = first + len(new)
                self.ids.extend(range(first, self.next_id))
        except self.conn.dialect.loaded_dbapi.IntegrityError as error:
            # the driver's own error: an external_ref recorded since the rows were checked
            raise IntegrityError("INSERT INTO record", None, error) from error
        finally:
            cursor.close()

    def finish(self) -> None:
        """Make the notices and outbox rows of every record written, and seal them."""
        if not self.ids:
            return
        session, conn = self.session, self.conn
        _seal(session, self.ids, [self.digests])
        self.digests = bytearray()
        if self.pg:
            # The import holds the records' write lock: the records above after_record are
            # its own. Notices are made by others meanwhile: the outbox rows come from the
            # notices this statement inserts, not from a range of ids.
            sql = notices.record_notice_sql(
                self.rulebook, department=self.department, today=self.today,
                dialect="postgresql", versions=self.versions, records="ins")
            conn.execute(text(
                f"WITH {sql.rules}, ins AS (SELECT * FROM record WHERE id > :after), "
                f"{sql.heads}, "
                f"nts AS ({notices.NOTICE_INSERT} SELECT {sql.columns} FROM ins r {sql.joins} "
                "ORDER BY r.id RETURNING id, created_at) "
                f"{notices.OUTBOX_INSERT} SELECT id, 'pending', 0, created_at FROM nts "
                "ORDER BY id"), {**sql.params, "after": self.after_record})
        else:
            notices.notify_imported_after(session, rulebook=self.rulebook,
                                          department=self.department, today=self.today,
                                          after_record=self.after_record,
                                          after_notice=self.after_notice,
                                          versions=self.versions)
        first = session.execute(select(Record.id).where(
            Record.department_code == self.department,
            Record.external_ref == self.first_ref)).scalar_one()
        notices.check_record_notice(session, rulebook=self.rulebook, record_id=first,
                                    today=self.today)


_SQLITE_INSERT = (f"INSERT INTO record (id, {', '.join(COLUMNS)}) "
                  f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})")
