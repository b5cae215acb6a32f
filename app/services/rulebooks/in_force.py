"""The rulebook in force on each day, from the rulebooks put in force (the history's events).

Every "in-force" event puts its rulebook in force from its first day: the city's day of the
event, or the later `in_force_from` of its scheme. A scheduled rulebook (first day after
today) that is cancelled before its first day leaves the timeline. A caller's rulebook that
was never put in force (a candidate, a test's) is in force on every day.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app import clock
from app.errors import InvalidInput, NotFound
from app.models import RulebookEvent, RulebookVersion
from app.rulebook import (
    InForce,
    Problem,
    Rulebook,
    RulebookTimeline,
    first_day,
    load_rulebook_from_texts,
)
from app.services.transaction import atomic

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
    return _in_force_of(session, events)


def _in_force_of(session: Session, events: Sequence) -> list[tuple[Any, InForce]]:
    """Return each event of `events` (in-force and cancellation events, oldest first: ORM
    objects or rows with id, action, fingerprint, at and details) that put a rulebook in
    force and was not cancelled, with that rulebook and its first day."""
    cancelled = {json.loads(e.details or "{}").get("event") for e in events
                 if e.action == CANCELLED}
    found = []
    for event in events:
        if event.action != IN_FORCE or event.id in cancelled or not event.fingerprint:
            continue
        rulebook = _load(session, event.fingerprint)
        if rulebook is not None:
            day = first_day(rulebook, put_in_force_on=clock.day_of(event.at))
            found.append((event, InForce(day, rulebook)))
    return found


TIMELINE_MEMO = "citypoints.timeline"  # session.info: timelines read once (facts_read_once)


def rulebook_timeline(session: Session, rulebook: Rulebook) -> RulebookTimeline:
    """Return the rulebooks in force day by day, if `rulebook` is one put in force (or one
    put in force and then cancelled); else `rulebook` alone, on every day. The entries of
    `rulebook`'s fingerprint answer with `rulebook` itself (the caller's copy of that
    meaning). Within a read-once block (standings.facts.facts_read_once) the events are read
    once for all the calls."""
    memo = session.info.get(TIMELINE_MEMO)
    if memo is None:
        return _timeline(session, rulebook)
    key = (rulebook.fingerprint, id(rulebook))
    if key not in memo:
        memo[key] = _timeline(session, rulebook)
    return memo[key]


# The timelines this process has built, by what they depend on: the database, the city's
# time zone (an event's first day is its city day), the caller's rulebook (its entries
# answer with that very object, kept here so its id is not reused) and every in-force and
# cancellation event (their ids, times and fingerprints: events are only ever added, and
# the time tells apart an event rolled back and another given the same id). A measure
# check or a standing reads those few rows, in one statement as before, but neither loads
# them as objects nor works out the timeline again; a rulebook put in force or cancelled,
# in this or any process, is a new key at the next call.
_TIMELINES: dict[tuple, tuple[Rulebook, RulebookTimeline]] = {}
_TIMELINES_LOCK = threading.Lock()
_EVENTS = (select(RulebookEvent.id, RulebookEvent.action, RulebookEvent.fingerprint,
                  RulebookEvent.at, RulebookEvent.details)
           .where(RulebookEvent.action.in_((IN_FORCE, CANCELLED))).order_by(RulebookEvent.id))


def _timeline(session: Session, rulebook: Rulebook) -> RulebookTimeline:
    rows = session.execute(_EVENTS).all()
    if not rows:  # nothing was ever put in force: the caller's rulebook, every day
        return RulebookTimeline.always(rulebook)
    key = (str(session.get_bind().url), str(clock.city_zone()), rulebook.fingerprint,
           id(rulebook), tuple((r.id, r.action, r.fingerprint, r.at) for r in rows))
    with _TIMELINES_LOCK:
        found = _TIMELINES.get(key)
    if found is not None and found[0] is rulebook:
        return found[1]
    timeline = _timeline_of(session, rulebook, rows)
    with _TIMELINES_LOCK:
        if len(_TIMELINES) >= _KEEP:
            _TIMELINES.pop(next(iter(_TIMELINES)))
        _TIMELINES[key] = (rulebook, timeline)
    return timeline


def _timeline_of(session: Session, rulebook: Rulebook, rows: list) -> RulebookTimeline:
    """The timeline from the in-force and cancellation events `rows` (as put_in_force_entries
    and was_cancelled read them)."""
    entries = [entry for _, entry in _in_force_of(session, rows)]
    if not any(e.fingerprint == rulebook.fingerprint for e in entries):
        if entries and _was_cancelled(rows, rulebook.fingerprint):
            return RulebookTimeline(entries)
        return RulebookTimeline.always(rulebook)
    return RulebookTimeline(InForce(e.first_day, rulebook)
                            if e.fingerprint == rulebook.fingerprint else e for e in entries)


def _was_cancelled(rows: list, fingerprint: str) -> bool:
    """was_cancelled, from the events already read."""
    latest = max((r.id for r in rows if r.action == IN_FORCE and r.fingerprint == fingerprint),
                 default=None)
    if latest is None:
        return False
    details = [r.details for r in rows if r.action == CANCELLED and r.fingerprint == fingerprint]
    return bool(details) and json.loads(details[-1] or "{}").get("event") == latest


def was_cancelled(session: Session, fingerprint: str) -> bool:
    """Return True if the latest time `fingerprint` was put in force was cancelled."""
    latest = session.execute(
        select(RulebookEvent.id).where(RulebookEvent.action == IN_FORCE,
                                       RulebookEvent.fingerprint == fingerprint)
        .order_by(RulebookEvent.id.desc()).limit(1)).scalar()
    if latest is None:
        return False
    details = session.execute(
        select(RulebookEvent.details).where(RulebookEvent.action == CANCELLED,
                                            RulebookEvent.fingerprint == fingerprint)
        .order_by(RulebookEvent.id.desc()).limit(1)).scalar()
    return details is not None and json.loads(details or "{}").get("event") == latest


def in_force_on(session: Session, rulebook: Rulebook, day: date) -> InForce:
    """Return the rulebook in force on `day` (see `rulebook_timeline`) with its first day."""
    return rulebook_timeline(session, rulebook).entry_on(day)


def scheduled(session: Session, *, today: date) -> list[tuple[RulebookEvent, InForce]]:
    """Return the rulebooks put in force whose first day is later than `today`, by first day."""
    found = [(event, entry) for event, entry in put_in_force_entries(session)
             if entry.first_day > today]
    return sorted(found, key=lambda pair: (pair[1].first_day, pair[0].id))


def scheduling_problems(session: Session, rulebook: Rulebook, *, today: date) -> list[Problem]:
    """Return why `rulebook` cannot be put in force today: an `in_force_from` in the past, or
    another rulebook already scheduled for the same first day. A rulebook already put in force
    (and not cancelled) has nothing to answer for: reloading it changes nothing."""
    day = rulebook.scheme.in_force_from
    if day is None:
        return []
    entries = put_in_force_entries(session)
    if any(entry.fingerprint == rulebook.fingerprint for _, entry in entries):
        return []
    where = rulebook.scheme.in_force_from_source or rulebook.scheme.source
    file, line = (where.file, where.line) if where is not None else ("scheme.yaml", 0)
    if day < today:
        return [Problem(file, line, f"in_force_from {day.isoformat()} is in the past (today is "
                                    f"{today.isoformat()} in the city): a rulebook takes effect "
                                    "today at the earliest; name a later day or remove the key")]
    clash = [entry for _, entry in entries if entry.first_day == day and day > today]
    if clash:
        return [Problem(file, line, f"rulebook {clash[0].fingerprint[:12]} is already scheduled "
                                    f"for {day.isoformat()}; cancel it first (flask --app app "
                                    f"rules cancel {clash[0].fingerprint[:12]}) or name "
                                    "another day")]
    return []


def cancel_scheduled(session: Session, *, fingerprint: str, actor: str,
                     today: date) -> RulebookEvent:
    """Cancel the scheduled rulebook whose fingerprint starts with `fingerprint`, before its
    first day (the caller's transaction; audited), and tell the subjects who were told of it.
    Return the cancelled in-force event."""
    from app.services.audit import chain as audit
    from app.services.locks import begin_write
    from app.services.rulebooks.announce import notify_cancelled
    from app.services.rulebooks.history import record_event

    begin_write(session, "notices")  # first: before the transaction reads anything
    prefix = fingerprint.strip().lower()
    if len(prefix) < 6:
        raise InvalidInput("name the scheduled rulebook by at least 6 characters of its "
                           "fingerprint")
    matches = [(event, entry) for event, entry in scheduled(session, today=today)
               if entry.fingerprint.startswith(prefix)]
    if not matches:
        raise NotFound(f"no rulebook {prefix} is scheduled after {today.isoformat()}: a "
                       "rulebook in force already (or cancelled) cannot be cancelled")
    if len(matches) > 1:
        raise InvalidInput(f"{prefix} names {len(matches)} scheduled rulebooks; give more of "
                           "the fingerprint")
    event, entry = matches[0]
    record_event(session, action=CANCELLED, actor=actor, fingerprint=entry.fingerprint,
                 details={"event": event.id, "in_force_from": entry.first_day.isoformat()})
    told = notify_cancelled(session, event_id=event.id, fingerprint=entry.fingerprint,
                            day=entry.first_day, today=today)
    audit.append(session, actor=actor, action="rulebook.cancel", target="rulebook",
                 details={"fingerprint": entry.fingerprint,
                          "in_force_from": entry.first_day.isoformat(), "notified": told})
    return event


@atomic
def cancel(session: Session, *, fingerprint: str, actor: str, today: date) -> RulebookEvent:
    """Cancel a scheduled rulebook before its first day, in a transaction of its own (the
    rule author's button; see `cancel_scheduled`)."""
    return cancel_scheduled(session, fingerprint=fingerprint, actor=actor, today=today)


def coming_rulebooks(session: Session, rulebook: Rulebook, *, today: date) -> list[dict]:
    """Return the scheduled rulebooks as the public sees them: fingerprint, first day, and
    what each changes in meaning against the rulebook in force the day before (in English,
    and as data: app.rulebook.diff.Change)."""
    from app.rulebook.change_words import english
    from app.rulebook.diff import rulebook_changes

    timeline = rulebook_timeline(session, rulebook)
    coming = []
    for _event, entry in scheduled(session, today=today):
        before = timeline.before(entry) if entry in timeline.entries else None
        changes = rulebook_changes(before.rulebook, entry.rulebook) if before is not None else ()
        # "changes" in English (the API's and the authors' words); "change_data" as codes and
        # values, for a page to word in its reader's language.
        coming.append({"fingerprint": entry.fingerprint, "in_force_from": entry.first_day,
                       "changes": [english(c) for c in changes],
                       "change_data": [c.to_json() for c in changes]})
    return coming
