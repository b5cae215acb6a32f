"""Fix a new record's points when it is recorded: repeat escalation, then the period cap."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

from app.rulebook.model import Cap, Duration, Rule
from app.standing.model import FixedPoints, PriorRecord


def fix_points(*, rule: Rule, occurred_on: date, prior: Iterable[PriorRecord]) -> FixedPoints:
    """Return the points a new record of `rule` gets, given the subject's stored records of it."""
    prior = tuple(prior)
    base = rule.points
    points = base
    factor = 1
    notes: list[str] = []

    if rule.repeat is not None:
        window_start = _before(rule.repeat.within, occurred_on)
        if any(window_start <= p.occurred_on <= occurred_on for p in prior):
            factor = rule.repeat.factor
            points = base * factor
            notes.append(f"repeat within {rule.repeat.within}: {factor} × {base} = {points}")

    if rule.cap is not None and points != 0:
        first, last = _period_of(rule.cap, occurred_on)
        used = sum(abs(p.points) for p in prior if first <= p.occurred_on <= last)
        room = max(0, rule.cap.points - used)
        if abs(points) > room:
            capped = room if points > 0 else -room
            notes.append(
                f"capped: {used} of {rule.cap.points} points for "
                f"{period_label(rule.cap, occurred_on)} already used; "
                f"-> {capped} instead of {points}"
            )
            points = capped

    return FixedPoints(points=points, base_points=base, factor=factor, note="; ".join(notes))


# Date arithmetic (dateutil's relativedelta, about 30 us a call) for the few hundred days an
# import of a million rows names: computed once per (duration or cap, day).
@lru_cache(maxsize=65536)
def _before(duration: Duration, day: date) -> date:
    return duration.before(day)


@lru_cache(maxsize=65536)
def _period_of(cap: Cap, day: date) -> tuple[date, date]:
    return cap.period_of(day)


def period_label(cap: Cap, day: date) -> str:
    """Name the calendar period of `cap` that holds `day`: "2026" or "2026-03"."""
    if cap.per == "year":
        return f"{day.year:04d}"
    return f"{day.year:04d}-{day.month:02d}"
