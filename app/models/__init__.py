"""Database tables, one module per feature area; import them from here."""

from app.models.api import ApiToken
from app.models.authors import RulebookEvent
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
from app.models.due_process import (
    ConsentChange,
    Notice,
    NoticeOutbox,
    Objection,
    SubjectContact,
)
from app.models.jobs import Job
from app.models.trust import AuditDigest, LoginAttempt

__all__ = [
    "Account",
    "ApiToken",
    "AuditDigest",
    "AuditEvent",
    "ConsentChange",
    "Job",
    "Department",
    "ListEntry",
    "LoginAttempt",
    "Notice",
    "NoticeOutbox",
    "Objection",
    "Record",
    "RulebookEvent",
    "RulebookVersion",
    "Run",
    "SchedulerLock",
    "Standing",
    "StandingFlag",
    "StandingMeasure",
    "Subject",
    "SubjectContact",
    "TierChange",
    "utcnow",
]
