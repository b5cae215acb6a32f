"""Points over time: the history for charts, and the changes ahead ("on 2027-03-04 ...")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.rulebook.model import Rulebook
from app.standing.because import Because, english
from app.standing.evaluate import is_scored, subject_records
from app.standing.model import RecordFact, SubjectFact
from app.standing.spans import FOREVER, ONE_DAY, History


@dataclass(frozen=True)
class UpcomingChange:
    """A day after the standing's date on which records stop (or start) counting."""

    on: date
    points_before: int
    points: int
    tier_before: str
    tier: str
    ending: tuple[RecordFact, ...]  # records that no longer count from `on`
    starting: tuple[RecordFact, ...] = ()  # records that begin to count on `on`

    @property
    def because(self) -> Because:
        """Return what happens on that day, as data."""
        return Because.of(
            "change", on=self.on, points_before=self.points_before, points=self.points,
            tier_before=self.tier_before, tier=self.tier,
            ending=tuple(r.rule_code for r in self.ending),
            starting=tuple(r.rule_code for r in self.starting),
        )

    def describe(self) -> str:
        """Say what happens on that day in one English sentence."""
        return english(self.because)


def points_timeline(
    *,
    subject: SubjectFact,
    records: Iterable[RecordFact],
    rulebook: Rulebook,
    start: date,
    end: date,
) -> list[tuple[date, int, str]]:
    """Return (day, points, tier code) on `start` and on each day in (start, end] they change.

    Empty when the subject is not scored (consent required and not given).
    """
    scheme = rulebook.scheme
    if not is_scored(subject=subject, scheme=scheme) or end < start:
        return []
    history = History(
        records=subject_records(subject=subject, records=records),
        list_entries=(),
        rulebook=rulebook,
    )
    first = history.on(start).points
    timeline = [(start, first, scheme.tier_for(first).code)]
    for segment in history.segments[history.index_on(start) + 1 :]:
        assert segment.start is not None
        if segment.start > end:
            break
        if segment.points != timeline[-1][1]:
            timeline.append((segment.start, segment.points, scheme.tier_for(segment.points).code))
    return timeline


def next_changes(
    *,
    subject: SubjectFact,
    records: Iterable[RecordFact],
    rulebook: Rulebook,
    as_of: date,
    until: date | None = None,
    limit: int | None = None,
) -> list[UpcomingChange]:
    """Return the days after `as_of` (up to `until`) on which records stop or start counting.

    Assumes nothing new is recorded; empty when the subject is not scored.
    """
    scheme = rulebook.scheme
    if not is_scored(subject=subject, scheme=scheme):
        return []
    mine = subject_records(subject=subject, records=records)
    history = History(records=mine, list_entries=(), rulebook=rulebook)
    ending: defaultdict[date, list[RecordFact]] = defaultdict(list)
    starting: defaultdict[date, list[RecordFact]] = defaultdict(list)
    for record in mine:
        for span_start, span_end in history.record_spans[record.id]:
            starting[span_start].append(record)
            ending[span_end].append(record)
    days = sorted(
        day
        for day in set(ending) | set(starting)
        if as_of < day < FOREVER and (until is None or day <= until)
    )
    changes: list[UpcomingChange] = []
    for day in days:
        if limit is not None and len(changes) >= limit:
            break
        before = history.on(day - ONE_DAY).points
        after = history.on(day).points
        changes.append(
            UpcomingChange(
                on=day,
                points_before=before,
                points=after,
                tier_before=scheme.tier_for(before).code,
                tier=scheme.tier_for(after).code,
                ending=tuple(ending.get(day, ())),
                starting=tuple(starting.get(day, ())),
            )
        )
    return changes
