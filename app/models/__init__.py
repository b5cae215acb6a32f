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
    SchedulerJobRun,
    SchedulerLease,
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
    EntryObjection,
    Notice,
    NoticeOutbox,
    Objection,
    RepairRequest,
    SubjectContact,
)
from app.models.jobs import Job
from app.models.trust import AuditDigest, FactSeal, LoginAttempt

__all__ = [
    "Account",
    "ApiToken",
    "AuditDigest",
    "AuditEvent",
    "ConsentChange",
    "Job",
    "Department",
    "EntryObjection",
    "FactSeal",
    "ListEntry",
    "LoginAttempt",
    "Notice",
    "NoticeOutbox",
    "Objection",
    "Record",
    "RepairRequest",
    "RulebookEvent",
    "RulebookVersion",
    "Run",
    "SchedulerJobRun",
    "SchedulerLease",
    "SchedulerLock",
    "Standing",
    "StandingFlag",
    "StandingMeasure",
    "Subject",
    "SubjectContact",
    "TierChange",
    "utcnow",
]
