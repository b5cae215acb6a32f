"""`flask --app app notices ...`: make the nightly notices, deliver the outbox."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli.options import day_or_today, rulebook
from app.db import session_scope
from app.errors import CitypointsError

notices_cli = AppGroup("notices", help="Notices to subjects and their delivery.")


@notices_cli.command("deliver")
@click.option("--limit", default=200, show_default=True, help="The most notices to send.")
def notices_deliver(limit: int) -> None:
    """Send pending notices by email (MAIL_SERVER); failures stay pending and are retried."""
    from app.services.due_process.delivery import channel_from_config, deliver_pending

    channel = channel_from_config(current_app.config)
    if channel is None:
        click.echo("no mail server configured (MAIL_SERVER): pending notices wait on the "
                   "letters page to be printed")
        return
    with session_scope(write=True) as session:
        languages = rulebook().scheme.languages
        result = deliver_pending(session, channel=channel, limit=limit, actor="cli",
                                 default_language=(languages or ("en",))[0],
                                 max_attempts=int(current_app.config.get("MAIL_MAX_ATTEMPTS",
                                                                         10)))
    click.echo(f"{result.sent} sent, {result.retrying} to retry later, "
               f"{result.failed} failed (to print as letters)")
    for error in result.errors:
        click.echo(f"  {error}", err=True)
    if result.retrying:
        sys.exit(2)  # the mail server is unwell: say so to whoever runs this by hand


@notices_cli.command("nightly")
@click.option("--as-of", "as_of", default=None, help="The date (YYYY-MM-DD); default today.")
def notices_nightly(as_of: str | None) -> None:
    """Make the notices the last recompute calls for (safe to run twice)."""
    from app.services.due_process.notices import send_nightly_notices

    with session_scope() as session:
        try:
            made = send_nightly_notices(
                session, rulebook=rulebook(),
                as_of=day_or_today(as_of), actor="cli")
        except CitypointsError as error:
            click.echo(f"error: {error.message}", err=True)
            sys.exit(1)
    parts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in made.counts.items())
    click.echo(f"notices as of {made.as_of}: {made.total} new ({parts})")
