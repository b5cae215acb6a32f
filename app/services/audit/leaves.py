"""The leaf hashes of every stored row of a sealed table, the fast way (`audit verify`).

`seals.row_data` defines a leaf: the canonical JSON of the row as SQLAlchemy reads it.
Recomputing it through SQLAlchemy's result processing, a dict per row and `plain` per
value costs several times the read itself, so the database builds the same text:
columns sorted by name; text as JSON (PostgreSQL's `to_json`, SQLite's `json_quote`:
both escape exactly as Python's `json` does with `ensure_ascii=False`, which
`_escapes_like_python` checks on the server at hand before relying on it, with the
text of a date); numbers and booleans as JSON; dates ISO; times UTC to the microsecond
with their `T`.

- PostgreSQL also hashes it (`sha256`, PostgreSQL 11 and later), and `audit verify`
  has it compare the hashes with the latest seals there too (`pg_check_sql`): only a
  count and the first fact that does not hold cross the wire.
- SQLite has no SHA-256: Python hashes the text, one call per row. SQLite also checks
  each value's storage class and shape (a date `YYYY-MM-DD`, a time
  `YYYY-MM-DD HH:MM:SS.ffffff`, a boolean 0 or 1, text in a text column, an integer in an
  integer column), since a row written behind the app may hold anything: a row that is
  not in the shape the app writes is read again raw and hashed the reference way
  (`seals.row_data` over what SQLAlchemy makes of it).

Both yield what `seals.leaves_of_rows` yields, byte for byte (tests/services/
test_leaves.py holds them to it on tricky values).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy import Boolean, Date, DateTime, Integer, String, TypeDecorator, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.services.audit.seals import Kind, leaves_of_rows, row_data

BATCH = 10_000
_PROBE = "".join(map(chr, range(1, 32))) + '"\\/\x7f é 中 \u2028 \U0001f600 \'; --'
_EXPECTED = json.dumps(_PROBE, ensure_ascii=False)
_DAY = "0999-01-05"  # a date cast to text must read as Python's isoformat (DateStyle ISO)
_CHECKED = "citypoints.leaves.escapes"  # session.info: the server escapes like Python


def stored_leaves(session: Session, kind: Kind) -> Iterator[tuple[str, str]]:
    """Yield (fact_key, leaf hash hex) of every row of `kind`, in fact-key order."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite") and _sql_supported(kind) \
            and _escapes_like_python(session):
        if dialect == "postgresql":
            yield from _postgresql(session, kind)
        else:
            yield from _sqlite(session, kind)
        return
    yield from python_leaves(session, kind)


def tuples(session: Session, sql: str, params: dict[str, Any] | None = None) -> Iterator[
        tuple[Any, ...]]:
    """Yield the rows of a plain SELECT (`:name` parameters) as tuples, streaming from the
    DB-API cursor, without SQLAlchemy's result processing: on PostgreSQL a server-side
    (named) cursor, so memory stays bounded whatever the table's size."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        yield from session.execute(text(sql), params or {},
                                   execution_options={"yield_per": BATCH}).tuples()
        return
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    if dialect == "postgresql":
        cursor = raw.cursor(name=f"citypoints_walk_{next(_CURSORS)}")  # type: ignore[call-arg]
        if params:  # psycopg's style; `::` casts and `HH24:MI` are left alone
            sql = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql)
    else:
        cursor = raw.cursor()
    try:
        if params:
            cursor.execute(sql, params)
        else:  # psycopg leaves a `%` alone only without parameters
            cursor.execute(sql)
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    finally:
        with contextlib.suppress(sqlite3.ProgrammingError, psycopg.Error):  # closed already
            cursor.close()


_CURSORS = itertools.count()


def python_leaves(session: Session, kind: Kind) -> Iterator[tuple[str, str]]:
    """Yield what `stored_leaves` does, computed in Python (the reference)."""
    order = kind.key
    if not kind.numeric and session.get_bind().dialect.name == "postgresql":
        order = order.collate("C")  # Python compares keys by code point
    rows = session.execute(select(kind.table).order_by(order),
                           execution_options={"yield_per": BATCH})
    for fact_key, leaf in leaves_of_rows(kind, rows):
        yield fact_key, leaf.hex()


def _escapes_like_python(session: Session) -> bool:
    """Return True when the server's JSON text of a string is Python's, byte for byte."""
    found = session.info.get(_CHECKED)
    if found is None:
        sql = ("SELECT to_json(CAST(:s AS text))::text, CAST(CAST(:d AS date) AS text)"
               if _is_pg(session) else "SELECT json_quote(:s), :d")
        try:
            with session.begin_nested():  # a failure must not end the caller's transaction
                quoted, day = session.execute(text(sql), {"s": _PROBE, "d": _DAY}).one()
        except DBAPIError:  # no such JSON function: the Python path it is
            quoted = day = None
        found = session.info[_CHECKED] = quoted == _EXPECTED and day == _DAY
    return bool(found)


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _fields(kind: Kind) -> list[Any]:
    """Return the row's columns but its key, sorted by name (the canonical JSON's order)."""
    return sorted((c for c in kind.table.columns if c.name != kind.key.name),
                  key=lambda c: c.name)


def _base(column: Any) -> Any:
    """Return the column's type, or the type a TypeDecorator (UTCDateTime, AutoString)
    stores as."""
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


def _sql_supported(kind: Kind) -> bool:
    return all(isinstance(_base(c), String | Integer | Boolean | Date | DateTime)
               for c in kind.table.columns)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _canonical_sql(kind: Kind, value: Any) -> str:
    """Return SQL for the leaf data of a row, `value(column)` giving each column's JSON."""
    parts = [_literal('{"fields":{')]
    for n, column in enumerate(_fields(kind)):
        parts.append(_literal(("," if n else "") + json.dumps(column.name) + ":"))
        parts.append(value(column))
    parts.append(_literal('},"id":'))
    parts.append(value(kind.key))
    parts.append(_literal(',"kind":' + json.dumps(kind.name, ensure_ascii=False) + "}"))
    return " || ".join(parts)


# -- PostgreSQL: the canonical text and its hash in SQL ------------------------------------


def _pg_value(column: Any) -> str:
    # to_json and to_char cost ten times a cast per value: each is used only where a cast
    # would not give Python's text (dates cast as ISO: the probe checks the DateStyle).
    name, base = _quoted(column.name), _base(column)
    if isinstance(base, DateTime):
        zone = f"{name} AT TIME ZONE 'UTC'" if base.timezone else name
        json_text = f"""'"' || to_char({zone}, 'YYYY-MM-DD"T"HH24:MI:SS.US') || '"'"""
    elif isinstance(base, Date):
        json_text = f"""'"' || CAST({name} AS text) || '"'"""
    elif isinstance(base, Boolean):
        json_text = f"CASE {name} WHEN true THEN 'true' WHEN false THEN 'false' END"
    elif isinstance(base, Integer):
        json_text = f"CAST({name} AS text)"
    else:  # text
        json_text = f"to_json({name})::text"
    return f"coalesce({json_text}, 'null')"


def pg_leaf_sql(kind: Kind, *, where: str = "") -> str:
    """Return the SELECT of (key, leaf hash hex) of every row of `kind` (or of those
    `where` says), in key order."""
    key = _quoted(kind.key.name)
    order = key if kind.numeric else f'{key} COLLATE "C"'
    return (f"SELECT {key}, {_pg_leaf(kind)} FROM {_quoted(kind.table.name)}"
            f"{f' WHERE {where}' if where else ''} ORDER BY {order}")


def _pg_leaf(kind: Kind) -> str:
    """Return SQL for a row's leaf hash, hex."""
    data = _canonical_sql(kind, _pg_value)
    return f"encode(sha256('\\x00'::bytea || convert_to({data}, 'UTF8')), 'hex')"


def _pg_fact_key(kind: Kind, key: str) -> str:
    """Return SQL for `kind.fact_key` of the key `key` (Python's `f"{id:012d}"`)."""
    if not kind.numeric:
        return key
    return (f"CASE WHEN {key} >= 0 THEN lpad(CAST({key} AS text), 12, '0') "
            f"ELSE '-' || lpad(CAST(-CAST({key} AS bigint) AS text), 11, '0') END")


def _pg_deleted_leaf(kind: Kind, fact_key: str) -> str:
    """Return SQL for the leaf of a fact deleted through the app (`seals.row_leaf` of no
    row), NULL when `fact_key` is no key of `kind` (then no seal can be that leaf)."""
    if kind.numeric:
        key = (f"CASE WHEN {fact_key} ~ '^-?[0-9]{{1,18}}$' "
               f"THEN CAST(CAST({fact_key} AS bigint) AS text) END")
    else:
        key = f"to_json({fact_key})::text"
    tail = _literal(',"kind":' + json.dumps(kind.name, ensure_ascii=False) + "}")
    return (f"""encode(sha256('\\x00'::bytea || convert_to('{{"fields":null,"id":' || {key} """
            f"|| {tail}, 'UTF8')), 'hex')")


def pg_check_sql(kind: Kind) -> str:
    """Return the SELECT of (rows of `kind`, fact key of the first fact that does not hold
    or NULL): each row's leaf compared in the database with the latest seal of its fact,
    so that only the answer crosses the wire. A fact does not hold when its row's leaf is
    not its latest seal (a row edited, or inserted without a seal), or when it has a seal
    but no row, unless that seal is the one of a deletion through the app. The first is
    the least fact key in code point order: the one `facts.check_kind`'s merge would name.
    """
    key = _quoted(kind.key.name)
    fact_key = _pg_fact_key(kind, key)
    deleted = _pg_deleted_leaf(kind, "s.fact_key")
    return (f"WITH r AS (SELECT {fact_key} AS fact_key, {_pg_leaf(kind)} AS leaf "
            f"FROM {_quoted(kind.table.name)}), "
            "s AS (SELECT DISTINCT ON (fact_key) fact_key, leaf_hash FROM fact_seal "
            f"WHERE kind = {_literal(kind.name)} ORDER BY fact_key, position DESC) "
            'SELECT count(r.fact_key), min(coalesce(r.fact_key, s.fact_key) COLLATE "C") '
            "FILTER (WHERE r.leaf IS DISTINCT FROM s.leaf_hash AND (r.fact_key IS NOT NULL "
            f"OR s.leaf_hash IS DISTINCT FROM {deleted})) "
            "FROM r FULL JOIN s ON s.fact_key = r.fact_key")


def pg_first_mismatch(session: Session, kind: Kind) -> tuple[int, str | None] | None:
    """Return (rows of `kind`, fact key of the first that does not hold or None), checked
    in the database (see `pg_check_sql`); None where the leaves cannot be made in SQL
    (not PostgreSQL, a column type the SQL does not know, a server that escapes text
    otherwise than Python): the caller then merges `stored_leaves` with the seals."""
    if not _is_pg(session) or not _sql_supported(kind) or not _escapes_like_python(session):
        return None
    # The driver's own SQL: `:name` in the JSON text is no parameter (no `%` in it either).
    rows, first = session.connection().exec_driver_sql(pg_check_sql(kind)).one()
    return int(rows), first


def pg_leaf_of(session: Session, kind: Kind, fact_key: str) -> str | None:
    """Return the leaf hash of the row of one fact as `pg_check_sql` makes it, or None
    when the table has no such row."""
    try:
        key = int(fact_key) if kind.numeric else fact_key
    except ValueError:  # a seal's fact key that no row can have
        return None
    if kind.fact_key(key) != fact_key:  # "5" for "000000000005": not that row's seal
        return None
    sql = pg_leaf_sql(kind, where=f"{_quoted(kind.key.name)} = %(key)s")
    row = session.connection().exec_driver_sql(sql, {"key": key}).one_or_none()
    return None if row is None else str(row[1])


def _postgresql(session: Session, kind: Kind) -> Iterator[tuple[str, str]]:
    fact_key = kind.fact_key
    for key, leaf in tuples(session, pg_leaf_sql(kind)):
        yield fact_key(key), leaf


# -- SQLite: the canonical text in SQL, hashed in Python -----------------------------------


def _shape(column: Any) -> str:
    """Return SQL true when the stored value is in the shape the app writes."""
    name, base = _quoted(column.name), _base(column)
    if isinstance(base, DateTime):
        check = (f"typeof({name}) = 'text' AND length({name}) = 26 AND "
                 f"substr({name}, 11, 1) = ' ' AND substr({name}, 20, 1) = '.'")
    elif isinstance(base, Date):
        check = (f"typeof({name}) = 'text' AND length({name}) = 10 AND "
                 f"substr({name}, 5, 1) = '-' AND substr({name}, 8, 1) = '-'")
    elif isinstance(base, Boolean):
        check = f"{name} IN (0, 1) AND typeof({name}) = 'integer'"
    elif isinstance(base, Integer):
        check = f"typeof({name}) = 'integer'"
    else:
        check = f"typeof({name}) = 'text'"
    return f"({name} IS NULL OR ({check}))"


def _sqlite_value(column: Any) -> str:
    name, base = _quoted(column.name), _base(column)
    if isinstance(base, DateTime):
        return (f"""CASE WHEN {name} IS NULL THEN 'null' ELSE '"' || substr({name}, 1, 10) """
                f"""|| 'T' || substr({name}, 12) || '"' END""")
    if isinstance(base, Boolean):
        return f"CASE {name} WHEN 1 THEN 'true' WHEN 0 THEN 'false' ELSE 'null' END"
    return f"json_quote({name})"  # NULL gives null


def sqlite_leaf_sql(kind: Kind) -> str:
    """Return the SELECT of (key, leaf data or NULL when a value is not in the app's
    shape) of every row of `kind`, in key order."""
    key = _quoted(kind.key.name)
    shapes = " AND ".join(_shape(c) for c in kind.table.columns)
    data = _canonical_sql(kind, _sqlite_value)
    return (f"SELECT {key}, CASE WHEN {shapes} THEN {data} END "
            f"FROM {_quoted(kind.table.name)} ORDER BY {key}")


def _sqlite(session: Session, kind: Kind) -> Iterator[tuple[str, str]]:
    sha256, fact_key = hashlib.sha256, kind.fact_key
    for key, data in tuples(session, sqlite_leaf_sql(kind)):
        if data is None:  # a value in another shape: read the row as SQLAlchemy reads it
            leaf = _reread(session, kind, key)
        else:
            leaf = sha256(b"\x00" + data.encode()).hexdigest()
        yield fact_key(key), leaf


UNREADABLE = "unreadable"  # the leaf of a row SQLAlchemy cannot read: no seal is that


def _reread(session: Session, kind: Kind, key: Any) -> str:
    try:
        row = session.connection().execute(select(kind.table).where(kind.key == key))
        return hashlib.sha256(b"\x00" + row_data(kind, row.mappings().one())).hexdigest()
    except (ValueError, TypeError):  # a date that is no date: the app never wrote it
        return UNREADABLE
