"""Accounts: who may log in, with which role, for which department or subject."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import Conflict, InvalidInput
from app.models import Account, Department, Subject
from app.services import audit

RESIDENT, RECORDER, REVIEWER = "resident", "recorder", "reviewer"
RULE_AUTHOR, AUDITOR, ADMIN = "rule-author", "auditor", "admin"
ROLES = (RESIDENT, RECORDER, REVIEWER, RULE_AUTHOR, AUDITOR, ADMIN)
ALIASES = {"official": RECORDER, "rule_author": RULE_AUTHOR, "ruleauthor": RULE_AUTHOR}
OFFICIAL_ROLES = (RECORDER, REVIEWER, RULE_AUTHOR, AUDITOR, ADMIN)
MIN_PASSWORD = 10


def normalise_role(role: str) -> str:
    """Return the canonical role name, or raise InvalidInput."""
    value = ALIASES.get((role or "").strip().lower(), (role or "").strip().lower())
    if value not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    return value


def check_password_policy(password: str, username: str) -> None:
    """Refuse a password that is too short or is the user name."""
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    if password.lower() == (username or "").lower():
        raise InvalidInput("the password must not be the user name")


def create_account(session: Session, *, username: str, password: str, role: str,
                   department: str | None = None, subject_id: str | None = None,
                   display_name: str = "", actor: str = "system") -> Account:
    """Create an account; a recorder needs a department and a resident a subject."""
    role = normalise_role(role)
    username = (username or "").strip()
    if not username or len(username) > 80:
        raise InvalidInput("the user name must have 1 to 80 characters")
    check_password_policy(password, username)
    if role in (RECORDER, REVIEWER) and not department:
        raise InvalidInput(f"a {role} account needs --department")
    if department and session.get(Department, department) is None:
        raise InvalidInput(f"unknown department {department!r}")
    if role == RESIDENT:
        if not subject_id:
            raise InvalidInput("a resident account needs --subject (the person or organisation)")
        if session.get(Subject, subject_id) is None:
            raise InvalidInput(f"no subject {subject_id} in the population register")
    elif subject_id:
        raise InvalidInput("only a resident account is linked to a subject")
    if session.execute(select(Account.id).where(Account.username == username)).first():
        raise Conflict(f"the user name {username!r} is taken")
    account = Account(username=username, password_hash=generate_password_hash(password),
                      role=role, department_code=department, subject_id=subject_id,
                      display_name=display_name or username)
    session.add(account)
    session.flush()
    audit.append(session, actor=actor, action="account.create", target=f"account:{username}",
                 subject_id=subject_id, details={"role": role, "department": department})
    session.commit()
    return account


def authenticate(session: Session, *, username: str, password: str) -> Account | None:
    """Return the active account for these credentials, or None (never says which was wrong)."""
    account = session.execute(
        select(Account).where(Account.username == (username or "").strip())
    ).scalar_one_or_none()
    if account is None or not account.active:
        # Hash anyway so the answer takes as long for a missing account.
        check_password_hash(generate_password_hash("x" * MIN_PASSWORD), password or "")
        return None
    if not check_password_hash(account.password_hash, password or ""):
        return None
    return account
