"""Checking the facts against their seals, streaming and in bounded memory.

Two walks. While the chain is walked (`SealWalk`), each "facts.sealed" event is matched
with the run of seals it wrote: the positions must follow on from the log's size, and
their Merkle root must be the event's; the log's root is checked at the size of every
published digest. Then (`check_rows`) each sealed table is read once in key order,
merged with the latest seal of each fact (the seal log read once in the same order), and
every row's leaf is recomputed: a row without a seal was inserted behind the app's back,
a seal without a row names a deleted fact, a different hash an edited one. On PostgreSQL
that comparison is made in the database (`leaves.pg_check_sql`), and only the first fact
that does not hold is read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from app.services.audit import merkle
from app.services.audit.leaves import pg_first_mismatch, pg_leaf_of, stored_leaves, tuples
from app.services.audit.seals import KINDS, SEALED_ACTION, Kind, row_leaf

SLICE = 10_000  # seals of one event hashed at a time


@dataclass(frozen=True)
class Break:
    """The first fact that does not hold: where (`kind`, `key`, or an event) and why."""

    reason: str
    kind: str | None = None
    key: str | None = None
    event_id: int | None = None

    def where(self) -> str:
        if self.kind is not None:
            return f"{self.kind} {self.key}"
        return f"audit event {self.event_id}"


class SealWalk:
    """Follow the chain's sealing events through the seal log, in position order."""

    def __init__(self, session: Session, *, published: dict[int, tuple[str, str]]) -> None:
        self._rows = iter(tuples(session, "SELECT position, leaf_hash FROM fact_seal "
                                          "ORDER BY position"))
        self.log = merkle.Frontier()
        self._published = published  # log size -> (day, root hex)
        # The log's root is needed at the sizes published only: past the last of them the
        # walk counts seals and hashes each event's run, not the whole log again.
        self._last_published = max(published, default=0)
        self._ahead = sorted(size for size in published if size > 0)  # sizes still to reach
        self._next = 0  # index in _ahead of the next size the log has not reached
        self.size = 0

    def event(self, event: Any) -> Break | None:
        """Check the seals one chain event says it wrote."""
        if event.action != SEALED_ACTION:
            return None
        details = json.loads(event.details)
        start, count = int(details["from"]), int(details["count"])
        if start != self.size:
            return Break(f"its seals start at position {start}, but the log had "
                         f"{self.size} seals (a seal was removed or added)",
                         event_id=event.id)
        run, remaining = merkle.Frontier(), count
        while remaining:  # in slices: a run can be an import of millions of seals
            rows = list(islice(self._rows, min(remaining, SLICE)))
            intact = 0  # the rows that are where they belong
            while intact < len(rows) and rows[intact][0] == self.size + intact:
                intact += 1
            leaves = [bytes.fromhex(leaf) for _position, leaf in rows[:intact]]
            run.extend(leaves)
            found = self._grow_log(leaves)
            if found:
                return Break(found, event_id=event.id)
            if intact < min(remaining, SLICE):
                return Break(f"the seal at position {self.size} is missing from the "
                             "log (deleted)", event_id=event.id)
            remaining -= intact
        if run.root().hex() != details["root"]:
            return Break("the seals it wrote were changed after they were written",
                         event_id=event.id)
        return None

    def _grow_log(self, leaves: list[bytes]) -> str | None:
        """Add `leaves` to the log, checking its root at each size published."""
        at = 0
        while at < len(leaves) and self.size < self._last_published:
            while self._ahead[self._next] <= self.size:
                self._next += 1
            target = self._ahead[self._next]
            take = min(len(leaves) - at, target - self.size)
            self.log.extend(leaves[at:at + take])
            self.size += take
            at += take
            if self.size == target:
                found = self._published_mismatch()
                if found:
                    return found
        self.size += len(leaves) - at  # past the last digest: only the count matters
        return None

    def _published_mismatch(self) -> str | None:
        published = self._published.get(self.log.size)
        if published is not None and published[1] != self.log.root().hex():
            return (f"the log of {self.log.size} seals differs from the digest published on "
                    f"{published[0]}: sealed history was rewritten after publication")
        return None

    def finish(self) -> Break | None:
        """After the last event: no seal may be left that no event wrote."""
        row = next(self._rows, None)
        if row is not None:
            return Break(f"the seal at position {row[0]} was written without a "
                         "sealing event in the audit chain", kind="fact_seal",
                         key=str(row[0]))
        beyond = [size for size in self._published if size > self.size]
        if beyond:
            day = self._published[min(beyond)][0]
            return Break(f"the digest published on {day} counts {min(beyond)} seals, the log "
                         f"has {self.size}: seals were removed", kind="fact_seal",
                         key=str(self.size))
        return None


def _latest_seals(session: Session, kind: Kind) -> Iterator[tuple[str, str]]:
    """Yield (fact_key, leaf hash) of the latest seal of each fact of `kind`, in key order."""
    # Python compares keys by code point; PostgreSQL must sort them the same way.
    collate = ' COLLATE "C"' if session.get_bind().dialect.name == "postgresql" else ""
    rows = tuples(session, "SELECT fact_key, leaf_hash FROM fact_seal WHERE kind = :kind "
                           f"ORDER BY fact_key{collate}, position", {"kind": kind.name})
    last: tuple[str, str] | None = None
    for key, leaf in rows:
        if last is not None and last[0] != key:
            yield last
        last = (key, leaf)
    if last is not None:
        yield last


def check_kind(session: Session, kind: Kind) -> tuple[int, Break | None]:
    """Compare every row of `kind` with its latest seal; return (rows, first break).

    On PostgreSQL the database compares them (`leaves.pg_first_mismatch`): only the count
    and the first fact that does not hold cross the wire, and that one fact is then read
    again to say what is wrong with it. Elsewhere the rows' leaves and the latest seals
    are read in key order and merged here."""
    checked = pg_first_mismatch(session, kind)
    if checked is not None:
        rows, first = checked
        return rows, None if first is None else _break_at(session, kind, first)
    seals = _latest_seals(session, kind)
    seal = next(seals, None)
    count = 0
    for key, leaf in stored_leaves(session, kind):
        count += 1
        while seal is not None and seal[0] < key:
            if not _deleted_on_purpose(kind, seal):
                return count, Break("it was sealed but is missing from its table (deleted)",
                                    kind.name, _shown(kind, seal[0]))
            seal = next(seals, None)
        if seal is None or seal[0] != key:
            return count, Break("its row has no seal (inserted behind the app's back)",
                                kind.name, _shown(kind, key))
        if leaf != seal[1]:
            return count, Break("its row differs from the one sealed (edited behind the "
                                "app's back)", kind.name, _shown(kind, key))
        seal = next(seals, None)
    while seal is not None:
        if not _deleted_on_purpose(kind, seal):
            return count, Break("it was sealed but is missing from its table (deleted)",
                                kind.name, _shown(kind, seal[0]))
        seal = next(seals, None)
    return count, None


def _break_at(session: Session, kind: Kind, fact_key: str) -> Break:
    """Return what is wrong with the fact `pg_first_mismatch` found (what the merge in
    `check_kind` says of it)."""
    leaf = pg_leaf_of(session, kind, fact_key)
    seal = session.execute(text(
        "SELECT leaf_hash FROM fact_seal WHERE kind = :kind AND fact_key = :key "
        "ORDER BY position DESC LIMIT 1"), {"kind": kind.name, "key": fact_key}).scalar()
    if leaf is None:
        return Break("it was sealed but is missing from its table (deleted)", kind.name,
                     _shown(kind, fact_key))
    if seal is None:
        return Break("its row has no seal (inserted behind the app's back)", kind.name,
                     _shown(kind, fact_key))
    return Break("its row differs from the one sealed (edited behind the app's back)",
                 kind.name, _shown(kind, fact_key))


def _deleted_on_purpose(kind: Kind, seal: tuple[str, str]) -> bool:
    """Return True when the latest seal says the row was deleted through the app."""
    key = kind.parse_key(seal[0])
    return row_leaf(kind, None, key).hex() == seal[1]


def _shown(kind: Kind, fact_key: str) -> str:
    if kind.numeric:
        try:
            return str(int(fact_key))
        except ValueError:  # a seal's fact key that is no id
            return fact_key
    return fact_key


def check_rows(session: Session) -> tuple[int, Break | None]:
    """Check every sealed table; return (rows read, first break)."""
    total = 0
    for kind in KINDS.values():
        count, found = check_kind(session, kind)
        total += count
        if found is not None:
            return total, found
    return total, None
