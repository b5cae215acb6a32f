"""The transaction boundary: the outermost block commits or rolls back, inner ones join it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Department
from app.services.transaction import atomic, in_transaction, transaction


def _codes(session) -> set[str]:
    return set(session.execute(select(Department.code)).scalars())


def test_the_outer_block_commits_and_an_inner_block_joins_it(app, session):
    with transaction(session):
        session.add(Department(code="outer", title="Outer"))
        with transaction(session):
            session.add(Department(code="inner", title="Inner"))
            assert in_transaction(session)
        assert session.in_transaction()  # the inner block did not commit
    assert not in_transaction(session)
    session.rollback()  # nothing left to undo: both were committed by the outer block
    assert {"outer", "inner"} <= _codes(session)


def test_an_exception_rolls_back_the_whole_use_case(app, session):
    with pytest.raises(RuntimeError):
        with transaction(session):
            session.add(Department(code="kept-out", title="Kept out"))
            session.flush()
            with transaction(session):
                raise RuntimeError("boom")
    assert "kept-out" not in _codes(session)


def test_atomic_declares_the_same_boundary(app, session):
    @atomic
    def add(session, *, code: str) -> None:
        session.add(Department(code=code, title=code))
        if code == "bad":
            raise ValueError(code)

    add(session, code="good")
    with pytest.raises(ValueError):
        add(session, code="bad")
    assert "good" in _codes(session) and "bad" not in _codes(session)


def test_views_and_commands_never_commit_or_roll_back():
    """The services own their transactions: the web and the command line only call them."""
    import re
    from pathlib import Path

    app_dir = Path(__file__).resolve().parents[2] / "app"
    by_hand = re.compile(r"\.(commit|rollback)\(\)")
    found = [f"{path.relative_to(app_dir)}:{n}" for folder in ("web", "cli")
             for path in sorted((app_dir / folder).rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if by_hand.search(line)]
    assert found == []


def test_delivery_commits_each_attempt_so_it_refuses_to_join_a_use_case(app, session):
    from app.services.due_process.delivery import SmtpChannel, deliver_pending

    with pytest.raises(RuntimeError, match="outside"), transaction(session):
        deliver_pending(session, channel=SmtpChannel(host="127.0.0.1"))
