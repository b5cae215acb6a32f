"""Tables that keep the system trustworthy: login attempts, published audit digests, and
the seals of the facts (the Merkle log whose roots the digests publish)."""

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
    # The Merkle log of sealed facts on that day: its size (leaves) and root (hex).
    log_size: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    log_root: str | None = Field(default=None, max_length=64)


class FactSeal(SQLModel, table=True):
    """One leaf of the Merkle log: the hash of a fact's canonical content when it was
    written or changed. `position` is its index in the log (0, 1, 2, ... in chain order);
    the latest seal of a fact is what its row must hash to now. The audit event
    "facts.sealed" that wrote a run of seals holds their count and Merkle root."""

    __tablename__ = "fact_seal"
    __table_args__ = (Index("ix_fact_seal_fact", "kind", "fact_key", "position"),)
    position: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: str = Field(max_length=32)
    fact_key: str = Field(max_length=64)  # a subject's id; other ids zero-padded to 12
    leaf_hash: str = Field(max_length=64)
