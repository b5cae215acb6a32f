"""`flask --app app users create`: accounts."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.options import fail
from app.db import session_scope
from app.errors import CitypointsError

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
    from app.services.accounts.users import create_account

    with session_scope(write=True) as session:
        try:
            account = create_account(session, username=username, password=password, role=role,
                                     department=department, subject_id=subject_id,
                                     display_name=display_name, actor="cli")
        except CitypointsError as error:
            fail(error)
    click.echo(f"created {account.role} account {account.username}")


@users_cli.command("set-password")
@click.argument("username")
@click.password_option(envvar="CITYPOINTS_PASSWORD", help="Prompted if not given.")
def users_set_password(username, password) -> None:
    """Set an account's password; every session it had open ends."""
    from app.services.accounts.users import change_password, find_account

    with session_scope(write=True) as session:
        try:
            account = find_account(session, username)
            change_password(session, account_id=account.id, new_password=password, actor="cli")
        except CitypointsError as error:
            fail(error)
    click.echo(f"password of {username} changed; its sessions have ended")
