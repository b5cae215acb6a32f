"""Tables that keep the system trustworthy: login attempts, published audit digests."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.models.core import utcnow


class LoginAttempt(SQLModel, table=True):
    """One try to log in, kept to throttle guessing per account name and per address."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username", "username", "at"),
        Index("ix_login_attempt_address", "address", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    username: str = Field(max_length=80)
    address: str = Field(default="", max_length=64)
    success: bool = False


class AuditDigest(SQLModel, table=True):
    """The head of the audit chain as published on a day (a copy outside the DB catches
    an insider who rewrites history and recomputes every hash)."""

    __tablename__ = "audit_digest"
    day: date = Field(primary_key=True)
    head_id: int
    head_hash: str = Field(max_length=64)
    events: int
    published_at: datetime = Field(default_factory=utcnow)
