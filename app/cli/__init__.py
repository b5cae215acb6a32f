"""`flask --app app ...` commands, one module per group: each parses its options (the
shared ones are in `options`), calls one service and prints the outcome."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the commands on `app`."""
    from app.cli import (
        accounts,
        audit,
        db,
        demo,
        imports,
        jobs,
        notices,
        rules,
        standings,
        tokens,
    )

    for command in (db.db_cli, rules.rules_cli, imports.subjects_cli, imports.records_cli,
                    standings.recompute_command, standings.standing_command, audit.audit_cli,
                    audit.backup_command, accounts.users_cli, tokens.tokens_cli,
                    notices.notices_cli, demo.demo_command, demo.scheduler_command, jobs.jobs_cli):
        app.cli.add_command(command)
