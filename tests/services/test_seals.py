"""Sealed facts: every fact written through the services is sealed, and `audit verify`
finds a row edited, deleted or inserted behind the app's back in every sealed table."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from app.models import AuditEvent, FactSeal
from app.services.audit import chain, seals
from app.services.due_process.objections import decide_objection, file_objection
from app.services.intake.drafts import ListEntryDraft, RecordDraft, SubjectDraft
from app.services.lists.entries import enter, import_list_entries, remove_from_list
from app.services.records.conduct import import_records, record_conduct
from app.services.records.corrections import void_record
from app.services.subjects.consent import set_consent
from app.services.subjects.register import import_subjects
from tests.conftest import new_person_id

TODAY = date(2026, 11, 26)


def build_city(session, rulebook) -> list[str]:
    """Write facts of every sealed kind through the services; return the subjects' ids."""
    ids = [new_person_id() for _ in range(4)]
    import_subjects(session, [SubjectDraft(subject_id=sid, kind="person", name=f"P {n}",
                                           district="Yatou", consent=n % 2 == 0)
                              for n, sid in enumerate(ids)], name="register.csv",
                    actor="clerk", department=None, today=TODAY)
    import_subjects(session, [SubjectDraft(subject_id=ids[0], kind="person", name="Renamed",
                                           district="Yatou", consent=True)],
                    name="register2.csv", actor="clerk", department=None, today=TODAY)
    set_consent(session, subject_id=ids[1], consent=True, actor="resident", today=TODAY)
    import_records(session, [RecordDraft(subject_id=sid, rule_code="TRAFFIC-TICKET",
                                         occurred_on=TODAY - timedelta(days=n + 1),
                                         evidence=f"photo {n}", external_ref=f"t-{n}")
                             for n, sid in enumerate(ids * 3)],
                   rulebook=rulebook, department="traffic-police", recorded_by="officer",
                   today=TODAY, name="tickets.csv")
    one = record_conduct(session, RecordDraft(subject_id=ids[2], rule_code="DRUNK-DRIVING",
                                              occurred_on=TODAY - timedelta(days=3),
                                              evidence="breath 0.9"),
                         rulebook=rulebook, department="traffic-police",
                         recorded_by="officer", today=TODAY).record
    other = record_conduct(session, RecordDraft(subject_id=ids[3], rule_code="DRUNK-DRIVING",
                                                occurred_on=TODAY - timedelta(days=4),
                                                evidence="breath 1.1"),
                           rulebook=rulebook, department="traffic-police",
                           recorded_by="officer", today=TODAY).record
    void_record(session, record_id=other.id, department="traffic-police", reason="wrong plate",
                actor="officer")
    objection = file_objection(session, rulebook=rulebook, subject_id=ids[2], record_id=one.id,
                               reason="not my car", actor="resident", today=TODAY)
    decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                     outcome="annulled", reason="the plate was misread", reviewer="reviewer",
                     today=TODAY)
    entry = enter(session, ListEntryDraft(subject_id=ids[1], list_code="court-defaulters",
                                          entered_on=TODAY - timedelta(days=10),
                                          decision_ref="(2026) 1"),
                  rulebook=rulebook, department="court", today=TODAY, actor="judge").entry
    import_list_entries(session, [ListEntryDraft(subject_id=sid, list_code="priority-scrutiny",
                                                 entered_on=TODAY - timedelta(days=2),
                                                 decision_ref=f"(2026) w{n}", external_ref=f"w-{n}")
                                  for n, sid in enumerate(ids)],
                        rulebook=rulebook, department="court", actor="judge", today=TODAY)
    remove_from_list(session, rulebook=rulebook, entry_id=entry.id, department="court",
                     reason="the debt was paid", actor="judge", today=TODAY)
    return ids


@pytest.fixture
def city(session, rulebook):
    return build_city(session, rulebook)


def _verify(session):
    session.rollback()  # a fresh snapshot: the tamper came from another connection
    return chain.verify(session, facts=True)


def test_every_fact_written_through_the_services_is_sealed(session, city):
    result = _verify(session)
    assert result.ok, (result.where(), result.reason)
    for kind in seals.KINDS.values():
        rows = session.execute(select(func.count()).select_from(kind.table)).scalar()
        assert rows > 0, kind.name
    assert result.facts == sum(session.execute(select(func.count()).select_from(k.table))
                               .scalar() for k in seals.KINDS.values())
    sealed = session.execute(select(AuditEvent).where(
        AuditEvent.action == seals.SEALED_ACTION)).scalars().all()
    assert sealed and sum(int(chain.json.loads(e.details)["count"]) for e in sealed) == \
        session.execute(select(func.count()).select_from(FactSeal)).scalar()


@contextmanager
def behind_the_app(app):
    """A transaction of the insider's own: no app, no listeners, foreign keys not enforced."""
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))  # no FKs
            yield conn
    finally:
        engine.dispose()


# What an insider changes in each table: one column, to a plausible value.
EDITS = {
    "subject": ("name", "'Someone Else'"),
    "rulebook": ("source", "'elsewhere'"),
    "rulebook-event": ("actor", "'mallory'"),
    "record": ("points", "points + 500"),
    "list-entry": ("decision_ref", "'forged'"),
    "objection": ("decision_reason", "'nothing'"),
    "consent-change": ("changed_by", "'mallory'"),
}


def _target(conn, kind):
    key = kind.key.name
    return conn.execute(text(f"SELECT MAX({key}) FROM {kind.table.name}")).scalar()


@pytest.mark.parametrize("kind_name", list(seals.KINDS))
def test_an_edited_row_is_named(app, session, city, kind_name):
    kind = seals.KINDS[kind_name]
    with behind_the_app(app) as conn:
        target = _target(conn, kind)
        column, value = EDITS[kind_name]
        conn.execute(text(f"UPDATE {kind.table.name} SET {column} = {value} "
                          f"WHERE {kind.key.name} = :k"), {"k": target})
    result = _verify(session)
    assert not result.ok
    assert (result.fact_kind, result.fact_key) == (kind_name, str(target))
    assert "edited" in result.reason


@pytest.mark.parametrize("kind_name", list(seals.KINDS))
def test_a_deleted_row_is_named(app, session, city, kind_name):
    kind = seals.KINDS[kind_name]
    with behind_the_app(app) as conn:
        target = _target(conn, kind)
        conn.execute(text(f"DELETE FROM {kind.table.name} WHERE {kind.key.name} = :k"),
                     {"k": target})
    result = _verify(session)
    assert not result.ok
    assert (result.fact_kind, result.fact_key) == (kind_name, str(target))
    assert "deleted" in result.reason


@pytest.mark.parametrize("kind_name", list(seals.KINDS))
def test_an_inserted_row_is_named(app, session, city, kind_name):
    kind = seals.KINDS[kind_name]
    with behind_the_app(app) as conn:
        target = _target(conn, kind)
        row = dict(conn.execute(text(f"SELECT * FROM {kind.table.name} "
                                     f"WHERE {kind.key.name} = :k"),
                                {"k": target}).mappings().one())
        new_key = new_person_id() if kind_name == "subject" else target + 1
        row[kind.key.name] = new_key
        for unique in ("external_ref", "fingerprint", "dedupe_key"):
            if unique in row and row[unique] is not None:
                row[unique] = f"forged-{row[unique]}"[:64]
        if kind_name == "objection":
            row["level"] = 2
        columns = ", ".join(row)
        conn.execute(text(f"INSERT INTO {kind.table.name} ({columns}) VALUES "
                          f"({', '.join(':' + c for c in row)})"), row)
    result = _verify(session)
    assert not result.ok
    assert (result.fact_kind, result.fact_key) == (kind_name, str(new_key))
    assert "inserted" in result.reason


@pytest.mark.parametrize("tamper", ["delete", "edit", "insert"])
def test_the_seal_log_itself_is_bound_to_the_chain(app, session, city, tamper):
    with behind_the_app(app) as conn:
        size = conn.execute(text("SELECT COUNT(*) FROM fact_seal")).scalar()
        if tamper == "delete":
            conn.execute(text("DELETE FROM fact_seal WHERE position = 3"))
        elif tamper == "edit":
            conn.execute(text("UPDATE fact_seal SET leaf_hash = :h WHERE position = 3"),
                         {"h": "ab" * 32})
        else:
            conn.execute(text("INSERT INTO fact_seal (position, kind, fact_key, leaf_hash) "
                              "VALUES (:p, 'record', '000000000999', :h)"),
                         {"p": size, "h": "ab" * 32})
    result = _verify(session)
    assert not result.ok
    assert result.where() == ("fact_seal " + str(size) if tamper == "insert"
                              else f"audit event {result.broken_id}")


def test_the_command_exits_1_naming_the_row(app, runner, session, city):
    with behind_the_app(app) as conn:
        target = _target(conn, seals.KINDS["record"])
        conn.execute(text("UPDATE record SET occurred_on = :d WHERE id = :k"),
                     {"d": TODAY - timedelta(days=400), "k": target})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at record {target}:" in result.output


def test_the_migration_seals_facts_already_stored(app, session, city):
    # As if the facts had been stored before sealing existed: no seals, no sealing events.
    with behind_the_app(app) as conn:
        conn.execute(text("DELETE FROM fact_seal"))
    session.rollback()
    assert not chain.verify(session, facts=True).ok
    session.rollback()
    # what migration 0012 runs, on a database whose chain holds no sealing event yet
    session.execute(text("DELETE FROM audit_event WHERE action = :a"),
                    {"a": seals.SEALED_ACTION})
    _rechain(session)
    seals.seal_everything(session)
    session.commit()
    result = _verify(session)
    assert result.ok, (result.where(), result.reason)


def _rechain(session):
    prev = chain.GENESIS
    for event in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all():
        event.prev_hash = prev
        event.hash = chain.event_hash(prev_hash=prev, at=event.at, actor=event.actor,
                                      action=event.action, subject_id=event.subject_id,
                                      target=event.target, details=event.details)
        prev = event.hash
    session.flush()


TRICKY = ["", "plain", 'a "quoted" \\ back\\slash', "line\nbreak\ttab", "证据 𠀀 ünïcode",
          "</script>&amp;", "\u2028\u2029", "x" * 1999, "null", "0"]


def test_an_imports_rows_are_sealed_with_the_bytes_their_rows_hash_to(app, session, rulebook):
    """The import hashes its rows from a template per shape with each row's own values put
    in: every leaf must be the one the stored row hashes to (the check audit verify makes),
    whatever the values' characters, points, notes and dates."""
    ids = [new_person_id() for _ in range(4)]
    import_subjects(session, [SubjectDraft(subject_id=sid, kind="person", name=f"P {n}",
                                           district="Yatou") for n, sid in enumerate(ids)],
                    name="register.csv", actor="clerk", department=None, today=TODAY)
    drafts = [RecordDraft(subject_id=ids[n % 4].lower() if n % 5 == 0 else ids[n % 4],
                          rule_code="TRAFFIC-TICKET" if n % 3 else "DRUNK-DRIVING",
                          occurred_on=TODAY - timedelta(days=n % 4 * 40),  # repeats: notes
                          evidence=TRICKY[n % len(TRICKY)],
                          external_ref=f"r-{n}-{TRICKY[n % 3]}"[:200] if n % 7 else "")
              for n in range(40)]
    import_records(session, drafts, rulebook=rulebook, department="traffic-police",
                   recorded_by="officer", today=TODAY, name="tricky.csv")
    kind = seals.KINDS["record"]
    rows = {kind.fact_key(r["id"]): r for r in session.execute(select(kind.table)).mappings()}
    leaves = dict(session.execute(select(FactSeal.fact_key, FactSeal.leaf_hash).where(
        FactSeal.kind == "record")).all())
    assert len(rows) == len(leaves) == 40
    assert {r["note"] for r in rows.values()} - {""}  # some rows carry a note
    for key, row in rows.items():
        assert leaves[key] == seals.row_leaf(kind, row).hex(), row
    assert _verify(session).ok
