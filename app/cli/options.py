"""What the commands share: the rulebook in force, the city's today, reading a date
option, and printing a user's error before exiting 1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
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


class TerminalProgress:
    """A progress callback, `progress(done, total, step)`, drawing a bar on stderr.

    It draws only when stderr is a terminal: piped or redirected, a command prints only its
    result. Use it as a context manager; the bar is closed at the end.
    """

    def __init__(self, label: str, *, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.shown = _is_terminal(self.stream)
        self._bar = None
        self._total = 0

    def __call__(self, done: int, total: int, step: str = "") -> None:
        if not self.shown:
            return
        if self._bar is None or total != self._total:
            self.close()
            self._total = max(total, 1)
            self._bar = click.progressbar(length=self._total, label=self.label,
                                          file=self.stream, show_pos=True)
            self._bar.__enter__()
        self._bar.label = f"{self.label}: {step}" if step else self.label
        self._bar.update(max(0, min(done, self._total) - self._bar.pos))

    def rows(self, total: int) -> Callable[[int], None]:
        """Return an increment callback (`progress(n)`) for a job of `total` rows."""
        seen = [0]

        def step(n: int) -> None:
            seen[0] += n
            self(seen[0], total, "")

        return step

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
