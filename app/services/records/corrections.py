"""Corrections of records that stay on file: a void (entered in error) and a repair.

Neither deletes or edits a record: each sets its own columns once, with who, when and why,
and is refused a second time. A void is the recording department's to make; a repair too,
and only from the record's `repairable_on` (the rule version's `repairable_after` from the
conduct date) while the record still counts. A repaired record stops counting on its repair
date; a voided one never counts.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlmodel import Session

from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from app.models import Record, utcnow
from app.rulebook import Rulebook
from app.services.audit import chain as audit
from app.services.audit import seals
from app.services.due_process import notice_texts as notice_texts
from app.services.due_process.notices import OTHER_LANGUAGES, NewNotice, add_notices
from app.services.intake.text import written_text
from app.services.locks import begin_record_write
from app.services.transaction import atomic

MAX_TEXT = 2000


def _record(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id) if 0 < record_id < 2**31 else None
    if record is None:
        raise NotFound(f"there is no record {record_id}")
    return record


def _own_department(record: Record, department: str | None, what: str) -> None:
    if department != record.department_code:
        raise Forbidden(f"only the recording department ({record.department_code}) may {what} "
                        f"record {record.id}")


@atomic
def void_record(session: Session, *, record_id: int, department: str | None, reason: str,
                actor: str) -> Record:
    """Void a record entered in error (it never counts again), saying why; once."""
    record = _record(session, record_id)
    _own_department(record, department, "void")
    reason = written_text(reason, name="reason", limit=MAX_TEXT,
                          required="say why the record was entered in error (the reason is empty)")
    if record.voided_at is not None:
        raise Conflict(f"record {record.id} was already voided by {record.voided_by}: "
                       f"{record.void_reason}")
    if record.annulled_on is not None:
        raise Conflict(f"record {record.id} was annulled on {record.annulled_on} after an "
                       "objection; it does not count already")
    begin_record_write(session, record.subject_id)
    done = session.execute(
        update(Record).where(Record.id == record.id, Record.voided_at.is_(None))
        .values(voided_at=utcnow(), voided_by=actor, void_reason=reason)).rowcount
    if not done:
        raise Conflict(f"record {record.id} was voided by someone else just now")
    seals.touch(session, "record", [record.id])
    audit.append(session, actor=actor, action="record.void", subject_id=record.subject_id,
                 target=f"record:{record.id}",
                 details={"reason": reason, "department": department,
                          "rule_code": record.rule_code, "points": record.points})
    session.refresh(record)
    return record


def repairable_on(rulebook: Rulebook, record: Record) -> date | None:
    """Return the first day `record` may be marked repaired, or None if its rule never allows."""
    if record.repairable_on is not None:
        return record.repairable_on
    rule = rulebook.rule_version(record.rule_code, record.rule_version)
    return rule.repairable_on(record.occurred_on) if rule is not None else None


@atomic
def repair_record(session: Session, *, rulebook: Rulebook, record_id: int,
                  department: str | None, evidence: str, actor: str, today: date) -> Record:
    """Mark a record repaired today, with evidence (debt paid, training done); once.

    Allowed from its rule version's `repairable_after`, while it still counts.
    """
    record = _record(session, record_id)
    _own_department(record, department, "mark repaired")
    evidence = written_text(evidence, name="evidence", limit=MAX_TEXT,
                            required="give the evidence of the repair (the evidence is empty)")
    if record.repaired_on is not None:
        raise Conflict(f"record {record.id} was already marked repaired on "
                       f"{record.repaired_on} by {record.repaired_by}")
    if record.voided_at is not None or record.annulled_on is not None:
        raise Conflict(f"record {record.id} was {'voided' if record.voided_at else 'annulled'}"
                       "; it does not count, so there is nothing to repair")
    first = repairable_on(rulebook, record)
    if first is None:
        raise Conflict(f"rule {record.rule_code} does not allow repair (it sets no "
                       "repairable_after); the record counts until it lapses")
    if today < first:
        message = (f"record {record.id} may be marked repaired from {first.isoformat()} "
                   f"(the rule's minimum period after the conduct on {record.occurred_on})")
        raise InvalidInput(message, problems=[Problem(message, field="record")])
    if record.ends_on <= today:
        raise Conflict(f"record {record.id} already stopped counting on {record.ends_on}")
    begin_record_write(session, record.subject_id)
    done = session.execute(
        update(Record).where(Record.id == record.id, Record.repaired_on.is_(None))
        .values(repaired_on=today, repaired_by=actor, repair_evidence=evidence)).rowcount
    if not done:
        raise Conflict(f"record {record.id} was marked repaired by someone else just now")
    seals.touch(session, "record", [record.id])
    rule = rulebook.rule_version(record.rule_code, record.rule_version)
    title, body = notice_texts.repaired_notice(
        record_id=record.id, rule_code=record.rule_code,
        rule_title=rule.title if rule is not None else record.rule_code,
        points=record.points, repaired_on=today, evidence=evidence)
    content = {"record": record.id, "rule": record.rule_code,
               "rule_title": rule.title if rule is not None else record.rule_code,
               **{f"rule_title_{language}": dict(rule.titles).get(language, "")
                  if rule is not None else "" for language in OTHER_LANGUAGES},
               "points": record.points, "repaired_on": today.isoformat(),
               "evidence": evidence}
    add_notices(session, [NewNotice(record.subject_id, "record_repaired",
                                    f"record_repaired:{record.id}", title, body,
                                    record_id=record.id, content=content)], today=today)
    audit.append(session, actor=actor, action="record.repair", subject_id=record.subject_id,
                 target=f"record:{record.id}",
                 details={"evidence": evidence, "repaired_on": today,
                          "department": department, "repairable_on": first})
    session.refresh(record)
    return record


@atomic
def record_to_correct(session: Session, *, record_id: int, department: str | None,
                      viewer: str, purpose: str) -> Record:
    """Return a record of `department` to void or repair; audit `viewer`'s look at it."""
    record = _record(session, record_id)
    _own_department(record, department, purpose)
    audit.append(session, actor=viewer, action="record.view", subject_id=record.subject_id,
                 target=f"record:{record.id}", details={"for": purpose})
    return record
