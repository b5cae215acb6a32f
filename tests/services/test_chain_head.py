"""The chain's head is read once per transaction and remembered: what it remembers never
outlives the transaction, or a savepoint that rolled an event back."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import AuditEvent
from app.services.audit import chain


def _ok(session):
    session.rollback()
    result = chain.verify(session)
    assert result.ok, (result.where(), result.reason)
    return result


def test_events_of_one_transaction_chain_on_the_remembered_head(app, session):
    chain.append(session, actor="a", action="one")
    statements = []
    from sqlalchemy import event

    def count(*_args):
        statements.append(1)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        chain.append(session, actor="a", action="two")
        chain.append_many(session, [chain.Event("a", "three"), chain.Event("a", "four")])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 2  # the two inserts: neither the lock nor the head again
    session.commit()
    assert _ok(session).events == 4


def test_a_savepoint_rolled_back_takes_its_event_with_it(app, session):
    chain.append(session, actor="a", action="kept")
    savepoint = session.begin_nested()
    chain.append(session, actor="a", action="rolled back")
    savepoint.rollback()
    chain.append(session, actor="a", action="after")
    session.commit()
    assert _ok(session).events == 2
    assert session.execute(select(func.count()).select_from(AuditEvent)).scalar() == 2


def test_a_savepoint_released_keeps_the_chain(app, session):
    chain.append(session, actor="a", action="before")
    with session.begin_nested():
        chain.append(session, actor="a", action="inside")
    chain.append_many(session, [chain.Event("a", "after")])
    session.commit()
    assert _ok(session).events == 3


def test_the_next_transaction_reads_the_head_again(app, session):
    chain.append(session, actor="a", action="first")
    session.commit()
    chain.append(session, actor="a", action="second")  # another writer could have come
    session.rollback()
    chain.append(session, actor="a", action="third")
    session.commit()
    assert _ok(session).events == 2
