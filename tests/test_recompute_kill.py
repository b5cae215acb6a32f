"""A recompute killed half-way (SIGKILL to a real process) leaves the old standings whole,
and the next run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from app.services.standings.recompute import recompute
from tests.benchmarks.city import build_city
from tests.conftest import SAMPLE_RULES

D1, D2 = date(2026, 1, 10), date(2026, 11, 20)
pytestmark = pytest.mark.slow


def _standings(engine):
    """The day of the stored standings (the last successful run's) and every row, by subject
    (days as ISO text on both databases)."""
    with engine.connect() as conn:
        day = conn.execute(text("SELECT as_of FROM run WHERE status = 'ok' AND kind = "
                                "'recompute' ORDER BY id DESC LIMIT 1")).scalar()
        rows = {sid: (str(as_of), points, tier, run_id) for sid, as_of, points, tier, run_id
                in conn.execute(text("SELECT subject_id, as_of, points, tier, run_id "
                                     "FROM standing"))}
    return str(day), rows


def _run_status(engine, run_id):
    with engine.connect() as conn:
        return conn.execute(text("SELECT status FROM run WHERE id = :i"), {"i": run_id}).scalar()


def test_a_killed_recompute_leaves_old_or_new_never_a_mix(app_config, tmp_path):
    from app import create_app
    from app.db import get_engine, session_scope
    from app.rulebook import load_rulebook

    app_config = {**app_config, "RULES_DIR": str(SAMPLE_RULES)}
    app = create_app(app_config)
    engine = get_engine(app)
    rulebook = load_rulebook(SAMPLE_RULES)
    subjects = 30_000
    build_city(engine, subjects=subjects, records=300_000, rulebook=rulebook, today=D2)
    with session_scope(app) as session:
        first = recompute(session, rulebook=rulebook, as_of=D1)
    before = _standings(engine)
    assert before[0] == D1.isoformat() and len(before[1]) == subjects
    assert {row[0] for row in before[1].values()} == {D1.isoformat()}

    env = {**os.environ, "FLASK_DATABASE_URL": app_config["DATABASE_URL"],
           "FLASK_RULES_DIR": str(SAMPLE_RULES)}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "recompute",
                             "--as-of", D2.isoformat()], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watcher = create_engine(app_config["DATABASE_URL"])
    deadline = time.monotonic() + 60
    while _run_status(watcher, first.run_id + 1) != "running":
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(max(0.2, first.duration_ms / 1000 / 2))  # half-way through a run like the first
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _run_status(watcher, first.run_id + 1) == "running", "the run ended before the kill"

    # Only the old standings, all of them: nothing of the killed run is visible.
    assert _standings(watcher) == before

    with session_scope(app) as session:
        again = recompute(session, rulebook=rulebook, as_of=D2)
    assert again.status == "ok" and again.subjects == subjects
    assert _run_status(watcher, first.run_id + 1) == "abandoned"
    # The new standings, all of them: a row that changed is the new run's, one that did not
    # is left as it was (the standings' day is the run's).
    day, after = _standings(watcher)
    assert day == D2.isoformat() and after.keys() == before[1].keys()
    changed = {sid for sid, row in after.items() if row[1:3] != before[1][sid][1:3]}
    assert 0 < len(changed) < subjects
    for sid, row in after.items():
        assert row == ((D2.isoformat(), *row[1:3], again.run_id) if sid in changed
                       else before[1][sid]), sid
    watcher.dispose()
