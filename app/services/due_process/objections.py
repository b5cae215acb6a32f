"""Objections: a subject challenges one of their records within the scheme's window; a
reviewer who neither recorded nor voided it decides, with written reasons, by a deadline;
the subject may ask once for reconsideration by a different reviewer.

The objection window runs from the day the subject was notified of the record (the date of
its record notice); a record stored before notices existed counts from the day it was
recorded. The last day to object is that day + `objections.window` (inclusive), and the
reviewer's deadline is the filing day + `decide_within` (`reconsider_within` at level 2).
A pending objection is a dispute of the record (it stops counting while pending where the
scheme says `suspend_record`); an `annulled` decision annuls the record, an `upheld` one
leaves it standing. Decisions are final for their level and never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app import clock
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from app.models import Objection, Record, Subject, utcnow
from app.models.due_process import OUTCOMES
from app.rulebook import Rulebook
from app.services.audit import chain as audit
from app.services.audit import seals
from app.services.due_process import notice_texts as notice_texts
from app.services.due_process.notice_content import duration_code, in_other_languages
from app.services.due_process.notices import NewNotice, add_notices, record_notice_dates
from app.services.intake.text import written_text
from app.services.locks import begin_record_write, begin_write
from app.services.transaction import atomic, transaction

MAX_REASON = 4000
MAX_ATTACHMENT = 500


class WindowClosed(InvalidInput):
    """The time to object (or to ask for reconsideration) has run out."""

    code = "window_closed"


@dataclass(frozen=True)
class Window:
    """The days on which a subject may object: from `opens` to `closes`, both inclusive."""

    opens: date
    closes: date

    def is_open(self, day: date) -> bool:
        return self.opens <= day <= self.closes


def objection_window(session: Session, *, rulebook: Rulebook, record: Record) -> Window:
    """Return the window for objecting to `record` (from the day its notice was made)."""
    notified = record_notice_dates(session, [record.id]).get(record.id)
    if notified is None:
        notified = clock.day_of(record.recorded_at)
    return Window(notified, rulebook.scheme.objections.window.after(notified))


def reconsider_window(rulebook: Rulebook, first: Objection) -> Window | None:
    """Return the window for asking to reconsider a decided objection, or None if none."""
    if first.level != 1 or first.decided_on is None or first.outcome != "upheld":
        return None
    return Window(first.decided_on,
                  rulebook.scheme.objections.reconsider_window.after(first.decided_on))


def _own_record(session: Session, subject_id: str, record_id: int) -> Record:
    record = session.get(Record, record_id) if 0 < record_id < 2**31 else None
    if record is None or record.subject_id != subject_id:
        raise NotFound(f"there is no record {record_id} in your file")
    if record.voided_at is not None:
        raise Conflict(f"record {record_id} was voided (entered in error) and does not count; "
                       "there is nothing to object to")
    if record.annulled_on is not None:
        raise Conflict(f"record {record_id} was annulled on {record.annulled_on}; it no "
                       "longer counts")
    return record


def _store(session: Session, objection: Objection, *, action: str) -> Objection:
    try:
        with transaction(session):
            begin_write(session, f"subject:{objection.subject_id}")
            session.add(objection)
            session.flush()
            audit.append(session, actor=objection.filed_by, action=action,
                         subject_id=objection.subject_id, target=f"objection:{objection.id}",
                         details={"record": objection.record_id, "level": objection.level,
                                  "filed_on": objection.filed_on, "deadline": objection.deadline,
                                  "reason": objection.reason,
                                  "attachment_ref": objection.attachment_ref})
    except IntegrityError:
        raise Conflict(f"record {objection.record_id} already has an objection at this level; "
                       "each level is decided once") from None
    return objection


@atomic
def file_objection(session: Session, *, rulebook: Rulebook, subject_id: str, record_id: int,
                   reason: str, attachment_ref: str | None = None, actor: str,
                   today: date) -> Objection:
    """Object to one of the subject's own records, within the window, with a reason."""
    record = _own_record(session, subject_id, record_id)
    reason = written_text(reason, name="reason", limit=MAX_REASON,
                          required="say why the record is wrong (the reason is empty)")
    attachment = written_text(attachment_ref, name="attachment_ref",
                              limit=MAX_ATTACHMENT, free=False)
    earlier = session.execute(select(Objection).where(
        Objection.record_id == record.id, Objection.level == 1)).scalar_one_or_none()
    if earlier is not None:
        state = (f"decided on {earlier.decided_on}" if earlier.decided_on
                 else f"pending, to be decided by {earlier.deadline}")
        raise Conflict(f"you already objected to record {record.id} on {earlier.filed_on} "
                       f"({state}); an objection is filed once")
    window = objection_window(session, rulebook=rulebook, record=record)
    if not window.is_open(today):
        length = notice_texts.duration_words(rulebook.scheme.objections.window)
        message = (f"the time to object to record {record.id} ended on "
                   f"{window.closes.isoformat()} ({length} from its notice on "
                   f"{window.opens.isoformat()})")
        raise WindowClosed(message, problems=[Problem(message, field="record")])
    objection = Objection(
        record_id=record.id, subject_id=subject_id, level=1, filed_on=today, filed_by=actor,
        reason=reason, attachment_ref=attachment or None,
        deadline=rulebook.scheme.objections.decide_within.after(today))
    return _store(session, objection, action="objection.file")


@atomic
def ask_reconsideration(session: Session, *, rulebook: Rulebook, subject_id: str,
                        objection_id: int, reason: str, attachment_ref: str | None = None,
                        actor: str, today: date) -> Objection:
    """Ask once, within the window, for a different reviewer to reconsider a decision."""
    first = session.get(Objection, objection_id) if 0 < objection_id < 2**31 else None
    if first is None or first.subject_id != subject_id or first.level != 1:
        raise NotFound(f"there is no objection {objection_id} of yours to reconsider")
    if first.decided_on is None:
        raise Conflict(f"objection {objection_id} is not decided yet (the reviewer decides by "
                       f"{first.deadline})")
    if first.outcome == "annulled":
        raise Conflict(f"record {first.record_id} was annulled: your objection succeeded")
    record = _own_record(session, subject_id, first.record_id)
    reason = written_text(reason, name="reason", limit=MAX_REASON,
                          required="say why the decision is wrong (the reason is empty)")
    attachment = written_text(attachment_ref, name="attachment_ref",
                              limit=MAX_ATTACHMENT, free=False)
    if session.execute(select(Objection.id).where(Objection.record_id == record.id,
                                                  Objection.level == 2)).first():
        raise Conflict(f"reconsideration of record {record.id} was already asked for; it can "
                       "be asked once")
    window = reconsider_window(rulebook, first)
    if window is None or not window.is_open(today):
        message = (f"the time to ask for reconsideration ended on {window.closes.isoformat()}"
                   if window else "this decision cannot be reconsidered")
        raise WindowClosed(message, problems=[Problem(message, field="objection")])
    objection = Objection(
        record_id=record.id, subject_id=subject_id, level=2, parent_id=first.id,
        filed_on=today, filed_by=actor, reason=reason, attachment_ref=attachment or None,
        deadline=rulebook.scheme.objections.reconsider_within.after(today))
    return _store(session, objection, action="objection.reconsider")


def check_reviewer(session: Session, objection: Objection, record: Record,
                   reviewer: str) -> None:
    """Raise Forbidden if `reviewer` may not decide `objection` (they are not impartial)."""
    if reviewer == record.recorded_by:
        raise Forbidden(f"you recorded record {record.id}; another reviewer must decide the "
                        "objection to it")
    if record.voided_by and reviewer == record.voided_by:
        raise Forbidden(f"you voided record {record.id}; another reviewer must decide the "
                        "objection to it")
    if objection.level == 2 and objection.parent_id is not None:
        first = session.get(Objection, objection.parent_id)
        if first is not None and first.decided_by == reviewer:
            raise Forbidden("you decided the first objection; reconsideration is by a "
                            "different reviewer")


@atomic
def decide_objection(session: Session, *, rulebook: Rulebook, objection_id: int, outcome: str,
                     reason: str, reviewer: str, today: date) -> Objection:
    """Decide an objection (upheld: the record stands; annulled: it is annulled), with
    written reasons; notify the subject. Final for its level."""
    objection = session.get(Objection, objection_id) if 0 < objection_id < 2**31 else None
    if objection is None:
        raise NotFound(f"there is no objection {objection_id}")
    record = session.get(Record, objection.record_id)
    check_reviewer(session, objection, record, reviewer)
    if objection.decided_on is not None:
        raise Conflict(f"objection {objection_id} was decided on {objection.decided_on} by "
                       f"{objection.decided_by}; a decision is final for its level")
    if outcome not in OUTCOMES:
        message = "choose the outcome: upheld (the record stands) or annulled"
        raise InvalidInput(message, problems=[Problem(message, field="outcome")])
    reason = written_text(reason, name="reason", limit=MAX_REASON,
                          required="a decision needs a written reason (the reason is empty)")
    begin_record_write(session, objection.subject_id)  # an annulment changes what counts
    done = session.execute(
        update(Objection).where(Objection.id == objection_id, Objection.decided_on.is_(None))
        .values(decided_on=today, decided_at=utcnow(), decided_by=reviewer, outcome=outcome,
                decision_reason=reason)).rowcount
    if not done:
        raise Conflict(f"objection {objection_id} was decided by someone else just now")
    seals.touch(session, "objection", [objection_id])
    if outcome == "annulled":
        session.execute(update(Record).where(Record.id == record.id,
                                             Record.annulled_on.is_(None))
                        .values(annulled_on=today))
        seals.touch(session, "record", [record.id])
    session.refresh(objection)
    again = reconsider_window(rulebook, objection)
    title, body = notice_texts.decision_notice(
        scheme=rulebook.scheme, record_id=record.id, rule_code=record.rule_code,
        level=objection.level, outcome=outcome, reason=reason, decided_on=today,
        reconsider_until=again.closes if again else None)
    rule = rulebook.rule_version(record.rule_code, record.rule_version)
    content = {"record": record.id, "rule": record.rule_code,
               "rule_title": rule.title if rule is not None else record.rule_code,
               **in_other_languages(rule, "title", "rule_title"),
               "level": objection.level, "outcome": outcome, "reason": reason,
               "decided_on": today.isoformat(),
               "reconsider_until": again.closes.isoformat() if again else None,
               "reconsider_within": duration_code(rulebook.scheme.objections.reconsider_within)}
    add_notices(session, [NewNotice(objection.subject_id, "objection_decision",
                                    f"objection_decision:{objection.id}", title, body,
                                    record_id=record.id, objection_id=objection.id,
                                    content=content)],
                today=today)
    audit.append(session, actor=reviewer, action="objection.decide",
                 subject_id=objection.subject_id, target=f"objection:{objection.id}",
                 details={"record": record.id, "level": objection.level,
                          "outcome": outcome, "reason": reason, "decided_on": today,
                          "deadline": objection.deadline})
    return objection


# --- reading ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueItem:
    objection: Objection
    record: Record
    subject: Subject
    overdue: bool
    days_left: int  # negative when overdue


def review_queue(session: Session, *, today: date, limit: int = 500) -> list[QueueItem]:
    """Return the pending objections, the nearest deadline first."""
    rows = session.execute(
        select(Objection, Record, Subject).join(Record, Record.id == Objection.record_id)
        .join(Subject, Subject.subject_id == Objection.subject_id)
        .where(Objection.decided_on.is_(None))
        .order_by(Objection.deadline, Objection.id).limit(limit)).all()
    return [QueueItem(o, r, s, today > o.deadline, (o.deadline - today).days)
            for o, r, s in rows]


def recently_decided(session: Session, *, limit: int = 20) -> list[tuple[Objection, Record]]:
    """Return the last decided objections, newest first."""
    return [(o, r) for o, r in session.execute(
        select(Objection, Record).join(Record, Record.id == Objection.record_id)
        .where(Objection.decided_on.is_not(None))
        .order_by(Objection.decided_at.desc(), Objection.id.desc()).limit(limit)).all()]


@dataclass(frozen=True)
class ObjectionFile:
    objection: Objection
    record: Record
    subject: Subject
    earlier: Objection | None  # the level-1 objection, for a reconsideration


@atomic
def open_objection(session: Session, *, objection_id: int, viewer: str) -> ObjectionFile:
    """Return an objection with its record and subject; audit the official's look."""
    objection = session.get(Objection, objection_id) if 0 < objection_id < 2**31 else None
    if objection is None:
        raise NotFound(f"there is no objection {objection_id}")
    record = session.get(Record, objection.record_id)
    subject = session.get(Subject, objection.subject_id)
    earlier = session.get(Objection, objection.parent_id) if objection.parent_id else None
    audit.append(session, actor=viewer, action="objection.view",
                 subject_id=objection.subject_id, target=f"objection:{objection.id}")
    return ObjectionFile(objection, record, subject, earlier)


def objections_of(session: Session, *, subject_id: str) -> dict[int, list[Objection]]:
    """Return the subject's objections per record id, level 1 first."""
    out: dict[int, list[Objection]] = {}
    for objection in session.execute(
            select(Objection).where(Objection.subject_id == subject_id)
            .order_by(Objection.record_id, Objection.level)).scalars():
        out.setdefault(objection.record_id, []).append(objection)
    return out
