"""Reading lists: the public page's entries, a list's entries for officials, counts, and
the subjects the last nightly run flagged with the watchlist entries behind each flag."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from app.models import ListEntry, StandingFlag, Subject
from app.rulebook import Rulebook
from app.rulebook.model import ListDef
from app.services.rulebooks.in_force import in_force_on
from app.services.standings.predicates import behind_flag, entry_counts
from app.services.standings.recompute import standings_day
from app.standing.model import ListEntryFact
from app.standing.spans import list_entry_end

CHUNK = 500


@dataclass(frozen=True)
class PublicEntry:
    """What a published list shows: the name, the list, the legal basis and the dates."""

    name: str
    list_code: str
    list_title: str
    legal_basis: str
    entered_on: date
    until: date | None
    list_def: ListDef | None = None  # for the list's title and legal basis in other languages
    own_basis: bool = False  # the entry names its own legal basis (else the list's)


def public_entries(session: Session, *, rulebook: Rulebook, today: date,
                   list_code: str | None = None, offset: int = 0,
                   limit: int = 100) -> tuple[list[PublicEntry], int]:
    """Return one page of the entries on public lists that count `today`, and their total,
    under the rulebook in force that day (its public lists, and their `lasts` for entries
    stored without an end)."""
    rulebook = in_force_on(session, rulebook, today).rulebook
    public = {x.code: x for x in rulebook.lists if x.public}
    codes = [c for c in public if list_code in (None, c)]
    if not codes:
        return [], 0
    where = (ListEntry.list_code.in_(codes), entry_counts(ListEntry, today, rulebook=rulebook))
    total = session.execute(select(func.count()).select_from(ListEntry).where(*where)).scalar()
    rows = session.execute(
        select(Subject.name, ListEntry.list_code, ListEntry.legal_basis, ListEntry.entered_on,
               ListEntry.ends_on, ListEntry.removed_on)
        .join(Subject, Subject.subject_id == ListEntry.subject_id).where(*where)
        .order_by(ListEntry.list_code, ListEntry.entered_on.desc(), Subject.name, ListEntry.id)
        .offset(offset).limit(limit)).all()
    page = []
    for name, code, basis, entered, ends, removed in rows:
        list_def = public[code]
        until = list_entry_end(ListEntryFact(id=0, subject_id="", list_code=code,
                                             entered_on=entered, ends_on=ends,
                                             removed_on=removed), list_def)
        page.append(PublicEntry(name, code, list_def.title or code,
                                basis or list_def.legal_basis, entered, until, list_def,
                                bool(basis)))
    return page, total


def entries_on(session: Session, *, rulebook: Rulebook, list_code: str, today: date,
               include_ended: bool = False, limit: int = 500) -> list[tuple[ListEntry, Subject]]:
    """Return a list's entries (those counting `today` under the rulebook in force that day,
    or all), newest first, with subjects."""
    query = (select(ListEntry, Subject).join(Subject, Subject.subject_id == ListEntry.subject_id)
             .where(ListEntry.list_code == list_code))
    if not include_ended:
        on_day = in_force_on(session, rulebook, today).rulebook
        query = query.where(entry_counts(ListEntry, today, rulebook=on_day))
    query = query.order_by(ListEntry.entered_on.desc(), ListEntry.id.desc()).limit(limit)
    return [(entry, subject) for entry, subject in session.execute(query).all()]


def count_counting(session: Session, *, rulebook: Rulebook, today: date) -> dict[str, int]:
    """Return, per list code, how many entries count `today` (under the rulebook in force
    that day)."""
    on_day = in_force_on(session, rulebook, today).rulebook
    return dict(session.execute(
        select(ListEntry.list_code, func.count())
        .where(entry_counts(ListEntry, today, rulebook=on_day))
        .group_by(ListEntry.list_code)).all())


@dataclass(frozen=True)
class FlaggedSubject:
    subject: Subject
    flag_code: str
    list_code: str
    threshold: int
    within: str
    as_of: date
    entries: tuple[ListEntry, ...]  # the watchlist entries behind the flag on `as_of`


def flagged_subjects(session: Session, *, rulebook: Rulebook) -> list[FlaggedSubject]:
    """Return the subjects the last recompute flagged, each with the entries behind its flag."""
    # The day of the stored flags is the last successful run's; a run rewrites only the
    # rows that changed, so Standing.as_of is the day each row last changed.
    as_of = standings_day(session)
    if as_of is None:
        return []  # no run yet: nothing is flagged
    flags = {flag.code: (watchlist, flag) for watchlist, flag in rulebook.flags()}
    rows = session.execute(
        select(StandingFlag.flag_code, Subject)
        .join(Subject, Subject.subject_id == StandingFlag.subject_id)
        .order_by(StandingFlag.flag_code, Subject.name, Subject.subject_id)).all()
    by_key: dict[tuple[str, str], list[ListEntry]] = defaultdict(list)
    for code, (watchlist, flag) in flags.items():
        ids = sorted({s.subject_id for c, s in rows if c == code})
        for i in range(0, len(ids), CHUNK):
            for entry in session.execute(
                    select(ListEntry).where(
                        ListEntry.subject_id.in_(ids[i:i + CHUNK]),
                        behind_flag(ListEntry, watchlist.code, flag, as_of))
                    .order_by(ListEntry.entered_on, ListEntry.id)).scalars():
                by_key[(code, entry.subject_id)].append(entry)
    out = []
    for code, subject in rows:
        if code not in flags:
            continue  # a flag of a rulebook no longer in force; the next run drops it
        watchlist, flag = flags[code]
        out.append(FlaggedSubject(subject, code, watchlist.code, flag.entries, str(flag.within),
                                  as_of, tuple(by_key[(code, subject.subject_id)])))
    return out
