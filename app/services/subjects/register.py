"""The population register: import or update subjects from a CSV, all or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select, update
from sqlmodel import Session

from app.errors import InvalidInput, Problem
from app.identifiers import (
    KINDS,
    ORGANISATION,
    InvalidIdentifier,
    clean,
    looks_like_person_id,
    validate_person_id,
    validate_subject_id,
)
from app.models import Subject, utcnow
from app.services.audit import chain as audit
from app.services.intake.rows import SUBJECT_COLUMNS, SUBJECT_REQUIRED, Row, read_rows
from app.services.locks import begin_write

TRUE = {"true", "yes", "y", "1", "t"}
FALSE = {"false", "no", "n", "0", "f", ""}
CHUNK = 500


@dataclass
class SubjectImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _parse_row(row: Row, name: str, problems: list[Problem]) -> dict | None:
    where = f"{name}:{row.line}"
    v = row.values
    before = len(problems)

    def bad(column: str, message: str) -> None:
        problems.append(Problem(message, where=where, field=column, row=row.line))

    kind = v.get("kind", "").strip().lower()
    if kind not in KINDS:
        bad("kind", f"{v.get('kind', '')!r} is not a kind: write person or organisation")
        kind = None
    sid = clean(v.get("subject_id", ""))
    if kind:
        try:
            sid, _ = validate_subject_id(sid, kind)
        except InvalidIdentifier as error:
            bad("subject_id", str(error))
    name_ = v.get("name", "").strip()
    if not name_:
        bad("name", "the name is empty")
    elif len(name_) > 200:
        bad("name", "is longer than 200 characters")
    for column in ("district", "village"):
        if len(v.get(column, "")) > 100:
            bad(column, "is longer than 100 characters")
    rep = v.get("legal_representative", "").strip() or None
    if rep and kind == "person":
        bad("legal_representative", "only an organisation names a legal representative")
    elif rep and looks_like_person_id(rep):
        try:
            rep = validate_person_id(rep)
        except InvalidIdentifier as error:
            bad("legal_representative", str(error))
    elif rep and len(rep) > 200:
        bad("legal_representative", "is longer than 200 characters")
    consent_text = v.get("consent", "").strip().lower()
    if consent_text not in TRUE | FALSE:
        bad("consent", f"{v.get('consent')!r} is not yes or no (write true or false)")
    if len(problems) > before:
        return None
    return {"subject_id": sid, "kind": kind, "name": name_, "district": v.get("district", ""),
            "village": v.get("village", ""), "legal_representative": rep,
            "consent": consent_text in TRUE}


def import_subjects(session: Session, *, rows: Iterable[Row], name: str, actor: str,
                    today=None) -> SubjectImportResult:
    """Add or update subjects; all rows valid or nothing written."""
    problems: list[Problem] = []
    parsed: dict[str, tuple[int, dict]] = {}
    for row in rows:
        values = _parse_row(row, name, problems)
        if values is None:
            continue
        if values["subject_id"] in parsed:
            problems.append(Problem(
                f"{values['subject_id']} is listed twice (first on line "
                f"{parsed[values['subject_id']][0]})", where=f"{name}:{row.line}",
                field="subject_id", row=row.line))
            continue
        parsed[values["subject_id"]] = (row.line, values)
    existing: dict[str, Subject] = {}
    ids = sorted(parsed)
    for i in range(0, len(ids), CHUNK):
        for subject in session.execute(
            select(Subject).where(Subject.subject_id.in_(ids[i : i + CHUNK]))
        ).scalars():
            existing[subject.subject_id] = subject
    for sid, (line, values) in parsed.items():
        old = existing.get(sid)
        if old is not None and old.kind != values["kind"]:
            problems.append(Problem(f"{sid} is registered as an {old.kind}; the kind of a "
                                    "subject cannot change", where=f"{name}:{line}",
                                    field="kind", row=line))
    if problems:
        raise InvalidInput(
            f"{len({p.row for p in problems})} rows have problems; nothing was imported",
            problems=problems)
    result = SubjectImportResult()
    new_rows, changed = [], []
    now = utcnow()
    for sid, (_line, values) in parsed.items():
        old = existing.get(sid)
        if old is None:
            new_rows.append({**values, "registered_at": now, "updated_at": now,
                             "consent_changed_on": today if values["consent"] else None})
            continue
        diff = {k: v for k, v in values.items() if getattr(old, k) != v}
        if not diff:
            result.unchanged += 1
            continue
        if "consent" in diff:
            diff["consent_changed_on"] = today
        changed.append((sid, {**diff, "updated_at": now}))
    result.added, result.updated = len(new_rows), len(changed)
    try:
        begin_write(session, "subjects")
        for i in range(0, len(new_rows), 5000):
            session.execute(insert(Subject), new_rows[i : i + 5000])
        for sid, diff in changed:
            session.execute(update(Subject).where(Subject.subject_id == sid).values(**diff))
        if new_rows or changed:
            audit.append(session, actor=actor, action="subjects.import", target=name,
                         details={"added": result.added, "updated": result.updated})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def import_subjects_file(session: Session, *, data: bytes, name: str, actor: str,
                         today=None) -> SubjectImportResult:
    """Parse a register CSV (or JSON lines) and import it (see import_subjects)."""
    rows = read_rows(data, name=name, columns=SUBJECT_COLUMNS, required=SUBJECT_REQUIRED)
    return import_subjects(session, rows=rows, name=name, actor=actor, today=today)


def find_subjects(session: Session, query: str, *, limit: int = 50) -> list[Subject]:
    """Find subjects by exact identifier or by part of the name (case-insensitive)."""
    q = (query or "").strip()
    if not q:
        return []
    sid = clean(q)
    exact = session.get(Subject, sid)
    if exact is not None:
        return [exact]
    pattern = "%" + q.replace("\\", "").replace("%", "").replace("_", "") + "%"
    return list(session.execute(
        select(Subject).where(or_(func.lower(Subject.name).like(pattern.lower()),
                                  Subject.subject_id.like(sid + "%")))
        .order_by(Subject.name).limit(limit)).scalars())


def is_organisation(subject: Subject) -> bool:
    """Return True for an organisation."""
    return subject.kind == ORGANISATION
