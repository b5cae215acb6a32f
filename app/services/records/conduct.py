"""Recording conduct: one path for the web form, the API and file imports.

A row is checked (subject, code, department, date, rule version in force), its points
are fixed from the subject's records already stored (repeat, then cap), and it is
stored with its rule version and the rulebook's fingerprint. Imports are all or
nothing and idempotent on the department's `external_ref`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.errors import Conflict, ExternalRefConflict, InvalidInput, Problem
from app.identifiers import InvalidIdentifier, validate_subject_id
from app.models import Department, Record, Subject, utcnow
from app.rulebook import Rulebook
from app.rulebook.model import Rule
from app.services.audit import chain as audit
from app.services.due_process import notices as notices
from app.services.intake.refs import FileRefs
from app.services.intake.rows import RECORD_COLUMNS, RECORD_REQUIRED, Row, parse_iso_date, read_rows
from app.services.locks import RECORDS, begin_record_write, begin_write
from app.services.rulebooks.registry import store_rulebook
from app.standing import fix_points
from app.standing.model import PriorRecord

CHUNK = 500
PROGRESS_STEP = 10000
SQLITE_CACHE_MAX_KIB = 1024 * 1024  # 1 GiB, for files of a million rows and more
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


# The columns an import writes, in the order of _Prepared.values.
COLUMNS = ("subject_id", "rule_code", "rule_version", "rulebook_fingerprint", "department_code",
           "occurred_on", "ends_on", "repairable_on", "base_points", "factor", "points", "note",
           "evidence", "external_ref", "recorded_at", "recorded_by")


@dataclass
class _Prepared:
    values: tuple  # the Record's COLUMNS
    line: int
    existing_id: int | None = None


@dataclass
class _RuleCheck:
    """What a (rule code, date) pair of a file comes to: its problems, or its version."""

    code: str
    occurred_on: date | None
    rule: Rule | None  # the version in force, when the department may record it
    early: list[tuple[str, str]]  # (column, message): the code's and the date's own problems
    late: list[tuple[str, str]]  # not in force that day, or not this department's code
    ends_on: date | None = None
    repairable_on: date | None = None
    limited: bool = False  # capped or repeating: its points depend on earlier records


class _Batch:
    """Checks rows in file order and fixes their points, keeping state between rows.

    Each check that depends on one value only (an identifier; a code and a date) is made
    once per distinct value of the file and remembered: a file of a million rows names a
    few hundred thousand subjects and a few hundred (code, day) pairs.
    """

    def __init__(self, session: Session, *, rulebook: Rulebook, department: str, today: date,
                 recorded_by: str, name: str):
        self.session = session
        self.rulebook = rulebook
        self.department = department
        self.today = today
        self.recorded_by = recorded_by
        self.name = name
        self.recorded_at = utcnow()  # one import, one moment
        self.subjects: dict[str, str] = {}  # subject_id -> kind
        self.existing: dict[str, tuple] = {}  # external_ref -> (id, subject, code, occurred_on)
        self.prior: dict[tuple[str, str], list[PriorRecord]] = {}
        self.refs = FileRefs(REF_KEY, verbatim=("evidence",))
        self.reused: list[Problem] = []  # an external_ref already used for another record
        self._ids: dict[str, tuple[str, str | None, str | None]] = {}
        self._rules: dict[tuple[str, str], _RuleCheck] = {}

    def _subject(self, raw: str) -> tuple[str, str | None, str | None]:
        """Return (subject_id, kind, problem) for an identifier, checked once per file."""
        found = self._ids.get(raw)
        if found is None:
            kind = self.subjects.get(raw)
            if kind is not None:  # in the register as written: validated when registered
                found = (raw, kind, None)
            else:
                try:
                    sid, _kind = validate_subject_id(raw)
                    kind = self.subjects.get(sid)
                    found = (sid, kind, None if kind is not None
                             else f"no subject {sid} in the population register")
                except InvalidIdentifier as error:
                    found = (raw, None, str(error))
            self._ids[raw] = found
        return found

    def _rule(self, code: str, raw_date: str) -> _RuleCheck:
        """Check a (rule code, date) pair once per file: the version in force and its dates."""
        found = self._rules.get((code, raw_date))
        if found is None:
            found = self._rules[(code, raw_date)] = self._check_rule(code, raw_date)
        return found

    def _check_rule(self, code: str, raw_date: str) -> _RuleCheck:
        early: list[tuple[str, str]] = []
        late: list[tuple[str, str]] = []
        versions = self.rulebook.versions(code)
        if not code:
            early.append(("rule_code", "the rule code is empty"))
        elif not versions:
            early.append(("rule_code", f"unknown rule code {code!r}"))
        occurred_on = None
        try:
            occurred_on = parse_iso_date(raw_date)
            if occurred_on > self.today:
                early.append(("occurred_on",
                              f"{occurred_on} is in the future (today is {self.today})"))
                occurred_on = None
            elif occurred_on < EARLIEST:
                early.append(("occurred_on",
                              f"{occurred_on} is before {EARLIEST}: is the year mistyped?"))
                occurred_on = None
        except ValueError as error:
            early.append(("occurred_on", str(error)))
        rule = None
        if versions and occurred_on is not None:
            rule = self.rulebook.rule_on(code, occurred_on)
            if rule is None:
                periods = ", ".join(
                    f"{r.effective.start or 'the start'} to {r.effective.until or 'now'}"
                    for r in versions)
                late.append(("occurred_on", f"rule {code} was not in force on {occurred_on} "
                                            f"(in force: {periods})"))
            elif self.department not in rule.departments:
                late.append(("rule_code",
                             f"department {self.department} may not record {code}; "
                             f"the rule table gives it to {', '.join(rule.departments)}"))
        if rule is None or late:
            return _RuleCheck(code, occurred_on, None, early, late)
        return _RuleCheck(code, occurred_on, rule, early, late, rule.ends_on(occurred_on),
                          rule.repairable_on(occurred_on), bool(rule.cap or rule.repeat))

    def preload(self, rows: Sequence[Row]) -> None:
        """Fetch the subjects, known external refs and prior records the rows refer to."""
        ids = sorted({r.values.get("subject_id", "").strip().upper() for r in rows})
        for sid, kind in self._rows_in(ids, lambda keys: select(Subject.subject_id, Subject.kind)
                                       .where(Subject.subject_id.in_(keys))):
            self.subjects[sid] = kind
        refs = FileRefs.all_refs(rows, REF_KEY, verbatim=("evidence",))
        for rid, ref, sid, code, occ in self._rows_in(refs, lambda keys: select(
                Record.id, Record.external_ref, Record.subject_id, Record.rule_code,
                Record.occurred_on).where(Record.department_code == self.department,
                                          Record.external_ref.in_(keys))):
            self.existing[ref] = (rid, sid, code, occ)
        # Points are fixed from earlier records of the capped or repeating rules the file
        # uses, and only those in the windows (repeat) and periods (cap) its dates reach.
        pairs = {(r.values.get("rule_code", "").strip(), r.values.get("occurred_on", ""))
                 for r in rows}
        limited: set[str] = set()
        first = last = None
        for code, raw_date in pairs:
            check = self._rule(code, raw_date)
            if check.limited:
                rule, day = check.rule, check.occurred_on
                low, high = day, day
                if rule.repeat is not None:
                    low = min(low, rule.repeat.within.before(day))
                if rule.cap is not None:
                    start, end = rule.cap.period_of(day)
                    low, high = min(low, start), max(high, end)
                limited.add(code)
                first = low if first is None else min(first, low)
                last = high if last is None else max(last, high)
        known = sorted(self.subjects)
        if limited and known:
            for sid, code, occ, pts in self._rows_in(known, lambda keys: select(
                    Record.subject_id, Record.rule_code, Record.occurred_on, Record.points)
                    .where(Record.subject_id.in_(keys), Record.rule_code.in_(sorted(limited)),
                           Record.occurred_on.between(first, last),
                           Record.voided_at.is_(None), Record.annulled_on.is_(None))):
                self.prior.setdefault((sid, code), []).append(PriorRecord(occ, pts))

    def _rows_in(self, keys: list[str], query) -> Iterator:
        """Yield the rows of query(chunk) for each chunk of CHUNK distinct `keys`.

        (A temporary table of the keys and one join was measured too, for a file naming
        650,000 subjects: no faster on SQLite, filling the table costs what the IN lists do.)
        """
        for i in range(0, len(keys), CHUNK):
            yield from self.session.execute(query(keys[i : i + CHUNK]))

    def prepare(self, row: Row, problems: list[Problem]) -> _Prepared | None:
        """Check one row; return its record columns, or add its problems and return None."""
        v = row.values
        subject_id, kind, subject_problem = self._subject(v.get("subject_id", "").strip().upper())
        check = self._rule(v.get("rule_code", "").strip(), v.get("occurred_on", ""))
        evidence = v.get("evidence", "")
        raw_ref = v.get("external_ref", "").strip()
        rule = check.rule
        if (subject_problem or check.early or check.late or len(evidence) > MAX_TEXT
                or len(raw_ref) > 200 or rule is None or kind not in rule.subjects):
            found = [("subject_id", subject_problem)] if subject_problem else []
            found += check.early
            if len(evidence) > MAX_TEXT:
                found.append(("evidence",
                              f"is {len(evidence)} characters long; the most is {MAX_TEXT}"))
            if len(raw_ref) > 200:
                found.append(("external_ref", "is longer than 200 characters"))
            found += check.late
            if rule is not None and kind is not None and kind not in rule.subjects:
                found.append(("subject_id", f"{check.code} applies to "
                              f"{' and '.join(rule.subjects)} subjects, and {subject_id} is "
                              f"{'an' if kind == 'organisation' else 'a'} {kind}"))
            if found:
                where = f"{self.name}:{row.line}" if self.name else ""
                problems.extend(Problem(message, where=where, field=column, row=row.line)
                                for column, message in found)
                return None
        ref = self.refs.ref_of(v)
        first = self.refs.used_before(ref, row.line)
        if first is not None:
            problems.append(Problem(
                f"{ref!r} is used twice in this file (first on line {first})",
                where=f"{self.name}:{row.line}" if self.name else "", field="external_ref",
                row=row.line))
            return None
        code, occurred_on = check.code, check.occurred_on
        if ref in self.existing:
            rid, sid, ecode, eocc = self.existing[ref]
            if (sid, ecode, eocc) != (subject_id, code, occurred_on):
                problem = Problem(
                    f"{ref!r} was already recorded as record {rid} for {sid}, {ecode} on "
                    f"{eocc}; a correction is a void and a new record, not a second use of "
                    "the reference", where=f"{self.name}:{row.line}" if self.name else "",
                    field="external_ref", row=row.line)
                problems.append(problem)
                self.reused.append(problem)
                return None
            return _Prepared((), row.line, existing_id=rid)
        if check.limited:
            prior = self.prior.setdefault((subject_id, code), [])
            fixed = fix_points(rule=rule, occurred_on=occurred_on, prior=prior)
            prior.append(PriorRecord(occurred_on, fixed.points))
            base, factor, points, note = fixed.base_points, fixed.factor, fixed.points, fixed.note
        else:  # what fix_points gives a rule without repeat or cap
            base, factor, points, note = rule.points, 1, rule.points, ""
        return _Prepared((
            subject_id, code, rule.version, self.rulebook.fingerprint, self.department,
            occurred_on, check.ends_on, check.repairable_on, base, factor, points, note,
            evidence, ref, self.recorded_at, self.recorded_by), row.line)


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
    if not dry_run:
        # Points are fixed from the records already stored (repeats, caps): nobody may
        # store, void or annul a record between that reading and this import's commit.
        begin_write(session, RECORDS)
    batch = _Batch(session, rulebook=rulebook, department=department, today=today,
                   recorded_by=recorded_by, name=name)
    batch.preload(rows)
    problems: list[Problem] = []
    prepared: list[_Prepared] = []
    prepare, keep = batch.prepare, prepared.append
    for n, row in enumerate(rows, start=1):
        item = prepare(row, problems)
        if item is not None:
            keep(item)
        if progress and n % PROGRESS_STEP == 0:
            progress(PROGRESS_STEP)
    if progress and len(rows) % PROGRESS_STEP:
        progress(len(rows) % PROGRESS_STEP)
    if problems:
        session.rollback()
        bad_rows = len({p.row for p in problems})
        raise InvalidInput(f"{bad_rows} of {len(rows)} rows have problems; nothing was recorded",
                           problems=problems)
    new = [p.values for p in prepared if p.existing_id is None]
    result = ImportResult(added=len(new), unchanged=len(prepared) - len(new), rows=len(rows))
    if dry_run:
        session.rollback()
        result.planned = [dict(zip(COLUMNS, values, strict=True)) for values in new]
        return result
    restore_cache = None
    try:
        if new:
            restore_cache = _sqlite_cache(session, kib=min(SQLITE_CACHE_MAX_KIB, len(new)))
            _store(session, new, rulebook=rulebook, department=department, today=today)
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
    finally:
        if restore_cache is not None:
            restore_cache()  # a web worker must not keep a gigabyte of pages
    return result


def _sqlite_cache(session: Session, *, kib: int):
    """SQLite: give this connection a page cache of `kib` KiB for a large import; return a
    function that restores the one it had. A million new records update indexes of ten
    million at random places; with SQLite's default 2 MB each update re-reads its pages
    (measured: 4 times slower)."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return lambda: None
    dbapi = conn.connection.dbapi_connection
    current = dbapi.execute("PRAGMA cache_size").fetchone()[0]
    if (-current if current < 0 else current * 4) >= kib:  # positive: pages of about 4 KiB
        return lambda: None
    dbapi.execute(f"PRAGMA cache_size={-int(kib)}")
    return lambda: dbapi.execute(f"PRAGMA cache_size={int(current)}")


def _store(session: Session, new: list[tuple], *, rulebook: Rulebook, department: str,
           today: date) -> None:
    """Insert the new records in file order, each with its notice and outbox row.

    Set-based, inside the caller's transaction: the driver's executemany (SQLite) or COPY
    (PostgreSQL) for the records, then one INSERT ... SELECT makes every notice.
    """
    conn = session.connection()
    versions = {(v[1], v[2]) for v in new}
    if conn.dialect.name == "postgresql":
        _store_postgres(conn, new, rulebook=rulebook, department=department, today=today,
                        versions=versions)
    else:
        after_record = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM record")).scalar()
        after_notice = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM notice")).scalar()
        table = Record.__table__
        to_day = table.c.occurred_on.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        stamp = (table.c.recorded_at.type.dialect_impl(conn.dialect)
                 .bind_processor(conn.dialect)(new[0][14]))
        days: dict[date, str] = {}

        def day(value: date | None) -> str | None:
            if value is None:
                return None
            text_ = days.get(value)
            if text_ is None:
                text_ = days[value] = to_day(value)
            return text_

        sql = (f"INSERT INTO record ({', '.join(COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(COLUMNS))})")
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for i in range(0, len(new), 20000):
                cursor.executemany(sql, [
                    (*v[:5], day(v[5]), day(v[6]), day(v[7]), *v[8:14], stamp, v[15])
                    for v in new[i:i + 20000]])
        except conn.dialect.loaded_dbapi.IntegrityError as error:
            # the driver's own error: an external_ref recorded since the rows were checked
            raise IntegrityError(sql, None, error) from error
        finally:
            cursor.close()
        notices.notify_imported_after(session, rulebook=rulebook, department=department,
                                      today=today, after_record=after_record,
                                      after_notice=after_notice, versions=versions)
    first = session.execute(select(Record.id).where(
        Record.department_code == department,
        Record.external_ref == new[0][13])).scalar_one()
    notices.check_record_notice(session, rulebook=rulebook, record_id=first, today=today)


def _store_postgres(conn, new: list[tuple], *, rulebook: Rulebook, department: str,
                    today: date, versions) -> None:
    """COPY the records into a temporary table, then insert records, notices and outbox rows
    in one statement (other transactions may take record ids meanwhile, so the notices are
    made from the rows this statement inserts, not from a range of ids)."""
    columns = ", ".join(COLUMNS)
    stamp = new[0][14].astimezone(UTC).replace(tzinfo=None)  # stored as UTC, like utcnow()
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute("CREATE TEMPORARY TABLE cp_import ON COMMIT DROP AS "
                       f"SELECT 0 AS n, {columns} FROM record WITH NO DATA")
        with cursor.copy(f"COPY cp_import (n, {columns}) FROM STDIN") as copy:
            for n, v in enumerate(new):
                copy.write_row((n, *v[:14], stamp, v[15]))
    finally:
        cursor.close()
    sql = notices.record_notice_sql(rulebook, department=department, today=today,
                                    dialect="postgresql", versions=versions)
    conn.execute(text(
        f"WITH {sql.rules}, "
        f"ins AS (INSERT INTO record ({columns}) SELECT {columns} FROM cp_import ORDER BY n "
        "RETURNING id, subject_id, rule_code, rule_version, occurred_on, ends_on, points, note, "
        "evidence), "
        f"nts AS ({notices.NOTICE_INSERT} SELECT {sql.columns} FROM ins r "
        "JOIN rt ON rt.code = r.rule_code AND rt.version = r.rule_version ORDER BY r.id "
        "RETURNING id, created_at) "
        f"{notices.OUTBOX_INSERT} SELECT id, 'pending', 0, created_at FROM nts ORDER BY id"),
        sql.params)
    conn.execute(text("DROP TABLE cp_import"))


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
    begin_record_write(session, row.values["subject_id"].strip().upper())
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
        record = Record(**dict(zip(COLUMNS, item.values, strict=True)))
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
            Record.external_ref == item.values[COLUMNS.index("external_ref")])).scalar_one_or_none()
        if existing is not None:
            return Recorded(existing, created=False)
        raise
    return Recorded(record, created=True)
