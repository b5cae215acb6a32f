"""A run owns its transactions: its row is committed first, its work is all or nothing, and
a failure is recorded in a transaction of its own. Its SQL binds each value with its type."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Date, Integer, String, select, text

from app.models import ListEntry, Run, Standing, TierChange
from app.services.standings.predicates import entry_counts, record_counts
from app.services.standings.recompute import recompute, writes
from app.services.standings.recompute.points import R
from app.services.standings.recompute.sql import Sql, run
from app.services.transaction import transaction

DAY = date(2026, 5, 1)


def test_a_value_binds_with_the_type_of_its_value_whatever_its_name():
    sql = Sql("SELECT :when, :n, :code", when=DAY, n=3, code="A")
    assert isinstance(sql.binds["when"].type, Date)
    assert isinstance(sql.binds["n"].type, Integer)
    assert isinstance(sql.binds["code"].type, String)


def test_a_fragment_brings_its_typed_parameters_into_the_statement():
    counts = Sql.of(record_counts(R, DAY, suspend=True, name="d"))
    statement = Sql(f"SELECT r.id FROM record r WHERE {counts} AND r.points < :least", counts,
                    least=0)
    assert ":d" in statement.text and set(statement.binds) == {"d", "least"}
    assert isinstance(statement.binds["d"].type, Date) and statement.binds["d"].value == DAY


def test_a_name_given_two_values_is_refused():
    with pytest.raises(ValueError, match="two values"):
        Sql("SELECT :d, :d", Sql(":d", d=DAY), d=DAY + timedelta(days=1))
    assert Sql("SELECT :d", Sql(":d", d=DAY), d=DAY).binds["d"].value == DAY


def test_a_fragment_of_an_expression_names_its_parameters():
    with pytest.raises(ValueError, match="name the bind parameters"):
        Sql.of(entry_counts(ListEntry, DAY))
    assert set(Sql.of(entry_counts(ListEntry, DAY, name="d")).binds) == {"d"}


def test_a_fragment_of_a_known_shape_carries_its_own_values():
    table = ListEntry.__table__
    first = Sql.of(entry_counts(table, DAY, name="d"))
    again = Sql.of(entry_counts(table, DAY + timedelta(days=1), name="d"))
    other = Sql.of(entry_counts(table, DAY, name="e"))
    assert first.text == again.text and ":d" in first.text and ":e" in other.text
    assert first.binds["d"].value == DAY and again.binds["d"].value == DAY + timedelta(days=1)
    with pytest.raises(ValueError, match="name the bind parameters"):
        Sql.of(entry_counts(table, DAY))  # a shape known by name, its parameters anonymous


def test_a_statement_names_every_parameter_it_is_given(session):
    assert run(session, "SELECT COUNT(*) FROM record WHERE occurred_on <= :d",
               d=DAY).scalar_one() == 0
    with pytest.raises(Exception, match="bound parameter named 'other'"):
        run(session, "SELECT COUNT(*) FROM record WHERE occurred_on <= :d", d=DAY, other=1)


def _stored(session) -> list[tuple]:
    return [tuple(row) for row in session.execute(
        select(Standing.subject_id, Standing.as_of, Standing.points, Standing.tier)
        .order_by(Standing.subject_id))]


def test_a_run_that_fails_leaves_the_standings_and_says_so(session, make_subject, rulebook,
                                                           monkeypatch):
    make_subject(session)
    make_subject(session, consent=False)
    recompute(session, rulebook=rulebook, as_of=DAY)
    before = _stored(session)
    write_full = writes.write_full

    def write_then_fail(*args):
        write_full(*args)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(writes, "write_full", write_then_fail)
    with pytest.raises(RuntimeError, match="the disk is full"):
        recompute(session, rulebook=rulebook, as_of=DAY + timedelta(days=1))
    assert _stored(session) == before
    # The failure is committed: another connection reads it.
    with session.get_bind().connect() as conn:
        run_id, status, error = conn.execute(text(
            "SELECT id, status, error FROM run ORDER BY id DESC")).first()
    assert status == "failed" and "the disk is full" in error
    assert session.execute(select(TierChange).where(TierChange.run_id == run_id)).first() is None
    monkeypatch.undo()
    assert recompute(session, rulebook=rulebook, as_of=DAY + timedelta(days=1)).status == "ok"


def test_a_run_is_never_part_of_its_caller_s_transaction(session, make_subject, rulebook):
    make_subject(session)
    with transaction(session), pytest.raises(RuntimeError, match="owns its transactions"):
        recompute(session, rulebook=rulebook, as_of=DAY)
    assert session.execute(select(Run)).first() is None
