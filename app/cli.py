"""`flask --app app ...` commands: parse options, call one service, print the outcome."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app.db import get_engine, session_scope
from app.errors import CitypointsError
from app.services.intake import parse_iso_date
from app.services.rulebooks import EXTENSION_KEY as RULEBOOKS


def _rulebook():
    return current_app.extensions[RULEBOOKS].current()


def _today() -> date:
    return date.today()


def _date_option(value: str | None) -> date:
    if value is None:
        return _today()
    try:
        return parse_iso_date(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _fail(error: CitypointsError) -> None:
    """Print a user error with every problem, one per line, and exit 1."""
    click.echo(f"error: {error.message}", err=True)
    for problem in error.problems:
        click.echo(f"  {problem}", err=True)
    if error.details and not error.problems:
        details = error.details if isinstance(error.details, list) else [error.details]
        for item in details:
            click.echo(f"  {item}", err=True)
    sys.exit(1)


# --- db -----------------------------------------------------------------------------------
db_cli = AppGroup("db", help="Create or migrate the database schema.")


@db_cli.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema (Alembic)."""
    from app.migrations import current, upgrade

    engine = get_engine()
    upgrade(engine, revision)
    click.echo(f"database at revision {current(engine)} ({engine.url.render_as_string()})")


# --- rules --------------------------------------------------------------------------------
rules_cli = AppGroup("rules", help="Check and simulate rulebooks.")


@rules_cli.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def rules_check(directory: str | None) -> None:
    """Validate a rulebook; print each problem as file:line: message; exit 1 on any error."""
    from app.rulebook import check_rulebook

    directory = directory or current_app.config["RULES_DIR"]
    result = check_rulebook(directory)
    for problem in result.problems:
        click.echo(str(problem))
    for warning in result.warnings:
        click.echo(f"{warning.file}:{warning.line}: warning: {warning.message}")
    if not result.ok:
        click.echo(f"{len(result.problems)} error(s); the rulebook was not accepted", err=True)
        sys.exit(1)
    rb = result.rulebook
    rules = sum(len(t.rules) for t in rb.tables)
    click.echo(f"ok: {directory}: {len(rb.tables)} tables, {rules} rule rows, "
               f"{len(rb.measures)} measures, {len(rb.lists)} lists; "
               f"fingerprint {rb.fingerprint[:12]}")


# --- subjects, records ----------------------------------------------------------------------
subjects_cli = AppGroup("subjects", help="The population register.")
records_cli = AppGroup("records", help="Conduct records.")


@subjects_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "actor", default="cli", show_default=True, help="Who imports (audited).")
def subjects_import(file: str, actor: str) -> None:
    """Import or update subjects from CSV: subject_id,kind,name,district,village,legal_representative,consent."""
    from app.services.subjects import import_subjects_file

    with session_scope() as session:
        try:
            result = import_subjects_file(session, data=Path(file).read_bytes(), name=file,
                                          actor=actor, today=_today())
        except CitypointsError as error:
            _fail(error)
    click.echo(f"{file}: {result.added} added, {result.updated} updated, "
               f"{result.unchanged} unchanged")


@records_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--department", required=True, help="The recording department's code.")
@click.option("--as", "actor", default=None, help="Who imports (audited); default cli:DEPT.")
def records_import(file: str, department: str, actor: str | None) -> None:
    """Import a CSV or JSON-lines file of records: all rows valid or nothing written."""
    from app.services.intake import RECORD_COLUMNS, RECORD_REQUIRED, read_rows
    from app.services.records import import_records

    with session_scope() as session:
        try:
            rows = read_rows(Path(file).read_bytes(), name=file, columns=RECORD_COLUMNS,
                             required=RECORD_REQUIRED)
            show = len(rows) >= 10000 and sys.stderr.isatty()
            with click.progressbar(length=len(rows), label="checking rows", file=sys.stderr,
                                   hidden=not show) as bar:
                result = import_records(session, rulebook=_rulebook(), department=department,
                                        rows=rows, recorded_by=actor or f"cli:{department}",
                                        today=_today(), name=file, progress=bar.update)
        except CitypointsError as error:
            _fail(error)
    click.echo(f"{file}: {result.rows} rows, {result.added} records added, "
               f"{result.unchanged} already recorded")


# --- standings ------------------------------------------------------------------------------
@click.command("recompute")
@with_appcontext
@click.option("--as-of", "as_of", default=None, help="The date (YYYY-MM-DD); default today.")
@click.option("--full", is_flag=True,
              help="Recompute every subject, even where an incremental run would do.")
def recompute_command(as_of: str | None, full: bool) -> None:
    """Run the nightly recompute now and print what it did."""
    from app.services.recompute import recompute

    with session_scope() as session:
        try:
            summary = recompute(session, rulebook=_rulebook(), as_of=_date_option(as_of),
                                triggered_by="cli", incremental=not full)
        except CitypointsError as error:
            _fail(error)
    click.echo(f"run {summary.run_id} as of {summary.as_of} ({summary.scope}, "
               f"{summary.recomputed} recomputed): {summary.subjects} subjects, "
               f"{summary.tier_changes} tier changes, {summary.duration_ms} ms")


@click.command("standing")
@with_appcontext
@click.argument("subject_id")
@click.option("--as-of", "as_of", default=None, help="The date (YYYY-MM-DD); default today.")
@click.option("--json", "as_json", is_flag=True, help="Print the standing API's JSON object.")
def standing_command(subject_id: str, as_of: str | None, as_json: bool) -> None:
    """Print one subject's standing and its explanation."""
    from app.services.standings import standing_for
    from app.standing import standing_to_json

    with session_scope() as session:
        try:
            standing = standing_for(session, rulebook=_rulebook(), subject_id=subject_id,
                                    as_of=_date_option(as_of))
        except CitypointsError as error:
            _fail(error)
    if as_json:
        click.echo(json.dumps(standing_to_json(standing), indent=2, ensure_ascii=False))
        return
    for line in standing.explanation:
        click.echo(line)


# --- audit ----------------------------------------------------------------------------------
audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


@audit_cli.command("verify")
@click.option("--digests", "digests_file", type=click.File("r"), default=None,
              help="Published digests to check against (lines: DATE ID HASH, as on /transparency).")
def audit_verify(digests_file) -> None:
    """Check the audit trail's hash chain; exit 1 naming the first broken event."""
    from app.services.audit import Digest, verify

    digests = None
    if digests_file is not None:
        try:
            digests = [Digest.parse(line) for line in digests_file if line.strip()
                       and not line.startswith("#")]
        except ValueError as error:
            raise click.BadParameter(f"not a digest line (DATE ID HASH): {error}") from None
    with session_scope() as session:
        result = verify(session, digests=digests)
    if not result.ok:
        click.echo(f"BROKEN at audit event {result.broken_id}: {result.reason}", err=True)
        sys.exit(1)
    click.echo(f"ok: {result.events} audit events, chain intact"
               + (f", {len(digests)} published digests match" if digests else ""))


@audit_cli.command("publish")
@click.option("--day", default=None, help="The day (YYYY-MM-DD); default today.")
def audit_publish(day: str | None) -> None:
    """Publish today's head of the audit chain (the scheduler does it nightly)."""
    from app.services.audit import publish_digest

    with session_scope(write=True) as session:
        digest = publish_digest(session, day=_date_option(day))
    click.echo(f"{digest.day} {digest.head_id} {digest.head_hash}" if digest else
               "no audit events yet; nothing published")


@click.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(dest: str) -> None:
    """Write a consistent copy of the SQLite database to DEST while the app runs."""
    from app.services.backup import backup_sqlite

    try:
        result = backup_sqlite(get_engine(), dest)
    except CitypointsError as error:
        _fail(error)
    click.echo(f"backup written to {result.path} ({result.bytes} bytes)")


# --- accounts -------------------------------------------------------------------------------
users_cli = AppGroup("users", help="Accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True,
              help="resident, recorder (official), reviewer, rule-author, auditor or admin.")
@click.option("--department", default=None, help="The department (recorder, reviewer).")
@click.option("--subject", "subject_id", default=None, help="The subject (resident).")
@click.option("--name", "display_name", default="", help="The name shown on pages.")
@click.password_option(envvar="CITYPOINTS_PASSWORD", help="Prompted if not given.")
def users_create(username, role, department, subject_id, display_name, password) -> None:
    """Create an account."""
    from app.services.accounts import create_account

    with session_scope(write=True) as session:
        try:
            account = create_account(session, username=username, password=password, role=role,
                                     department=department, subject_id=subject_id,
                                     display_name=display_name, actor="cli")
        except CitypointsError as error:
            _fail(error)
    click.echo(f"created {account.role} account {account.username}")


# --- demo, scheduler --------------------------------------------------------------------------
@click.command("demo")
@with_appcontext
@click.option("--subjects", "count", default=300, show_default=True)
@click.option("--seed", default=2026, show_default=True)
def demo_command(count: int, seed: int) -> None:
    """Load a demo city (safe to run twice) and print the logins."""
    from app.services.demo import load_demo

    with session_scope(write=True) as session:
        try:
            summary = load_demo(session, rulebook=_rulebook(), subjects=count, seed=seed,
                                today=_today())
        except CitypointsError as error:
            _fail(error)
    click.echo(summary.text())


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler process (the nightly recompute and other periodic jobs)."""
    from app.scheduler import run_scheduler

    run_scheduler(current_app._get_current_object())


def init_app(app: Flask) -> None:
    """Register the commands on `app`."""
    for command in (db_cli, rules_cli, subjects_cli, records_cli, recompute_command,
                    standing_command, audit_cli, users_cli, demo_command, scheduler_command,
                    backup_command):
        app.cli.add_command(command)
    from app.cli_tokens import tokens_cli; app.cli.add_command(tokens_cli)  # noqa: E702
    from app.cli_rules import add_rules_commands; add_rules_commands(rules_cli)  # noqa: E702
    from app.cli_notices import notices_cli; app.cli.add_command(notices_cli)  # noqa: E702
