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
    with engine.connect() as conn:
        return conn.execute(text("SELECT as_of, COUNT(*) FROM standing GROUP BY as_of")).all()


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
    assert _standings(engine)[0][1] == subjects

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
    assert _standings(watcher) == [(D1 if "sqlite" not in app_config["DATABASE_URL"]
                                    else D1.isoformat(), subjects)]

    with session_scope(app) as session:
        again = recompute(session, rulebook=rulebook, as_of=D2)
    assert again.status == "ok" and again.subjects == subjects
    assert _run_status(watcher, first.run_id + 1) == "abandoned"
    assert _standings(watcher) == [(D2 if "sqlite" not in app_config["DATABASE_URL"]
                                    else D2.isoformat(), subjects)]
    watcher.dispose()
