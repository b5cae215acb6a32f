"""The audit trail: append-only events, each chained to the one before by a hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlmodel import Session

from app.models import AuditEvent, utcnow
from app.services.locks import begin_write

GENESIS = "0" * 64


def event_hash(*, prev_hash: str, at: datetime, actor: str, action: str,
               subject_id: str | None, target: str, details: str) -> str:
    """Return the hash that seals an event to the one before it."""
    payload = json.dumps(
        [prev_hash, at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f"), actor, action, subject_id or "",
         target, details],
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


def verify(session: Session) -> VerifyResult:
    """Walk the chain in order; report the first event whose hash or link does not hold."""
    prev = GENESIS
    count = 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    for event in rows:
        count += 1
        if event.prev_hash != prev:
            return VerifyResult(False, count, event.id,
                                "its link to the event before does not match (an event was "
                                "removed or reordered)")
        expected = event_hash(prev_hash=event.prev_hash, at=event.at, actor=event.actor,
                              action=event.action, subject_id=event.subject_id,
                              target=event.target, details=event.details)
        if expected != event.hash:
            return VerifyResult(False, count, event.id, "its content was changed after it was written")
        prev = event.hash
    return VerifyResult(True, count)
