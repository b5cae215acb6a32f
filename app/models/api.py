"""API tables: bearer tokens per department, stored only as a sha256 hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from app.models.core import utcnow


class ApiToken(SQLModel, table=True):
    """A department's API token. The token itself is shown once; only its hash is kept.

    `revoked_at` is set once, with who, and never cleared (a revoked token stays revoked).
    """

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=200)
    department_code: str = Field(foreign_key="department.code", max_length=64, index=True)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 hex of the whole token
    prefix: str = Field(max_length=16)  # the token's first characters, to tell tokens apart
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    created_by: str = Field(max_length=80)
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_by: str | None = Field(default=None, max_length=80)
