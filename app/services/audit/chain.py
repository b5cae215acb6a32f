"""The audit trail: append-only events, each chained to the one before by a hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlmodel import Session

from app import clock
from app.models import AuditDigest, AuditEvent, FactSeal, utcnow
from app.services.audit import merkle
from app.services.audit.facts import Break, SealWalk, check_rows
from app.services.locks import begin_write
from app.services.transaction import atomic

GENESIS = "0" * 64


def event_hash(*, prev_hash: str, at: datetime, actor: str, action: str,
               subject_id: str | None, target: str, details: str) -> str:
    """Return the hash that seals an event to the one before it."""
    payload = json.dumps(
        [prev_hash, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"), actor, action,
         subject_id or "", target, details],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


_HEAD = "citypoints.audit.head"  # session.info: (transaction, the chain's head hash)


def _current(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


def head(session: Session) -> str:
    """Take the chain's write lock and return its head hash, for the rest of the caller's
    transaction.

    The lock and the head are taken once per transaction: an event appended after them
    becomes the head (`_moved`), and as the lock is held no other writer moves it. The
    remembered head belongs to the innermost transaction it was read or written in, so a
    savepoint that ends (and may have rolled an event back) makes the next call read it
    again, as does the next transaction.
    """
    known = session.info.get(_HEAD)
    if known is not None and known[0] is _current(session):
        return known[1]
    begin_write(session, "audit")
    found = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none() or GENESIS
    _moved(session, found)
    return found


def _moved(session: Session, new_head: str) -> None:
    session.info[_HEAD] = (_current(session), new_head)


def append(session: Session, *, actor: str, action: str, subject_id: str | None = None,
           target: str = "", details: dict | None = None) -> AuditEvent:
    """Add an event to the chain inside the caller's transaction (the caller commits)."""
    prev = head(session)
    at = utcnow()
    body = json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str)
    event = AuditEvent(
        at=at, actor=actor, action=action, subject_id=subject_id, target=target, details=body,
        prev_hash=prev,
        hash=event_hash(prev_hash=prev, at=at, actor=actor, action=action,
                        subject_id=subject_id, target=target, details=body),
    )
    session.add(event)
    session.flush()
    _moved(session, event.hash)
    return event


@dataclass(frozen=True)
class Event:
    """An event to append (see append_many)."""

    actor: str
    action: str
    subject_id: str | None = None
    target: str = ""
    details: dict | None = None


def append_many(session: Session, events: list[Event]) -> None:
    """Add `events` to the chain in order, inside the caller's transaction, reading the head
    once and writing them in one statement, without ORM objects (an import's events, one
    per fact; the sealing event of a commit)."""
    if not events:
        return
    rows = event_rows(session, events)
    conn = session.connection()  # Core: no ORM bulk machinery for a commit's one event
    for i in range(0, len(rows), 5000):  # ids follow list order: the chain's order
        conn.execute(_INSERT_EVENTS, rows[i:i + 5000] if len(rows) > 1 else rows[0])
    moved(session, rows[-1]["hash"])


def event_rows(session: Session, events: list[Event]) -> list[dict]:
    """Return the audit_event rows that append `events` to the chain (under its lock); the
    caller inserts them in order, then calls `moved` with the last one's hash."""
    prev = head(session)
    at = utcnow()
    rows = []
    for event in events:
        body = json.dumps(event.details or {}, sort_keys=True, ensure_ascii=False, default=str)
        digest = event_hash(prev_hash=prev, at=at, actor=event.actor, action=event.action,
                            subject_id=event.subject_id, target=event.target, details=body)
        rows.append({"at": at, "actor": event.actor, "action": event.action,
                     "subject_id": event.subject_id, "target": event.target, "details": body,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


def moved(session: Session, new_head: str) -> None:
    """Remember `new_head`, the hash of the event just inserted, as the chain's head."""
    _moved(session, new_head)


_INSERT_EVENTS = insert(AuditEvent.__table__)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    broken_id: int | None = None
    reason: str = ""
    head_id: int = 0  # the last event checked, and its hash: where a later check can go on
    head_hash: str = GENESIS
    new_events: int | None = None  # when it went on from `after`: the events it walked
    fact_kind: str | None = None  # the first fact that does not hold (a table, or fact_seal)
    fact_key: str | None = None
    facts: int | None = None  # the rows of sealed tables checked (with `facts=True`)

    def where(self) -> str:
        """Name the first break: a fact (`record 17`) or an audit event."""
        if self.fact_kind is not None:
            return f"{self.fact_kind} {self.fact_key}"
        return f"audit event {self.broken_id}"


@dataclass(frozen=True)
class Digest:
    """A published head of the chain: on `day`, event `head_id` had hash `head_hash`, and
    the Merkle log of sealed facts had `log_size` leaves with root `log_root`."""

    day: date
    head_id: int
    head_hash: str
    log_size: int = 0
    log_root: str | None = None

    def line(self) -> str:
        head = f"{self.day.isoformat()} {self.head_id} {self.head_hash}"
        return head + (f" {self.log_size} {self.log_root}" if self.log_root else "")

    @classmethod
    def parse(cls, line: str) -> Digest:
        """Parse `YYYY-MM-DD ID HASH [SIZE ROOT]` (the published text form)."""
        parts = line.split()
        if len(parts) not in (3, 5):
            raise ValueError(line.strip())
        digest = cls(date.fromisoformat(parts[0]), int(parts[1]), parts[2])
        if len(parts) == 5:
            digest = cls(digest.day, digest.head_id, digest.head_hash, int(parts[3]), parts[4])
        return digest


@atomic
def publish_digest(session: Session, *, day: date) -> AuditDigest | None:
    """Publish the chain's head for `day` (once per day); return it, or None if no events."""
    existing = session.get(AuditDigest, day)
    if existing is not None:
        return existing
    head = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    if head is None:
        return None
    count = session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    size, root = log_head(session)
    digest = AuditDigest(day=day, head_id=head.id, head_hash=head.hash, events=count,
                         log_size=size, log_root=root)
    session.add(digest)
    session.flush()
    return digest


def digest_line(digest: AuditDigest) -> str:
    """Return a published digest as its text line (`DATE ID HASH SIZE ROOT`)."""
    return Digest(digest.day, digest.head_id, digest.head_hash, digest.log_size,
                  digest.log_root).line()


def log_head(session: Session) -> tuple[int, str]:
    """Return the size and root (hex) of the Merkle log of sealed facts, hashed streaming."""
    frontier = merkle.Frontier()
    for (leaf,) in session.execute(select(FactSeal.leaf_hash).order_by(FactSeal.position),
                                   execution_options={"yield_per": 10_000}):
        frontier.add(bytes.fromhex(leaf))
    return frontier.size, frontier.root().hex()


def published_digests(session: Session) -> list[Digest]:
    """Return every published digest, oldest first."""
    return [Digest(d.day, d.head_id, d.head_hash, d.log_size, d.log_root)
            for d in session.execute(select(AuditDigest).order_by(AuditDigest.day)).scalars()]


def verify(session: Session, *, digests: list[Digest] | None = None,
           after: VerifyResult | None = None, facts: bool = False,
           progress: Callable[[int, int, str], None] | None = None) -> VerifyResult:
    """Walk the chain in order; report the first event whose hash or link does not hold,
    or that differs from a digest published earlier (a rewritten history).

    `after`, the result of an earlier good check, lets the walk go on from the event where
    that one ended (only if that event still has its hash, and the digests published of
    earlier events still match): the events before it are not read again. Only a full
    walk (`flask audit verify`, or without `after`) finds an older event changed since.

    `facts=True` (a full walk) also checks the seal log against the chain's sealing events
    and the log's root against every digest published (in the database and in `digests`),
    then every row of every sealed table against its latest seal (see `facts`).
    """
    walk: SealWalk | None = None
    if facts:
        after = None
        published = {d.log_size: (d.day, d.log_root)
                     for d in [*published_digests(session), *(digests or [])] if d.log_root}
        walk = SealWalk(session, published=published)
    prev = GENESIS
    count = 0
    resumed = False
    expected_heads = {d.head_id: d for d in digests or []}
    query = select(AuditEvent).order_by(AuditEvent.id)
    if after is not None and after.ok and after.head_id:
        earlier = {d.head_id: d for d in digests or [] if d.head_id <= after.head_id}
        hashes = dict(session.execute(select(AuditEvent.id, AuditEvent.hash).where(
            AuditEvent.id.in_([after.head_id, *earlier]))).all())
        if hashes.get(after.head_id) == after.head_hash and all(
                hashes.get(i) == d.head_hash for i, d in earlier.items()):
            prev, count, resumed = after.head_hash, after.events, True
            expected_heads = {i: d for i, d in expected_heads.items() if i > after.head_id}
            query = query.where(AuditEvent.id > after.head_id)
    walked_from = count
    fact_rows = 0
    head_id, head_hash = (after.head_id, after.head_hash) if resumed else (0, GENESIS)
    total = 0
    if progress is not None:  # `progress(done, total, step)` hears every 1,000 events
        total = count + session.execute(
            query.with_only_columns(func.count()).order_by(None)).scalar_one()
    rows = session.execute(query, execution_options={"yield_per": 10_000}).scalars()
    seen_heads = set()
    for event in rows:
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count, total, "events checked")
        published = expected_heads.get(event.id)
        if published is not None:
            seen_heads.add(event.id)
            if published.head_hash != event.hash:
                return VerifyResult(False, count, event.id,
                                    f"it differs from the digest published on {published.day}: "
                                    "history was rewritten after publication")
        if event.prev_hash != prev:
            return VerifyResult(False, count, event.id,
                                "its link to the event before does not match (an event was "
                                "removed or reordered)")
        expected = event_hash(prev_hash=event.prev_hash, at=event.at, actor=event.actor,
                              action=event.action, subject_id=event.subject_id,
                              target=event.target, details=event.details)
        if expected != event.hash:
            return VerifyResult(False, count, event.id,
                                "its content was changed after it was written")
        if walk is not None:
            found = walk.event(event)
            if found is not None:
                return _broken(count, found)
        prev = event.hash
        head_id, head_hash = event.id, event.hash
    if walk is not None:
        found = walk.finish()
        if found is None:
            fact_rows, found = check_rows(session)
        if found is not None:
            return _broken(count, found)
    missing = sorted(set(expected_heads) - seen_heads)
    if missing:
        digest = expected_heads[missing[0]]
        return VerifyResult(False, count, digest.head_id,
                            f"the event published on {digest.day} is missing from the trail")
    return VerifyResult(True, count, head_id=head_id, head_hash=head_hash,
                        new_events=count - walked_from if resumed else None,
                        facts=fact_rows if facts else None)


def _broken(count: int, found: Break) -> VerifyResult:
    return VerifyResult(False, count, found.event_id, found.reason, fact_kind=found.kind,
                        fact_key=found.key)


MAX_SEARCH = 500  # the most events one search returns
MAX_MENU = 500  # the most choices a filter menu offers


def filter_choices(session: Session) -> dict[str, list[str]]:
    """Return what the search's menus offer: every action written so far and every actor
    (the accounts, and the system's own names), each sorted."""
    from app.models import Account

    actions = session.execute(select(AuditEvent.action).group_by(AuditEvent.action)
                              .order_by(AuditEvent.action).limit(MAX_MENU)).scalars().all()
    actors = set(session.execute(select(Account.username).limit(MAX_MENU)).scalars())
    actors.update(("system", "migration"))
    return {"action": list(actions), "actor": sorted(actors)}


def details_of(event: AuditEvent) -> list[tuple[str, str]]:
    """Return an event's details as (name, value) pairs to show, in the stored order."""
    try:
        details = json.loads(event.details)
    except ValueError:
        return [("", event.details)]
    if not isinstance(details, dict):
        return [("", json.dumps(details, ensure_ascii=False))]
    return [(str(name), value if isinstance(value, str) else
             json.dumps(value, ensure_ascii=False, indent=1, default=str))
            for name, value in details.items()]


def search(session: Session, *, actor: str | None = None, action: str | None = None,
           subject_id: str | None = None, since: date | None = None,
           until: date | None = None, limit: int = 50, offset: int = 0) -> list[AuditEvent]:
    """Return the events that match every filter given, newest first.

    `actor`, `action` and `subject_id` match exactly; `since` and `until` are city days,
    both included. `limit` is capped at MAX_SEARCH; a negative `offset` counts as 0.
    """
    query = select(AuditEvent)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if subject_id:
        query = query.where(AuditEvent.subject_id == subject_id)
    if since is not None:
        query = query.where(AuditEvent.at >= clock.day_start(since))
    if until is not None and until < date.max - timedelta(days=1):  # date.max: no upper bound
        query = query.where(AuditEvent.at < clock.day_start(until + timedelta(days=1)))
    limit = max(1, min(int(limit), MAX_SEARCH))
    offset = max(0, int(offset))
    query = query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    return list(session.execute(query).scalars())
