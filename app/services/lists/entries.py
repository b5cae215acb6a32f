"""List entries: a department enters subjects on the lists it keeps (one by one or from a
file, all or nothing, idempotent on its `external_ref`), or removes an entry early.

An entry is never deleted or edited: a removal sets `removed_on` (today: it takes effect at
once), who and why, once. The queries that pages read are in app.services.lists.queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.errors import (
    Conflict,
    ExternalRefConflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
)
from app.identifiers import InvalidIdentifier, validate_subject_id
from app.models import ListEntry, Subject, utcnow
from app.rulebook import Rulebook
from app.rulebook.model import ListDef
from app.services.audit import chain as audit
from app.services.intake.refs import FileRefs
from app.services.intake.rows import Row, parse_iso_date, read_rows
from app.services.locks import begin_write
from app.services.rulebooks.registry import store_rulebook
from app.services.standings.facts import list_entry_fact
from app.standing.spans import list_entry_end

LIST_ENTRY_COLUMNS = ("subject_id", "list_code", "entered_on", "ends_on", "legal_basis",
                      "decision_ref", "external_ref")
LIST_ENTRY_REQUIRED = ("subject_id", "list_code", "entered_on")
EARLIEST = date(1949, 10, 1)  # as for records: an older date is a mistyped year
MAX_TEXT = 2000
CHUNK = 500
REF_KEY = ("subject_id", "list_code", "entered_on", "decision_ref")


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


@dataclass
class _Prepared:
    values: dict
    line: int
    existing_id: int | None = None


class _EntryBatch:
    """Checks entry rows in file order, naming each problem by its row and column."""

    def __init__(self, session: Session, *, rulebook: Rulebook, department: str, today: date,
                 actor: str, name: str):
        self.session, self.rulebook, self.department = session, rulebook, department
        self.today, self.actor, self.name = today, actor, name
        self.subjects: dict[str, str] = {}
        self.existing: dict[str, tuple] = {}  # external_ref -> (id, list, subject, entered_on)
        self.refs = FileRefs(REF_KEY)
        self.forbidden: list[Problem] = []  # the department does not keep the list
        self.reused: list[Problem] = []  # an external_ref already used for another entry
        self.valid_ids: dict[str, tuple[str, str] | str] = {}

    def preload(self, rows: Sequence[Row]) -> None:
        """Fetch the subjects and the department's known external refs that the rows name."""
        ids = sorted({r.values.get("subject_id", "").strip().upper() for r in rows})
        for i in range(0, len(ids), CHUNK):
            for sid, kind in self.session.execute(
                    select(Subject.subject_id, Subject.kind)
                    .where(Subject.subject_id.in_(ids[i:i + CHUNK]))):
                self.subjects[sid] = kind
        refs = FileRefs.all_refs(rows, REF_KEY)
        for i in range(0, len(refs), CHUNK):
            for eid, ref, code, sid, entered in self.session.execute(
                    select(ListEntry.id, ListEntry.external_ref, ListEntry.list_code,
                           ListEntry.subject_id, ListEntry.entered_on)
                    .where(ListEntry.department_code == self.department)
                    .where(ListEntry.external_ref.in_(refs[i:i + CHUNK]))):
                self.existing[ref] = (eid, code, sid, entered)

    def prepare(self, row: Row, problems: list[Problem]) -> _Prepared | None:
        """Check one row; return the entry's columns, or add its problems and return None."""
        where = f"{self.name}:{row.line}" if self.name else ""
        v = row.values
        before = len(problems)

        def bad(column: str, message: str) -> Problem:
            problem = Problem(message, where=where, field=column, row=row.line)
            problems.append(problem)
            return problem

        code = v.get("list_code", "").strip()
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
        subject_id = v.get("subject_id", "").strip().upper()
        try:
            subject_id, _ = self._valid_id(subject_id)
            if subject_id not in self.subjects:
                bad("subject_id", f"no subject {subject_id} in the population register")
        except InvalidIdentifier as error:
            bad("subject_id", str(error))
        entered_on = self._date(v, "entered_on", bad, required=True)
        ends_on = self._date(v, "ends_on", bad, required=False)
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
        legal_basis = v.get("legal_basis", "").strip()
        if len(legal_basis) > MAX_TEXT:
            bad("legal_basis", f"is {len(legal_basis)} characters long; the most is {MAX_TEXT}")
        decision_ref = v.get("decision_ref", "").strip()
        if not decision_ref:
            bad("decision_ref", "the decision reference is empty (the decision that puts "
                                "the subject on the list)")
        elif len(decision_ref) > 200:
            bad("decision_ref", "is longer than 200 characters")
        if len(v.get("external_ref", "").strip()) > 200:
            bad("external_ref", "is longer than 200 characters")
        if len(problems) > before:
            return None
        ref = self.refs.ref_of(v)
        first = self.refs.used_before(ref, row.line)
        if first is not None:
            bad("external_ref", f"{ref!r} is used twice in this file (first on line {first})")
            return None
        if ref in self.existing:
            eid, ecode, esid, eentered = self.existing[ref]
            if (ecode, esid, eentered) != (code, subject_id, entered_on):
                self.reused.append(bad(
                    "external_ref", f"{ref!r} was already used for list entry {eid} ({esid} on "
                                    f"{ecode} from {eentered}); a correction is a removal and "
                                    "a new entry, not a second use of the reference"))
                return None
            return _Prepared({}, row.line, existing_id=eid)
        return _Prepared({
            "list_code": code, "subject_id": subject_id, "department_code": self.department,
            "entered_on": entered_on, "ends_on": ends_on or natural,
            "legal_basis": legal_basis or list_def.legal_basis, "decision_ref": decision_ref,
            "external_ref": ref, "created_at": utcnow(), "created_by": self.actor,
        }, row.line)

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

    def _date(self, values: dict, column: str, bad, *, required: bool) -> date | None:
        raw = values.get(column, "").strip()
        if not raw and not required:
            return None
        try:
            day = parse_iso_date(raw)
        except ValueError as error:
            bad(column, str(error))
            return None
        if day < EARLIEST:
            bad(column, f"{day} is before {EARLIEST}; is the year mistyped?")
            return None
        return day


def import_list_entries(session: Session, *, rulebook: Rulebook, department: str,
                        rows: Iterable[Row], actor: str, today: date, name: str = "",
                        dry_run: bool = False, progress=None) -> ListImportResult:
    """Enter every row on its list, or none: raise InvalidInput listing each bad row.

    With `dry_run` the rows are checked and the new entries returned in `planned`;
    nothing is written.
    """
    store_rulebook(session, rulebook, loaded_by=actor, source="in force")
    rows = list(rows)
    batch = _EntryBatch(session, rulebook=rulebook, department=department, today=today,
                        actor=actor, name=name)
    batch.preload(rows)
    problems: list[Problem] = []
    prepared = []
    for row in rows:
        item = batch.prepare(row, problems)
        if item is not None:
            prepared.append(item)
        if progress:
            progress(1)
    if problems:
        session.rollback()
        raise InvalidInput(f"{len({p.row for p in problems})} of {len(rows)} rows have "
                           "problems; nothing was entered", problems=problems)
    new = [p.values for p in prepared if p.existing_id is None]
    result = ListImportResult(added=len(new), unchanged=len(prepared) - len(new), rows=len(rows))
    if dry_run:
        session.rollback()
        result.planned = new
        return result
    try:
        begin_write(session, f"lists:{department}")
        for i in range(0, len(new), 5000):
            session.execute(insert(ListEntry), new[i:i + 5000])
        if new:
            audit.append(session, actor=actor, action="list.import", target=department,
                         details={"file": name, "rows": len(rows), "added": len(new),
                                  "unchanged": result.unchanged})
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another import used the same external_ref at the same time; nothing "
                       "was entered, run the import again") from None
    except BaseException:
        session.rollback()
        raise
    return result


def import_list_entries_file(session: Session, *, rulebook: Rulebook, department: str,
                             data: bytes, name: str, actor: str, today: date,
                             dry_run: bool = False) -> ListImportResult:
    """Parse a CSV or JSON-lines file of list entries and import it."""
    rows = read_rows(data, name=name, columns=LIST_ENTRY_COLUMNS, required=LIST_ENTRY_REQUIRED)
    return import_list_entries(session, rulebook=rulebook, department=department, rows=rows,
                               actor=actor, today=today, name=name, dry_run=dry_run)


def enter(session: Session, *, rulebook: Rulebook, list_code: str, subject_id: str,
          department: str, entered_on: date | str, today: date, actor: str,
          legal_basis: str = "", decision_ref: str = "", external_ref: str | None = None,
          ends_on: date | str | None = None) -> Entered:
    """Enter one subject on a list the department keeps; replaying its external_ref is a no-op.

    Raises Forbidden (the department does not keep the list), ExternalRefConflict (the
    reference was used for another entry) or InvalidInput naming each bad field.
    """
    store_rulebook(session, rulebook, loaded_by=actor, source="in force")

    def text(value) -> str:
        return value.isoformat() if isinstance(value, date) else str(value or "")

    row = Row(0, {"list_code": text(list_code), "subject_id": text(subject_id),
                  "entered_on": text(entered_on), "ends_on": text(ends_on),
                  "legal_basis": text(legal_basis), "decision_ref": text(decision_ref),
                  "external_ref": text(external_ref)})
    begin_write(session, f"lists:{department}")
    batch = _EntryBatch(session, rulebook=rulebook, department=department, today=today,
                        actor=actor, name="")
    batch.preload([row])
    problems: list[Problem] = []
    item = batch.prepare(row, problems)
    if item is None:
        session.rollback()
        message = "the list entry was not stored: " + "; ".join(
            f"{p.field}: {p.message}" for p in problems)
        if problems == batch.forbidden:
            raise Forbidden(message, problems=problems)
        if problems == batch.reused:
            raise ExternalRefConflict(message, problems=problems)
        raise InvalidInput(message, problems=problems)
    if item.existing_id is not None:
        session.rollback()
        return Entered(session.get(ListEntry, item.existing_id), created=False)
    try:
        entry = ListEntry(**item.values)
        session.add(entry)
        session.flush()
        audit.append(session, actor=actor, action="list.enter", subject_id=entry.subject_id,
                     target=f"list_entry:{entry.id}",
                     details={"list": entry.list_code, "entered_on": entry.entered_on,
                              "ends_on": entry.ends_on, "department": department,
                              "decision_ref": entry.decision_ref})
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.execute(select(ListEntry).where(
            ListEntry.department_code == department,
            ListEntry.external_ref == item.values["external_ref"])).scalar_one_or_none()
        if existing is not None:
            return Entered(existing, created=False)
        raise
    return Entered(entry, created=True)


def enter_on_list(session: Session, *, rulebook: Rulebook, list_code: str, subject_id: str,
                  department: str, entered_on: date, today: date, actor: str,
                  legal_basis: str = "", decision_ref: str = "",
                  external_ref: str | None = None) -> ListEntry:
    """Enter a subject on a list the department keeps; it ends by itself after `lasts`."""
    return enter(session, rulebook=rulebook, list_code=list_code, subject_id=subject_id,
                 department=department, entered_on=entered_on, today=today, actor=actor,
                 legal_basis=legal_basis, decision_ref=decision_ref,
                 external_ref=external_ref).entry


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
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the entry is removed (for example: the debt was paid)",
                           problems=[Problem("the reason is empty", field="reason")])
    if len(reason) > MAX_TEXT:
        raise InvalidInput(f"the reason is longer than {MAX_TEXT} characters",
                           problems=[Problem(f"is longer than {MAX_TEXT} characters",
                                             field="reason")])
    if entry.removed_on is not None:
        raise Conflict(f"entry {entry_id} was already removed on {entry.removed_on} by "
                       f"{entry.removed_by}: {entry.removed_reason}")
    end = entry_end(entry, rulebook.list_def(entry.list_code))
    if end is not None and end <= today:
        raise Conflict(f"entry {entry_id} already ended by itself on {end}")
    try:
        begin_write(session, f"lists:{department}")
        done = session.execute(
            update(ListEntry).where(ListEntry.id == entry_id, ListEntry.removed_on.is_(None))
            .values(removed_on=today, removed_by=actor, removed_reason=reason)).rowcount
        if not done:
            raise Conflict(f"entry {entry_id} was removed by someone else just now")
        audit.append(session, actor=actor, action="list.remove", subject_id=entry.subject_id,
                     target=f"list_entry:{entry_id}",
                     details={"list": entry.list_code, "removed_on": today, "reason": reason,
                              "department": department})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(entry)
    return entry


def entry_end(entry: ListEntry, list_def: ListDef | None) -> date | None:
    """Return the first day `entry` no longer counts (its end, or its removal if earlier)."""
    return list_entry_end(list_entry_fact(entry), list_def)
