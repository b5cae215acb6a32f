"""API tokens per department: created once (the token is shown only then), stored as a
sha256 hash, revocable, with an optional expiry. A token acts for its department only."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session

from app.errors import CitypointsError, Conflict, InvalidInput, NotFound, Problem
from app.models import ApiToken, Department, utcnow
from app.rulebook import Rulebook
from app.rulebook.model import Duration
from app.services.audit import chain as audit
from app.services.locks import begin_write
from app.services.rulebooks.registry import store_rulebook
from app.services.transaction import atomic

TOKEN_PREFIX = "cpt_"
SHOWN = 12  # characters of the token kept in clear, to tell tokens apart in lists
MAX_TOKEN = 200  # longer bearer values are refused without hashing them


class Unauthorized(CitypointsError):
    """No valid bearer token: missing, unknown, expired or revoked."""

    code = "unauthorized"
    status = 401


def hash_token(token: str) -> str:
    """Return the sha256 hex digest under which `token` is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def aware(moment: datetime | None) -> datetime | None:
    """Return `moment` as an aware UTC datetime (SQLite hands timestamps back naive)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


MAX_LIFE = Duration(2, "y")  # the longest a token may be made for, short of "never"


def parse_expiry(text: str | None, *, now: datetime) -> datetime | None:
    """Return the expiry for `--expires-in` (`365d`, `6m`, `1y`, at most `2y`, or `never`).

    A zero length is refused (it used to mean "never", which must be said so); "never" is
    an explicit choice, kept for systems that cannot rotate a token.
    """
    value = (text or "").strip().lower()
    if value in ("never", "none"):
        return None
    try:
        duration = Duration.parse("0d" if value.isdigit() and int(value) == 0 else value)
    except ValueError as error:
        raise InvalidInput(f"--expires-in: {error}, or never",
                           problems=[Problem(str(error), field="expires_in")]) from None
    if duration.count == 0:
        message = "a token must last at least 1 day (or say never)"
        raise InvalidInput(f"--expires-in: {message}",
                           problems=[Problem(message, field="expires_in")])
    if duration.after(now.date()) > MAX_LIFE.after(now.date()):
        message = f"{value} is too long: a token lasts at most 2 years (2y, 24m or 730d)"
        raise InvalidInput(f"--expires-in: {message}",
                           problems=[Problem(message, field="expires_in")])
    return datetime.combine(duration.after(now.date()), now.timetz())


def status_of(token: ApiToken, *, now: datetime) -> str:
    """Return "active", "expired" or "revoked"."""
    if token.revoked_at is not None:
        return "revoked"
    expires = aware(token.expires_at)
    if expires is not None and expires <= now:
        return "expired"
    return "active"


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # the bearer value: shown once, never stored


@atomic
def create_token(session: Session, *, rulebook: Rulebook, department: str, name: str = "",
                 expires_in: str | None = "365d", actor: str) -> CreatedToken:
    """Create a token for `department`; return it with its secret (shown once)."""
    store_rulebook(session, rulebook, loaded_by=actor, source="in force")
    department = (department or "").strip()
    if rulebook.department(department) is None or session.get(Department, department) is None:
        raise InvalidInput(f"unknown department {department!r}; the departments are "
                           f"{', '.join(d.code for d in rulebook.departments)}",
                           problems=[Problem(f"unknown department {department!r}",
                                             field="department")])
    name = (name or "").strip()
    if len(name) > 200:
        raise InvalidInput("the name is longer than 200 characters")
    now = utcnow()
    expires_at = parse_expiry(expires_in, now=now)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name or f"{department} token", department_code=department,
                     token_hash=hash_token(secret), prefix=secret[:SHOWN], created_at=now,
                     created_by=actor, expires_at=expires_at)
    begin_write(session, "tokens")
    session.add(token)
    session.flush()
    audit.append(session, actor=actor, action="token.create", target=f"api_token:{token.id}",
                 details={"department": department, "name": token.name,
                          "prefix": token.prefix, "expires_at": expires_at})
    return CreatedToken(token, secret)


@atomic
def revoke_token(session: Session, *, token_id: int, actor: str) -> ApiToken:
    """Revoke a token at once; revoking it again is refused (it stays revoked)."""
    begin_write(session, "tokens")
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}")
    if token.revoked_at is not None:
        raise Conflict(f"token {token_id} ({token.prefix}…) was already revoked on "
                       f"{aware(token.revoked_at):%Y-%m-%d %H:%M} UTC by {token.revoked_by}")
    token.revoked_at = utcnow()
    token.revoked_by = actor
    audit.append(session, actor=actor, action="token.revoke", target=f"api_token:{token.id}",
                 details={"department": token.department_code, "prefix": token.prefix})
    return token


def list_tokens(session: Session, *, department: str | None = None) -> list[ApiToken]:
    """Return the tokens (of one department, if given), oldest first."""
    query = select(ApiToken).order_by(ApiToken.id)
    if department:
        query = query.where(ApiToken.department_code == department)
    return list(session.execute(query).scalars())


def authenticate(session: Session, *, authorization: str | None, now: datetime) -> ApiToken:
    """Return the token named by an `Authorization: Bearer ...` header, or raise Unauthorized."""
    value = (authorization or "").strip()
    if not value:
        raise Unauthorized("this call needs an API token: send the header "
                           "'Authorization: Bearer <token>' (an admin creates one with "
                           "`flask tokens create --department CODE`)")
    scheme, _, secret = value.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    if len(secret) > MAX_TOKEN or not secret.isascii():
        raise Unauthorized("the API token is not valid")
    token = session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(secret))
    ).scalar_one_or_none()
    if token is None:
        raise Unauthorized("the API token is not valid")
    state = status_of(token, now=now)
    if state == "revoked":
        raise Unauthorized(f"the API token {token.prefix}… was revoked; ask for a new one")
    if state == "expired":
        raise Unauthorized(f"the API token {token.prefix}… expired on "
                           f"{aware(token.expires_at):%Y-%m-%d}; ask for a new one")
    return token

