"""Database tables. Records, list entries, runs and audit events are append-only:
their status columns are set once, with who and when, and never cleared."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Return the current time, aware, in UTC (how every timestamp is stored)."""
    return datetime.now(UTC)


class Department(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=200)


class Subject(SQLModel, table=True):
    subject_id: str = Field(primary_key=True, max_length=18)
    kind: str = Field(max_length=16)  # "person" or "organisation"
    name: str = Field(max_length=200, index=True)
    district: str = Field(default="", max_length=100, index=True)
    village: str = Field(default="", max_length=100)
    # A person's subject_id where it is one (so list measures can reach them), else a name.
    legal_representative: str | None = Field(default=None, max_length=200, index=True)
    # The day the register named that representative: measures reach them from then on.
    legal_representative_since: date | None = None
    consent: bool = Field(default=False)
    consent_changed_on: date | None = None
    # The language notices are written in (en, zh): the register's or the resident's own
    # choice; None: the scheme's first language.
    language: str | None = Field(default=None, max_length=8)
    registered_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True)
    # The name NFKC-normalised and case-folded: what makes two names the same (unique).
    username_key: str = Field(max_length=160, sa_column_kwargs={"unique": True})
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=32)  # see app.services.accounts.users.ROLES
    display_name: str = Field(default="", max_length=200)
    department_code: str | None = Field(default=None, foreign_key="department.code")
    subject_id: str | None = Field(default=None, foreign_key="subject.subject_id")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # Carried by every login session; raised by logout, deactivation and a new password,
    # which ends every session opened before.
    session_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class RulebookVersion(SQLModel, table=True):
    """A rulebook that was put in force, with its raw files, so it can be re-loaded."""

    __tablename__ = "rulebook_version"
    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64, unique=True)
    loaded_at: datetime = Field(default_factory=utcnow)
    loaded_by: str = Field(default="system", max_length=80)
    source: str = Field(default="", max_length=500)
    files_json: str = Field(sa_column=Column(Text, nullable=False))


class Record(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("department_code", "external_ref", name="uq_record_external_ref"),
        Index("ix_record_subject_rule", "subject_id", "rule_code", "occurred_on"),
        Index("ix_record_window", "occurred_on", "ends_on"),
        Index("ix_record_ends_on", "ends_on"),  # which records lapse since the last run
        Index("ix_record_repaired_on", "repaired_on"),
        # the dashboard's records per day and the departments' ranking (migration 0009)
        Index("ix_record_entered", "recorded_at", "department_code", "voided_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    subject_id: str = Field(foreign_key="subject.subject_id", max_length=18)
    rule_code: str = Field(max_length=64)
    rule_version: int
    rulebook_fingerprint: str = Field(max_length=64)
    department_code: str = Field(foreign_key="department.code", max_length=64)
    occurred_on: date
    ends_on: date  # occurred_on + expires_after: the first day it no longer counts
    repairable_on: date | None = None
    base_points: int
    factor: int = 1  # the repeat factor applied when the points were fixed
    points: int  # fixed when recorded: repeat and cap applied
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    external_ref: str | None = Field(default=None, max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by: str = Field(default="", max_length=80)
    # Set once, never cleared: a void (entered in error), a repair, an annulment.
    voided_at: datetime | None = None
    voided_by: str | None = Field(default=None, max_length=80)
    void_reason: str | None = None
    repaired_on: date | None = None
    repaired_by: str | None = Field(default=None, max_length=80)
    repair_evidence: str | None = None
    annulled_on: date | None = None


class ListEntry(SQLModel, table=True):
    __tablename__ = "list_entry"
    __table_args__ = (
        UniqueConstraint("department_code", "external_ref", name="uq_list_entry_external_ref"),
        Index("ix_list_entry_subject", "subject_id", "list_code"),
        Index("ix_list_entry_window", "list_code", "entered_on"),
    )
    id: int | None = Field(default=None, primary_key=True)
    list_code: str = Field(max_length=64)
    subject_id: str = Field(foreign_key="subject.subject_id", max_length=18)
    department_code: str = Field(foreign_key="department.code", max_length=64)
    entered_on: date
    ends_on: date | None = None  # entered_on + lasts; None if the list sets no end
    legal_basis: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    decision_ref: str = Field(default="", max_length=200)
    external_ref: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=80)
    removed_on: date | None = None
    removed_by: str | None = Field(default=None, max_length=80)
    removed_reason: str | None = None


class Standing(SQLModel, table=True):
    """The stored standing of each subject, written by the last successful recompute."""

    subject_id: str = Field(primary_key=True, foreign_key="subject.subject_id", max_length=18)
    # The day this row last changed; the day of the standings as a whole is the last
    # successful run's (app.services.standings.recompute.standings_day).
    as_of: date
    points: int | None = None  # None: not scored (no consent where the scheme requires it)
    tier: str | None = Field(default=None, max_length=16, index=True)
    run_id: int | None = None


class StandingMeasure(SQLModel, table=True):
    __tablename__ = "standing_measure"
    subject_id: str = Field(primary_key=True, max_length=18)
    measure_code: str = Field(primary_key=True, max_length=64, index=True)


class StandingFlag(SQLModel, table=True):
    __tablename__ = "standing_flag"
    subject_id: str = Field(primary_key=True, max_length=18)
    flag_code: str = Field(primary_key=True, max_length=64, index=True)


class TierChange(SQLModel, table=True):
    __tablename__ = "tier_change"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: str = Field(max_length=18, index=True)
    on_date: date
    from_tier: str | None = Field(default=None, max_length=16)
    to_tier: str | None = Field(default=None, max_length=16)
    from_points: int | None = None
    to_points: int | None = None
    run_id: int | None = Field(default=None, index=True)


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="recompute", max_length=32)
    as_of: date
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    status: str = Field(default="running", max_length=16)  # running, ok, failed
    subjects: int = 0
    tier_changes: int = 0
    duration_ms: int | None = None
    rulebook_fingerprint: str = Field(default="", max_length=64)
    triggered_by: str = Field(default="", max_length=80)
    error: str | None = None
    # "full" or "incremental" (only the subjects that can have changed since the last run)
    scope: str = Field(default="full", max_length=16, sa_column_kwargs={"server_default": "full"})
    recomputed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The highest ids this run saw, read under the write lock: the next run starts above them.
    max_record_id: int | None = None
    max_list_entry_id: int | None = None
    max_objection_id: int | None = None
    max_audit_id: int | None = None


class AuditEvent(SQLModel, table=True):
    """One audited action. `hash` chains each event to the one before (tamper evidence)."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=64, index=True)
    subject_id: str | None = Field(default=None, max_length=18, index=True)
    target: str = Field(default="", max_length=200)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class SchedulerLock(SQLModel, table=True):
    """A row per named job; held while a run is under way (SQLite's stand-in for a lock)."""

    __tablename__ = "scheduler_lock"
    name: str = Field(primary_key=True, max_length=64)
    holder: str | None = Field(default=None, max_length=200)
    acquired_at: datetime | None = None


class SchedulerLease(SQLModel, table=True):
    """The leader lease: the one scheduler process that may run jobs until `expires_at`."""

    __tablename__ = "scheduler_lease"
    name: str = Field(primary_key=True, max_length=64)
    holder: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = None
    renewed_at: datetime | None = None


class SchedulerJobRun(SQLModel, table=True):
    """A job's due time, claimed by the scheduler that runs it (once per due time)."""

    __tablename__ = "scheduler_job_run"
    job_id: str = Field(primary_key=True, max_length=64)
    due_at: datetime = Field(primary_key=True)
    holder: str = Field(max_length=200)
    claimed_at: datetime = Field(default_factory=utcnow)
