"""`flask jobs`: run the pages' long work (simulations, intake) without the scheduler."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("jobs")
def jobs_cli() -> None:
    """Run queued jobs (the scheduler process runs them too)."""


@jobs_cli.command("run")
@click.option("--forever", is_flag=True, help="Keep waiting for new jobs until interrupted.")
@with_appcontext
def run_command(forever: bool) -> None:
    """Run the queued jobs, then stop (or, with --forever, wait for more)."""
    from app.jobs import JobWorker, run_pending

    app = current_app._get_current_object()
    if not forever:
        click.echo(f"{run_pending(app)} job(s) run")
        return
    worker = JobWorker(app)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(3600)
    except KeyboardInterrupt:
        worker.stop()
        worker.join(60)
