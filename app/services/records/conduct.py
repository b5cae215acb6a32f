"""Recording conduct: one path for the web form, the API and file imports.

A record draft is checked (subject, code, department, date, rule version in force), its
points are fixed from the subject's records already stored (repeat, then cap), and it is
stored with its rule version and the rulebook's fingerprint. Imports are a batch of drafts
(app.services.intake.batch): all or nothing and idempotent on the department's
`external_ref`; the one-record path is a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.errors import ExternalRefConflict, InvalidInput, Problem
from app.identifiers import InvalidIdentifier, validate_subject_id
from app.models import Department, Record, Subject, utcnow
from app.rulebook import Rulebook
from app.rulebook.model import Rule
from app.services.audit import chain as audit
from app.services.due_process import notices as notices
from app.services.intake.batch import (
    Checked,
    all_or_nothing,
    check_chunk,
    check_one,
    row_of,
    where,
)
from app.services.intake.drafts import RECORD_FILE, RecordDraft, iter_drafts
from app.services.intake.refs import FileRefs, differing
from app.services.intake.rows import raise_unread
from app.services.intake.text import draft_text_problems
from app.services.locks import RECORDS, begin_record_write, begin_write
from app.services.records.bulk import (
    COLUMNS,
    SQLITE_CACHE_KIB_PER_ROW,
    SQLITE_CACHE_MAX_KIB,
    RecordWriter,
    page_cache,
)
from app.services.rulebooks.registry import store_rulebook
from app.services.transaction import in_transaction, transaction
from app.standing import fix_points
from app.standing.model import PriorRecord

CHUNK = 500
# An import checks and writes this many rows at a time: its memory is bounded by a chunk
# (and the 40 bytes a row of id and seal), not by its file.
CHUNK_ROWS = 20_000
MAX_TEXT = 2000
_S, _R = Subject.__table__.c, Record.__table__.c
EARLIEST = date(1949, 10, 1)  # no conduct is recorded from before the People's Republic


@dataclass
class ImportResult:
    added: int = 0
    unchanged: int = 0  # rows whose external_ref was already recorded with the same content
    rows: int = 0
    planned: list[dict] = field(default_factory=list)  # the new records (filled on a dry run)


@dataclass
class _RuleCheck:
    """What a (rule code, date) pair of a file comes to: its problems, or its version."""

    code: str
    occurred_on: date | None
    rule: Rule | None  # the version in force, when the department may record it
    early: list[tuple[str, str]]  # (column, message): the code's and the date's own problems
    late: list[tuple[str, str]]  # not in force that day, or not this department's code
    refused: str | None = None  # no version of the code is the department's to record
    ends_on: date | None = None
    repairable_on: date | None = None
    limited: bool = False  # capped or repeating: its points depend on earlier records
    day: str = ""  # occurred_on as a file writes it (for derived references)


def _ref_key(draft: RecordDraft) -> tuple[str, tuple[str, ...]]:
    day = draft.occurred_on.isoformat() if draft.occurred_on else ""
    return draft.external_ref, (draft.subject_id.strip().upper(), draft.rule_code.strip(), day,
                                draft.evidence)


class _RecordChecks:
    """Checks record drafts in file order and fixes their points, keeping state between them.

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
        self.refs = FileRefs()
        self.forbidden: list[Problem] = []  # a code no version gives the department
        self.reused: list[Problem] = []  # an external_ref already used for another record
        self._ids: dict[str, tuple[str, str | None, str | None]] = {}
        self._rules: dict[tuple[str, date | None], _RuleCheck] = {}
        self._absent: set[str] = set()  # identifiers looked up and not in the register
        self._windows: dict[tuple[str, str], tuple[date, date]] = {}  # prior records fetched
        # An import written in chunks: the highest record id before it (it holds the write
        # lock). Prior records are those up to it; its own are added as they are checked.
        self.before: int | None = None
        # The file line of a record an earlier chunk wrote (given its id), or None for one
        # stored before: the references of written chunks are looked up in the database,
        # not kept (a million of them took 150 MB).
        self.written_line: Callable[[int], int | None] | None = None
        self._priors: dict[tuple[date, int], PriorRecord] = {}
        self._spans: dict[tuple[date, date], tuple[date, date]] = {}
        self.replayed: dict[str, int] = {}  # the line of each stored record the file replays

    def _prior_record(self, occurred_on: date, points: int) -> PriorRecord:
        """Return the one PriorRecord of this day and points (they are immutable): a file of
        a million rows and the records stored before it make millions of them, of a few
        thousand distinct values (a million objects with their dates and ints: 110 MB)."""
        key = (occurred_on, points)
        found = self._priors.get(key)
        if found is None:
            found = self._priors[key] = PriorRecord(occurred_on, points)
        return found

    def _span(self, low: date, high: date) -> tuple[date, date]:
        """Return the one (low, high) tuple of these days (most subjects share a few)."""
        return self._spans.setdefault((low, high), (low, high))

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

    def _rule(self, code: str, day: date | None) -> _RuleCheck:
        """Check a (rule code, date) pair once per file: the version in force and its dates."""
        found = self._rules.get((code, day))
        if found is None:
            found = self._rules[(code, day)] = self._check_rule(code, day)
        return found

    def _check_rule(self, code: str, day: date | None) -> _RuleCheck:
        early: list[tuple[str, str]] = []
        late: list[tuple[str, str]] = []
        versions = self.rulebook.versions(code)
        refused = None
        if not code:
            early.append(("rule_code", "the rule code is empty"))
        elif not versions:
            early.append(("rule_code", f"unknown rule code {code!r}"))
        elif not any(self.department in v.departments for v in versions):
            refused = (f"department {self.department} may not record {code}; the rule table "
                       f"gives it to {', '.join(versions[-1].departments)}")
        occurred_on = day
        if day is not None and day > self.today:
            early.append(("occurred_on", f"{day} is in the future (today is {self.today})"))
            occurred_on = None
        elif day is not None and day < EARLIEST:
            early.append(("occurred_on", f"{day} is before {EARLIEST}: is the year mistyped?"))
            occurred_on = None
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
            return _RuleCheck(code, occurred_on, None, early, late, refused)
        return _RuleCheck(code, occurred_on, rule, early, late, refused,
                          rule.ends_on(occurred_on), rule.repairable_on(occurred_on),
                          bool(rule.cap or rule.repeat), occurred_on.isoformat())

    def preload(self, drafts: Sequence[RecordDraft]) -> None:
        """Fetch the subjects, known external refs and prior records the drafts refer to.

        Called once per chunk of a file, in file order: only what earlier chunks did not
        fetch is fetched, and prior records only from before the import (`self.before`),
        since the import's own earlier records are in `self.prior` already."""
        # Core columns (_S, _R), not the ORM's: a recording's reads cost less than the ORM's
        # work per statement; pending ORM changes are flushed first, as the ORM would.
        if self.session.autoflush:
            self.session.flush()
        # One pass over the chunk: its subjects, (code, day) pairs and (subject, code) pairs.
        named: set[tuple[str, str]] = set()
        pairs: set[tuple[str, date | None]] = set()
        for d in drafts:
            code = d.rule_code.strip()
            named.add((d.subject_id.strip().upper(), code))
            pairs.add((code, d.occurred_on))
        ids = sorted({sid for sid, _ in named} - self.subjects.keys() - self._absent)
        for sid, kind in self._rows_in(ids, lambda keys: select(_S.subject_id, _S.kind)
                                       .where(_S.subject_id.in_(keys))):
            self.subjects[sid] = kind
        self._absent.update(sid for sid in ids if sid not in self.subjects)
        # Refs this chunk would derive, counted after the chunks before it. A reference a
        # chunk before used is "used twice in this file" (checked first), whatever it finds.
        refs = self.refs.peek_refs(drafts, _ref_key)
        self.existing = {}
        for rid, ref, sid, code, occ, evidence in self._rows_in(refs, lambda keys: select(
                _R.id, _R.external_ref, _R.subject_id, _R.rule_code,
                _R.occurred_on, _R.evidence).where(
                    _R.department_code == self.department, _R.external_ref.in_(keys))):
            self.existing[ref] = (rid, sid, code, occ, evidence)
        # Points are fixed from earlier records of the capped or repeating rules the drafts
        # use, and only those in the windows (repeat) and periods (cap) their dates reach;
        # a (subject, code) already fetched for another window gets only what it lacks.
        windows: dict[str, tuple[date, date]] = {}
        for code, day in pairs:
            check = self._rule(code, day)
            if check.limited and check.rule is not None and check.occurred_on is not None:
                rule, day = check.rule, check.occurred_on
                low, high = day, day
                if rule.repeat is not None:
                    low = min(low, rule.repeat.within.before(day))
                if rule.cap is not None:
                    start, end = rule.cap.period_of(day)
                    low, high = min(low, start), max(high, end)
                old = windows.get(code)
                windows[code] = (low, high) if old is None else (min(old[0], low),
                                                                 max(old[1], high))
        if not windows:
            return
        wanted: dict[tuple[str, date, date], list[str]] = {}
        for sid, code in sorted(named):
            if code not in windows or sid not in self.subjects:
                continue
            low, high = windows[code]
            had = self._windows.get((sid, code))
            if had is None:
                gaps = [(low, high)]
                self._windows[(sid, code)] = self._span(low, high)
            else:
                gaps = []
                if low < had[0]:
                    gaps.append((low, had[0] - timedelta(days=1)))
                if high > had[1]:
                    gaps.append((had[1] + timedelta(days=1), high))
                self._windows[(sid, code)] = self._span(min(low, had[0]), max(high, had[1]))
            for gap in gaps:
                wanted.setdefault((code, *gap), []).append(sid)
        for (code, low, high), sids in wanted.items():
            for sid, occ, pts in self._rows_in(sids, lambda keys, code=code, low=low, high=high:
                    select(_R.subject_id, _R.occurred_on, _R.points).where(
                        _R.subject_id.in_(keys), _R.rule_code == code,
                        _R.occurred_on.between(low, high),
                        _R.id <= (self.before if self.before is not None else _R.id),
                        _R.voided_at.is_(None), _R.annulled_on.is_(None))):
                self.prior.setdefault((sid, code), []).append(self._prior_record(occ, pts))

    def _rows_in(self, keys: list[str], query: Callable) -> Iterator:
        """Yield the rows of query(chunk) for each chunk of CHUNK distinct `keys`.

        (A temporary table of the keys and one join was measured too, for a file naming
        650,000 subjects: no faster on SQLite, filling the table costs what the IN lists do.)
        """
        for i in range(0, len(keys), CHUNK):
            yield from self.session.execute(query(keys[i : i + CHUNK]))

    def check(self, draft: RecordDraft, problems: list[Problem]) -> Checked | None:
        """Check one draft; return its record's columns, or add its problems and None."""
        text_problems = list(draft_text_problems(draft))
        if text_problems:
            problems.extend(Problem(why, where=where(self.name, draft.line), field=column,
                                    row=row_of(draft.line)) for column, why in text_problems)
            return None
        raw_id = draft.subject_id.strip().upper()
        subject_id, kind, subject_problem = self._subject(raw_id)
        check = self._rule(draft.rule_code.strip(), draft.occurred_on)
        evidence, raw_ref, line = draft.evidence, draft.external_ref.strip(), draft.line
        rule = check.rule
        if check.refused is not None:
            self.forbidden.append(Problem(check.refused, where=where(self.name, line),
                                          field="rule_code", row=row_of(line)))
        if (subject_problem or check.early or check.late or len(evidence) > MAX_TEXT
                or len(raw_ref) > 200 or rule is None or kind not in rule.subjects):
            found = [("subject_id", subject_problem)] if subject_problem else []
            found += check.early
            if draft.occurred_on is None:
                found.append(("occurred_on", draft.why_unread("occurred_on")
                              or "the date of the conduct is empty"))
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
                problems.extend(Problem(message, where=where(self.name, line), field=column,
                                        row=row_of(line)) for column, message in found)
                return None
        assert rule is not None and check.occurred_on is not None
        ref = self.refs.ref_of(raw_ref, (raw_id, check.code, check.day, evidence))
        first = self.refs.used_before(ref, line)
        if first is None and ref in self.existing:  # stored: by an earlier chunk?
            first = self.replayed.get(ref)
            if first is None and self.written_line is not None:
                first = self.written_line(self.existing[ref][0])
        if first is not None:
            problems.append(Problem(
                f"{ref!r} is used twice in this file (first on line {first})",
                where=where(self.name, line), field="external_ref", row=row_of(line)))
            return None
        code, occurred_on = check.code, check.occurred_on
        if ref in self.existing:
            rid, sid, ecode, eocc, eevidence = self.existing[ref]
            differ = differing((("subject_id", sid, subject_id), ("rule_code", ecode, code),
                                ("occurred_on", eocc, occurred_on),
                                ("evidence", eevidence, evidence)))
            if differ:
                problem = Problem(
                    f"{ref!r} was already recorded as record {rid} for {sid}, {ecode} on "
                    f"{eocc}, with another {' and '.join(differ)}; a replay must be the same "
                    "record, and a correction is a void and a new record, not a second use "
                    "of the reference", where=where(self.name, line), field="external_ref",
                    row=row_of(line))
                problems.append(problem)
                self.reused.append(problem)
                return None
            self.replayed[ref] = line
            return Checked(line, existing=rid)
        if check.limited:
            prior = self.prior.setdefault((subject_id, code), [])
            fixed = fix_points(rule=rule, occurred_on=occurred_on, prior=prior)
            prior.append(self._prior_record(occurred_on, fixed.points))
            base, factor, points, note = fixed.base_points, fixed.factor, fixed.points, fixed.note
        else:  # what fix_points gives a rule without repeat or cap
            base, factor, points, note = rule.points, 1, rule.points, ""
        return Checked(line, (
            subject_id, code, rule.version, self.rulebook.fingerprint, self.department,
            occurred_on, check.ends_on, check.repairable_on, base, factor, points, note,
            evidence, ref, self.recorded_at, self.recorded_by))


def _check_department(session: Session, rulebook: Rulebook, department: str, *,
                      stored: bool = True) -> None:
    """Refuse a department the rulebook does not name (nor, when `stored`, the database)."""
    if rulebook.department(department) is None or (
            stored and session.get(Department, department) is None):
        raise InvalidInput(f"unknown department {department!r}",
                           problems=[Problem(f"unknown department {department!r}",
                                             field="department")])


def import_records(session: Session, drafts: Iterable[RecordDraft], *, rulebook: Rulebook,
                   department: str, recorded_by: str, today: date, name: str = "",
                   progress: Callable[[int], object] | None = None,
                   dry_run: bool = False, consume: bool = False,
                   unread: list[Problem] | None = None,
                   chunk_rows: int | None = None) -> ImportResult:
    """Record every draft in file order, or none: raise InvalidInput listing each bad row.

    The drafts are checked and written chunk by chunk (`chunk_rows`, CHUNK_ROWS unless
    given) in the one transaction, so a file's size bounds neither the memory nor the time
    to its first write: once a row has a problem nothing more is written, every later row
    is still checked (the error lists them all) and the transaction is rolled back, so bad
    input changes nothing. `unread` holds the lines of a file its reader could not read
    as rows (filled as `drafts` are read: see iter_drafts); any there are raised once the
    file is read, before the rows' own problems.

    With `dry_run` the drafts are checked and their points fixed exactly as an import
    would, and the new records are returned in `planned`; nothing is written. (`consume`
    is kept for callers that give a list of drafts: it is emptied once they are read.)
    """
    size = chunk_rows or CHUNK_ROWS
    with page_cache(session) as grow, all_or_nothing(session, conflict=(
            "another import or recording used the same external_ref at the same time; "
            "nothing was recorded, run the import again")):
        if not dry_run:
            store_rulebook(session, rulebook, loaded_by=recorded_by, source="in force")
            # Points are fixed from the records already stored (repeats, caps): nobody may
            # store, void or annul a record between that reading and this import's commit.
            begin_write(session, RECORDS)
        # A dry run stores nothing, not even the rulebook and its departments.
        _check_department(session, rulebook, department, stored=not dry_run)
        checks = _RecordChecks(session, rulebook=rulebook, department=department, today=today,
                               recorded_by=recorded_by, name=name)
        checks.before = session.execute(select(func.coalesce(func.max(Record.id), 0))).scalar()
        writer = None if dry_run else RecordWriter(session, rulebook=rulebook,
                                                   department=department, today=today)
        result = ImportResult()
        problems: list[Problem] = []
        rows = 0
        source = iter(drafts)
        while True:
            chunk = list(islice(source, size))
            if not chunk:
                break
            checked = check_chunk(checks, chunk, problems)
            rows += len(chunk)
            if progress:
                progress(len(chunk))
            if problems or unread:
                continue  # nothing more is written: only the problems are gathered
            new = [c.values for c in checked if c.existing is None]
            result.unchanged += len(checked) - len(new)
            result.added += len(new)
            if writer is None:
                result.planned.extend(dict(zip(COLUMNS, values, strict=True))
                                      for values in new)
            elif new:
                # A full chunk: more may follow, so the whole cache at once (grown chunk by
                # chunk, the first chunks of a 100k-row file wrote 1.5 times slower).
                grow(SQLITE_CACHE_MAX_KIB if len(chunk) == size
                     else min(SQLITE_CACHE_MAX_KIB, SQLITE_CACHE_KIB_PER_ROW * len(new)))
                writer.write(new, [c.line for c in checked if c.existing is None])
            if writer is not None:
                # Written (or replays of stored records): a later use of these references
                # is found in the database, and its first line by the record's id.
                checks.refs.forget_lines()
                checks.written_line = writer.line_of
        if consume and isinstance(drafts, list):
            drafts.clear()
        if unread:
            raise_unread(name, unread)
        if problems:
            bad_rows = len({p.row for p in problems})
            raise InvalidInput(f"{bad_rows} of {rows} rows have problems; nothing was recorded",
                               problems=problems)
        result.rows = rows
        if writer is not None and len(writer):
            writer.finish()
            audit.append(session, actor=recorded_by, action="records.import", target=department,
                         details={"file": name, "rows": rows, "added": result.added,
                                  "unchanged": result.unchanged})
    return result


def import_records_file(session: Session, *, rulebook: Rulebook, department: str, data: bytes,
                        name: str, recorded_by: str, today: date,
                        progress: Callable[[int], object] | None = None,
                        dry_run: bool = False, chunk_rows: int | None = None) -> ImportResult:
    """Read a CSV or JSON-lines file and import it (see import_records), row by row as it
    is read: its drafts are never all held at once."""
    unread: list[Problem] = []
    drafts = iter_drafts(data, name=name, kind=RECORD_FILE, problems=unread)
    return import_records(session, drafts, rulebook=rulebook, department=department,
                          recorded_by=recorded_by, today=today, name=name, progress=progress,
                          dry_run=dry_run, unread=unread, chunk_rows=chunk_rows)


@dataclass(frozen=True)
class Recorded:
    record: Record
    created: bool  # False when the external_ref was already recorded (idempotent replay)


def record_conduct(session: Session, draft: RecordDraft, *, rulebook: Rulebook,
                   department: str, recorded_by: str, today: date) -> Recorded:
    """Record one conduct for one subject; replaying its external_ref is a no-op.

    Raises ForbiddenInput (no version of the code is the department's to record),
    ExternalRefConflict (the reference was used for another record) or InvalidInput, each
    naming the field.
    """
    joined = in_transaction(session)
    checks = _RecordChecks(session, rulebook=rulebook, department=department, today=today,
                           recorded_by=recorded_by, name="")
    item = None
    try:
        with transaction(session):
            store_rulebook(session, rulebook, loaded_by=recorded_by, source="in force")
            _check_department(session, rulebook, department)
            begin_record_write(session, draft.subject_id.strip().upper())
            item = check_one(checks, draft, noun="record")
            if item.existing is not None:
                return Recorded(session.get(Record, item.existing), created=False)
            record = Record(**dict(zip(COLUMNS, item.values, strict=True)))
            session.add(record)
            session.flush()
            audit.append_many(session, [audit.Event(  # Core: one INSERT, no ORM flush
                actor=recorded_by, action="record.create", subject_id=record.subject_id,
                target=f"record:{record.id}",
                details={"rule_code": record.rule_code, "points": record.points,
                         "occurred_on": record.occurred_on, "department": department})])
            notices.notify_record(session, rulebook=rulebook, record=record, today=today)
    except IntegrityError:
        if joined or item is None:
            raise
        # The same reference was recorded by another request since it was checked: a replay.
        values = dict(zip(COLUMNS, item.values, strict=True))
        existing = session.execute(select(Record).where(
            Record.department_code == department,
            Record.external_ref == values["external_ref"])).scalar_one_or_none()
        if existing is None:
            raise
        differ = differing((key, getattr(existing, key), values[key]) for key in
                           ("subject_id", "rule_code", "occurred_on", "evidence"))
        if differ:
            message = (f"{values['external_ref']!r} was just recorded as record {existing.id} "
                       f"with another {' and '.join(differ)}")
            raise ExternalRefConflict(message, problems=[
                Problem(message, field="external_ref")]) from None
        return Recorded(existing, created=False)
    return Recorded(record, created=True)
