"""`flask --app app tokens ...`: create, revoke and list the departments' API tokens."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.options import fail, rulebook
from app.db import session_scope
from app.errors import CitypointsError
from app.models import utcnow

tokens_cli = AppGroup("tokens", help="API tokens (one or more per department).")



@tokens_cli.command("create")
@click.option("--department", required=True, help="The department the token acts for.")
@click.option("--name", default="", help="What the token is for (e.g. the calling system).")
@click.option("--expires-in", "expires_in", default="365d", show_default=True,
              help="Nd, Nm, Ny, or never.")
@click.option("--as", "actor", default="cli", show_default=True, help="Who creates it (audited).")
def tokens_create(department: str, name: str, expires_in: str, actor: str) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    from app.services.accounts.tokens import create_token

    with session_scope(write=True) as session:
        try:
            created = create_token(session, rulebook=rulebook(),
                                   department=department, name=name, expires_in=expires_in,
                                   actor=actor)
        except CitypointsError as error:
            fail(error)
    token = created.token
    expires = f"expires {token.expires_at:%Y-%m-%d}" if token.expires_at else "never expires"
    click.echo(f"token {token.id} for {token.department_code} ({token.name}), {expires}.")
    click.echo("Copy it now: it is shown only this once.")
    click.echo(created.secret)


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
@click.option("--as", "actor", default="cli", show_default=True, help="Who revokes it (audited).")
def tokens_revoke(token_id: int, actor: str) -> None:
    """Revoke a token at once."""
    from app.services.accounts.tokens import revoke_token

    with session_scope(write=True) as session:
        try:
            token = revoke_token(session, token_id=token_id, actor=actor)
        except CitypointsError as error:
            fail(error)
    click.echo(f"token {token.id} ({token.prefix}…, {token.department_code}) revoked")


@tokens_cli.command("list")
@click.option("--department", default=None, help="Only this department's tokens.")
def tokens_list(department: str | None) -> None:
    """List the tokens: id, prefix, department, status, expiry, name (never the token)."""
    from app.services.accounts.tokens import aware, list_tokens, status_of

    now = utcnow()
    with session_scope() as session:
        tokens = list_tokens(session, department=department)
    if not tokens:
        click.echo("no API tokens")
        return
    for token in tokens:
        expires = aware(token.expires_at)
        click.echo(f"{token.id:>4}  {token.prefix}…  {token.department_code:<24} "
                   f"{status_of(token, now=now):<8} "
                   f"{'expires ' + expires.strftime('%Y-%m-%d') if expires else 'no expiry':<18} "
                   f"{token.name} (by {token.created_by}, "
                   f"{aware(token.created_at):%Y-%m-%d})")
