"""A subject's consent to be scored, and where and in which language their notices are sent.

Consent matters where the scheme says `requires_consent`: without it a subject keeps their
records but has no points, no tier and no tier-based measure. Each change is a new
consent_change row with its date and who made it; the subject row carries the current
value (`consent`, `consent_changed_on`) for the evaluator and the nightly recompute.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select, update
from sqlmodel import Session

from app.errors import Conflict, InvalidInput, Problem
from app.models import ConsentChange, Subject, SubjectContact, utcnow
from app.rulebook.model import TEXT_LANGUAGES, Scheme
from app.services.audit import chain as audit
from app.services.audit import seals
from app.services.locks import begin_write
from app.services.standings.facts import get_subject
from app.services.transaction import atomic

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


@atomic
def set_consent(session: Session, *, subject_id: str, consent: bool, actor: str,
                today: date, reason: str | None = None) -> ConsentChange:
    """Record that the subject gives (True) or withdraws (False) consent, from `today`
    (`reason`: why an admin changes it for them)."""
    subject = get_subject(session, subject_id)
    if subject.consent == consent:
        state = "given" if consent else "not given"
        raise Conflict(f"consent is already {state}"
                       + (f" (since {subject.consent_changed_on})"
                          if subject.consent_changed_on else ""))
    begin_write(session, f"subject:{subject.subject_id}")
    done = session.execute(
        update(Subject).where(Subject.subject_id == subject.subject_id,
                              Subject.consent == (not consent))
        .values(consent=consent, consent_changed_on=today, updated_at=utcnow())).rowcount
    if not done:
        raise Conflict("consent was changed by someone else just now; reload the page")
    seals.touch(session, "subject", [subject.subject_id])
    change = ConsentChange(subject_id=subject.subject_id, consent=consent, changed_on=today,
                           changed_by=actor, reason=reason)
    session.add(change)
    session.flush()
    audit.append(session, actor=actor, action="subject.consent",
                 subject_id=subject.subject_id, target=f"consent_change:{change.id}",
                 details={"consent": consent, "changed_on": today,
                          **({"reason": reason} if reason else {})})
    session.refresh(subject)
    return change


def consent_history(session: Session, *, subject_id: str) -> list[ConsentChange]:
    """Return the subject's consent changes, oldest first."""
    return list(session.execute(
        select(ConsentChange).where(ConsentChange.subject_id == subject_id)
        .order_by(ConsentChange.id)).scalars())


def contact_email(session: Session, *, subject_id: str) -> str | None:
    """Return the address the subject's notices are mailed to, or None (letters)."""
    contact = session.get(SubjectContact, subject_id)
    return contact.email if contact is not None and contact.email else None


@atomic
def set_contact_email(session: Session, *, subject_id: str, email: str | None,
                      actor: str) -> str | None:
    """Set (or, when empty, remove) the address the subject's notices are mailed to."""
    subject = get_subject(session, subject_id)
    email = (email or "").strip()
    if email and (len(email) > 254 or not EMAIL_RE.match(email)):
        message = f"{email[:80]!r} is not an email address (name@example.org)"
        raise InvalidInput(message, problems=[Problem(message, field="email")])
    begin_write(session, f"subject:{subject.subject_id}")
    contact = session.get(SubjectContact, subject.subject_id)
    if contact is None:
        contact = SubjectContact(subject_id=subject.subject_id)
        session.add(contact)
    contact.email = email or None
    contact.updated_at = utcnow()
    contact.updated_by = actor
    session.flush()
    audit.append(session, actor=actor, action="subject.contact",
                 subject_id=subject.subject_id, target=f"subject:{subject.subject_id}",
                 details={"email": "set" if email else "removed"})
    return email or None


def notice_language(subject: Subject, scheme: Scheme) -> str:
    """Return the language the subject's notices are written in: their own (the register's
    or their choice), else the scheme's first language, else English."""
    if subject.language in TEXT_LANGUAGES:
        return subject.language
    return scheme.languages[0] if scheme.languages else TEXT_LANGUAGES[0]


@atomic
def set_language(session: Session, *, subject_id: str, language: str, actor: str) -> str:
    """Set the language the subject's notices are written in (en or zh)."""
    subject = get_subject(session, subject_id)
    if language not in TEXT_LANGUAGES:
        message = f"{language[:20]!r} is not a language: choose {' or '.join(TEXT_LANGUAGES)}"
        raise InvalidInput(message, problems=[Problem(message, field="language")])
    begin_write(session, f"subject:{subject.subject_id}")
    session.execute(update(Subject).where(Subject.subject_id == subject.subject_id)
                    .values(language=language, updated_at=utcnow()))
    audit.append(session, actor=actor, action="subject.language",
                 subject_id=subject.subject_id, target=f"subject:{subject.subject_id}",
                 details={"language": language})
    return language
