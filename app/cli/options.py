"""What the commands share: the rulebook in force, the city's today, reading a date
option, and printing a user's error before exiting 1."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from typing import NoReturn

import click
from flask import current_app

from app import clock
from app.errors import CitypointsError
from app.rulebook import Rulebook
from app.services.intake.rows import parse_iso_date
from app.services.rulebooks.registry import EXTENSION_KEY as RULEBOOKS
from app.services.rulebooks.registry import RulebookRegistry


def rulebook_registry() -> RulebookRegistry:
    """Return this app's rulebook registry (the rulebook in force, reloads)."""
    return current_app.extensions[RULEBOOKS]


def rulebook():
    """Return the rulebook in force."""
    return rulebook_registry().in_force_today()


def today() -> date:
    """Return today in the city (`TIMEZONE`)."""
    return clock.today()


def day_or_today(value: str | None) -> date:
    """Return the ISO date `value` of an option, or today in the city when it is not given."""
    if value is None:
        return today()
    try:
        return parse_iso_date(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


# For the commands that run over the whole population on a day (recompute, rules simulate).
allow_far_date = click.option(
    "--allow-far-date", "allow_far", is_flag=True,
    help="Allow an --as-of before the scheme's earliest rule or more than a year after today.")


def run_day(value: str | None, *, rulebooks: Iterable[Rulebook], allow_far: bool) -> date:
    """Return the day of a run's --as-of (default today); refuse a far one unless allowed."""
    from app.services.rulebooks.dates import check_run_day

    day = day_or_today(value)
    try:
        check_run_day(day, rulebooks=rulebooks, today=today(), allow_far=allow_far)
    except CitypointsError as error:
        fail(error)
    return day


def fail(error: CitypointsError) -> NoReturn:
    """Print a user error with every problem, one per line, and exit 1."""
    click.echo(f"error: {error.message}", err=True)
    for problem in error.problems:
        click.echo(f"  {problem}", err=True)
    if error.details and not error.problems:
        details = error.details if isinstance(error.details, list) else [error.details]
        for item in details:
            click.echo(f"  {item}", err=True)
    sys.exit(1)
