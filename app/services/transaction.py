"""The one owner of a transaction: `with transaction(session):` around a use case.

It commits when the block ends and rolls back when anything is raised out of it, then
re-raises. A use case that calls another joins the caller's transaction: only the
outermost block commits or rolls back, so a helper never commits for its caller. Views,
commands and the scheduler never commit; the services they call do, through this.

`@atomic` declares the same boundary for a whole service function whose first argument
is the session.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from sqlmodel import Session

_DEPTH = "citypoints.transaction_depth"
P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Run the block in one transaction: commit at its end, roll back on any exception.

    Nested blocks on the same session join the outermost one.
    """
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield session
        if depth == 0:
            session.commit()
    except BaseException:
        if depth == 0:
            session.rollback()
        raise
    finally:
        session.info[_DEPTH] = depth


def in_transaction(session: Session) -> bool:
    """Return True inside a `transaction` block on `session` (a use case is under way)."""
    return session.info.get(_DEPTH, 0) > 0


def atomic(function: Callable[P, T]) -> Callable[P, T]:
    """Declare a service function one transaction (its first argument is the session)."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        session = args[0] if args else kwargs["session"]
        assert isinstance(session, Session), "the first argument of a use case is its session"
        with transaction(session):
            return function(*args, **kwargs)

    return run
