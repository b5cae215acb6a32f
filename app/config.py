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
        # On PostgreSQL, sum a full run's points in this many slices of the subjects, in
        # parallel, each on a connection (and server process) of its own; still one
        # all-or-nothing run. 1: one connection. Ignored on SQLite.
        "RECOMPUTE_SLICES": 1,
        "TIMEZONE": "Asia/Shanghai",
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "SECURE_COOKIES": None,  # None: secure everywhere but debug and testing
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "SQL_ECHO": False,
        # A PostgreSQL streaming standby of DATABASE_URL that GET requests read from (None:
        # everything reads the primary).
        "DATABASE_REPLICA_URL": None,
        # The rule author's workbench: how often a process checks whether another process
        # (a worker, the scheduler) put a new rulebook in force; SIGHUP asks for a reload;
        # where candidate rulebooks may be picked for a simulation (None: upload only).
        "RULEBOOK_SYNC_SECONDS": 10.0,
        "RELOAD_ON_SIGHUP": True,
        "RULES_CANDIDATES_DIR": None,
        "SIMULATION_SAMPLE": 20,
        # How many proxies in front of the app to trust for X-Forwarded-For, -Proto, -Host
        # and -Prefix (Werkzeug's ProxyFix); 0 trusts nothing a client sends. Behind the
        # one TLS proxy the README prescribes: PROXY_FIX_X_FOR = PROXY_FIX_X_PROTO = 1.
        # The scheduler's leader lease: a standby takes over this long after the leader's
        # last renewal (renewed every third of it).
        "SCHEDULER_LEASE_SECONDS": 30,
        "PROXY_FIX_X_FOR": 0,
        "PROXY_FIX_X_PROTO": 0,
        "PROXY_FIX_X_HOST": 0,
        "PROXY_FIX_X_PREFIX": 0,
        # What reading a rulebook (a reload, an upload to simulate) may cost; see
        # app.rulebook.limits. Far above any real rulebook (the sample is about 100 KB).
        "RULES_MAX_FILE_BYTES": 1024 * 1024,
        "RULES_MAX_BYTES": 4 * 1024 * 1024,
        "RULES_MAX_YAML_NODES": 50_000,
        "RULES_MAX_YAML_ALIASES": 100,
        # Bulk intake: the largest file, and what one account's uploads waiting for
        # confirmation (kept a day) may take in all.
        "INTAKE_MAX_BYTES": 32 * 1024 * 1024,
        "INTAKE_QUOTA_BYTES": 96 * 1024 * 1024,
    }
