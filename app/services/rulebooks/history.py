"""The rulebook's history: every rulebook put in force (when, by whom), every reload refused,
and a readable diff between any two stored rulebooks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session

from app.errors import InvalidInput, NotFound
from app.models import RulebookEvent, RulebookVersion
from app.rulebook import Rulebook, check_rulebook_texts
from app.rulebook.diff import RulebookDiff, diff

IN_FORCE, REFUSED, SIMULATE = "in-force", "refused", "simulate"
MIN_PREFIX = 6


@dataclass(frozen=True)
class HistoryEntry:
    """One rulebook put in force (or, before events were kept, first stored)."""

    fingerprint: str
    at: datetime
    by: str
    source: str
    kind: str  # "in force" (put in force by a reload) or "stored" (first used, no reload event)
    version_id: int | None = None  # the rulebook_version row holding its files

    def as_dict(self) -> dict:
        """Return the entry as JSON-ready values (for the API)."""
        return {"fingerprint": self.fingerprint, "at": self.at.isoformat(), "by": self.by,
                "source": self.source, "kind": self.kind}


@dataclass(frozen=True)
class Refusal:
    at: datetime
    by: str
    source: str
    fingerprint: str | None  # of the refused rulebook, when it loaded but failed its tests
    problems: tuple[str, ...]
    superseded: bool  # a rulebook was put in force after it


@dataclass
class RulebookStatus:
    """What the database says: the rulebook in force, the last refusal, recent simulations."""

    in_force: HistoryEntry | None = None
    refusal: Refusal | None = None
    simulations: list[dict] = field(default_factory=list)


def record_event(session: Session, *, action: str, actor: str, fingerprint: str | None = None,
                 source: str = "", details: dict | None = None) -> RulebookEvent:
    """Append an event to the rulebook's log (the caller commits)."""
    event = RulebookEvent(action=action, actor=(actor or "system")[:80],
                          fingerprint=fingerprint, source=(source or "")[:500],
                          details=json.dumps(details or {}, sort_keys=True, default=str,
                                             ensure_ascii=False))
    session.add(event)
    session.flush()
    return event


def latest_event(session: Session, action: str) -> RulebookEvent | None:
    """Return the newest event of `action`, or None."""
    return session.execute(
        select(RulebookEvent).where(RulebookEvent.action == action)
        .order_by(RulebookEvent.id.desc()).limit(1)
    ).scalar_one_or_none()


def rulebook_history(session: Session, *, limit: int = 200) -> list[HistoryEntry]:
    """Return every rulebook put in force, newest first, with when, by whom and from where.

    Rulebooks stored without a reload event (first used by a recompute or a recording,
    or stored before events were kept) are listed at the time they were stored.
    """
    versions = {v.fingerprint: v for v in session.execute(select(RulebookVersion)).scalars()}
    entries: list[HistoryEntry] = []
    seen: set[str] = set()
    for event in session.execute(
        select(RulebookEvent).where(RulebookEvent.action == IN_FORCE)
        .order_by(RulebookEvent.id.desc()).limit(limit)
    ).scalars():
        row = versions.get(event.fingerprint or "")
        entries.append(HistoryEntry(event.fingerprint or "", event.at, event.actor,
                                    event.source, "in force", row.id if row else None))
        seen.add(event.fingerprint or "")
    for row in versions.values():
        if row.fingerprint not in seen:
            entries.append(HistoryEntry(row.fingerprint, row.loaded_at, row.loaded_by,
                                        row.source, "stored", row.id))
    entries.sort(key=lambda e: _aware(e.at), reverse=True)
    return entries[:limit]


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; every timestamp is stored in UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def find_stored(session: Session, fingerprint: str) -> RulebookVersion:
    """Return the stored rulebook whose fingerprint is, or starts with, `fingerprint`."""
    text = (fingerprint or "").strip().lower()
    if len(text) < MIN_PREFIX or not all(c in "0123456789abcdef" for c in text):
        raise InvalidInput(f"{fingerprint!r} is not a fingerprint: give at least {MIN_PREFIX} "
                           "of its hexadecimal characters")
    rows = list(session.execute(
        select(RulebookVersion).where(RulebookVersion.fingerprint.startswith(text)).limit(2)
    ).scalars())
    if not rows:
        raise NotFound(f"no stored rulebook has the fingerprint {text}")
    if len(rows) > 1:
        raise InvalidInput(f"{text} names more than one stored rulebook: give more characters")
    return rows[0]


def stored_files(row: RulebookVersion) -> dict[str, str]:
    """Return the rule files of a stored rulebook."""
    return json.loads(row.files_json or "{}")


def load_stored(row: RulebookVersion) -> Rulebook | None:
    """Return a stored rulebook re-loaded from its files, or None if it no longer loads."""
    files = stored_files(row)
    if not files:
        return None
    result = check_rulebook_texts(files, root_label="")
    return result.rulebook if result.ok else None


def rulebook_diff(session: Session, *, old: str, new: str) -> tuple[RulebookVersion,
                                                                      RulebookVersion,
                                                                      RulebookDiff]:
    """Return the two stored rulebooks named by (prefixes of) their fingerprints and their diff."""
    a, b = find_stored(session, old), find_stored(session, new)
    return a, b, diff(stored_files(a), stored_files(b), load_stored(a), load_stored(b))


def rulebook_status(session: Session, *, simulations: int = 5) -> RulebookStatus:
    """Return the rulebook in force, the last refused reload and the latest simulations."""
    status = RulebookStatus()
    event = latest_event(session, IN_FORCE)
    if event is not None:
        status.in_force = HistoryEntry(event.fingerprint or "", event.at, event.actor,
                                       event.source, "in force")
    else:  # no reload recorded yet: the rulebook stored last
        history = rulebook_history(session, limit=1)
        status.in_force = history[0] if history else None
    refused = latest_event(session, REFUSED)
    if refused is not None:
        later = latest_event(session, IN_FORCE)
        details = json.loads(refused.details or "{}")
        status.refusal = Refusal(refused.at, refused.actor, refused.source, refused.fingerprint,
                                 tuple(details.get("problems", ())),
                                 superseded=later is not None and later.id > refused.id)
    for event in session.execute(
        select(RulebookEvent).where(RulebookEvent.action == SIMULATE)
        .order_by(RulebookEvent.id.desc()).limit(simulations)
    ).scalars():
        status.simulations.append({"at": event.at, "by": event.actor,
                                   "fingerprint": event.fingerprint, "source": event.source,
                                   **json.loads(event.details or "{}")})
    return status
