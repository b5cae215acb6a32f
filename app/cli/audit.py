"""`flask --app app audit ...` and `backup`: the audit trail and copies of the database."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup, with_appcontext

from app.cli.options import TerminalProgress, day_or_today, fail
from app.db import get_engine, session_scope
from app.errors import CitypointsError

audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


@audit_cli.command("verify")
@click.option("--digests", "digests_file", type=click.File("r"), default=None,
              help="Published digests to check against (lines: DATE ID HASH [SIZE ROOT], as on "
                   "/transparency).")
def audit_verify(digests_file) -> None:
    """Check the audit trail's hash chain and every sealed fact against its seal; exit 1
    naming the first broken event or the first table and id edited, deleted or inserted."""
    from app.services.audit.chain import Digest, verify

    digests = None
    if digests_file is not None:
        try:
            digests = [Digest.parse(line) for line in digests_file if line.strip()
                       and not line.startswith("#")]
        except ValueError as error:
            raise click.BadParameter(f"not a digest line (DATE ID HASH [SIZE ROOT]): {error}"
                                     ) from None
    with session_scope() as session, TerminalProgress("audit verify") as progress:
        result = verify(session, digests=digests, facts=True, progress=progress)
    if not result.ok:
        click.echo(f"BROKEN at {result.where()}: {result.reason}", err=True)
        sys.exit(1)
    click.echo(f"ok: {result.events} audit events, chain intact; {result.facts} facts match "
               "their seals" + (f"; {len(digests)} published digests match" if digests else ""))


@audit_cli.command("publish")
@click.option("--day", default=None, help="The day (YYYY-MM-DD); default today.")
def audit_publish(day: str | None) -> None:
    """Publish today's head of the audit chain (the scheduler does it nightly)."""
    from app.services.audit.chain import digest_line, publish_digest

    with session_scope(write=True) as session:
        digest = publish_digest(session, day=day_or_today(day))
    click.echo(digest_line(digest) if digest else
               "no audit events yet; nothing published")


@audit_cli.command("prove")
@click.argument("kind")
@click.argument("fact_id")
@click.option("--day", default=None, help="The digest's day (YYYY-MM-DD); default: the first "
                                          "one published after the fact was sealed.")
def audit_prove(kind: str, fact_id: str, day: str | None) -> None:
    """Print the proof that one fact (`record 17`, `list-entry 3`, `subject ID`, ...) is
    sealed in a published digest, as JSON; exit 1 if it is not."""
    from app.services.audit.proofs import prove_inclusion

    with session_scope() as session:
        try:
            proof = prove_inclusion(session, kind_name=kind, key=fact_id,
                                    day=day_or_today(day) if day else None)
        except CitypointsError as error:
            fail(error)
    click.echo(json.dumps(proof.as_json(), ensure_ascii=False, indent=1))
    if not proof.current:
        click.echo(f"{kind} {fact_id} no longer matches its seal: run `audit verify`", err=True)
        sys.exit(1)


@audit_cli.command("consistency")
@click.argument("old_day")
@click.argument("new_day")
def audit_consistency(old_day: str, new_day: str) -> None:
    """Print the proof that the log published on NEW_DAY extends the one of OLD_DAY."""
    from app.services.audit.proofs import prove_consistency

    with session_scope() as session:
        try:
            proof = prove_consistency(session, old=day_or_today(old_day),
                                      new=day_or_today(new_day))
        except CitypointsError as error:
            fail(error)
    click.echo(json.dumps(proof, indent=1))


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
