"""A subject's file as the pages show it: the standing on a date, the changes ahead, and
the department's recent records. An official's look at a file is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app.errors import NotFound
from app.models import Record, Subject
from app.rulebook import Rulebook
from app.rulebook.model import Measure
from app.services.audit import chain as audit
from app.services.rulebooks.in_force import in_force_on
from app.services.standings.facts import (
    evaluate_in_force,
    facts_read_once,
    get_subject,
    load_facts,
    load_represented,
    standing_for,
    subject_fact,
)
from app.services.transaction import atomic, transaction
from app.standing import UpcomingChange, next_changes
from app.standing.model import ActiveMeasure, PendingMeasure, Standing


@dataclass(frozen=True)
class SubjectFile:
    subject: Subject
    standing: Standing
    upcoming: tuple[UpcomingChange, ...]  # the next days on which records start or stop counting


@atomic
def open_subject_file(session: Session, *, rulebook: Rulebook, subject_id: str, as_of: date,
                      viewer: str | None = None, upcoming: int = 5) -> SubjectFile:
    """Return a subject's standing on `as_of` and what changes next; audit `viewer`'s look."""
    subject = get_subject(session, subject_id)
    records, entries = load_facts(session, subject)
    fact = subject_fact(subject)
    standing = evaluate_in_force(session, rulebook, subject=fact, records=records,
                                 list_entries=entries, as_of=as_of,
                                 represented=load_represented(session, subject))
    changes = next_changes(subject=fact, records=records,
                           rulebook=in_force_on(session, rulebook, as_of).rulebook, as_of=as_of,
                           limit=upcoming)
    if viewer is not None:
        audit.append(session, actor=viewer, action="subject.view",
                     subject_id=subject.subject_id, target=f"subject:{subject.subject_id}",
                     details={"as_of": as_of})
    return SubjectFile(subject=subject, standing=standing, upcoming=tuple(changes))


def recent_records(session: Session, *, department: str, limit: int = 20) -> list[Record]:
    """Return the department's most recently stored records, newest first."""
    return list(session.execute(
        select(Record).where(Record.department_code == department)
        .order_by(Record.id.desc()).limit(limit)).scalars())


@atomic
def standing_seen_by(session: Session, *, rulebook: Rulebook, subject_id: str, as_of: date,
                     viewer: str, via: str) -> Standing:
    """Return a subject's standing on `as_of`; audit `viewer`'s look (`via`: from where)."""
    standing = standing_for(session, rulebook=rulebook, subject_id=subject_id, as_of=as_of)
    audit.append(session, actor=viewer, action="subject.view", subject_id=standing.subject_id,
                 target=f"subject:{standing.subject_id}", details={"as_of": as_of, "via": via})
    return standing


@dataclass(frozen=True)
class MeasureCheck:
    measure: Measure
    standing: Standing
    active: ActiveMeasure | None  # the measure applies on the day
    pending: PendingMeasure | None  # its condition holds, its notice period has not run out

    @property
    def reasons(self) -> tuple:
        found = self.active or self.pending
        return tuple(found.reasons) if found is not None else ()


def check_measure(session: Session, *, rulebook: Rulebook, code: str, subject_id: str,
                  as_of: date, viewer: str) -> MeasureCheck:
    """Say whether measure `code` applies to a subject on `as_of`, and why; audit the look.

    Two transactions (or the caller's one): the standing is read first, then the look is
    appended to the audit chain in a transaction that takes the chain's write lock as its
    first statement and holds it for the head, one INSERT and the commit. On SQLite a
    reader that then asked for the lock would fail at once whenever another writer had
    committed since its snapshot began, and start again under the lock (see
    locks.begin_write): under load most checks did, and held everyone's lock for the reads.
    A check whose audit cannot be written fails: no look goes unaudited.
    """
    with transaction(session), facts_read_once(session):  # the rulebooks in force: once
        rulebook = in_force_on(session, rulebook, as_of).rulebook
        measure = rulebook.measure(code)
        if measure is None:
            raise NotFound(f"no measure {code[:64]!r} in the rulebook in force; the measures "
                           f"are {', '.join(m.code for m in rulebook.measures)}")
        standing = standing_for(session, rulebook=rulebook, subject_id=subject_id, as_of=as_of)
    active = next((m for m in standing.measures if m.measure.code == code), None)
    pending = next((m for m in standing.pending_measures if m.measure.code == code), None)
    event = audit.Event(actor=viewer, action="measure.check", subject_id=standing.subject_id,
                        target=f"subject:{standing.subject_id}",
                        details={"measure": code, "as_of": as_of, "applies": active is not None})
    with transaction(session):
        audit.append_many(session, [event])  # Core: one INSERT, no ORM flush
    return MeasureCheck(measure, standing, active, pending)
