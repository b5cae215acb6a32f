"""Sealing the facts: every row a standing depends on is hashed when it is written or
changed, and the hash goes into the Merkle log (`fact_seal`), bound into the audit chain.

A fact's leaf is the canonical JSON of its row, `{"fields": {...}, "id": ..., "kind": ...}`
(columns sorted, dates ISO, times UTC to the microsecond), hashed as an RFC 6962 leaf. A
change (a void, a repair, an annulment, a removal, a decision, a register update) seals
the row again: the latest seal of a fact is what its row must hash to now.

Writers do not call this module for rows they add or change through the ORM: a flush
notes them, and the commit seals them, in the same transaction, with one "facts.sealed"
audit event holding the log position of the first seal, the count and their Merkle root.
Set-based writes (Core INSERT and UPDATE) say which rows they wrote with `touch` or
`touch_after`; the records import hashes its rows in the pass that writes them and hands
over the leaves with `add_leaves`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, Table, bindparam, event, func, insert, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from app.models import (
    ConsentChange,
    FactSeal,
    ListEntry,
    Objection,
    Record,
    RulebookEvent,
    RulebookVersion,
    Subject,
)
from app.services.audit import merkle

SEALED_ACTION = "facts.sealed"
_PENDING = "citypoints.seals.pending"  # {kind: set of keys} to seal at commit
_AFTER = "citypoints.seals.after"  # {kind: id}: seal every row above the id at commit
_LEAVES = "citypoints.seals.leaves"  # [(kind, fact_key, leaf hex)] hashed by the writer
CHUNK = 500


@dataclass(frozen=True)
class Kind:
    """A sealed table: its name in proofs (`record 17`), table and key column."""

    name: str
    table: Table
    key: Column
    numeric: bool

    def fact_key(self, key: Any) -> str:
        """Return the key as the seal log stores it (ids zero-padded, so they sort)."""
        return f"{int(key):012d}" if self.numeric else str(key)

    def parse_key(self, text: str) -> Any:
        """Return the key written on a command line or in a URL."""
        return int(text) if self.numeric else text.strip().upper()


def _kind(name: str, model: Any, key: str, numeric: bool = True) -> Kind:
    table = model.__table__
    return Kind(name, table, table.c[key], numeric)


KINDS: dict[str, Kind] = {k.name: k for k in (
    _kind("subject", Subject, "subject_id", numeric=False),
    _kind("rulebook", RulebookVersion, "id"),
    _kind("rulebook-event", RulebookEvent, "id"),
    _kind("record", Record, "id"),
    _kind("list-entry", ListEntry, "id"),
    _kind("objection", Objection, "id"),
    _kind("consent-change", ConsentChange, "id"),
)}
_BY_MODEL: dict[type, Kind] = {
    Subject: KINDS["subject"], RulebookVersion: KINDS["rulebook"],
    RulebookEvent: KINDS["rulebook-event"], Record: KINDS["record"],
    ListEntry: KINDS["list-entry"], Objection: KINDS["objection"],
    ConsentChange: KINDS["consent-change"],
}


def plain(value: Any) -> Any:
    """Return `value` as canonical JSON holds it (dates ISO; times UTC, naive = UTC)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep="T", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def fields_json(fields: Mapping[str, Any]) -> str:
    """Return the canonical JSON of a row's fields (values already `plain`)."""
    return _ENCODE(fields)


def leaf_data(kind: str, key: Any, fields: str | None) -> bytes:
    """Return a fact's leaf: its kind, id and fields (None: the row was deleted)."""
    return (f'{{"fields":{fields if fields is not None else "null"},'
            f'"id":{_ENCODE(key)},"kind":{_ENCODE(kind)}}}').encode()


_SIMPLE = (str, int, bool, type(None))


def row_leaf(kind: Kind, row: Mapping[str, Any] | None, key: Any = None) -> bytes:
    """Return the leaf hash of a row as read from its table (None: a deleted row)."""
    if row is None:
        return merkle.leaf_hash(leaf_data(kind.name, key, None))
    return merkle.leaf_hash(row_data(kind, row))


def row_data(kind: Kind, row: Mapping[str, Any]) -> bytes:
    """Return the leaf data of a row (what a proof shows and a resident hashes)."""
    name = kind.key.name
    fields = {n: v if type(v) in _SIMPLE else plain(v) for n, v in row.items() if n != name}
    return leaf_data(kind.name, row[name], fields_json(fields))


def leaves_of_rows(kind: Kind, rows: Iterable[Sequence[Any]]) -> Iterator[tuple[str, bytes]]:
    """Yield (fact_key, leaf hash) of rows read as `select(kind.table)` tuples (fast path)."""
    names = [c.name for c in kind.table.columns]
    at = names.index(kind.key.name)
    prefix, suffix = '{"fields":', f',"kind":{_ENCODE(kind.name)}}}'
    for row in rows:
        fields = {n: v if type(v) in _SIMPLE else plain(v)
                  for n, v in zip(names, row, strict=True)}
        key = fields.pop(names[at])
        data = f'{prefix}{_ENCODE(fields)},"id":{_ENCODE(key)}{suffix}'
        yield kind.fact_key(key), merkle.leaf_hash(data.encode())


# -- noting what a transaction wrote ------------------------------------------------------


def touch(session: Session, kind: str, keys: Iterable[Any]) -> None:
    """Seal these rows of `kind` when the transaction commits (after a Core write)."""
    session.info.setdefault(_PENDING, {}).setdefault(kind, set()).update(keys)


def touch_after(session: Session, kind: str, after_id: int) -> None:
    """Seal every row of `kind` above `after_id` when the transaction commits."""
    afters = session.info.setdefault(_AFTER, {})
    afters[kind] = min(after_id, afters.get(kind, after_id))


def add_leaves(session: Session, leaves: Iterable[tuple[str, str, str]]) -> None:
    """Seal leaves the writer hashed itself: (kind, fact_key, leaf hash hex)."""
    session.info.setdefault(_LEAVES, []).extend(leaves)


@dataclass(frozen=True)
class LeafRun:
    """Many leaves of one numeric kind that a writer hashed itself, held compactly until the
    commit seals them: their ids (an array of 8-byte ints) and their leaf hashes (32 bytes
    each, one after the other). A million imported records take 40 MB so, not 250."""

    kind: str
    ids: Sequence[int]
    digests: bytes

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        kind, digests = self.kind, self.digests
        for n, key in enumerate(self.ids):
            yield kind, f"{key:012d}", digests[32 * n:32 * n + 32].hex()

    def leaf_hashes(self) -> Iterator[bytes]:
        digests = self.digests
        return (digests[i:i + 32] for i in range(0, len(digests), 32))


def add_leaf_run(session: Session, run: LeafRun) -> None:
    """Seal a run of leaves the writer hashed itself (see LeafRun)."""
    if not KINDS[run.kind].numeric or len(run.digests) != 32 * len(run.ids):
        raise ValueError(f"not a run of {run.kind} leaves")
    session.info.setdefault(_LEAVES, []).append(run)


def _flat(leaves: Sequence[Any]) -> Iterator[tuple[str, str, str]]:
    for item in leaves:
        if isinstance(item, LeafRun):
            yield from item
        else:
            yield item


def _leaf_hashes(leaves: Sequence[Any]) -> Iterator[bytes]:
    for item in leaves:
        if isinstance(item, LeafRun):
            yield from item.leaf_hashes()
        else:
            yield bytes.fromhex(item[2])


def _after_flush(session: OrmSession, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        kind = _BY_MODEL.get(type(obj))
        if kind is None or (obj in session.dirty and not session.is_modified(obj)):
            continue
        key = getattr(obj, kind.key.name)
        if key is not None:
            touch(session, kind.name, [key])  # type: ignore[arg-type]


def _before_commit(session: OrmSession) -> None:
    info = session.info
    if not (info.get(_PENDING) or info.get(_AFTER) or info.get(_LEAVES) or session.new
            or session.dirty or session.deleted):
        return
    session.flush()  # the ORM's changes, noted by _after_flush
    seal_pending(session)  # type: ignore[arg-type]


def _forget(session: OrmSession, *_args: Any) -> None:
    for key in (_PENDING, _AFTER, _LEAVES):
        session.info.pop(key, None)


def install() -> None:
    """Seal every session's writes at commit (idempotent)."""
    for name, listener in (("after_flush", _after_flush), ("before_commit", _before_commit),
                           ("after_rollback", _forget), ("after_commit", _forget)):
        if not event.contains(OrmSession, name, listener):
            event.listen(OrmSession, name, listener)


# -- sealing -------------------------------------------------------------------------------


def seal_pending(session: Session) -> int:
    """Seal what the transaction wrote (see `touch`); return how many seals it wrote."""
    from app.services.audit import chain

    info = session.info
    leaves: list[Any] = info.pop(_LEAVES, [])  # (kind, fact_key, leaf hex) or a LeafRun
    pending: dict[str, set] = info.pop(_PENDING, {})
    for name, after in info.pop(_AFTER, {}).items():
        kind = KINDS[name]
        pending.setdefault(name, set()).update(session.execute(
            select(kind.key).where(kind.key > after)).scalars())
    start = None
    if pending:
        # The chain's lock first: the log's next position, read with the rows, stays ours.
        chain.head(session)
        for name, keys in pending.items():
            start = _leaves_of(session, KINDS[name], keys, leaves, start)
    return write_seals(session, leaves, start=start)


_NEXT = "citypoints_next_position"  # the log's next position, read with the rows to seal


def _leaves_of(session: Session, kind: Kind, keys: Iterable[Any],
               out: list[tuple[str, str, str]], start: int | None) -> int | None:
    """Append the leaves of these rows to `out`; return the log's next position if a row
    read told it (else `start`)."""
    ordered = sorted(keys)
    conn = session.connection()  # Core, one statement built once: a commit pays per row
    name = kind.key.name
    for i in range(0, len(ordered), CHUNK):
        chunk = ordered[i:i + CHUNK]
        found = {}
        for row in conn.execute(_ROWS[kind.name], {"keys": chunk}).mappings():
            start = row[_NEXT]
            found[row[name]] = {k: v for k, v in row.items() if k != _NEXT}
        for key in chunk:
            out.append((kind.name, kind.fact_key(key), row_leaf(kind, found.get(key), key).hex()))
    return start


_NEXT_POSITION = select(func.coalesce(func.max(FactSeal.position) + 1, 0))
_INSERT_SEALS = insert(FactSeal.__table__)
_ROWS = {k.name: select(k.table, _NEXT_POSITION.scalar_subquery().label(_NEXT))
         .where(k.key.in_(bindparam("keys", expanding=True))) for k in KINDS.values()}


def write_seals(session: Session, leaves: Sequence[Any], *, actor: str = "system",
                start: int | None = None) -> int:
    """Append `leaves` ((kind, fact_key, leaf hex) or LeafRun) to the Merkle log and bind
    them into the chain with one event (`start`: the log's next position, when the caller
    read it under the chain's lock)."""
    count = sum(len(item) if isinstance(item, LeafRun) else 1 for item in leaves)
    if not count:
        return 0
    from app.services.audit import chain

    chain.head(session)  # the chain's lock (once per transaction): positions follow its order
    if start is None:
        start = session.connection().execute(_NEXT_POSITION).scalar()
    root = merkle.root_of(_leaf_hashes(leaves))
    event = chain.Event(actor=actor, action=SEALED_ACTION,
                        details={"from": start, "count": count, "root": root.hex()})
    conn = session.connection()
    if conn.dialect.name == "postgresql" and count <= CHUNK and \
            not any(isinstance(item, LeafRun) for item in leaves):
        _insert_with_event(session, start, leaves, chain.event_rows(session, [event])[0])
        return count
    _insert(session, start, _flat(leaves), count)
    chain.append_many(session, [event])  # Core: no ORM object, no flush
    return count


def _insert_with_event(session: Session, start: int, leaves: Sequence[tuple[str, str, str]],
                       event: dict) -> None:
    """PostgreSQL: insert a few seals and their event in one statement (one round trip)."""
    from app.services.audit import chain

    values = ", ".join(f"(%(p{n})s, %(k{n})s, %(f{n})s, %(l{n})s)" for n in range(len(leaves)))
    params: dict[str, Any] = dict(event)
    for n, (kind, key, leaf) in enumerate(leaves):
        params.update({f"p{n}": start + n, f"k{n}": kind, f"f{n}": key, f"l{n}": leaf})
    session.connection().exec_driver_sql(
        f"WITH seals AS (INSERT INTO fact_seal (position, kind, fact_key, leaf_hash) "
        f"VALUES {values}) INSERT INTO audit_event (at, actor, action, subject_id, target, "
        "details, prev_hash, hash) VALUES (%(at)s, %(actor)s, %(action)s, %(subject_id)s, "
        "%(target)s, %(details)s, %(prev_hash)s, %(hash)s)", params)
    chain.moved(session, event["hash"])


def _insert(session: Session, start: int, leaves: Iterator[tuple[str, str, str]],
            count: int) -> None:
    conn = session.connection()
    if conn.dialect.name == "postgresql" and count > CHUNK:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            with cursor.copy("COPY fact_seal (position, kind, fact_key, leaf_hash) "
                             "FROM STDIN") as copy:
                buffer = io.StringIO()
                for n, (kind, key, leaf) in enumerate(leaves, start):
                    buffer.write(f"{n}\t{kind}\t{key}\t{leaf}\n")
                    if n % 10_000 == 0:  # in pieces: a million seals are 100 MB of text
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
        finally:
            cursor.close()
        return
    if conn.dialect.name == "sqlite" and count > CHUNK:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.executemany(
                "INSERT INTO fact_seal (position, kind, fact_key, leaf_hash) VALUES (?,?,?,?)",
                ((n, *leaf) for n, leaf in enumerate(leaves, start)))
        finally:
            cursor.close()
        return
    conn.execute(_INSERT_SEALS, [  # Core: a few rows, no ORM bookkeeping
        {"position": n, "kind": kind, "fact_key": key, "leaf_hash": leaf}
        for n, (kind, key, leaf) in enumerate(leaves, start)])


def seal_everything(session: Session, *, actor: str = "migration", batch: int = 100_000) -> int:
    """Seal every row of every sealed table (facts stored before sealing existed), with
    one audit event per `batch` seals."""
    leaves: list[tuple[str, str, str]] = []
    sealed = 0
    for kind in KINDS.values():
        rows = session.execute(select(kind.table).order_by(kind.key),
                               execution_options={"yield_per": 10_000})
        for fact_key, leaf in leaves_of_rows(kind, rows):
            leaves.append((kind.name, fact_key, leaf.hex()))
            if len(leaves) >= batch:
                sealed += write_seals(session, leaves, actor=actor)
                leaves = []
    return sealed + write_seals(session, leaves, actor=actor)
