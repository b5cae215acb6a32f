"""Hypothesis: random writes through the services, then one random tamper behind the app's
back in any sealed table; `audit verify` always finds it and names the row, and passes
again once the row is put back."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from app.models import Record, Subject
from app.services.audit import chain, seals
from app.services.intake.drafts import ListEntryDraft, RecordDraft, SubjectDraft
from app.services.lists.entries import enter
from app.services.records.conduct import import_records, record_conduct
from app.services.records.corrections import void_record
from app.services.subjects.consent import set_consent
from app.services.subjects.register import import_subjects
from tests.conftest import new_person_id
from tests.services.test_seals import EDITS, TODAY, behind_the_app, build_city

_refs = itertools.count(1)

WRITES = st.lists(st.tuples(
    st.sampled_from(["record", "import", "void", "consent", "list", "subject"]),
    st.integers(min_value=0, max_value=10_000)), min_size=1, max_size=6)
TAMPER = st.tuples(st.sampled_from(list(seals.KINDS)), st.sampled_from(["edit", "delete",
                                                                       "insert"]),
                   st.integers(min_value=0, max_value=10_000))


def _write(session, rulebook, op, n):
    subjects = session.execute(select(Subject.subject_id).order_by(Subject.subject_id)
                               ).scalars().all()
    sid = subjects[n % len(subjects)]
    if op == "record":
        record_conduct(session, RecordDraft(subject_id=sid, rule_code="TRAFFIC-TICKET",
                                            occurred_on=TODAY - timedelta(days=n % 300),
                                            evidence=f"photo {n}"),
                       rulebook=rulebook, department="traffic-police", recorded_by="officer",
                       today=TODAY)
    elif op == "import":
        import_records(session, [RecordDraft(subject_id=subjects[(n + i) % len(subjects)],
                                             rule_code="TRAFFIC-TICKET",
                                             occurred_on=TODAY - timedelta(days=i + 1),
                                             external_ref=f"p-{next(_refs)}")
                                 for i in range(1 + n % 4)],
                       rulebook=rulebook, department="traffic-police", recorded_by="officer",
                       today=TODAY, name="more.csv")
    elif op == "void":
        ids = session.execute(select(Record.id).where(Record.voided_at.is_(None),
                                                      Record.annulled_on.is_(None))
                              .order_by(Record.id)).scalars().all()
        if ids:
            void_record(session, record_id=ids[n % len(ids)], department="traffic-police",
                        reason="entered in error", actor="officer")
    elif op == "consent":
        now = session.get(Subject, sid).consent
        set_consent(session, subject_id=sid, consent=not now, actor="resident", today=TODAY)
    elif op == "list":
        enter(session, ListEntryDraft(subject_id=sid, list_code="priority-scrutiny",
                                      entered_on=TODAY - timedelta(days=n % 100),
                                      decision_ref=f"(2026) {n}", external_ref=f"l-{next(_refs)}"),
              rulebook=rulebook, department="court", today=TODAY, actor="judge")
    else:
        import_subjects(session, [SubjectDraft(subject_id=new_person_id(), kind="person",
                                               name=f"New {n}")],
                        name="more.csv", actor="clerk", department=None, today=TODAY)


def _tamper(conn, kind, op, n):
    """Change one row behind the app's back; return (the key verify must name, undo)."""
    table, key = kind.table.name, kind.key.name
    keys = conn.execute(text(f"SELECT {key} FROM {table} ORDER BY {key}")).scalars().all()
    target = keys[n % len(keys)]
    row = dict(conn.execute(text(f"SELECT * FROM {table} WHERE {key} = :k"),
                            {"k": target}).mappings().one())
    where = f"WHERE {key} = :k"
    if op == "edit":
        column, value = EDITS[kind.name]
        conn.execute(text(f"UPDATE {table} SET {column} = {value} {where}"), {"k": target})
        return target, lambda c: c.execute(
            text(f"UPDATE {table} SET {column} = :v {where}"), {"v": row[column], "k": target})
    insert = (f"INSERT INTO {table} ({', '.join(row)}) "
              f"VALUES ({', '.join(':' + c for c in row)})")
    if op == "delete":
        conn.execute(text(f"DELETE FROM {table} {where}"), {"k": target})
        return target, lambda c: c.execute(text(insert), row)
    forged = dict(row)
    forged[key] = new_person_id() if not kind.numeric else max(keys) + 1000
    for unique in ("external_ref", "fingerprint", "dedupe_key"):
        if forged.get(unique) is not None:
            forged[unique] = f"forged-{forged[unique]}"[:64]
    if kind.name == "objection":
        forged["level"] = 2
    conn.execute(text(insert), forged)
    return forged[key], lambda c: c.execute(text(f"DELETE FROM {table} {where}"),
                                            {"k": forged[key]})


@pytest.mark.slow
def test_one_random_tamper_among_random_writes_is_always_found(app, session, rulebook):
    build_city(session, rulebook)

    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(writes=WRITES, tamper=TAMPER)
    def run(writes, tamper):
        for op, n in writes:
            _write(session, rulebook, op, n)
        kind_name, op, n = tamper
        with behind_the_app(app) as conn:
            target, undo = _tamper(conn, seals.KINDS[kind_name], op, n)
        session.rollback()
        result = chain.verify(session, facts=True)
        assert not result.ok
        assert (result.fact_kind, result.fact_key) == (kind_name, str(target)), result.reason
        with behind_the_app(app) as conn:
            undo(conn)
        session.rollback()
        again = chain.verify(session, facts=True)
        assert again.ok, (again.where(), again.reason)

    run()
