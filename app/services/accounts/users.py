"""Accounts: who may log in, with which role, for which department or subject."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlmodel import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import CitypointsError, Conflict, InvalidInput, NotFound
from app.models import Account, Department, LoginAttempt, Subject, utcnow
from app.services.audit import chain as audit
from app.services.locks import begin_write
from app.services.transaction import atomic

RESIDENT, RECORDER, REVIEWER = "resident", "recorder", "reviewer"
RULE_AUTHOR, AUDITOR, ADMIN = "rule-author", "auditor", "admin"
ROLES = (RESIDENT, RECORDER, REVIEWER, RULE_AUTHOR, AUDITOR, ADMIN)
ALIASES = {"official": RECORDER, "rule_author": RULE_AUTHOR, "ruleauthor": RULE_AUTHOR}
OFFICIAL_ROLES = (RECORDER, REVIEWER, RULE_AUTHOR, AUDITOR, ADMIN)
MIN_PASSWORD = 10
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20


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


@atomic
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
    begin_write(session, "accounts")
    if session.execute(select(Account.id).where(Account.username == username)).first():
        raise Conflict(f"the user name {username!r} is taken")
    account = Account(username=username, password_hash=generate_password_hash(password),
                      role=role, department_code=department, subject_id=subject_id,
                      display_name=display_name or username)
    session.add(account)
    session.flush()
    audit.append(session, actor=actor, action="account.create", target=f"account:{username}",
                 subject_id=subject_id, details={"role": role, "department": department})
    return account


class Throttled(CitypointsError):
    """Too many failed logins for this name or from this address; says nothing more."""

    code = "throttled"
    status = 429


def _failures(session: Session, column, value: str, since) -> int:
    return session.execute(
        select(func.count()).select_from(LoginAttempt)
        .where(column == value, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
    ).scalar()


@atomic
def authenticate(session: Session, *, username: str, password: str,
                 address: str = "") -> Account | None:
    """Return the active account for these credentials, or None (never says which was wrong).

    Raise Throttled after too many failures for the name or from the address within the
    window, whether or not such an account exists, so the answer reveals nothing.
    """
    username = (username or "").strip()[:80]
    since = utcnow() - THROTTLE_WINDOW
    if (_failures(session, LoginAttempt.username, username, since) >= MAX_FAILURES_PER_NAME
            or (address and _failures(session, LoginAttempt.address, address, since)
                >= MAX_FAILURES_PER_ADDRESS)):
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        raise Throttled(f"too many attempts; wait {minutes} minutes before trying again")
    account = session.execute(
        select(Account).where(Account.username == username)
    ).scalar_one_or_none()
    ok = False
    if account is None or not account.active:
        # Hash anyway so the answer takes as long for a missing account.
        check_password_hash(_dummy_hash(), password or "")
    else:
        ok = check_password_hash(account.password_hash, password or "")
    begin_write(session, "accounts")  # the reads above may be older than another's commit
    session.add(LoginAttempt(username=username, address=(address or "")[:64], success=ok))
    return account if ok else None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("x" * MIN_PASSWORD)


def list_accounts(session: Session) -> list[Account]:
    """Return every account, oldest first (the admin's list; never the password hashes)."""
    return list(session.execute(select(Account).order_by(Account.id)).scalars())


@atomic
def set_active(session: Session, *, account_id: int, active: bool, actor: str) -> Account:
    """Switch an account on or off (audited); an account cannot switch itself off.

    A deactivated account can no longer log in, and its open sessions end with their next
    request (the login manager loads only active accounts).
    """
    begin_write(session, "accounts")
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    if not active and account.username == actor:
        raise InvalidInput("you cannot deactivate your own account; ask another admin")
    if account.active == active:
        raise Conflict(f"the account {account.username!r} is already "
                       f"{'active' if active else 'inactive'}")
    account.active = active
    audit.append(session, actor=actor,
                 action="account.activate" if active else "account.deactivate",
                 target=f"account:{account.username}", subject_id=account.subject_id,
                 details={"role": account.role, "department": account.department_code})
    return account
