"""Database tables, one module per feature area; import them from here."""

from app.models.core import (
    Account,
    AuditEvent,
    Department,
    ListEntry,
    Record,
    RulebookVersion,
    Run,
    SchedulerLock,
    Standing,
    StandingFlag,
    StandingMeasure,
    Subject,
    TierChange,
    utcnow,
)

__all__ = [
    "Account",
    "AuditEvent",
    "Department",
    "ListEntry",
    "Record",
    "RulebookVersion",
    "Run",
    "SchedulerLock",
    "Standing",
    "StandingFlag",
    "StandingMeasure",
    "Subject",
    "TierChange",
    "utcnow",
]
