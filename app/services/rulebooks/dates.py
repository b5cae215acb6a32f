"""The days a recompute or a simulation may be run for: from the scheme's earliest rule to
a year after today, unless asked for deliberately (a far date rewrites every standing, or
cannot be computed at all)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from app.errors import InvalidInput
from app.rulebook import Duration, Rulebook

AHEAD = Duration(1, "y")  # the latest day: a year after today
NO_START = Duration(100, "y")  # the earliest day when no rule says when it starts


def earliest_day(rulebooks: Iterable[Rulebook], *, today: date) -> date:
    """Return the day the earliest rule of any of `rulebooks` starts (a hundred years before
    today if none says)."""
    starts = [rule.effective.start for rulebook in rulebooks for code in rulebook.rule_codes
              for rule in rulebook.versions(code) if rule.effective.start is not None]
    return min(starts) if starts else NO_START.before(today)


def check_run_day(day: date, *, rulebooks: Iterable[Rulebook], today: date,
                  allow_far: bool = False) -> None:
    """Refuse `day` (InvalidInput) if it is before the rules' earliest day or more than a
    year after `today`, unless `allow_far`."""
    if allow_far:
        return
    earliest, latest = earliest_day(rulebooks, today=today), AHEAD.after(today)
    if day < earliest:
        raise InvalidInput(f"{day} is before the scheme's earliest rule ({earliest}): no "
                           "standing is kept for that day; ask for it deliberately on the "
                           "command line with --allow-far-date")
    if day > latest:
        raise InvalidInput(f"{day} is more than a year after today ({today}); ask for it "
                           "deliberately on the command line with --allow-far-date")
