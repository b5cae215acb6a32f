"""A resident's ways out besides objecting to a record: applying for a record's repair,
and objecting to a list entry.

An application for repair may be made from the day the record's rule allows repair
(`repairable_after`) while the record still counts; it goes to the department that made
the record, which decides by the filing day + the scheme's `repair.decide_within` (15 days
unless the scheme says otherwise). Granted, the record is marked repaired exactly as the
department's own repair would mark it; refused, the reasons are given. Either way the
subject is notified and the decision is audited.

An objection to a list entry may be filed from the day the entry was made until that day +
the list's own `objections.window` (else the scheme's); a reviewer decides by the filing
day + `decide_within`: the entry stands (upheld) or is ended that day (ended), and the
subject is notified. A pending objection does not suspend the entry: a court's or an
agency's decision stands until it is reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlmodel import Session

from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from app.models import EntryObjection, ListEntry, Record, RepairRequest, Subject
from app.models.due_process import ENTRY_OUTCOMES
from app.rulebook import Rulebook
from app.rulebook.model import Objections
from app.services.audit import chain as audit
from app.services.due_process import notice_texts
from app.services.due_process.notice_content import department_texts, in_other_languages
from app.services.due_process.notices import NewNotice, add_notices
from app.services.due_process.objections import Window, WindowClosed
from app.services.intake.text import written_text
from app.services.lists.entries import entry_end, remove_from_list
from app.services.locks import begin_write
from app.services.records.corrections import repair_record, repairable_on
from app.services.transaction import atomic

MAX_TEXT = 4000


# --- repair ----------------------------------------------------------------------------------
def repair_open(rulebook: Rulebook, record: Record, today: date) -> date | None:
    """Return the first day `record` may be repaired if an application is possible now or
    later (the rule allows repair, and the record counts and is not repaired), else None."""
    if record.repaired_on is not None or record.voided_at is not None or \
            record.annulled_on is not None or record.ends_on <= today:
        return None
    return repairable_on(rulebook, record)


@atomic
def apply_for_repair(session: Session, *, rulebook: Rulebook, subject_id: str, record_id: int,
                     statement: str, actor: str, today: date) -> RepairRequest:
    """File the subject's application to have one of their records marked repaired."""
    record = session.get(Record, record_id) if 0 < record_id < 2**31 else None
    if record is None or record.subject_id != subject_id:
        raise NotFound(f"there is no record {record_id} in your file")
    statement = written_text(statement, name="statement", limit=MAX_TEXT,
                             required="say what was put right (the debt paid, the training done)")
    first = repair_open(rulebook, record, today)
    if first is None:
        raise Conflict(f"record {record_id} cannot be repaired: its rule allows no repair, "
                       "or it no longer counts, or it was already repaired")
    if today < first:
        message = f"record {record_id} may be repaired from {first.isoformat()}"
        raise InvalidInput(message, problems=[Problem(message, field="record")])
    begin_write(session, f"subject:{subject_id}")
    pending = session.execute(select(RepairRequest.id).where(
        RepairRequest.record_id == record_id, RepairRequest.status == "pending")).first()
    if pending is not None:
        raise Conflict(f"an application to repair record {record_id} is already waiting for "
                       "the department's decision")
    request = RepairRequest(
        record_id=record_id, subject_id=subject_id, department_code=record.department_code,
        filed_on=today, filed_by=actor, statement=statement,
        deadline=rulebook.scheme.repair.decide_within.after(today))
    session.add(request)
    session.flush()
    audit.append(session, actor=actor, action="repair.apply", subject_id=subject_id,
                 target=f"repair_request:{request.id}",
                 details={"record": record_id, "department": record.department_code,
                          "filed_on": today, "deadline": request.deadline,
                          "statement": statement})
    return request


@atomic
def decide_repair(session: Session, *, rulebook: Rulebook, request_id: int, grant: bool,
                  reason: str, department: str | None, actor: str, today: date
                  ) -> RepairRequest:
    """Grant or refuse an application for repair, with reasons; notify the subject.

    `department` is the deciding official's department: only the recording department's
    officials decide (None: a reviewer or an administrator, who may decide any)."""
    request = session.get(RepairRequest, request_id) if 0 < request_id < 2**31 else None
    if request is None:
        raise NotFound(f"there is no application for repair {request_id}")
    if department is not None and department != request.department_code:
        raise Forbidden(f"application {request_id} is for {request.department_code} to decide")
    reason = written_text(reason, name="reason", limit=MAX_TEXT,
                          required="a decision needs a written reason")
    if request.status != "pending":
        raise Conflict(f"application {request_id} was already decided on {request.decided_on}")
    done = session.execute(
        update(RepairRequest).where(RepairRequest.id == request_id,
                                    RepairRequest.status == "pending")
        .values(status="granted" if grant else "refused", decided_on=today, decided_by=actor,
                decision_reason=reason)).rowcount
    if not done:
        raise Conflict(f"application {request_id} was decided by someone else just now")
    if grant:  # marks the record repaired, notifies and audits the repair itself
        repair_record(session, rulebook=rulebook, record_id=request.record_id,
                      department=request.department_code,
                      evidence=f"{request.statement}\n{reason}", actor=actor, today=today)
    else:
        title, body = notice_texts.repair_refused_notice(
            record_id=request.record_id, department=notice_texts.department_title(
                rulebook, request.department_code), reason=reason, decided_on=today)
        content = {"record": request.record_id,
                   **department_texts(rulebook, request.department_code),
                   "reason": reason, "decided_on": today.isoformat()}
        add_notices(session, [NewNotice(request.subject_id, "repair_decision",
                                        f"repair_decision:{request.id}", title, body,
                                        record_id=request.record_id, content=content)],
                    today=today)
    audit.append(session, actor=actor, action="repair.decide", subject_id=request.subject_id,
                 target=f"repair_request:{request.id}",
                 details={"record": request.record_id, "granted": grant, "reason": reason,
                          "decided_on": today, "deadline": request.deadline})
    session.refresh(request)
    return request


# --- objections to list entries --------------------------------------------------------------
def entry_objections(rulebook: Rulebook, list_code: str) -> Objections:
    """The deadlines for objecting to an entry on `list_code`: the list's, else the scheme's."""
    list_def = rulebook.list_def(list_code)
    return (list_def.objections if list_def is not None and list_def.objections
            else rulebook.scheme.objections)


def entry_window(rulebook: Rulebook, entry: ListEntry) -> Window:
    """The days on which the subject may object to `entry` (from the day it was made)."""
    return Window(entry.entered_on,
                  entry_objections(rulebook, entry.list_code).window.after(entry.entered_on))


@atomic
def object_to_entry(session: Session, *, rulebook: Rulebook, subject_id: str, entry_id: int,
                    reason: str, actor: str, today: date) -> EntryObjection:
    """Object to one of the subject's list entries, within the list's window."""
    entry = session.get(ListEntry, entry_id) if 0 < entry_id < 2**31 else None
    if entry is None or entry.subject_id != subject_id:
        raise NotFound(f"there is no list entry {entry_id} in your file")
    reason = written_text(reason, name="reason", limit=MAX_TEXT,
                          required="say why the entry is wrong")
    end = entry_end(entry, rulebook.list_def(entry.list_code))
    if end is not None and end <= today:
        raise Conflict(f"entry {entry_id} ended on {end}; there is nothing to object to")
    window = entry_window(rulebook, entry)
    if not window.is_open(today):
        message = (f"the time to object to entry {entry_id} ended on "
                   f"{window.closes.isoformat()}")
        raise WindowClosed(message, problems=[Problem(message, field="entry")])
    begin_write(session, f"subject:{subject_id}")
    if session.execute(select(EntryObjection.id).where(
            EntryObjection.list_entry_id == entry_id)).first() is not None:
        raise Conflict(f"you already objected to entry {entry_id}; an objection is filed once")
    objection = EntryObjection(
        list_entry_id=entry_id, subject_id=subject_id, list_code=entry.list_code,
        filed_on=today, filed_by=actor, reason=reason,
        deadline=entry_objections(rulebook, entry.list_code).decide_within.after(today))
    session.add(objection)
    session.flush()
    audit.append(session, actor=actor, action="entry_objection.file", subject_id=subject_id,
                 target=f"entry_objection:{objection.id}",
                 details={"entry": entry_id, "list": entry.list_code, "filed_on": today,
                          "deadline": objection.deadline, "reason": reason})
    return objection


@atomic
def decide_entry_objection(session: Session, *, rulebook: Rulebook, objection_id: int,
                           outcome: str, reason: str, reviewer: str, today: date
                           ) -> EntryObjection:
    """Decide an objection to a list entry: upheld (the entry stands) or ended (the entry
    ends today, as its department's removal would end it); notify the subject."""
    objection = session.get(EntryObjection, objection_id) if 0 < objection_id < 2**31 else None
    if objection is None:
        raise NotFound(f"there is no objection {objection_id} to a list entry")
    if outcome not in ENTRY_OUTCOMES:
        message = "choose the outcome: upheld (the entry stands) or ended"
        raise InvalidInput(message, problems=[Problem(message, field="outcome")])
    reason = written_text(reason, name="reason", limit=MAX_TEXT,
                          required="a decision needs a written reason")
    entry = session.get(ListEntry, objection.list_entry_id)
    if entry.created_by == reviewer:
        raise Forbidden("the official who made the entry may not decide the objection to it")
    done = session.execute(
        update(EntryObjection).where(EntryObjection.id == objection_id,
                                     EntryObjection.decided_on.is_(None))
        .values(decided_on=today, decided_by=reviewer, outcome=outcome,
                decision_reason=reason)).rowcount
    if not done:
        raise Conflict(f"objection {objection_id} was already decided")
    if outcome == "ended" and entry.removed_on is None:
        remove_from_list(session, rulebook=rulebook, entry_id=entry.id,
                         department=entry.department_code,
                         reason=f"ended on objection {objection_id}: {reason}",
                         actor=reviewer, today=today)
    list_def = rulebook.list_def(entry.list_code)
    title, body = notice_texts.entry_objection_notice(
        rulebook=rulebook, list_def=list_def, list_code=entry.list_code,
        outcome=outcome, reason=reason, decided_on=today)
    content = {"list": list_def.title if list_def is not None and list_def.title
               else entry.list_code, **in_other_languages(list_def, "title", "list"),
               "code": entry.list_code, "outcome": outcome, "reason": reason,
               "decided_on": today.isoformat()}
    add_notices(session, [NewNotice(objection.subject_id, "entry_objection_decision",
                                    f"entry_objection_decision:{objection.id}", title, body,
                                    list_entry_id=entry.id, content=content)], today=today)
    audit.append(session, actor=reviewer, action="entry_objection.decide",
                 subject_id=objection.subject_id, target=f"entry_objection:{objection.id}",
                 details={"entry": entry.id, "list": entry.list_code, "outcome": outcome,
                          "reason": reason, "decided_on": today})
    session.refresh(objection)
    return objection


# --- reading ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WaysOut:
    """What a subject has asked for: applications by record, objections by entry."""

    repairs: dict[int, list[RepairRequest]]
    entry_objections: dict[int, EntryObjection]


def ways_out_of(session: Session, *, subject_id: str) -> WaysOut:
    repairs: dict[int, list[RepairRequest]] = {}
    for request in session.execute(select(RepairRequest).where(
            RepairRequest.subject_id == subject_id).order_by(RepairRequest.id)).scalars():
        repairs.setdefault(request.record_id, []).append(request)
    objections = {o.list_entry_id: o for o in session.execute(select(EntryObjection).where(
        EntryObjection.subject_id == subject_id)).scalars()}
    return WaysOut(repairs, objections)


@dataclass(frozen=True)
class RepairItem:
    request: RepairRequest
    record: Record
    subject: Subject
    days_left: int


@dataclass(frozen=True)
class EntryObjectionItem:
    objection: EntryObjection
    entry: ListEntry
    subject: Subject
    days_left: int


def repair_queue(session: Session, *, department: str | None, today: date,
                 limit: int = 500) -> list[RepairItem]:
    """The pending applications for repair (of one department, or all), nearest first."""
    query = (select(RepairRequest, Record, Subject)
             .join(Record, Record.id == RepairRequest.record_id)
             .join(Subject, Subject.subject_id == RepairRequest.subject_id)
             .where(RepairRequest.status == "pending"))
    if department is not None:
        query = query.where(RepairRequest.department_code == department)
    rows = session.execute(query.order_by(RepairRequest.deadline, RepairRequest.id)
                           .limit(limit)).all()
    return [RepairItem(q, r, s, (q.deadline - today).days) for q, r, s in rows]


def entry_objection_queue(session: Session, *, today: date,
                          limit: int = 500) -> list[EntryObjectionItem]:
    """The pending objections to list entries, nearest deadline first."""
    rows = session.execute(
        select(EntryObjection, ListEntry, Subject)
        .join(ListEntry, ListEntry.id == EntryObjection.list_entry_id)
        .join(Subject, Subject.subject_id == EntryObjection.subject_id)
        .where(EntryObjection.decided_on.is_(None))
        .order_by(EntryObjection.deadline, EntryObjection.id).limit(limit)).all()
    return [EntryObjectionItem(o, e, s, (o.deadline - today).days) for o, e, s in rows]


@dataclass(frozen=True)
class EntryStatus:
    """One of a subject's list entries as their page shows it, with the way to object."""

    entry: ListEntry
    ends_on: date | None  # the first day it no longer counts (None: until removed)
    window: Window
    objection: EntryObjection | None
    can_object: bool


def entries_of(session: Session, *, rulebook: Rulebook, subject_id: str, today: date,
               ways: WaysOut | None = None) -> list[EntryStatus]:
    """The subject's list entries that still count today, newest first (`ways`: the
    subject's ways out, if the caller has read them already)."""
    objections = (ways or ways_out_of(session, subject_id=subject_id)).entry_objections
    out = []
    for entry in session.execute(select(ListEntry).where(
            ListEntry.subject_id == subject_id, ListEntry.entered_on <= today)
            .order_by(ListEntry.entered_on.desc(), ListEntry.id.desc())).scalars():
        end = entry_end(entry, rulebook.list_def(entry.list_code))
        if end is not None and end <= today:
            continue
        window = entry_window(rulebook, entry)
        objection = objections.get(entry.id)
        out.append(EntryStatus(entry, end, window, objection,
                               objection is None and window.is_open(today)))
    return out
