"""The audit trail: append-only events, each chained to the one before by a hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from app import clock
from app.models import AuditDigest, AuditEvent, utcnow
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


def append(session: Session, *, actor: str, action: str, subject_id: str | None = None,
           target: str = "", details: dict | None = None) -> AuditEvent:
    """Add an event to the chain inside the caller's transaction (the caller commits)."""
    begin_write(session, "audit")
    head = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none() or GENESIS
    at = utcnow()
    body = json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str)
    event = AuditEvent(
        at=at, actor=actor, action=action, subject_id=subject_id, target=target, details=body,
        prev_hash=head,
        hash=event_hash(prev_hash=head, at=at, actor=actor, action=action,
                        subject_id=subject_id, target=target, details=body),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    broken_id: int | None = None
    reason: str = ""
    head_id: int = 0  # the last event checked, and its hash: where a later check can go on
    head_hash: str = GENESIS
    new_events: int | None = None  # when it went on from `after`: the events it walked


@dataclass(frozen=True)
class Digest:
    """A published head of the chain: on `day`, event `head_id` had hash `head_hash`."""

    day: date
    head_id: int
    head_hash: str

    def line(self) -> str:
        return f"{self.day.isoformat()} {self.head_id} {self.head_hash}"

    @classmethod
    def parse(cls, line: str) -> Digest:
        """Parse `YYYY-MM-DD ID HASH` (the published text form)."""
        day, head_id, head_hash = line.split()
        return cls(date.fromisoformat(day), int(head_id), head_hash)


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
    digest = AuditDigest(day=day, head_id=head.id, head_hash=head.hash, events=count)
    session.add(digest)
    session.flush()
    return digest


def published_digests(session: Session) -> list[Digest]:
    """Return every published digest, oldest first."""
    return [Digest(d.day, d.head_id, d.head_hash) for d in session.execute(
        select(AuditDigest).order_by(AuditDigest.day)).scalars()]


def verify(session: Session, *, digests: list[Digest] | None = None,
           after: VerifyResult | None = None,
           progress: Callable[[int, int, str], None] | None = None) -> VerifyResult:
    """Walk the chain in order; report the first event whose hash or link does not hold,
    or that differs from a digest published earlier (a rewritten history).

    `after`, the result of an earlier good check, lets the walk go on from the event where
    that one ended (only if that event still has its hash, and the digests published of
    earlier events still match): the events before it are not read again. Only a full
    walk (`flask audit verify`, or without `after`) finds an older event changed since.
    """
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
    head_id, head_hash = (after.head_id, after.head_hash) if resumed else (0, GENESIS)
    total = 0
    if progress is not None:  # `progress(done, total, step)` hears every 1,000 events
        total = count + session.execute(
            query.with_only_columns(func.count()).order_by(None)).scalar_one()
    rows = session.execute(query).scalars()
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
        prev = event.hash
        head_id, head_hash = event.id, event.hash
    missing = sorted(set(expected_heads) - seen_heads)
    if missing:
        digest = expected_heads[missing[0]]
        return VerifyResult(False, count, digest.head_id,
                            f"the event published on {digest.day} is missing from the trail")
    return VerifyResult(True, count, head_id=head_id, head_hash=head_hash,
                        new_events=count - walked_from if resumed else None)


MAX_SEARCH = 500  # the most events one search returns


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
