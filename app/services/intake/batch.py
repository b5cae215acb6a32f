"""One skeleton for taking in drafts, whatever the fact (records, list entries, subjects).

Every draft is checked in file order and every problem collected; the whole batch is
written or none of it, in one transaction; a draft already stored (the same external
reference, or the same subject as registered) is replayed, not written twice; a dry run
checks and plans without writing; and a batch with problems raises one error that lists
them all, each with its file and line and its column. The one-record paths (a form, an
API call) are a batch of one whose error names the fields.

A fact gives its `Checks`: `preload` fetches what the drafts refer to in a few queries,
and `check` checks one draft against it (and what the drafts before it in the file
planned), adding its problems, or returns what to write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.errors import Conflict, ExternalRefConflict, Forbidden, InvalidInput, Problem
from app.services.transaction import transaction

PROGRESS_STEP = 10000
Draft = TypeVar("Draft", contravariant=True)


class ForbiddenInput(Forbidden, InvalidInput):
    """A draft its sender may not write: a code or a list their department is not given.

    Access is the reason (403, `forbidden`); like any invalid input it names the field, so a
    form shows it next to that field.
    """


@dataclass(frozen=True, slots=True)
class Checked:
    """A draft that passed its checks."""

    line: int
    values: Any = None  # what to write (a new fact's columns, or an update); None: nothing
    existing: Any = None  # the key of the stored fact it replays or updates


class Checks(Protocol[Draft]):
    """How one fact's drafts are checked (see the module's docstring)."""

    forbidden: list[Problem]  # the problems whose reason is access
    reused: list[Problem]  # an external reference already used for another fact

    def preload(self, drafts: Sequence[Draft]) -> None: ...

    def check(self, draft: Draft, problems: list[Problem]) -> Checked | None: ...


@dataclass(frozen=True)
class Batch:
    """A batch whose every draft passed, in file order."""

    checked: list[Checked]

    @property
    def rows(self) -> int:
        return len(self.checked)

    @property
    def new(self) -> list:
        """The values of the facts to add."""
        return [c.values for c in self.checked if c.existing is None]

    @property
    def changed(self) -> list[Checked]:
        """The stored facts to update."""
        return [c for c in self.checked if c.existing is not None and c.values is not None]

    @property
    def unchanged(self) -> int:
        """How many drafts are stored already, as they are."""
        return sum(c.existing is not None and c.values is None for c in self.checked)


def check_all(checks: Checks[Any], drafts: Sequence[Any], *, done: str,
              progress: Callable[[int], object] | None = None) -> Batch:
    """Check every draft in file order; raise InvalidInput listing every problem of every
    row ("... nothing was `done`"), or return the batch."""
    checks.preload(drafts)
    problems: list[Problem] = []
    checked: list[Checked] = []
    check, keep = checks.check, checked.append
    for n, draft in enumerate(drafts, start=1):
        item = check(draft, problems)
        if item is not None:
            keep(item)
        if progress and n % PROGRESS_STEP == 0:
            progress(PROGRESS_STEP)
    if progress and len(drafts) % PROGRESS_STEP:
        progress(len(drafts) % PROGRESS_STEP)
    if problems:
        bad_rows = len({p.row for p in problems})
        raise InvalidInput(f"{bad_rows} of {len(drafts)} rows have problems; nothing was {done}",
                           problems=problems)
    return Batch(checked)


def check_chunk(checks: Checks[Any], drafts: Sequence[Any],
                problems: list[Problem]) -> list[Checked]:
    """Check one chunk of a file's drafts, in file order, after the chunks before it (the
    checks keep what those planned); add its problems to `problems`, return what passed."""
    checks.preload(drafts)
    checked: list[Checked] = []
    check, keep = checks.check, checked.append
    for draft in drafts:
        item = check(draft, problems)
        if item is not None:
            keep(item)
    return checked


def check_one(checks: Checks[Any], draft: Any, *, noun: str) -> Checked:
    """Check one draft (from a form or an API call); raise the error its problems call for:
    ForbiddenInput where access is the reason, ExternalRefConflict for a reference used for
    another fact, else InvalidInput; each names its field."""
    checks.preload([draft])
    problems: list[Problem] = []
    item = checks.check(draft, problems)
    if checks.forbidden:
        problems = [*(p for p in checks.forbidden if p not in problems), *problems]
    if item is not None and not problems:
        return item
    message = f"the {noun} was not stored: " + "; ".join(
        f"{p.field}: {p.message}" if p.field else p.message for p in problems)
    if checks.forbidden:
        raise ForbiddenInput(message, problems=problems)
    if problems == checks.reused:  # a replay with other content: a conflict, not a typo
        raise ExternalRefConflict(message, problems=problems)
    raise InvalidInput(message, problems=problems)


@contextmanager
def all_or_nothing(session: Session, *, conflict: str) -> Iterator[None]:
    """Run a batch in one transaction; a unique key another writer took since the drafts
    were checked (an external reference) makes it a Conflict saying `conflict`."""
    try:
        with transaction(session):
            yield
    except IntegrityError:
        raise Conflict(conflict) from None


def where(name: str, line: int) -> str:
    """Return a problem's place: `file:line`, or nothing for a form or an API call."""
    return f"{name}:{line}" if name else ""


def row_of(line: int) -> int | None:
    """Return a problem's row: the draft's line, or None for a form or an API call."""
    return line or None
