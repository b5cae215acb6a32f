"""One subject's standing, from the pure evaluator over that subject's stored facts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

from sqlalchemy import bindparam, select
from sqlmodel import Session

from app.errors import InvalidInput, NotFound
from app.identifiers import InvalidIdentifier, clean, validate_subject_id
from app.models import ListEntry, Objection, Record, Subject
from app.rulebook import Rulebook
from app.services.rulebooks.in_force import TIMELINE_MEMO, rulebook_timeline
from app.standing import evaluate
from app.standing.model import Dispute, ListEntryFact, RecordFact, Standing, SubjectFact


def get_subject(session: Session, subject_id: str) -> Subject:
    """Return the subject, or raise InvalidInput (bad identifier) or NotFound."""
    sid = clean(subject_id)
    subject = session.get(Subject, sid)
    if subject is not None:
        return subject
    try:
        validate_subject_id(sid)
    except InvalidIdentifier as error:
        raise InvalidInput(str(error)) from None
    raise NotFound(f"no subject {sid} in the population register")


def subject_fact(subject: Subject) -> SubjectFact:
    """Return the evaluator's view of a subject row."""
    return SubjectFact(subject_id=subject.subject_id, kind=subject.kind, consent=subject.consent,
                       name=subject.name, legal_representative=subject.legal_representative,
                       legal_representative_since=subject.legal_representative_since)


def record_fact(record: Record, disputes: tuple[Dispute, ...] = ()) -> RecordFact:
    """Return the evaluator's view of a record row (with its objections, as `disputes`)."""
    return RecordFact(
        id=record.id, subject_id=record.subject_id, rule_code=record.rule_code,
        rule_version=record.rule_version, occurred_on=record.occurred_on, points=record.points,
        ends_on=record.ends_on, voided=record.voided_at is not None,
        annulled=record.annulled_on is not None, repaired_on=record.repaired_on,
        department=record.department_code, evidence=record.evidence, note=record.note,
        base_points=record.base_points, factor=record.factor, disputes=tuple(disputes),
    )


def load_disputes(session: Session, subject_ids: list[str]) -> dict[int, tuple[Dispute, ...]]:
    """Return, per record id, the objections against the records of `subject_ids`."""
    out: dict[int, list[Dispute]] = {}
    for i in range(0, len(subject_ids), 500):
        for record_id, filed_on, decided_on in session.execute(
            select(Objection.record_id, Objection.filed_on, Objection.decided_on)
            .where(Objection.subject_id.in_(subject_ids[i:i + 500]))
            .order_by(Objection.record_id, Objection.level)
        ):
            out.setdefault(record_id, []).append(Dispute(filed_on, decided_on))
    return {k: tuple(v) for k, v in out.items()}


def list_entry_fact(entry: ListEntry) -> ListEntryFact:
    """Return the evaluator's view of a list entry row."""
    return ListEntryFact(
        id=entry.id, subject_id=entry.subject_id, list_code=entry.list_code,
        entered_on=entry.entered_on, ends_on=entry.ends_on, removed_on=entry.removed_on,
        department=entry.department_code, legal_basis=entry.legal_basis,
        decision_ref=entry.decision_ref,
    )


FACTS_KEY = "citypoints.facts"
RECORD_FACT_COLUMNS = (
    Record.id, Record.subject_id, Record.rule_code, Record.rule_version, Record.occurred_on,
    Record.points, Record.ends_on, Record.voided_at, Record.annulled_on, Record.repaired_on,
    Record.department_code, Record.evidence, Record.note, Record.base_points, Record.factor)
ENTRY_FACT_COLUMNS = (
    ListEntry.id, ListEntry.subject_id, ListEntry.list_code, ListEntry.entered_on,
    ListEntry.ends_on, ListEntry.removed_on, ListEntry.department_code, ListEntry.legal_basis,
    ListEntry.decision_ref)


@contextmanager
def facts_read_once(session: Session) -> Iterator[None]:
    """Within the block, load_facts reads each subject's facts from the database once, and
    the rulebooks in force are read once (rulebooks.in_force.rulebook_timeline).

    For a page that shows one subject several ways (standing, history, what changes next)
    and reads nothing it writes in between; outside the block every call reads afresh.
    """
    outer = FACTS_KEY in session.info
    session.info.setdefault(FACTS_KEY, {})
    session.info.setdefault(TIMELINE_MEMO, {})
    try:
        yield
    finally:
        if not outer:
            session.info.pop(FACTS_KEY, None)
            session.info.pop(TIMELINE_MEMO, None)


def load_facts(session: Session, subject: Subject) -> tuple[list[RecordFact], list[ListEntryFact]]:
    """Return every record and list entry of `subject`."""
    memo = session.info.get(FACTS_KEY)
    if memo is not None:
        if subject.subject_id not in memo:
            memo[subject.subject_id] = _read_facts(session, subject)
        records, entries = memo[subject.subject_id]
        return list(records), list(entries)
    return _read_facts(session, subject)


def _core(columns) -> tuple:
    return tuple(column.table.c[column.key] for column in columns)


# Plain rows of the columns the facts use, not ORM objects, by statements built once and
# sent as Core: a page or a check reads up to a few hundred records of one subject, and it
# is the busiest read of the application (the ORM's per-statement work cost more than the
# reads themselves).
_SUBJECT = bindparam("subject_id")
_RECORDS = select(*_core(RECORD_FACT_COLUMNS)).where(
    Record.__table__.c.subject_id == _SUBJECT).order_by(Record.__table__.c.id)
_ENTRIES = select(*_core(ENTRY_FACT_COLUMNS)).where(
    ListEntry.__table__.c.subject_id == _SUBJECT).order_by(ListEntry.__table__.c.id)
_objection = Objection.__table__.c
_DISPUTES = select(_objection.record_id, _objection.filed_on, _objection.decided_on).where(
    _objection.subject_id == _SUBJECT).order_by(_objection.record_id, _objection.level)


def _read_facts(session: Session, subject: Subject) -> tuple[list[RecordFact],
                                                              list[ListEntryFact]]:
    if session.autoflush:  # what the ORM statements did: pending changes are read too
        session.flush()
    key = {"subject_id": subject.subject_id}
    disputes: dict[int, list[Dispute]] = {}
    for record_id, filed_on, decided_on in session.execute(_DISPUTES, key):
        disputes.setdefault(record_id, []).append(Dispute(filed_on, decided_on))
    return ([record_fact(r, tuple(disputes.get(r.id, ()))) for r in session.execute(_RECORDS, key)],
            [list_entry_fact(e) for e in session.execute(_ENTRIES, key)])


def load_represented(session: Session, subject: Subject) -> list[tuple[SubjectFact,
                                                                       list[ListEntryFact]]]:
    """Return the organisations whose legal representative `subject` is, with their entries."""
    if subject.kind != "person":
        return []
    orgs = list(session.execute(
        select(Subject).where(Subject.legal_representative == subject.subject_id,
                              Subject.kind == "organisation").order_by(Subject.subject_id)
    ).scalars())
    if not orgs:
        return []
    entries: dict[str, list[ListEntryFact]] = {o.subject_id: [] for o in orgs}
    for entry in session.execute(
        select(ListEntry).where(ListEntry.subject_id.in_(list(entries))).order_by(ListEntry.id)
    ).scalars():
        entries[entry.subject_id].append(list_entry_fact(entry))
    return [(subject_fact(o), entries[o.subject_id]) for o in orgs]


def standing_for(session: Session, *, rulebook: Rulebook, subject_id: str, as_of: date) -> Standing:
    """Evaluate one subject's standing on `as_of` with its explanation, under the rulebook in
    force on `as_of` (`rulebook` is the one in force today; see rulebooks.in_force)."""
    subject = get_subject(session, subject_id)
    records, entries = load_facts(session, subject)
    return evaluate_in_force(session, rulebook, subject=subject_fact(subject), records=records,
                             list_entries=entries, as_of=as_of,
                             represented=load_represented(session, subject))


def evaluate_in_force(session: Session, rulebook: Rulebook, *, subject: SubjectFact,
                      records: list[RecordFact], list_entries: list[ListEntryFact], as_of: date,
                      represented=()) -> Standing:
    """Evaluate with the rulebook in force on `as_of`; the standing names it."""
    timeline = rulebook_timeline(session, rulebook)
    entry = timeline.entry_on(as_of)
    standing = evaluate(subject=subject, records=records, list_entries=list_entries,
                        rulebook=entry.rulebook, as_of=as_of, represented=represented,
                        timeline=timeline)
    known = entry.first_day if entry.first_day != date.min else None
    return replace(standing, in_force_from=known)
