"""The officials' dashboard: the last nightly run, records entered per day and department,
the objections pending and overdue, and the list entries that end soon. Grouped queries
only; the page draws the charts from these few rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from app import clock
from app.models import ListEntry, Objection, Record, Run, Subject
from app.rulebook import Rulebook
from app.services.rulebooks.in_force import in_force_on
from app.services.standings.facts import list_entry_fact
from app.services.standings.predicates import entry_counts
from app.standing.spans import list_entry_end

DAYS = 30
ENDING_WITHIN = 30
DUE_SOON = 3  # days: an objection whose deadline is this close is "due soon"


@dataclass(frozen=True)
class RunStatus:
    latest: Run | None  # the last recompute started, whatever its outcome
    last_ok: Run | None  # the last one that finished
    failures: list[Run]  # runs that failed (or were refused or abandoned) since the last good one


def run_status(session: Session) -> RunStatus:
    """Return the last nightly run, the last good one and the failures since."""
    latest = session.execute(select(Run).where(Run.kind == "recompute")
                             .order_by(Run.id.desc()).limit(1)).scalars().first()
    last_ok = session.execute(select(Run).where(Run.kind == "recompute", Run.status == "ok")
                              .order_by(Run.id.desc()).limit(1)).scalars().first()
    failed = select(Run).where(Run.kind == "recompute",
                               Run.status.in_(("failed", "refused", "abandoned")))
    if last_ok is not None:
        failed = failed.where(Run.id > last_ok.id)
    failures = list(session.execute(failed.order_by(Run.id.desc()).limit(10)).scalars())
    return RunStatus(latest, last_ok, failures)


@dataclass(frozen=True)
class RecordsPerDay:
    days: list[date]  # oldest first, every day of the period
    departments: list[str]  # those with any record in the period, most records first
    counts: dict[tuple[date, str], int]

    def on(self, day: date) -> int:
        return sum(n for (d, _), n in self.counts.items() if d == day)

    def of(self, department: str) -> int:
        return sum(n for (_, code), n in self.counts.items() if code == department)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def busiest(self) -> int:
        return max([self.on(d) for d in self.days] or [0])


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def records_per_day(session: Session, *, today: date, days: int = DAYS,
                    department: str | None = None) -> RecordsPerDay:
    """Return the records entered on each of the last `days` days (city days), per
    department (only `department`'s, if given)."""
    first = today - timedelta(days=days - 1)
    counts: dict[tuple[date, str], int] = {}
    # One grouped range read per day: the city's days begin at its own midnight, which no
    # date() of a stored UTC instant gives on both databases (the index keeps each cheap).
    for i in range(days):
        day = first + timedelta(days=i)
        query = (select(Record.department_code, func.count())
                 .where(Record.recorded_at >= clock.day_start(day),
                        Record.recorded_at < clock.day_start(day + timedelta(days=1)))
                 .group_by(Record.department_code))
        if department is not None:
            query = query.where(Record.department_code == department)
        counts.update({(day, code): n for code, n in session.execute(query).all()})
    totals: dict[str, int] = defaultdict(int)
    for (_, code), n in counts.items():
        totals[code] += n
    departments = sorted(totals, key=lambda c: (-totals[c], c))
    return RecordsPerDay([first + timedelta(days=i) for i in range(days)], departments, counts)


@dataclass(frozen=True)
class ObjectionSummary:
    pending: int
    overdue: int
    due_soon: int  # not overdue, deadline within DUE_SOON days
    later: int
    oldest_overdue: date | None  # the earliest missed deadline


def objection_summary(session: Session, *, today: date) -> ObjectionSummary:
    """Return how many objections are pending, overdue and due soon."""
    soon = today + timedelta(days=DUE_SOON)
    pending, overdue, due_soon, oldest = session.execute(
        select(func.count(),
               func.sum(case((Objection.deadline < today, 1), else_=0)),
               func.sum(case((Objection.deadline.between(today, soon), 1), else_=0)),
               func.min(case((Objection.deadline < today, Objection.deadline), else_=None)))
        .where(Objection.decided_on.is_(None))).one()
    pending, overdue, due_soon = pending or 0, overdue or 0, due_soon or 0
    return ObjectionSummary(pending, overdue, due_soon, pending - overdue - due_soon,
                            _day(oldest) if oldest is not None else None)


@dataclass(frozen=True)
class EndingEntry:
    entry: ListEntry
    subject: Subject
    ends_on: date


def _ending_filter(rulebook: Rulebook, today: date, within: int):
    """The entries that count `today` and end within `within` days, under `rulebook` (the one
    in force today): those stored with an end (`ends_on`) in that time, and those stored
    without one whose list's `lasts` ends them in that time."""
    last = today + timedelta(days=within)
    ending = [and_(ListEntry.ends_on > today, ListEntry.ends_on <= last)]
    for list_def in rulebook.lists:
        if list_def.lasts is not None:  # entered on or before this day: ended by `last`
            ending.append(and_(ListEntry.ends_on.is_(None), ListEntry.list_code == list_def.code,
                               ListEntry.entered_on <= list_def.lasts.latest_start(last)))
    return entry_counts(ListEntry, today, rulebook=rulebook), or_(*ending)


def entries_ending(session: Session, *, rulebook: Rulebook, today: date,
                   within: int = ENDING_WITHIN, limit: int = 200) -> list[EndingEntry]:
    """Return the list entries that count today and end within `within` days, soonest first
    (the first `limit`; `ending_per_list` counts them all)."""
    on_day = in_force_on(session, rulebook, today).rulebook
    rows = session.execute(
        select(ListEntry, Subject).join(Subject, Subject.subject_id == ListEntry.subject_id)
        .where(*_ending_filter(on_day, today, within))).all()
    ending = []
    for entry, subject in rows:
        end = list_entry_end(list_entry_fact(entry), on_day.list_def(entry.list_code))
        if end is not None:
            ending.append(EndingEntry(entry, subject, end))
    ending.sort(key=lambda e: (e.ends_on, e.entry.list_code, e.entry.id))
    return ending[:limit]


def ending_per_list(session: Session, *, rulebook: Rulebook, today: date,
                    within: int = ENDING_WITHIN) -> list[tuple[str, int]]:
    """Return (list code, entries ending within `within` days) for every such list, most first."""
    on_day = in_force_on(session, rulebook, today).rulebook
    rows = session.execute(select(ListEntry.list_code, func.count())
                           .where(*_ending_filter(on_day, today, within))
                           .group_by(ListEntry.list_code)).all()
    return sorted(((code, n) for code, n in rows), key=lambda kv: (-kv[1], kv[0]))
