"""The rule author's log: every rulebook put in force, every reload refused, every simulation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel

from app.models.core import utcnow


class RulebookEvent(SQLModel, table=True):
    """One event in the life of the rulebook; append-only.

    `action` is "in-force" (the rulebook with `fingerprint` was put in force, replacing the
    one before), "refused" (a reload was refused; `details` holds its problems) or
    "simulate" (a candidate was compared with the rulebook in force; `details` holds the
    summary). Every process reads the latest "in-force" event to follow reloads made
    elsewhere (another worker, the scheduler).
    """

    __tablename__ = "rulebook_event"
    __table_args__ = (Index("ix_rulebook_event_action", "action", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    action: str = Field(max_length=32)
    fingerprint: str | None = Field(default=None, max_length=64)
    actor: str = Field(default="system", max_length=80)
    source: str = Field(default="", max_length=500)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
