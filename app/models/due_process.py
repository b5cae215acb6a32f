"""Due process tables: notices and their outbox, objections, consent changes, contacts.

Like records, these are append-only facts: a decision, a delivery or a consent change is
written once with who and when. The only columns that change are the outbox's delivery
state (pending -> sent or failed, with its attempts) and an objection's decision, set once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.core import utcnow

NOTICE_KINDS = ("record", "tier_change", "list_entry", "list_end", "measure_pending",
                "objection_decision", "record_lapsing", "record_repaired",
                "repair_decision", "entry_objection_decision", "rulebook_change",
                "rulebook_cancelled")
DELIVERY_STATES = ("pending", "sent", "failed")
OUTCOMES = ("upheld", "annulled")  # the record is upheld (stands) or annulled


class Notice(SQLModel, table=True):
    """A message to a subject, kept in their inbox. `dedupe_key` names the event it reports,
    so the same event never makes two notices (the nightly job may run twice)."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_subject", "subject_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    subject_id: str = Field(foreign_key="subject.subject_id", max_length=18)
    kind: str = Field(max_length=32)  # one of NOTICE_KINDS
    dedupe_key: str = Field(max_length=200, unique=True)
    title: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    # The values the words are made of, by kind (see due_process.notice_render); title and
    # body are their English text. None on notices made before notices were structured.
    content: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    record_id: int | None = Field(default=None, foreign_key="record.id", index=True)
    list_entry_id: int | None = Field(default=None, foreign_key="list_entry.id", index=True)
    objection_id: int | None = Field(default=None, foreign_key="objection.id")
    notified_on: date  # the day the notice was made (an objection window runs from it)
    created_at: datetime = Field(default_factory=utcnow)


class NoticeOutbox(SQLModel, table=True):
    """The delivery of one notice: by email when the city has a mail server and the subject
    an address, otherwise as a printed letter. Never deleted; `failed` ones are printed."""

    __tablename__ = "notice_outbox"
    __table_args__ = (Index("ix_notice_outbox_state", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", unique=True)
    state: str = Field(default="pending", max_length=16)  # one of DELIVERY_STATES
    channel: str | None = Field(default=None, max_length=16)  # "email" or "letter" once tried
    recipient: str | None = Field(default=None, max_length=254)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_attempt_at: datetime | None = None  # not before this (a retry's backoff, or a lease)
    sent_at: datetime | None = None
    sent_by: str | None = Field(default=None, max_length=80)  # who posted a letter
    created_at: datetime = Field(default_factory=utcnow)


class Objection(SQLModel, table=True):
    """A subject's challenge to a record (level 1) or to the decision on it (level 2,
    reconsideration by a different reviewer). The decision columns are set once."""

    __tablename__ = "objection"
    __table_args__ = (
        UniqueConstraint("record_id", "level", name="uq_objection_record_level"),
        Index("ix_objection_queue", "decided_on", "deadline"),
    )
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="record.id")
    subject_id: str = Field(foreign_key="subject.subject_id", max_length=18, index=True)
    level: int = 1  # 1: objection, 2: reconsideration
    parent_id: int | None = Field(default=None, foreign_key="objection.id")
    filed_on: date
    filed_at: datetime = Field(default_factory=utcnow)
    filed_by: str = Field(max_length=80)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    attachment_ref: str | None = Field(default=None, max_length=500)
    deadline: date  # the last day for the decision
    decided_on: date | None = None
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=80)
    outcome: str | None = Field(default=None, max_length=16)  # one of OUTCOMES
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ConsentChange(SQLModel, table=True):
    """A subject gave or withdrew consent to be scored, on a date, by someone."""

    __tablename__ = "consent_change"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: str = Field(foreign_key="subject.subject_id", max_length=18, index=True)
    consent: bool
    changed_on: date
    changed_at: datetime = Field(default_factory=utcnow)
    changed_by: str = Field(max_length=80)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SubjectContact(SQLModel, table=True):
    """Where a subject's notices are sent besides their inbox (no row: by letter)."""

    __tablename__ = "subject_contact"
    subject_id: str = Field(primary_key=True, foreign_key="subject.subject_id", max_length=18)
    email: str | None = Field(default=None, max_length=254)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=80)


REPAIR_STATES = ("pending", "granted", "refused")
ENTRY_OUTCOMES = ("upheld", "ended")  # the entry stands, or it is ended by the objection


class RepairRequest(SQLModel, table=True):
    """A subject's application to have a record marked repaired (debt paid, training done),
    decided by the recording department within the scheme's `repair.decide_within`. The
    decision columns are set once; a granted application marks the record repaired."""

    __tablename__ = "repair_request"
    __table_args__ = (Index("ix_repair_request_queue", "department_code", "status", "deadline"),)
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="record.id", index=True)
    subject_id: str = Field(foreign_key="subject.subject_id", max_length=18, index=True)
    department_code: str = Field(max_length=64)
    filed_on: date
    filed_at: datetime = Field(default_factory=utcnow)
    filed_by: str = Field(max_length=80)
    statement: str = Field(sa_column=Column(Text, nullable=False))
    deadline: date  # the last day for the decision
    status: str = Field(default="pending", max_length=16)  # one of REPAIR_STATES
    decided_on: date | None = None
    decided_by: str | None = Field(default=None, max_length=80)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class EntryObjection(SQLModel, table=True):
    """A subject's objection to a list entry, within the list's own deadlines (else the
    scheme's), decided by a reviewer: the entry stands (upheld) or is ended."""

    __tablename__ = "entry_objection"
    __table_args__ = (Index("ix_entry_objection_queue", "decided_on", "deadline"),)
    id: int | None = Field(default=None, primary_key=True)
    list_entry_id: int = Field(foreign_key="list_entry.id", index=True)
    subject_id: str = Field(foreign_key="subject.subject_id", max_length=18, index=True)
    list_code: str = Field(max_length=64)
    filed_on: date
    filed_at: datetime = Field(default_factory=utcnow)
    filed_by: str = Field(max_length=80)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    deadline: date
    decided_on: date | None = None
    decided_by: str | None = Field(default=None, max_length=80)
    outcome: str | None = Field(default=None, max_length=16)  # one of ENTRY_OUTCOMES
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
