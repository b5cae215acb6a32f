"""List entries: a department enters subjects on the lists it keeps (one by one or from a
file: a batch of drafts, all or nothing, idempotent on its `external_ref`), or removes an
entry early.

An entry is never deleted or edited: a removal sets `removed_on` (today: it takes effect at
once), who and why, once. The queries that pages read are in app.services.lists.queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.errors import Conflict, ExternalRefConflict, Forbidden, NotFound, Problem
from app.identifiers import InvalidIdentifier, validate_subject_id
from app.models import ListEntry, Subject, utcnow
from app.rulebook import Rulebook
from app.rulebook.model import ListDef
from app.services.audit import chain as audit
from app.services.audit import seals
from app.services.intake.batch import (
    Checked,
    all_or_nothing,
    check_all,
    check_one,
    row_of,
    where,
)
from app.services.intake.drafts import LIST_ENTRY_FILE, ListEntryDraft, read_drafts
from app.services.intake.refs import FileRefs, differing
from app.services.intake.text import draft_text_problems, written_text
from app.services.locks import begin_write
from app.services.rulebooks.registry import store_rulebook
from app.services.standings.facts import list_entry_fact
from app.services.transaction import atomic, in_transaction, transaction
from app.standing.spans import list_entry_end

EARLIEST = date(1949, 10, 1)  # as for records: an older date is a mistyped year
MAX_TEXT = 2000
CHUNK = 500


@dataclass
class ListImportResult:
    added: int = 0
    unchanged: int = 0  # rows whose external_ref was already entered with the same content
    rows: int = 0
    planned: list[dict] = field(default_factory=list)  # the new entries (filled on a dry run)


@dataclass(frozen=True)
class Entered:
    entry: ListEntry
    created: bool  # False when the external_ref was already entered (idempotent replay)


def _ref_key(draft: ListEntryDraft) -> tuple[str, tuple[str, ...]]:
    day = draft.entered_on.isoformat() if draft.entered_on else ""
    return draft.external_ref, (draft.subject_id.strip().upper(), draft.list_code.strip(), day,
                                draft.decision_ref.strip())


class _EntryChecks:
    """Checks list entry drafts in file order, naming each problem by its row and column."""

    def __init__(self, session: Session, *, rulebook: Rulebook, department: str, today: date,
                 actor: str, name: str):
        self.session, self.rulebook, self.department = session, rulebook, department
        self.today, self.actor, self.name = today, actor, name
        self.subjects: dict[str, str] = {}
        self.existing: dict[str, tuple] = {}  # external_ref -> (id, list, subject, entered_on)
        self.refs = FileRefs()
        self.forbidden: list[Problem] = []  # the department does not keep the list
        self.reused: list[Problem] = []  # an external_ref already used for another entry
        self.valid_ids: dict[str, tuple[str, str] | str] = {}

    def preload(self, drafts: Sequence[ListEntryDraft]) -> None:
        """Fetch the subjects and the department's known external refs the drafts name."""
        ids = sorted({d.subject_id.strip().upper() for d in drafts})
        for i in range(0, len(ids), CHUNK):
            for sid, kind in self.session.execute(
                    select(Subject.subject_id, Subject.kind)
                    .where(Subject.subject_id.in_(ids[i:i + CHUNK]))):
                self.subjects[sid] = kind
        refs = FileRefs.all_refs(drafts, _ref_key)
        for i in range(0, len(refs), CHUNK):
            for row in self.session.execute(
                    select(ListEntry.id, ListEntry.external_ref, *REPLAYED)
                    .where(ListEntry.department_code == self.department)
                    .where(ListEntry.external_ref.in_(refs[i:i + CHUNK]))):
                self.existing[row.external_ref] = row

    def check(self, draft: ListEntryDraft, problems: list[Problem]) -> Checked | None:
        """Check one draft; return the entry's columns, or add its problems and None."""
        line = draft.line
        before = len(problems)

        def bad(column: str, message: str) -> Problem:
            problem = Problem(message, where=where(self.name, line), field=column,
                              row=row_of(line))
            problems.append(problem)
            return problem

        for column, why in draft_text_problems(draft):
            bad(column, why)
        if len(problems) > before:
            return None
        code = draft.list_code.strip()
        list_def = self.rulebook.list_def(code)
        if not code:
            bad("list_code", "the list code is empty")
        elif list_def is None:
            bad("list_code", f"unknown list {code!r}; the lists are "
                             f"{', '.join(x.code for x in self.rulebook.lists)}")
        elif self.department not in list_def.departments:
            self.forbidden.append(bad(
                "list_code", f"department {self.department} may not write to list {code} "
                             f"(kept by {', '.join(list_def.departments) or 'no department'})"))
        subject_id = draft.subject_id.strip().upper()
        try:
            subject_id, _ = self._valid_id(subject_id)
            if subject_id not in self.subjects:
                bad("subject_id", f"no subject {subject_id} in the population register")
        except InvalidIdentifier as error:
            bad("subject_id", str(error))
        entered_on = self._date(draft, "entered_on", draft.entered_on, bad)
        ends_on = self._date(draft, "ends_on", draft.ends_on, bad)
        if entered_on is not None and entered_on > self.today:
            bad("entered_on", f"{entered_on} is in the future (today is {self.today})")
            entered_on = None
        natural = None
        if list_def is not None and entered_on is not None and list_def.lasts is not None:
            natural = list_def.lasts.after(entered_on)
        if ends_on is not None and entered_on is not None:
            if ends_on <= entered_on:
                bad("ends_on", f"{ends_on} is not after the entry date {entered_on}")
            elif natural is not None and ends_on > natural:
                bad("ends_on", f"{ends_on} is after {natural}, when an entry on {code} ends "
                               f"by itself ({list_def.lasts} after entry)")
        legal_basis = draft.legal_basis.strip()
        if len(legal_basis) > MAX_TEXT:
            bad("legal_basis", f"is {len(legal_basis)} characters long; the most is {MAX_TEXT}")
        decision_ref = draft.decision_ref.strip()
        if not decision_ref:
            bad("decision_ref", "the decision reference is empty (the decision that puts "
                                "the subject on the list)")
        elif len(decision_ref) > 200:
            bad("decision_ref", "is longer than 200 characters")
        if len(draft.external_ref.strip()) > 200:
            bad("external_ref", "is longer than 200 characters")
        if len(problems) > before or list_def is None or entered_on is None:
            return None
        ref = self.refs.ref_of(draft.external_ref, (draft.subject_id.strip().upper(), code,
                                                    entered_on.isoformat(), decision_ref))
        first = self.refs.used_before(ref, line)
        if first is not None:
            bad("external_ref", f"{ref!r} is used twice in this file (first on line {first})")
            return None
        values = {
            "list_code": code, "subject_id": subject_id, "department_code": self.department,
            "entered_on": entered_on, "ends_on": ends_on or natural,
            "legal_basis": legal_basis or list_def.legal_basis, "decision_ref": decision_ref,
            "external_ref": ref, "created_at": utcnow(), "created_by": self.actor,
        }
        if ref in self.existing:
            old = self.existing[ref]
            differ = _differing(old, values)
            if differ:
                self.reused.append(bad(
                    "external_ref", f"{ref!r} was already used for list entry {old.id} "
                                    f"({old.subject_id} on {old.list_code} from "
                                    f"{old.entered_on}), with another {' and '.join(differ)}; "
                                    "a replay must be the same entry, and a correction is a "
                                    "removal and a new entry, not a second use of the "
                                    "reference"))
                return None
            return Checked(line, existing=old.id)
        return Checked(line, values)

    def _valid_id(self, raw: str) -> tuple[str, str]:
        """Return validate_subject_id(raw), checked once per distinct identifier of a file."""
        found = self.valid_ids.get(raw)
        if found is None:
            try:
                found = validate_subject_id(raw, self.subjects.get(raw))
            except InvalidIdentifier as error:
                found = str(error)
            self.valid_ids[raw] = found
        if isinstance(found, str):
            raise InvalidIdentifier(found)
        return found

    @staticmethod
    def _date(draft: ListEntryDraft, column: str, day: date | None,
              bad: Callable[[str, str], Problem]) -> date | None:
        why = draft.why_unread(column)
        if why is not None or (day is None and column == "entered_on"):
            bad(column, why or "the entry date is empty")
            return None
        if day is not None and day < EARLIEST:
            bad(column, f"{day} is before {EARLIEST}; is the year mistyped?")
            return None
        return day


def import_list_entries(session: Session, drafts: Sequence[ListEntryDraft], *,
                        rulebook: Rulebook, department: str, actor: str, today: date,
                        name: str = "", dry_run: bool = False,
                        progress: Callable[[int], object] | None = None) -> ListImportResult:
    """Enter every draft on its list, or none: raise InvalidInput listing each bad row.

    With `dry_run` the drafts are checked and the new entries returned in `planned`;
    nothing is written.
    """
    with all_or_nothing(session, conflict="another import used the same external_ref at the "
                                          "same time; nothing was entered, run the import "
                                          "again"):
        if not dry_run:
            store_rulebook(session, rulebook, loaded_by=actor, source="in force")
            begin_write(session, f"lists:{department}")
        checks = _EntryChecks(session, rulebook=rulebook, department=department, today=today,
                              actor=actor, name=name)
        batch = check_all(checks, drafts, done="entered", progress=progress)
        new = batch.new
        result = ListImportResult(added=len(new), unchanged=batch.unchanged, rows=batch.rows)
        if dry_run:
            result.planned = new
            return result
        after = session.execute(select(func.coalesce(func.max(ListEntry.id), 0))).scalar()
        for i in range(0, len(new), 5000):
            session.execute(insert(ListEntry), new[i:i + 5000])
        seals.touch_after(session, "list-entry", after)
        if new:
            audit.append(session, actor=actor, action="list.import", target=department,
                         details={"file": name, "rows": batch.rows, "added": len(new),
                                  "unchanged": result.unchanged})
    return result


def import_list_entries_file(session: Session, *, rulebook: Rulebook, department: str,
                             data: bytes, name: str, actor: str, today: date,
                             dry_run: bool = False) -> ListImportResult:
    """Read a CSV or JSON-lines file of list entries and import it."""
    drafts = read_drafts(data, name=name, kind=LIST_ENTRY_FILE)
    return import_list_entries(session, drafts, rulebook=rulebook, department=department,
                               actor=actor, today=today, name=name, dry_run=dry_run)


# What a replay of an external reference must repeat, field for field.
REPLAYED = (ListEntry.list_code, ListEntry.subject_id, ListEntry.entered_on, ListEntry.ends_on,
            ListEntry.legal_basis, ListEntry.decision_ref)


def _differing(stored, values: dict) -> list[str]:
    return differing((c.key, getattr(stored, c.key), values[c.key]) for c in REPLAYED)


def enter(session: Session, draft: ListEntryDraft, *, rulebook: Rulebook, department: str,
          today: date, actor: str) -> Entered:
    """Enter one subject on a list the department keeps; replaying its external_ref is a no-op.

    Raises ForbiddenInput (the department does not keep the list), ExternalRefConflict (the
    reference was used for another entry) or InvalidInput, each naming the field.
    """
    joined = in_transaction(session)
    checks = _EntryChecks(session, rulebook=rulebook, department=department, today=today,
                          actor=actor, name="")
    item = None
    try:
        with transaction(session):
            store_rulebook(session, rulebook, loaded_by=actor, source="in force")
            begin_write(session, f"lists:{department}")
            item = check_one(checks, draft, noun="list entry")
            if item.existing is not None:
                return Entered(session.get(ListEntry, item.existing), created=False)
            entry = ListEntry(**item.values)
            session.add(entry)
            session.flush()
            audit.append(session, actor=actor, action="list.enter", subject_id=entry.subject_id,
                         target=f"list_entry:{entry.id}",
                         details={"list": entry.list_code, "entered_on": entry.entered_on,
                                  "ends_on": entry.ends_on, "department": department,
                                  "decision_ref": entry.decision_ref})
    except IntegrityError:
        if joined or item is None:
            raise
        # The same reference was entered by another request since it was checked: a replay.
        existing = session.execute(select(ListEntry).where(
            ListEntry.department_code == department,
            ListEntry.external_ref == item.values["external_ref"])).scalar_one_or_none()
        if existing is None:
            raise
        differ = _differing(existing, item.values)
        if differ:
            message = (f"{item.values['external_ref']!r} was just used for list entry "
                       f"{existing.id} with another {' and '.join(differ)}")
            raise ExternalRefConflict(message, problems=[
                Problem(message, field="external_ref")]) from None
        return Entered(existing, created=False)
    return Entered(entry, created=True)


@atomic
def remove_from_list(session: Session, *, rulebook: Rulebook, entry_id: int, department: str,
                     reason: str, actor: str, today: date,
                     list_code: str | None = None) -> ListEntry:
    """End an entry today (it stops counting at once), saying why; the entry is kept."""
    entry = session.get(ListEntry, entry_id) if 0 < entry_id < 2**31 else None
    if entry is None or (list_code is not None and entry.list_code != list_code):
        raise NotFound(f"no entry {entry_id} on list {list_code}" if list_code
                       else f"no list entry {entry_id}")
    if department != entry.department_code:
        raise Forbidden(f"only the department that made entry {entry_id} "
                        f"({entry.department_code}) may remove it")
    reason = written_text(reason, name="reason", limit=MAX_TEXT,
                          required="say why the entry is removed (for example: the debt was paid)")
    if entry.removed_on is not None:
        raise Conflict(f"entry {entry_id} was already removed on {entry.removed_on} by "
                       f"{entry.removed_by}: {entry.removed_reason}")
    end = entry_end(entry, rulebook.list_def(entry.list_code))
    if end is not None and end <= today:
        raise Conflict(f"entry {entry_id} already ended by itself on {end}")
    begin_write(session, f"lists:{department}")
    done = session.execute(
        update(ListEntry).where(ListEntry.id == entry_id, ListEntry.removed_on.is_(None))
        .values(removed_on=today, removed_by=actor, removed_reason=reason)).rowcount
    if not done:
        raise Conflict(f"entry {entry_id} was removed by someone else just now")
    seals.touch(session, "list-entry", [entry_id])
    audit.append(session, actor=actor, action="list.remove", subject_id=entry.subject_id,
                 target=f"list_entry:{entry_id}",
                 details={"list": entry.list_code, "removed_on": today, "reason": reason,
                          "department": department})
    session.refresh(entry)
    return entry


def entry_end(entry: ListEntry, list_def: ListDef | None) -> date | None:
    """Return the first day `entry` no longer counts (its end, or its removal if earlier)."""
    return list_entry_end(list_entry_fact(entry), list_def)
