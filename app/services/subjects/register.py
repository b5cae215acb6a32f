"""The population register: import or update subjects from a file, all or nothing (a batch
of drafts), or register and update one subject (a batch of one); find subjects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, insert, or_, select, update
from sqlmodel import Session

from app.errors import Problem
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
from app.rulebook.model import TEXT_LANGUAGES as LANGUAGES
from app.services.audit import chain as audit
from app.services.intake.batch import (
    Batch,
    Checked,
    all_or_nothing,
    check_all,
    check_one,
    row_of,
    where,
)
from app.services.intake.drafts import SUBJECT_FILE, SubjectDraft, read_drafts
from app.services.locks import begin_write
from app.services.standings.facts import get_subject
from app.services.transaction import transaction

CHUNK = 500
CONFLICT = ("another import registered the same subject at the same time; nothing was "
            "imported, run the import again")


@dataclass
class SubjectImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


class _SubjectChecks:
    """Checks subject drafts in file order: each field, the same subject twice in one file,
    and a kind that would change; a subject already registered is updated where it differs."""

    def __init__(self, session: Session, *, name: str, today: date | None):
        self.session, self.name, self.today = session, name, today
        self.existing: dict[str, Subject] = {}
        self.seen: dict[str, int] = {}  # subject_id -> the line that named it first
        self.forbidden: list[Problem] = []  # (none: whoever may import may register anyone)
        self.reused: list[Problem] = []
        self.now = utcnow()

    def preload(self, drafts: Sequence[SubjectDraft]) -> None:
        """Fetch the registered subjects the drafts name."""
        ids = sorted({clean(d.subject_id) for d in drafts})
        for i in range(0, len(ids), CHUNK):
            for subject in self.session.execute(
                    select(Subject).where(Subject.subject_id.in_(ids[i : i + CHUNK]))).scalars():
                self.existing[subject.subject_id] = subject

    def check(self, draft: SubjectDraft, problems: list[Problem]) -> Checked | None:
        """Check one draft; return the new subject's row, its changes, or add its problems."""
        line = draft.line
        before = len(problems)

        def bad(column: str, message: str) -> None:
            problems.append(Problem(message, where=where(self.name, line), field=column,
                                    row=row_of(line)))

        kind: str | None = draft.kind.strip().lower()
        if kind not in KINDS:
            bad("kind", f"{draft.kind!r} is not a kind: write person or organisation")
            kind = None
        sid = clean(draft.subject_id)
        old = self.existing.get(sid)
        if kind and old is not None and old.kind != kind:
            bad("kind", f"{sid} is registered as {'an' if old.kind == ORGANISATION else 'a'} "
                        f"{old.kind}; the kind of a subject cannot change")
        elif kind:
            try:
                sid, _ = validate_subject_id(sid, kind)
            except InvalidIdentifier as error:
                bad("subject_id", str(error))
        name = draft.name.strip()
        if not name:
            bad("name", "the name is empty")
        elif len(name) > 200:
            bad("name", "is longer than 200 characters")
        for column, text in (("district", draft.district), ("village", draft.village)):
            if len(text) > 100:
                bad(column, "is longer than 100 characters")
        rep = (draft.legal_representative or "").strip() or None
        if rep and kind == "person":
            bad("legal_representative", "only an organisation names a legal representative")
        elif rep and looks_like_person_id(rep):
            try:
                rep = validate_person_id(rep)
            except InvalidIdentifier as error:
                bad("legal_representative", str(error))
        elif rep and len(rep) > 200:
            bad("legal_representative", "is longer than 200 characters")
        if draft.consent is None:
            bad("consent", draft.why_unread("consent") or "say yes or no")
        if draft.language and draft.language not in LANGUAGES:
            bad("language", f"{draft.language!r} is not a language: write "
                            f"{' or '.join(LANGUAGES)}, or leave it empty")
        if len(problems) > before:
            return None
        if sid in self.seen:
            bad("subject_id", f"{sid} is listed twice (first on line {self.seen[sid]})")
            return None
        self.seen[sid] = line
        values = {"subject_id": sid, "kind": kind, "name": name, "district": draft.district,
                  "village": draft.village, "legal_representative": rep,
                  "consent": bool(draft.consent)}
        if draft.language:  # empty: a registered subject keeps their own choice
            values["language"] = draft.language
        if old is None:
            return Checked(line, {**values, "registered_at": self.now, "updated_at": self.now,
                                  "consent_changed_on": self.today if draft.consent else None})
        diff = {k: v for k, v in values.items() if getattr(old, k) != v}
        if not diff:
            return Checked(line, existing=sid)
        if "consent" in diff:
            diff["consent_changed_on"] = self.today
        return Checked(line, {**diff, "updated_at": self.now}, existing=sid)


def _write(session: Session, batch: Batch, *, name: str, actor: str) -> SubjectImportResult:
    """Insert the batch's new subjects and update the changed ones (with one audit event)."""
    new, changed = batch.new, batch.changed
    for i in range(0, len(new), 5000):
        session.execute(insert(Subject), new[i : i + 5000])
    for item in changed:
        session.execute(update(Subject).where(Subject.subject_id == item.existing)
                        .values(**item.values))
    if new or changed:
        audit.append(session, actor=actor, action="subjects.import", target=name,
                     details={"added": len(new), "updated": len(changed)})
    return SubjectImportResult(added=len(new), updated=len(changed), unchanged=batch.unchanged)


def import_subjects(session: Session, drafts: Sequence[SubjectDraft], *, name: str,
                    actor: str, today: date | None = None,
                    dry_run: bool = False) -> SubjectImportResult:
    """Add or update subjects; all drafts valid or nothing written (with `dry_run`: checked,
    nothing written)."""
    with all_or_nothing(session, conflict=CONFLICT):
        if not dry_run:
            begin_write(session, "subjects")
        batch = check_all(_SubjectChecks(session, name=name, today=today), drafts,
                          done="imported")
        if dry_run:
            return SubjectImportResult(added=len(batch.new), updated=len(batch.changed),
                                       unchanged=batch.unchanged)
        return _write(session, batch, name=name, actor=actor)


def import_subjects_file(session: Session, *, data: bytes, name: str, actor: str,
                         today: date | None = None) -> SubjectImportResult:
    """Read a register CSV (or JSON lines) and import it (see import_subjects)."""
    drafts = read_drafts(data, name=name, kind=SUBJECT_FILE)
    return import_subjects(session, drafts, name=name, actor=actor, today=today)


@dataclass(frozen=True)
class Registered:
    subject: Subject
    created: bool  # False: it was registered already
    same: bool  # it was registered with the same fields (a replay)


def register_subject(session: Session, draft: SubjectDraft, *, actor: str,
                     today: date | None) -> Registered:
    """Register one subject; one registered already is left as it is (see `same`)."""
    with all_or_nothing(session, conflict=CONFLICT):
        begin_write(session, "subjects")
        item = check_one(_SubjectChecks(session, name="", today=today), draft, noun="subject")
        if item.existing is not None:
            subject = session.get(Subject, item.existing)
            return Registered(subject, created=False, same=item.values is None)
        _write(session, Batch([item]), name="request", actor=actor)
        return Registered(_reloaded(session, item.values["subject_id"]), created=True,
                          same=True)


def update_subject(session: Session, draft: SubjectDraft, *, actor: str,
                   today: date | None) -> Subject:
    """Update a registered subject's name, place, representative or consent."""
    with transaction(session):
        subject = get_subject(session, draft.subject_id)  # NotFound before anything else
        begin_write(session, "subjects")
        item = check_one(_SubjectChecks(session, name="", today=today), draft, noun="subject")
        _write(session, Batch([item]), name="request", actor=actor)
        return _reloaded(session, subject.subject_id)


def _reloaded(session: Session, subject_id: str) -> Subject:
    found = session.get(Subject, subject_id, populate_existing=True)
    assert found is not None
    return found


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
