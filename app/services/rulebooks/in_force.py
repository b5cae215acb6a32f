"""The rulebook in force on each day, from the rulebooks put in force (the history's events).

Every "in-force" event puts its rulebook in force from its first day: the city's day of the
event, or the later `in_force_from` of its scheme. A scheduled rulebook (first day after
today) that is cancelled before its first day leaves the timeline. A caller's rulebook that
was never put in force (a candidate, a test's) is in force on every day.
"""

from __future__ import annotations

import json
import threading
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app import clock
from app.models import RulebookEvent, RulebookVersion
from app.rulebook import InForce, Rulebook, RulebookTimeline, first_day, load_rulebook_from_texts

IN_FORCE, CANCELLED = "in-force", "cancelled"
_LOADED: dict[str, Rulebook] = {}  # by fingerprint: a fingerprint names one meaning for good
_LOADED_LOCK = threading.Lock()
_KEEP = 32


def _load(session: Session, fingerprint: str) -> Rulebook | None:
    with _LOADED_LOCK:
        found = _LOADED.get(fingerprint)
    if found is not None:
        return found
    files = session.execute(select(RulebookVersion.files_json)
                            .where(RulebookVersion.fingerprint == fingerprint)).scalar()
    if files is None:
        return None
    rulebook = load_rulebook_from_texts(json.loads(files))
    with _LOADED_LOCK:
        if len(_LOADED) >= _KEEP:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[fingerprint] = rulebook
    return rulebook


def remember(rulebook: Rulebook) -> None:
    """Keep `rulebook` loaded (the registry has it in hand; no need to parse its files)."""
    with _LOADED_LOCK:
        _LOADED.setdefault(rulebook.fingerprint, rulebook)


def put_in_force_entries(session: Session) -> list[tuple[RulebookEvent, InForce]]:
    """Return every rulebook put in force and not cancelled, with its first day, oldest first."""
    events = session.execute(
        select(RulebookEvent).where(RulebookEvent.action.in_((IN_FORCE, CANCELLED)))
        .order_by(RulebookEvent.id)).scalars().all()
    cancelled = set()
    for event in events:
        if event.action == CANCELLED:
            cancelled.add(json.loads(event.details or "{}").get("event"))
    found = []
    for event in events:
        if event.action != IN_FORCE or event.id in cancelled or not event.fingerprint:
            continue
        rulebook = _load(session, event.fingerprint)
        if rulebook is not None:
            day = first_day(rulebook, put_in_force_on=clock.day_of(event.at))
            found.append((event, InForce(day, rulebook)))
    return found


def rulebook_timeline(session: Session, rulebook: Rulebook) -> RulebookTimeline:
    """Return the rulebooks in force day by day, if `rulebook` is one put in force; else
    `rulebook` alone, on every day."""
    entries = [entry for _, entry in put_in_force_entries(session)]
    if not any(e.fingerprint == rulebook.fingerprint for e in entries):
        return RulebookTimeline.always(rulebook)
    return RulebookTimeline(entries)


def in_force_on(session: Session, rulebook: Rulebook, day: date) -> InForce:
    """Return the rulebook in force on `day` (see `rulebook_timeline`) with its first day."""
    return rulebook_timeline(session, rulebook).entry_on(day)
