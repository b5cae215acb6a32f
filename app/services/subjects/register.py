"""The population register: import or update subjects from a file, all or nothing (a batch
of drafts), or register and update one subject (a batch of one); find subjects.

Who writes it: a department whose `departments.yaml` entry says `keeps_register: true`, or
an admin (`department=None`: the command line on the server, the demo); any other
department is refused (403). Consent is the subject's own: a register write may give it
to a new subject (from the registration form) but changes a registered subject's only when
an admin says why. A new legal representative counts from the day it is registered, and
they are sent a notice. Every register row added or changed is one audit event naming the
subject, with the fields before and after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import func, insert, or_, select, update
from sqlmodel import Session

from app import clock
from app.errors import Forbidden, Problem
from app.identifiers import (
    KINDS,
    ORGANISATION,
    InvalidIdentifier,
    clean,
    looks_like_person_id,
    validate_person_id,
    validate_subject_id,
)
from app.models import ConsentChange, Subject, utcnow
from app.rulebook import Rulebook
from app.rulebook.model import TEXT_LANGUAGES as LANGUAGES
from app.services.audit import chain as audit
from app.services.audit import seals
from app.services.due_process import notice_texts
from app.services.due_process.notices import NewNotice, add_notices
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
from app.services.intake.text import draft_text_problems, written_text
from app.services.locks import begin_write
from app.services.standings.facts import get_subject
from app.services.transaction import transaction

CHUNK = 500
MAX_CONSENT_REASON = 2000
# The register's fields an audit event shows before and after a change.
AUDITED = ("kind", "name", "district", "village", "legal_representative",
           "legal_representative_since", "consent", "consent_changed_on")
CONSENT_IS_THEIRS = ("consent is the subject's own: they give or withdraw it on their page, "
                     "or an admin changes it for them with a reason")
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

    def __init__(self, session: Session, *, name: str, today: date | None,
                 consent_reason: str | None):
        self.session, self.name, self.today = session, name, today
        self.consent_reason = consent_reason  # an admin's reason: may change consent
        self.existing: dict[str, Subject] = {}
        self.seen: dict[str, int] = {}  # subject_id -> the line that named it first
        self.forbidden: list[Problem] = []  # a consent change without an admin's reason
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

        for column, why in draft_text_problems(draft):
            bad(column, why)
        if len(problems) > before:
            return None
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
                                  "consent_changed_on": self.today if draft.consent else None,
                                  "legal_representative_since": self.today if rep else None})
        diff = {k: v for k, v in values.items() if getattr(old, k) != v}
        if not diff:
            return Checked(line, existing=sid)
        if "consent" in diff:
            if not self.consent_reason:
                problem = Problem(CONSENT_IS_THEIRS, where=where(self.name, line),
                                  field="consent", row=row_of(line))
                self.forbidden.append(problem)
                problems.append(problem)
                return None
            diff["consent_changed_on"] = self.today
        if "legal_representative" in diff:
            diff["legal_representative_since"] = self.today if rep else None
        return Checked(line, {**diff, "updated_at": self.now}, existing=sid)


def _write(session: Session, batch: Batch, checks: _SubjectChecks, *, name: str,
           actor: str) -> SubjectImportResult:
    """Insert the batch's new subjects and update the changed ones: an audit event for each,
    naming the subject, with the fields before and after; a consent change kept with its
    reason; a notice to each newly named legal representative."""
    new, changed = batch.new, batch.changed
    for i in range(0, len(new), 5000):
        session.execute(insert(Subject), new[i : i + 5000])
    events, consents, named = [], [], []
    source = {"source": name} if name else {}
    for values in new:
        fields = {k: values[k] for k in AUDITED if k in values}
        events.append(audit.Event(actor=actor, action="subject.register",
                                  subject_id=values["subject_id"],
                                  target=f"subject:{values['subject_id']}",
                                  details={**source, "before": None, "after": fields}))
        if values.get("legal_representative"):
            named.append((values, None))
    for item in changed:
        old = checks.existing[item.existing]
        keys = [k for k in AUDITED if k in item.values]
        details = {**source, "before": {k: getattr(old, k) for k in keys},
                   "after": {k: item.values[k] for k in keys}}
        former_representative, former_name = old.legal_representative, old.name
        session.execute(update(Subject).where(Subject.subject_id == item.existing)
                        .values(**item.values))
        if "consent" in item.values:
            details["reason"] = checks.consent_reason
            consents.append(ConsentChange(subject_id=item.existing,
                                          consent=item.values["consent"],
                                          changed_on=checks.today or clock.today(),
                                          changed_by=actor, reason=checks.consent_reason))
        events.append(audit.Event(actor=actor, action="subject.update",
                                  subject_id=item.existing, target=f"subject:{item.existing}",
                                  details=details))
        if item.values.get("legal_representative"):
            named.append(({"subject_id": item.existing, "name": former_name, **item.values},
                          former_representative))
    session.add_all(consents)
    audit.append_many(session, events)
    _notify_representatives(session, named, today=checks.today or clock.today())
    seals.touch(session, "subject", [row["subject_id"] for row in new])
    seals.touch(session, "subject", [item.existing for item in changed])
    return SubjectImportResult(added=len(new), updated=len(changed), unchanged=batch.unchanged)


def _notify_representatives(session: Session, named: list[tuple[dict, str | None]], *,
                            today: date) -> None:
    """Send each registered person newly named an organisation's legal representative a
    notice: from which day the organisation's measures may reach them."""
    people = {rep for values, _ in named if (rep := values["legal_representative"])}
    if not people:
        return
    registered = set(session.execute(select(Subject.subject_id).where(
        Subject.subject_id.in_(sorted(people)), Subject.kind == "person")).scalars())
    notices = []
    for values, before in named:
        rep, org = values["legal_representative"], values["subject_id"]
        if rep not in registered:
            continue
        since = values.get("legal_representative_since") or today
        title, body = notice_texts.representative_notice(
            organisation=values["name"], organisation_id=org, since=since, before=before)
        content = {"organisation": values["name"], "organisation_id": org,
                   "since": since.isoformat(), "before": before or None}
        notices.append(NewNotice(rep, "representative", f"representative:{org}:{rep}:{since}",
                                 title, body, content=content))
    add_notices(session, notices, today=today)


def may_write_register(rulebook: Rulebook | None, department: str | None) -> None:
    """Raise Forbidden unless `department` keeps the register (None: an admin, who may)."""
    if department is None:
        return
    found = rulebook.department(department) if rulebook is not None else None
    if found is None or not found.keeps_register:
        keepers = [d.code for d in rulebook.departments if d.keeps_register] if rulebook else []
        raise Forbidden(f"department {department!r} does not keep the population register; "
                        + (f"{', '.join(keepers)} and the admins do" if keepers
                           else "only the admins do (no department says keeps_register)"))


def import_subjects(session: Session, drafts: Sequence[SubjectDraft], *, name: str,
                    actor: str, department: str | None, rulebook: Rulebook | None = None,
                    consent_reason: str | None = None, today: date | None = None,
                    dry_run: bool = False) -> SubjectImportResult:
    """Add or update subjects as `department` (None: an admin); all drafts valid or nothing
    written (with `dry_run`: checked, nothing written). A registered subject's consent
    changes only with an admin's `consent_reason`."""
    may_write_register(rulebook, department)
    if department is not None:
        consent_reason = None  # consent is the subject's own or an admin's
    with all_or_nothing(session, conflict=CONFLICT):
        if not dry_run:
            begin_write(session, "subjects")
        checks = _SubjectChecks(session, name=name, today=today,
                                consent_reason=_consent_reason(consent_reason))
        batch = check_all(checks, drafts, done="imported")
        if dry_run:
            return SubjectImportResult(added=len(batch.new), updated=len(batch.changed),
                                       unchanged=batch.unchanged)
        return _write(session, batch, checks, name=name, actor=actor)


def import_subjects_file(session: Session, *, data: bytes, name: str, actor: str,
                         department: str | None, rulebook: Rulebook | None = None,
                         consent_reason: str | None = None,
                         today: date | None = None) -> SubjectImportResult:
    """Read a register CSV (or JSON lines) and import it (see import_subjects)."""
    may_write_register(rulebook, department)
    drafts = read_drafts(data, name=name, kind=SUBJECT_FILE)
    return import_subjects(session, drafts, name=name, actor=actor, department=department,
                           rulebook=rulebook, consent_reason=consent_reason, today=today)


@dataclass(frozen=True)
class Registered:
    subject: Subject
    created: bool  # False: it was registered already
    same: bool  # it was registered with the same fields (a replay)


def register_subject(session: Session, draft: SubjectDraft, *, actor: str,
                     department: str | None, rulebook: Rulebook | None,
                     today: date | None) -> Registered:
    """Register one subject as `department` (None: an admin); one registered already is
    left as it is (see `same`)."""
    may_write_register(rulebook, department)
    with all_or_nothing(session, conflict=CONFLICT):
        begin_write(session, "subjects")
        checks = _SubjectChecks(session, name="", today=today, consent_reason=None)
        if session.get(Subject, clean(draft.subject_id)) is not None:
            checks.consent_reason = "compared"  # a replay is compared, never written
        item = check_one(checks, draft, noun="subject")
        if item.existing is not None:
            subject = session.get(Subject, item.existing)
            return Registered(subject, created=False, same=item.values is None)
        _write(session, Batch([item]), checks, name="", actor=actor)
        return Registered(_reloaded(session, item.values["subject_id"]), created=True,
                          same=True)


def update_subject(session: Session, draft: SubjectDraft, *, actor: str,
                   department: str | None, rulebook: Rulebook | None,
                   consent_reason: str | None = None, today: date | None) -> Subject:
    """Update a registered subject's name, place or representative as `department` (None:
    an admin, who may change consent too, saying why in `consent_reason`); a draft without
    consent (None) leaves it as it is."""
    may_write_register(rulebook, department)
    with transaction(session):
        subject = get_subject(session, draft.subject_id)  # NotFound before anything else
        if draft.consent is None and not draft.unread:
            draft = replace(draft, consent=subject.consent)
        begin_write(session, "subjects")
        reason = None if department is not None else _consent_reason(consent_reason)
        checks = _SubjectChecks(session, name="", today=today, consent_reason=reason)
        item = check_one(checks, draft, noun="subject")
        _write(session, Batch([item]), checks, name="", actor=actor)
        return _reloaded(session, subject.subject_id)


def _consent_reason(value: str | None) -> str | None:
    return written_text(value, name="consent_reason", limit=MAX_CONSENT_REASON) or None


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
