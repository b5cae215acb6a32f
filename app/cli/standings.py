"""`flask --app app recompute` and `standing`: the nightly run now, one standing."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.options import (
    TerminalProgress,
    allow_far_date,
    day_or_today,
    fail,
    rulebook,
    run_day,
)
from app.db import session_scope
from app.errors import CitypointsError


@click.command("recompute")
@with_appcontext
@click.option("--as-of", "as_of", default=None, help="The date (YYYY-MM-DD); default today.")
@click.option("--full", is_flag=True,
              help="Recompute every subject, even where an incremental run would do.")
@allow_far_date
def recompute_command(as_of: str | None, full: bool, allow_far: bool) -> None:
    """Run the nightly recompute now and print what it did."""
    from app.services.standings.recompute import recompute

    in_force = rulebook()
    day = run_day(as_of, rulebooks=[in_force], allow_far=allow_far)
    with session_scope() as session, TerminalProgress("recompute") as progress:
        try:
            summary = recompute(session, rulebook=in_force, as_of=day,
                                triggered_by="cli", incremental=not full, progress=progress,
                                slices=current_app.config["RECOMPUTE_SLICES"])
        except CitypointsError as error:
            fail(error)
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
    from app.services.standings.facts import standing_for
    from app.standing import standing_to_json

    with session_scope() as session:
        try:
            standing = standing_for(session, rulebook=rulebook(), subject_id=subject_id,
                                    as_of=day_or_today(as_of))
        except CitypointsError as error:
            fail(error)
    if as_json:
        click.echo(json.dumps(standing_to_json(standing), indent=2, ensure_ascii=False))
        return
    for line in standing.explanation:
        click.echo(line)
