"""The schema comes from the migrations alone and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.db import get_engine
from app.migrations import alembic_config


def test_one_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == ["0014"]


def test_migrated_schema_matches_the_models(app):
    with get_engine(app).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    changes = ("add_table", "remove_table", "add_column", "remove_column")
    tables = [d for d in diff if d[0] in changes]
    assert tables == [] or all(d[0] == "remove_table" and d[1].name == "apscheduler_jobs"
                               for d in tables), tables
