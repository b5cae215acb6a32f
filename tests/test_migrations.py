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
    assert script.get_heads() == ["0018"]


def test_migrated_schema_matches_the_models(app):
    with get_engine(app).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    changes = ("add_table", "remove_table", "add_column", "remove_column")
    tables = [d for d in diff if d[0] in changes]
    assert tables == [] or all(d[0] == "remove_table" and d[1].name == "apscheduler_jobs"
                               for d in tables), tables


def test_the_sealing_migration_seals_the_facts_already_stored(tmp_path):
    from datetime import UTC, date, datetime

    from sqlalchemy import create_engine, text
    from sqlmodel import Session

    from app.migrations import upgrade
    from app.services.audit import chain
    from tests.conftest import new_person_id

    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0009")
    sid = new_person_id()
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    with engine.begin() as conn:  # a city written before sealing existed
        conn.execute(text("INSERT INTO department (code, title) VALUES ('court', 'Court')"))
        conn.execute(text(
            "INSERT INTO subject (subject_id, kind, name, district, village, consent, "
            "registered_at, updated_at) VALUES (:s, 'person', '王芳', 'Yatou', '', 1, :t, :t)"),
            {"s": sid, "t": now})
        conn.execute(text(
            "INSERT INTO record (subject_id, rule_code, rule_version, rulebook_fingerprint, "
            "department_code, occurred_on, ends_on, base_points, factor, points, note, "
            "evidence, recorded_at, recorded_by) VALUES (:s, 'X', 1, 'f', 'court', :d, :e, "
            "-5, 1, -5, '', 'photo', :t, 'clerk')"),
            {"s": sid, "d": date(2025, 5, 1), "e": date(2026, 5, 1), "t": now})
    upgrade(engine)
    with Session(engine) as session:
        result = chain.verify(session, facts=True)
        assert result.ok, (result.where(), result.reason)
        assert result.facts == 2 and result.events == 1  # one sealing event for both
    with engine.begin() as conn:
        conn.execute(text("UPDATE record SET points = -1"))
    with Session(engine) as session:
        result = chain.verify(session, facts=True)
        assert (result.ok, result.where()) == (False, "record 1")
    engine.dispose()
