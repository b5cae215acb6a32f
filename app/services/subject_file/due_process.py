"""A subject's due-process file: every record with its state today (counting, disputed,
voided, annulled, repaired, lapsed), its objections and what may be done next (object,
ask for reconsideration, void, repair), the inbox, consent changes and contact address.

The standing itself comes from services.subject_files; this adds what the pages need to
offer the next step of due process, with its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app import clock
from app.models import ConsentChange, Objection, Record
from app.rulebook import Rulebook
from app.rulebook.model import Rule
from app.services.due_process.notices import InboxItem, inbox, record_notice_dates
from app.services.due_process.objections import Window, objections_of, reconsider_window
from app.services.records.corrections import repairable_on
from app.services.standings.facts import get_subject
from app.services.subjects.consent import consent_history, contact_email, notice_language


@dataclass(frozen=True)
class RecordStatus:
    record: Record
    rule: Rule | None
    state: str  # counting, disputed, voided, annulled, repaired, lapsed, future
    objections: tuple[Objection, ...]
    window: Window  # the days on which an objection may be filed
    can_object: bool
    reconsider: Window | None  # the days on which reconsideration may be asked
    can_reconsider: bool
    repairable_on: date | None
    can_repair: bool

    @property
    def pending(self) -> Objection | None:
        return next((o for o in self.objections if o.decided_on is None), None)


@dataclass(frozen=True)
class DueProcess:
    records: tuple[RecordStatus, ...]
    inbox: tuple[InboxItem, ...]
    consent_changes: tuple[ConsentChange, ...]
    email: str | None
    language: str = "en"  # the language the subject's notices are written in

    @property
    def pending_objections(self) -> tuple[RecordStatus, ...]:
        return tuple(r for r in self.records if r.pending is not None)


def _state(record: Record, pending: bool, today: date) -> str:
    if record.voided_at is not None:
        return "voided"
    if record.annulled_on is not None:
        return "annulled"
    if record.repaired_on is not None and record.repaired_on <= today:
        return "repaired"
    if record.ends_on <= today:
        return "lapsed"
    if record.occurred_on > today:
        return "future"
    return "disputed" if pending else "counting"


def due_process_of(session: Session, *, rulebook: Rulebook, subject_id: str,
                     today: date, inbox_limit: int = 100,
                     reader_language: str | None = None) -> DueProcess:
    """Return the subject's records with their due-process state and next steps on `today`;
    the inbox read in the subject's language, or in `reader_language` (an official's)."""
    records = list(session.execute(
        select(Record).where(Record.subject_id == subject_id)
        .order_by(Record.occurred_on.desc(), Record.id.desc())).scalars())
    notified = record_notice_dates(session, [r.id for r in records])
    objections = objections_of(session, subject_id=subject_id)
    window_length = rulebook.scheme.objections.window
    out = []
    for record in records:
        mine = tuple(objections.get(record.id, ()))
        opens = notified.get(record.id) or clock.day_of(record.recorded_at)
        window = Window(opens, window_length.after(opens))
        pending = any(o.decided_on is None for o in mine)
        state = _state(record, pending, today)
        closed = state in ("voided", "annulled")
        first = next((o for o in mine if o.level == 1), None)
        again = reconsider_window(rulebook, first) if first is not None else None
        repair_from = repairable_on(rulebook, record)
        out.append(RecordStatus(
            record=record, rule=rulebook.rule_version(record.rule_code, record.rule_version),
            state=state, objections=mine, window=window,
            can_object=not closed and first is None and window.is_open(today),
            reconsider=again,
            can_reconsider=(not closed and again is not None and again.is_open(today)
                            and not any(o.level == 2 for o in mine)),
            repairable_on=repair_from,
            can_repair=(state in ("counting", "disputed") and record.repaired_on is None
                        and repair_from is not None and repair_from <= today),
        ))
    return DueProcess(
        records=tuple(out), inbox=tuple(inbox(
            session, subject_id=subject_id, limit=inbox_limit,
            default_language=(rulebook.scheme.languages or ("en",))[0],
            reader_language=reader_language)),
        consent_changes=tuple(consent_history(session, subject_id=subject_id)),
        email=contact_email(session, subject_id=subject_id),
        language=notice_language(get_subject(session, subject_id), rulebook.scheme))
