"""A subject's file as the pages show it: the standing on a date, the changes ahead, and
the department's recent records. An official's look at a file is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app.models import Record, Subject
from app.rulebook import Rulebook
from app.services.audit import chain as audit
from app.services.standings.facts import get_subject, load_facts, load_represented, subject_fact
from app.standing import UpcomingChange, evaluate, next_changes
from app.standing.model import Standing


@dataclass(frozen=True)
class SubjectFile:
    subject: Subject
    standing: Standing
    upcoming: tuple[UpcomingChange, ...]  # the next days on which records start or stop counting


def open_subject_file(session: Session, *, rulebook: Rulebook, subject_id: str, as_of: date,
                      viewer: str | None = None, upcoming: int = 5) -> SubjectFile:
    """Return a subject's standing on `as_of` and what changes next; audit `viewer`'s look."""
    subject = get_subject(session, subject_id)
    records, entries = load_facts(session, subject)
    fact = subject_fact(subject)
    standing = evaluate(subject=fact, records=records, list_entries=entries, rulebook=rulebook,
                        as_of=as_of, represented=load_represented(session, subject))
    changes = next_changes(subject=fact, records=records, rulebook=rulebook, as_of=as_of,
                           limit=upcoming)
    if viewer is not None:
        try:
            audit.append(session, actor=viewer, action="subject.view",
                         subject_id=subject.subject_id, target=f"subject:{subject.subject_id}",
                         details={"as_of": as_of})
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return SubjectFile(subject=subject, standing=standing, upcoming=tuple(changes))


def recent_records(session: Session, *, department: str, limit: int = 20) -> list[Record]:
    """Return the department's most recently stored records, newest first."""
    return list(session.execute(
        select(Record).where(Record.department_code == department)
        .order_by(Record.id.desc()).limit(limit)).scalars())
