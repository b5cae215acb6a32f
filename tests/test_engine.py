"""The engine: PostgreSQL sessions run in UTC whatever the server's default zone is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from app.db import get_engine, make_engine


def test_postgresql_sessions_store_timestamps_in_utc(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no session time zone")
    moment = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    engine = get_engine(app)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar() == "UTC"
    # Even where the database's own default is another zone (as on a host set up in China).
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    name = admin.url.database
    with admin.connect() as conn:
        conn.execute(text(f"ALTER DATABASE {name} SET timezone = 'Asia/Shanghai'"))
    try:
        fresh = make_engine(database_url)
        with fresh.connect() as conn:
            stored = conn.execute(text("SELECT CAST(:m AS timestamp)"), {"m": moment}).scalar()
        fresh.dispose()
        assert stored == moment.replace(tzinfo=None)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} RESET timezone"))
        admin.dispose()
