"""`flask --app app demo` and `scheduler`: the demo city and the scheduler process."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.options import fail, rulebook, today
from app.db import session_scope
from app.errors import CitypointsError


@click.command("demo")
@with_appcontext
@click.option("--subjects", "count", default=300, show_default=True)
@click.option("--seed", default=2026, show_default=True)
def demo_command(count: int, seed: int) -> None:
    """Load a demo city (safe to run twice) and print the logins."""
    from app.services.demo import load_demo

    with session_scope(write=True) as session:
        try:
            summary = load_demo(session, rulebook=rulebook(), subjects=count, seed=seed,
                                today=today())
        except CitypointsError as error:
            fail(error)
    click.echo(summary.text())


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler process (the nightly recompute and other periodic jobs)."""
    from app.scheduler import run_scheduler

    run_scheduler(current_app._get_current_object())
