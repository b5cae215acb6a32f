"""`flask --app app subjects import` and `records import`: the register and records from files."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.cli.options import TerminalProgress, fail, rulebook, today
from app.db import session_scope
from app.errors import CitypointsError

subjects_cli = AppGroup("subjects", help="The population register.")
records_cli = AppGroup("records", help="Conduct records.")


@subjects_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "actor", default="cli", show_default=True, help="Who imports (audited).")
@click.option("--department", default=None,
              help="Import for this department, which must keep the register "
                   "(keeps_register in departments.yaml); without it, as an admin.")
@click.option("--consent-reason", default=None,
              help="An admin's reason for changing registered subjects' consent; without "
                   "it a row that changes consent is refused (consent is the subject's own).")
def subjects_import(file: str, actor: str, department: str | None,
                    consent_reason: str | None) -> None:
    """Import or update the register from CSV.

    Columns: subject_id,kind,name,district,village,legal_representative,consent[,language].
    """
    from app.services.subjects.register import import_subjects_file

    with session_scope() as session:
        try:
            result = import_subjects_file(session, data=Path(file).read_bytes(), name=file,
                                          actor=actor, department=department,
                                          rulebook=rulebook(), consent_reason=consent_reason,
                                          today=today())
        except CitypointsError as error:
            fail(error)
    click.echo(f"{file}: {result.added} added, {result.updated} updated, "
               f"{result.unchanged} unchanged")


@records_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--department", required=True, help="The recording department's code.")
@click.option("--as", "actor", default=None, help="Who imports (audited); default cli:DEPT.")
def records_import(file: str, department: str, actor: str | None) -> None:
    """Import a CSV or JSON-lines file of records: all rows valid or nothing written."""
    from app.services.records.conduct import import_records_file

    with session_scope() as session:
        try:
            data = Path(file).read_bytes()
            # the rows are read as they are checked: the bar's length is the file's lines
            total = max(0, data.count(b"\n") - (0 if data.endswith(b"\n") else -1) - 1)
            with TerminalProgress("checking rows") as bar:
                result = import_records_file(session, data=data, rulebook=rulebook(),
                                             department=department,
                                             recorded_by=actor or f"cli:{department}",
                                             today=today(), name=file,
                                             progress=bar.rows(total))
        except CitypointsError as error:
            fail(error)
    click.echo(f"{file}: {result.rows} rows, {result.added} records added, "
               f"{result.unchanged} already recorded")
