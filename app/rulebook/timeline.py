"""The rulebook in force on each day: every rulebook put in force with its first day.

A rulebook put in force on day P (city time) is in force from its first day, P or the later
day its `scheme.yaml` names in `in_force_from`, until the first day of the next one. Of two
put in force with the same first day, the one put in force later wins that day. Before the
first rulebook's first day nothing else is known, so the first rulebook answers.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.rulebook.model import Rulebook


def first_day(rulebook: Rulebook, *, put_in_force_on: date) -> date:
    """Return the first day `rulebook` is in force when put in force on `put_in_force_on`."""
    later = rulebook.scheme.in_force_from
    return later if later is not None and later > put_in_force_on else put_in_force_on


@dataclass(frozen=True)
class InForce:
    """One rulebook with the first day it is in force."""

    first_day: date
    rulebook: Rulebook

    @property
    def fingerprint(self) -> str:
        return self.rulebook.fingerprint


class RulebookTimeline:
    """(first_day, rulebook) pairs, earliest first; at least one."""

    def __init__(self, entries: Iterable[InForce]) -> None:
        by_day: dict[date, InForce] = {}
        for entry in entries:  # in the order they were put in force: the later wins a day
            by_day[entry.first_day] = entry
        if not by_day:
            raise ValueError("a rulebook timeline needs at least one rulebook")
        self.entries: tuple[InForce, ...] = tuple(by_day[d] for d in sorted(by_day))
        self._days = [e.first_day for e in self.entries]

    @classmethod
    def always(cls, rulebook: Rulebook, since: date = date.min) -> RulebookTimeline:
        """Return the timeline of one rulebook in force on every day."""
        return cls([InForce(since, rulebook)])

    def index_on(self, day: date) -> int:
        """Return the index of the entry in force on `day`."""
        return max(bisect_right(self._days, day) - 1, 0)

    def entry_on(self, day: date) -> InForce:
        """Return the rulebook in force on `day` with its first day."""
        return self.entries[self.index_on(day)]

    def on(self, day: date) -> Rulebook:
        """Return the rulebook in force on `day`."""
        return self.entry_on(day).rulebook

    def before(self, entry: InForce) -> InForce | None:
        """Return the entry in force just before `entry`'s first day, or None."""
        index = self.entries.index(entry)
        return self.entries[index - 1] if index > 0 else None

    def after(self, day: date) -> tuple[InForce, ...]:
        """Return the entries whose first day is later than `day` (scheduled on `day`)."""
        return self.entries[bisect_right(self._days, day):]

    def eras(self, start: date, end: date) -> list[tuple[date, date, Rulebook]]:
        """Return [(from, until), rulebook] pieces covering [start, end), `until` exclusive."""
        pieces = []
        day = start
        while day < end:
            index = self.index_on(day)
            following = self.entries[index + 1].first_day if index + 1 < len(self.entries) \
                else end
            until = min(following, end)  # the next first day is later than `day`
            pieces.append((day, until, self.entries[index].rulebook))
            day = until
        return pieces

    def with_entry(self, entry: InForce) -> RulebookTimeline:
        """Return this timeline with `entry` put in force last."""
        return RulebookTimeline((*self.entries, entry))
