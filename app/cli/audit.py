"""`flask --app app audit ...` and `backup`: the audit trail and copies of the database."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup, with_appcontext

from app.cli.options import TerminalProgress, day_or_today, fail
from app.db import get_engine, session_scope
from app.errors import CitypointsError

audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


@audit_cli.command("verify")
@click.option("--digests", "digests_file", type=click.File("r"), default=None,
              help="Published digests to check against (lines: DATE ID HASH, as on /transparency).")
def audit_verify(digests_file) -> None:
    """Check the audit trail's hash chain; exit 1 naming the first broken event."""
    from app.services.audit.chain import Digest, verify

    digests = None
    if digests_file is not None:
        try:
            digests = [Digest.parse(line) for line in digests_file if line.strip()
                       and not line.startswith("#")]
        except ValueError as error:
            raise click.BadParameter(f"not a digest line (DATE ID HASH): {error}") from None
    with session_scope() as session, TerminalProgress("audit verify") as progress:
        result = verify(session, digests=digests, progress=progress)
    if not result.ok:
        click.echo(f"BROKEN at audit event {result.broken_id}: {result.reason}", err=True)
        sys.exit(1)
    click.echo(f"ok: {result.events} audit events, chain intact"
               + (f", {len(digests)} published digests match" if digests else ""))


@audit_cli.command("publish")
@click.option("--day", default=None, help="The day (YYYY-MM-DD); default today.")
def audit_publish(day: str | None) -> None:
    """Publish today's head of the audit chain (the scheduler does it nightly)."""
    from app.services.audit.chain import publish_digest

    with session_scope(write=True) as session:
        digest = publish_digest(session, day=day_or_today(day))
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
        fail(error)
    click.echo(f"backup written to {result.path} ({result.bytes} bytes)")
