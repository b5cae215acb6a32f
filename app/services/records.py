"""Recording conduct: one path for the web form, the API and file imports.

A row is checked (subject, code, department, date, rule version in force), its points
are fixed from the subject's records already stored (repeat, then cap), and it is
stored with its rule version and the rulebook's fingerprint. Imports are all or
nothing and idempotent on the department's `external_ref`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.errors import Conflict, ExternalRefConflict, InvalidInput, Problem
from app.identifiers import InvalidIdentifier, validate_subject_id
from app.models import Department, Record, Subject, utcnow
from app.rulebook import Rulebook
from app.services import audit, notices
from app.services.intake import RECORD_COLUMNS, RECORD_REQUIRED, Row, parse_iso_date, read_rows
from app.services.locks import begin_write
from app.services.refs import FileRefs
from app.services.rulebooks import store_rulebook
from app.standing import fix_points
from app.standing.model import PriorRecord

CHUNK = 500
REF_KEY = ("subject_id", "rule_code", "occurred_on", "evidence")
MAX_TEXT = 2000
EARLIEST = date(1949, 10, 1)  # no conduct is recorded from before the People's Republic


@dataclass
class ImportResult:
    added: int = 0
    unchanged: int = 0  # rows whose external_ref was already recorded with the same content
    rows: int = 0
    record_ids: list[int] = field(default_factory=list)
    planned: list[dict] = field(default_factory=list)  # the new records (filled on a dry run)


@dataclass
class _Prepared:
    values: dict  # the Record's columns
    line: int
    existing_id: int | None = None


class _Batch:
    """Checks rows in file order and fixes their points, keeping state between rows."""

    def __init__(self, session: Session, *, rulebook: Rulebook, department: str, today: date,
                 recorded_by: str, name: str):
        self.session = session
        self.rulebook = rulebook
        self.department = department
        self.today = today
        self.recorded_by = recorded_by
        self.name = name
        self.subjects: dict[str, str] = {}  # subject_id -> kind
        self.existing: dict[str, tuple] = {}  # external_ref -> (id, subject, code, occurred_on)
        self.prior: dict[tuple[str, str], list[PriorRecord]] = {}
        self.refs = FileRefs(REF_KEY, verbatim=("evidence",))
        self.reused: list[Problem] = []  # an external_ref already used for another record
        self.valid_ids: dict[str, tuple[str, str] | str] = {}

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

    def preload(self, rows: Sequence[Row]) -> None:
        """Fetch the subjects, known external refs and prior records the rows refer to."""
        ids = sorted({r.values.get("subject_id", "").strip().upper() for r in rows})
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            for sid, kind in self.session.execute(
                select(Subject.subject_id, Subject.kind).where(Subject.subject_id.in_(chunk))
            ):
                self.subjects[sid] = kind
        refs = FileRefs.all_refs(rows, REF_KEY, verbatim=("evidence",))
        for i in range(0, len(refs), CHUNK):
            for rid, ref, sid, code, occ in self.session.execute(
                select(Record.id, Record.external_ref, Record.subject_id, Record.rule_code,
                       Record.occurred_on)
                .where(Record.department_code == self.department)
                .where(Record.external_ref.in_(refs[i : i + CHUNK]))
            ):
                self.existing[ref] = (rid, sid, code, occ)
        limited = sorted({code for code in self.rulebook.rule_codes
                          if any(v.cap or v.repeat for v in self.rulebook.versions(code))})
        known = sorted(self.subjects)
        if limited and known:
            for i in range(0, len(known), CHUNK):
                for sid, code, occ, pts in self.session.execute(
                    select(Record.subject_id, Record.rule_code, Record.occurred_on, Record.points)
                    .where(Record.subject_id.in_(known[i : i + CHUNK]))
                    .where(Record.rule_code.in_(limited))
                    .where(Record.voided_at.is_(None))
                    .where(Record.annulled_on.is_(None))
                ):
                    self.prior.setdefault((sid, code), []).append(PriorRecord(occ, pts))

    def prepare(self, row: Row, problems: list[Problem]) -> _Prepared | None:
        """Check one row; return its record columns, or add its problems and return None."""
        where = f"{self.name}:{row.line}" if self.name else ""
        v = row.values
        before = len(problems)

        def bad(column: str, message: str) -> Problem:
            problem = Problem(message, where=where, field=column, row=row.line)
            problems.append(problem)
            return problem

        subject_id = v.get("subject_id", "").strip().upper()
        kind = None
        try:
            subject_id, _kind = self._valid_id(subject_id)
            kind = self.subjects.get(subject_id)
            if kind is None:
                bad("subject_id", f"no subject {subject_id} in the population register")
        except InvalidIdentifier as error:
            bad("subject_id", str(error))
        code = v.get("rule_code", "").strip()
        versions = self.rulebook.versions(code)
        if not code:
            bad("rule_code", "the rule code is empty")
        elif not versions:
            bad("rule_code", f"unknown rule code {code!r}")
        occurred_on = None
        try:
            occurred_on = parse_iso_date(v.get("occurred_on", ""))
            if occurred_on > self.today:
                bad("occurred_on", f"{occurred_on} is in the future (today is {self.today})")
                occurred_on = None
            elif occurred_on < EARLIEST:
                bad("occurred_on", f"{occurred_on} is before {EARLIEST}: is the year mistyped?")
                occurred_on = None
        except ValueError as error:
            bad("occurred_on", str(error))
        evidence = v.get("evidence", "")
        if len(evidence) > MAX_TEXT:
            bad("evidence", f"is {len(evidence)} characters long; the most is {MAX_TEXT}")
        raw_ref = v.get("external_ref", "").strip()
        if len(raw_ref) > 200:
            bad("external_ref", "is longer than 200 characters")
        rule = None
        if versions and occurred_on is not None:
            rule = self.rulebook.rule_on(code, occurred_on)
            if rule is None:
                periods = ", ".join(
                    f"{r.effective.start or 'the start'} to {r.effective.until or 'now'}"
                    for r in versions)
                bad("occurred_on", f"rule {code} was not in force on {occurred_on} "
                                   f"(in force: {periods})")
            elif self.department not in rule.departments:
                bad("rule_code", f"department {self.department} may not record {code}; "
                                 f"the rule table gives it to {', '.join(rule.departments)}")
            elif kind is not None and kind not in rule.subjects:
                bad("subject_id", f"{code} applies to {' and '.join(rule.subjects)} subjects, "
                                  f"and {subject_id} is an {kind}" if kind == "organisation"
                    else f"{code} applies to {' and '.join(rule.subjects)} subjects, "
                         f"and {subject_id} is a {kind}")
        if len(problems) > before:
            return None
        ref = self.refs.ref_of(v)
        first = self.refs.used_before(ref, row.line)
        if first is not None:
            bad("external_ref", f"{ref!r} is used twice in this file (first on line {first})")
            return None
        if ref in self.existing:
            rid, sid, ecode, eocc = self.existing[ref]
            if (sid, ecode, eocc) != (subject_id, code, occurred_on):
                self.reused.append(bad(
                    "external_ref", f"{ref!r} was already recorded as record {rid} for "
                                    f"{sid}, {ecode} on {eocc}; a correction is a void and a "
                                    "new record, not a second use of the reference"))
                return None
            return _Prepared({}, row.line, existing_id=rid)
        prior = self.prior.setdefault((subject_id, code), [])
        fixed = fix_points(rule=rule, occurred_on=occurred_on, prior=prior)
        if rule.cap or rule.repeat:
            prior.append(PriorRecord(occurred_on, fixed.points))
        return _Prepared({
            "subject_id": subject_id, "rule_code": code, "rule_version": rule.version,
            "rulebook_fingerprint": self.rulebook.fingerprint,
            "department_code": self.department, "occurred_on": occurred_on,
            "ends_on": rule.ends_on(occurred_on), "repairable_on": rule.repairable_on(occurred_on),
            "base_points": fixed.base_points, "factor": fixed.factor, "points": fixed.points, "note": fixed.note,
            "evidence": evidence, "external_ref": ref, "recorded_at": utcnow(),
            "recorded_by": self.recorded_by,
        }, row.line)


def _check_department(session: Session, rulebook: Rulebook, department: str) -> None:
    if rulebook.department(department) is None or session.get(Department, department) is None:
        raise InvalidInput(f"unknown department {department!r}",
                           problems=[Problem(f"unknown department {department!r}",
                                             field="department")])


def import_records(session: Session, *, rulebook: Rulebook, department: str,
                   rows: Iterable[Row], recorded_by: str, today: date, name: str = "",
                   progress=None, dry_run: bool = False) -> ImportResult:
    """Record every row in file order, or none: raise InvalidInput listing each bad row.

    With `dry_run` the rows are checked and their points fixed exactly as an import would,
    and the new records are returned in `planned`; nothing is written.
    """
    store_rulebook(session, rulebook, loaded_by=recorded_by, source="in force")
    _check_department(session, rulebook, department)
    rows = list(rows)
    batch = _Batch(session, rulebook=rulebook, department=department, today=today,
                   recorded_by=recorded_by, name=name)
    batch.preload(rows)
    problems: list[Problem] = []
    prepared: list[_Prepared] = []
    for row in rows:
        item = batch.prepare(row, problems)
        if item is not None:
            prepared.append(item)
        if progress:
            progress(1)
    if problems:
        session.rollback()
        bad_rows = len({p.row for p in problems})
        raise InvalidInput(f"{bad_rows} of {len(rows)} rows have problems; nothing was recorded",
                           problems=problems)
    new = [p.values for p in prepared if p.existing_id is None]
    result = ImportResult(added=len(new), unchanged=len(prepared) - len(new), rows=len(rows))
    if dry_run:
        session.rollback()
        result.planned = new
        return result
    try:
        begin_write(session, f"records:{department}")
        for i in range(0, len(new), 5000):
            session.execute(insert(Record), new[i : i + 5000])
        notices.notify_imported(session, rulebook=rulebook, department=department,
                                external_refs=[v["external_ref"] for v in new], today=today)
        if new:
            audit.append(session, actor=recorded_by, action="records.import",
                         target=department,
                         details={"file": name, "rows": len(rows), "added": len(new),
                                  "unchanged": result.unchanged})
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another import or recording used the same external_ref at the same "
                       "time; nothing was recorded, run the import again") from None
    except BaseException:
        session.rollback()
        raise
    return result


def import_records_file(session: Session, *, rulebook: Rulebook, department: str, data: bytes,
                        name: str, recorded_by: str, today: date, progress=None,
                        dry_run: bool = False) -> ImportResult:
    """Parse a CSV or JSON-lines file and import it (see import_records)."""
    rows = read_rows(data, name=name, columns=RECORD_COLUMNS, required=RECORD_REQUIRED)
    return import_records(session, rulebook=rulebook, department=department, rows=rows,
                          recorded_by=recorded_by, today=today, name=name, progress=progress,
                          dry_run=dry_run)


@dataclass(frozen=True)
class Recorded:
    record: Record
    created: bool  # False when the external_ref was already recorded (idempotent replay)


def record_conduct(session: Session, *, rulebook: Rulebook, department: str, subject_id: str,
                   rule_code: str, occurred_on: date | str, evidence: str = "",
                   external_ref: str | None = None, recorded_by: str, today: date) -> Recorded:
    """Record one conduct for one subject; raise InvalidInput naming each bad field."""
    store_rulebook(session, rulebook, loaded_by=recorded_by, source="in force")
    _check_department(session, rulebook, department)
    row = Row(0, {"subject_id": str(subject_id or ""), "rule_code": str(rule_code or ""),
                  "occurred_on": occurred_on.isoformat() if isinstance(occurred_on, date)
                  else str(occurred_on or ""),
                  "evidence": str(evidence or ""), "external_ref": str(external_ref or "")})
    begin_write(session, f"subject:{row.values['subject_id'].strip().upper()}")
    batch = _Batch(session, rulebook=rulebook, department=department, today=today,
                   recorded_by=recorded_by, name="")
    batch.preload([row])
    problems: list[Problem] = []
    item = batch.prepare(row, problems)
    if item is None:
        session.rollback()
        message = "the record was not stored: " + "; ".join(
            f"{p.field}: {p.message}" for p in problems)
        if problems == batch.reused:  # a replay with other content: a conflict, not a typo
            raise ExternalRefConflict(message, problems=problems)
        raise InvalidInput(message, problems=problems)
    if item.existing_id is not None:
        session.rollback()
        return Recorded(session.get(Record, item.existing_id), created=False)
    try:
        record = Record(**item.values)
        session.add(record)
        session.flush()
        audit.append(session, actor=recorded_by, action="record.create",
                     subject_id=record.subject_id, target=f"record:{record.id}",
                     details={"rule_code": record.rule_code, "points": record.points,
                              "occurred_on": record.occurred_on, "department": department})
        notices.notify_record(session, rulebook=rulebook, record=record, today=today)
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.execute(select(Record).where(
            Record.department_code == department,
            Record.external_ref == item.values["external_ref"])).scalar_one_or_none()
        if existing is not None:
            return Recorded(existing, created=False)
        raise
    return Recorded(record, created=True)
