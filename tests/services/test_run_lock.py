"""Only one recompute at a time: a second one waits for the lock, or exits saying why."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from app.errors import Conflict
from app.services import recompute as rc


def _hold_lock(url: str, seconds: float, ready: threading.Event) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": rc.RUN_LOCK_KEY})
        ready.set()
        time.sleep(seconds)
        if url.startswith("sqlite"):
            conn.exec_driver_sql("ROLLBACK")
        else:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": rc.RUN_LOCK_KEY})
    engine.dispose()


def test_a_second_run_waits_for_the_first(session, make_subject, rulebook, database_url):
    make_subject(session)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(database_url, 1.5, ready))
    holder.start()
    ready.wait(10)
    started = time.monotonic()
    summary = rc.recompute(session, rulebook=rulebook, as_of=date(2026, 5, 1))
    holder.join()
    assert summary.status == "ok" and time.monotonic() - started >= 1.0


def test_a_second_run_gives_up_saying_why(session, make_subject, rulebook, database_url,
                                          monkeypatch):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite waits its 30 s busy timeout; the wait itself is tested above")
    monkeypatch.setattr(rc, "LOCK_WAIT_SECONDS", 1)
    make_subject(session)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(database_url, 4, ready))
    holder.start()
    ready.wait(10)
    with pytest.raises(Conflict, match="another recompute"):
        rc.recompute(session, rulebook=rulebook, as_of=date(2026, 5, 1))
    holder.join()
    runs = session.execute(text("SELECT status, error FROM run ORDER BY id")).all()
    assert runs[-1][0] == "refused" and "another recompute" in runs[-1][1]
