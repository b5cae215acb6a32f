"""`flask --app app db ...`: create or migrate the schema."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import get_engine

db_cli = AppGroup("db", help="Create or migrate the database schema.")


@db_cli.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema (Alembic)."""
    from app.migrations import current, upgrade

    engine = get_engine()
    upgrade(engine, revision)
    click.echo(f"database at revision {current(engine)} ({engine.url.render_as_string()})")
