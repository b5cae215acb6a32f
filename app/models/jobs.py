"""Long work run outside the request: a simulation, an intake preview or confirmation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from app.models.core import utcnow


class Job(SQLModel, table=True):
    """One piece of long work, queued by a page and run by the scheduler's job worker.

    `state` goes queued -> running -> done or failed. `key` says what the job does (its kind,
    its owner and a digest of its input): a second job with the key of one still queued or
    running is refused. `payload` holds the input (an upload's bytes), `result` what the
    page shows at the end (pickled by the app itself, read only by it).
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_key_state", "key", "state"),
                      Index("ix_job_state_id", "state", "id"))
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    key: str = Field(max_length=64)
    owner: str = Field(max_length=80)
    title: str = Field(default="", max_length=200)
    state: str = Field(default="queued", max_length=16)
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    done: int = Field(default=0)
    total: int = Field(default=0)
    step: str = Field(default="", max_length=200)
    result: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    worker: str | None = Field(default=None, max_length=200)
