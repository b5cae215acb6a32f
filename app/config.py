"""Configuration defaults; create_app then reads instance/config.py and FLASK_* variables."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-secret-do-not-use-in-production"


def defaults(instance_path: str) -> dict:
    """Return the default settings for an app whose instance folder is `instance_path`."""
    return {
        "SECRET_KEY": DEV_SECRET_KEY,
        "DATABASE_URL": "sqlite:///" + os.path.join(instance_path, "citypoints.sqlite3"),
        "RULES_DIR": str(PROJECT_ROOT / "rules"),
        # The nightly recompute: hour and minute, local time of the scheduler process.
        "RECOMPUTE_AT": "02:00",
        "TIMEZONE": "Asia/Shanghai",
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "SECURE_COOKIES": None,  # None: secure everywhere but debug and testing
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "SQL_ECHO": False,
        # The rule author's workbench: how often a process checks whether another process
        # (a worker, the scheduler) put a new rulebook in force; SIGHUP asks for a reload;
        # where candidate rulebooks may be picked for a simulation (None: upload only).
        "RULEBOOK_SYNC_SECONDS": 10.0,
        "RELOAD_ON_SIGHUP": True,
        "RULES_CANDIDATES_DIR": None,
        "SIMULATION_SAMPLE": 20,
        # Bulk intake: the largest file, and what one account's uploads waiting for
        # confirmation (kept a day) may take in all.
        "INTAKE_MAX_BYTES": 32 * 1024 * 1024,
        "INTAKE_QUOTA_BYTES": 96 * 1024 * 1024,
    }
