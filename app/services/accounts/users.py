"""Accounts: who may log in, with which role, for which department or subject."""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, or_, select, update
from sqlmodel import Session
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

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
MIN_PASSWORD_SCORE = 3  # zxcvbn's "safely unguessable" (0-4): a slow-hash offline attack
MAX_USERNAME = 80
# Letters that show nothing although Unicode files them as letters or marks (fillers,
# joiners, variation selectors); control and format characters are refused by category.
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5\u180b\u180c\u180d\u180e"
                      "\u180f\u2800") | frozenset(map(chr, range(0xFE00, 0xFE10)))
THROTTLE_WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(seconds=5)  # the wait after the first failure over the limit
MAX_DELAY = timedelta(seconds=60)  # the longest wait between tries once throttled
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20


def normalise_role(role: str) -> str:
    """Return the canonical role name, or raise InvalidInput."""
    value = ALIASES.get((role or "").strip().lower(), (role or "").strip().lower())
    if value not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    return value


def check_password_policy(password: str, username: str) -> None:
    """Refuse a password that is too short, is the user name, or is easy to guess.

    Strength is zxcvbn's estimate (dictionaries of common passwords, names and words,
    keyboard walks, repeats and sequences, with the user name as a known word), the same
    for every role.
    """
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    if password.lower() == (username or "").lower():
        raise InvalidInput("the password must not be the user name")
    if not password.strip():
        raise InvalidInput("the password is too easy to guess: it is only spaces")
    result = zxcvbn(password[:200], user_inputs=[username or ""])
    if result["score"] < MIN_PASSWORD_SCORE:
        hint = result["feedback"].get("warning") or "it is too common or too regular"
        raise InvalidInput(f"the password is too easy to guess: {hint.rstrip('.')}; "
                           "use a few uncommon words")


def username_key(username: str) -> str:
    """Return what makes two user names the same: NFKC-normalised and case-folded."""
    return unicodedata.normalize("NFKC", username or "").casefold()


def clean_username(raw: str) -> str:
    """Return the user name NFKC-normalised, or raise InvalidInput.

    A name holds printable characters only: no control, format (zero-width), private-use
    or unassigned characters, no invisible fillers, no line breaks, no leading or trailing
    space.
    """
    username = unicodedata.normalize("NFKC", raw or "").strip()
    if not username or len(username) > MAX_USERNAME:
        raise InvalidInput(f"the user name must have 1 to {MAX_USERNAME} characters")
    if not username.isprintable() or any(ch in INVISIBLE for ch in username):
        raise InvalidInput("the user name may hold only visible characters (no control or "
                           "invisible characters)")
    return username


@atomic
def create_account(session: Session, *, username: str, password: str, role: str,
                   department: str | None = None, subject_id: str | None = None,
                   display_name: str = "", actor: str = "system") -> Account:
    """Create an account; a recorder needs a department and a resident a subject."""
    role = normalise_role(role)
    username = clean_username(username)
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
    key = username_key(username)
    if session.execute(select(Account.id).where(
            or_(Account.username_key == key, Account.username == username))).first():
        raise Conflict(f"the user name {username!r} is taken")
    account = Account(username=username, username_key=key,
                      password_hash=generate_password_hash(password),
                      role=role, department_code=department, subject_id=subject_id,
                      display_name=display_name or username)
    session.add(account)
    session.flush()
    audit.append(session, actor=actor, action="account.create", target=f"account:{username}",
                 subject_id=subject_id, details={"role": role, "department": department})
    return account


class Throttled(CitypointsError):
    """Too many failed logins for this name or from this address: wait before the next
    try (`retry_after` seconds); says nothing more."""

    code = "throttled"
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"too many attempts; wait {retry_after} seconds before trying again")
        self.retry_after = retry_after


def _failures(session: Session, column, value: str, since) -> tuple[int, datetime | None]:
    """Return how many logins failed for `value` since `since`, and when the last one did."""
    count, last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).select_from(LoginAttempt)
        .where(column == value, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
    ).one()
    return count, last


def _wait(failures: int, allowed: int) -> timedelta:
    """Return how long to wait after the last failure: nothing up to `allowed` failures,
    then doubling from `FIRST_DELAY` up to `MAX_DELAY`."""
    if failures < allowed:
        return timedelta(0)
    return min(MAX_DELAY, FIRST_DELAY * 2 ** min(failures - allowed, 16))


def _throttle(session: Session, username: str, address: str) -> None:
    """Raise Throttled while the wait after the last failure (for the name, or from the
    address) runs; afterwards every try, the right password included, is checked."""
    now = utcnow()
    since = now - THROTTLE_WINDOW
    keys = [(LoginAttempt.username, username, MAX_FAILURES_PER_NAME)]
    if address:
        keys.append((LoginAttempt.address, address, MAX_FAILURES_PER_ADDRESS))
    until = None
    for column, value, allowed in keys:
        failures, last = _failures(session, column, value, since)
        if last is None:
            continue
        if last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        end = last + _wait(failures, allowed)
        if end > now and (until is None or end > until):
            until = end
    if until is not None:
        raise Throttled(max(1, math.ceil((until - now).total_seconds())))


@atomic
def authenticate(session: Session, *, username: str, password: str,
                 address: str = "") -> Account | None:
    """Return the active account for these credentials, or None (never says which was wrong).

    After `MAX_FAILURES_PER_NAME` failures for the name, or `MAX_FAILURES_PER_ADDRESS` from
    the address (the client's, as the configured proxy forwards it) within the window, each
    further try must wait after the last failure, doubling up to `MAX_DELAY`: guessing is
    slowed to a crawl, but the right password still gets in once the wait is over, so
    nobody (a whole city behind one address included) is locked out. Raise Throttled
    during the wait, whether or not such an account exists, so the answer reveals nothing.
    """
    username = unicodedata.normalize("NFKC", (username or "")).strip()[:MAX_USERNAME]
    name = username_key(username)[:MAX_USERNAME]  # "ANA" and "ana" are one name here too
    address = (address or "")[:64]
    _throttle(session, name, address)
    # The name as typed first: two older accounts may differ only by case (the migration
    # kept both); then the name as people read it.
    account = session.execute(
        select(Account).where(Account.username == username)
    ).scalar_one_or_none() or session.execute(
        select(Account).where(Account.username_key == username_key(username))
    ).scalar_one_or_none()
    ok = False
    if account is None or not account.active:
        # Hash anyway so the answer takes as long for a missing account.
        check_password_hash(_dummy_hash(), password or "")
    else:
        ok = check_password_hash(account.password_hash, password or "")
    begin_write(session, "accounts")  # the reads above may be older than another's commit
    session.add(LoginAttempt(username=name, address=address, success=ok))
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

    A deactivated account can no longer log in, and every session it had open ends (its
    session generation is raised, and the login manager loads only active accounts).
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
    if not active:
        account.session_generation += 1
    audit.append(session, actor=actor,
                 action="account.activate" if active else "account.deactivate",
                 target=f"account:{account.username}", subject_id=account.subject_id,
                 details={"role": account.role, "department": account.department_code})
    return account


@atomic
def end_sessions(session: Session, *, account_id: int) -> None:
    """End every session of the account opened so far (on logout, from anywhere)."""
    begin_write(session, "accounts")
    session.execute(update(Account).where(Account.id == account_id)
                    .values(session_generation=Account.session_generation + 1))


@atomic
def change_password(session: Session, *, account_id: int, new_password: str, actor: str,
                    current_password: str | None = None) -> Account:
    """Set a new password (audited) and end every session the account had open.

    The account's own change gives `current_password`, which must match; an admin's
    reset (from the CLI) gives none.
    """
    begin_write(session, "accounts")
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    if current_password is not None and not check_password_hash(account.password_hash,
                                                                 current_password):
        raise InvalidInput("the current password is wrong")
    check_password_policy(new_password, account.username)
    account.password_hash = generate_password_hash(new_password)
    account.session_generation += 1
    audit.append(session, actor=actor, action="account.password",
                 target=f"account:{account.username}", subject_id=account.subject_id,
                 details={"role": account.role})
    return account


def find_account(session: Session, username: str) -> Account:
    """Return the account with this user name (as typed, else as `username_key`), or
    NotFound."""
    account = session.execute(select(Account).where(
        Account.username == username)).scalar_one_or_none() or session.execute(select(
            Account).where(Account.username_key == username_key(username))).scalar_one_or_none()
    if account is None:
        raise NotFound(f"no account {username!r}")
    return account
