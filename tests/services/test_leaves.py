"""The leaves `audit verify` computes in the database are the ones sealed in Python, byte
for byte, on tricky values (NULLs, unicode, control characters, quotes, dates at the ends
of the calendar, times in other zones, negative numbers, long text), and a row written
behind the app in another shape is still hashed the way SQLAlchemy reads it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from app.models import ConsentChange, Department, ListEntry, Record, RulebookEvent, Subject
from app.services.audit import chain, leaves, seals

STRINGS = [
    "", "plain", 'a "quote" and a \\ backslash', "\n\r\t\b\f",
    "".join(map(chr, range(1, 32))), "\x7f DEL", "é 中文 Ünïcödé", "\u2028 \u2029",
    "😀 and 𝄞", "'; DROP TABLE record; --", "a\u0301 combining", "/ solidus /",
    "\ufeff BOM", "\ud7ff\ue000\uffff", "  spaces  ", "null", "true", "-0", "1e5",
]
LONG = "long text, " * 20_000 + "中"
KEYS = ["371082199001010011", "91371082000000208X", "A", "a", "Z0", "É", "~", "ÿ"]
TIMES = [datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC),
         datetime(2026, 1, 1, tzinfo=UTC),
         datetime(2026, 6, 1, 8, 0, 0, 1, tzinfo=timezone(timedelta(hours=8))),
         datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
         datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
         datetime(1000, 1, 1, 0, 0, 0, 5, tzinfo=UTC)]
DAYS = [date(1, 1, 1), date(999, 12, 31), date(2024, 2, 29), date(9999, 12, 31)]
NUMBERS = [0, -1, -50, 2**31 - 1, -(2**31), 7]


def _tricky_rows(session) -> None:
    """Write rows of every type the sealed tables hold, through the ORM (so sealed)."""
    session.add(Department(code="dept", title="A department"))
    for n, key in enumerate(KEYS):
        s = STRINGS[n % len(STRINGS)]
        session.add(Subject(
            subject_id=key, kind="person", name=s, district=STRINGS[(n + 3) % len(STRINGS)],
            village="", legal_representative=None if n % 2 else s,
            legal_representative_since=None if n % 3 else DAYS[n % len(DAYS)],
            consent=n % 2 == 0, consent_changed_on=DAYS[(n + 1) % len(DAYS)],
            language=None if n % 2 else "zh", registered_at=TIMES[n % len(TIMES)],
            updated_at=TIMES[(n + 1) % len(TIMES)]))
    session.flush()
    for n, s in enumerate(STRINGS + [LONG]):
        number = NUMBERS[n % len(NUMBERS)]
        session.add(Record(
            subject_id=KEYS[n % len(KEYS)], rule_code=s[:64], rule_version=number,
            rulebook_fingerprint="f" * 64, department_code="dept",
            occurred_on=DAYS[n % len(DAYS)], ends_on=DAYS[(n + 1) % len(DAYS)],
            repairable_on=None if n % 2 else DAYS[(n + 2) % len(DAYS)],
            base_points=number, factor=NUMBERS[(n + 1) % len(NUMBERS)], points=-number - 1,
            note=s,
            evidence=STRINGS[-1 - n % len(STRINGS)], external_ref=None if n % 3 else s[:200],
            recorded_at=TIMES[n % len(TIMES)], recorded_by="officer",
            voided_at=None if n % 2 else TIMES[(n + 1) % len(TIMES)],
            voided_by=None if n % 2 else s[:80], void_reason=None if n % 2 else s))
        session.add(ListEntry(
            list_code="court-defaulters", subject_id=KEYS[n % len(KEYS)],
            department_code="dept", entered_on=DAYS[n % len(DAYS)],
            ends_on=None if n % 2 else DAYS[-1], legal_basis=s, decision_ref=s[:200],
            created_at=TIMES[(n + 2) % len(TIMES)], removed_reason=None if n % 2 else s))
        session.add(ConsentChange(subject_id=KEYS[n % len(KEYS)], consent=n % 3 == 0,
                                  changed_on=DAYS[n % len(DAYS)],
                                  changed_at=TIMES[n % len(TIMES)], changed_by="resident",
                                  reason=None if n % 2 else s))
        session.add(RulebookEvent(at=TIMES[n % len(TIMES)], action="loaded",
                                  fingerprint=None if n % 2 else "a" * 64, actor=s[:80],
                                  source=s[:500], details=json.dumps({"s": s})))
    session.commit()


def _both(session, kind):
    session.rollback()
    return list(leaves.stored_leaves(session, kind)), list(leaves.python_leaves(session, kind))


def test_the_database_builds_the_leaves_python_seals(app, session):
    _tricky_rows(session)
    assert leaves._escapes_like_python(session), "the fast path would not be taken"
    for kind in seals.KINDS.values():
        assert leaves._sql_supported(kind), kind.name
        fast, reference = _both(session, kind)
        assert fast == reference, kind.name
    # ... and the seals written at commit (hashed in Python) verify against them.
    session.rollback()
    result = chain.verify(session, facts=True)
    assert result.ok, (result.where(), result.reason)
    assert result.facts == sum(len(_both(session, k)[1]) for k in seals.KINDS.values())


def test_the_keys_come_in_python_order(app, session):
    _tricky_rows(session)
    fast, _reference = _both(session, seals.KINDS["subject"])
    assert [key for key, _leaf in fast] == sorted(KEYS)


@pytest.mark.parametrize("column, value", [
    ("registered_at", "'2026-11-20 10:00:00'"),  # a time without its microseconds
    ("registered_at", "'2026-11-20 10:00:00.5'"),
    ("consent", "2"),  # a boolean neither 0 nor 1
    ("name", "X'00ff'"),  # a blob where text belongs
    ("name", "'a' || char(0) || 'b'"),  # a NUL inside text
    ("name", "12"),
])
def test_a_row_in_another_shape_is_hashed_as_sqlalchemy_reads_it(app, session, column,
                                                                    value):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL's columns are typed: a value has one shape")
    _tricky_rows(session)
    session.execute(text(f"UPDATE subject SET {column} = {value} WHERE subject_id = 'A'"))
    session.commit()
    fast, reference = _both(session, seals.KINDS["subject"])
    assert fast == reference
    assert dict(fast)["A"] != seals.row_leaf(seals.KINDS["subject"], None, "A").hex()


def test_without_json_functions_like_python_the_python_path_is_taken(app, session,
                                                                     monkeypatch):
    _tricky_rows(session)
    monkeypatch.setattr(leaves, "_EXPECTED", '"as no server quotes it"')
    session.info.pop(leaves._CHECKED, None)
    assert not leaves._escapes_like_python(session)
    fast, reference = _both(session, seals.KINDS["record"])
    assert fast == reference


@pytest.mark.parametrize("column, value", [
    ("consent_changed_on", "'2026-1-5'"), ("consent_changed_on", "'2026-11-20 00:00:00'"),
    ("registered_at", "'yesterday'"),
    ("registered_at", "20261120"),
])
def test_a_row_sqlalchemy_cannot_read_is_named_as_edited(app, session, column, value):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL's columns are typed: a value has one shape")
    _tricky_rows(session)
    session.execute(text(f"UPDATE subject SET {column} = {value} WHERE subject_id = 'A'"))
    session.commit()
    result = chain.verify(session, facts=True)
    assert not result.ok and result.where() == "subject A", result.where()
    assert "edited" in result.reason


def _both_checks(session, monkeypatch, kind):
    """Return (the check in the database, the merge of leaves and seals in Python)."""
    from app.services.audit import facts

    session.rollback()
    assert leaves.pg_first_mismatch(session, kind) is not None, "the database check is skipped"
    in_database = facts.check_kind(session, kind)
    session.rollback()
    with monkeypatch.context() as patched:
        patched.setattr(facts, "pg_first_mismatch", lambda session, kind: None)
        merged = facts.check_kind(session, kind)
    session.rollback()
    return in_database, merged


def _behind(session, sql: str) -> None:
    session.connection().exec_driver_sql(sql)
    session.commit()


def test_the_database_check_names_the_fact_the_merge_names(app, session, monkeypatch):
    """PostgreSQL compares the leaves with the seals in the database: after each tamper
    it names the same first fact, for the same reason, as the merge in Python; a row
    deleted through the app (its seal says so) is no break."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the leaves are compared in the database on PostgreSQL only")
    _tricky_rows(session)
    record, subject = seals.KINDS["record"], seals.KINDS["subject"]
    ids = session.execute(text("SELECT id FROM record ORDER BY id")).scalars().all()
    count = len(ids)
    assert _both_checks(session, monkeypatch, record) == ((count, None), (count, None))
    steps = [
        (record, f"UPDATE record SET points = points + 500 WHERE id = {ids[-1]}", ids[-1],
         "edited"),
        (record, None, ids[-1], "edited"),  # ids[0] deleted through the app: sealed so
        (record, f"DELETE FROM record WHERE id = {ids[5]}", ids[5], "deleted"),
        (record, "INSERT INTO record SELECT -7, subject_id, rule_code, rule_version, "
                 "rulebook_fingerprint, department_code, occurred_on, ends_on, repairable_on, "
                 "base_points, factor, points, note, evidence, NULL, recorded_at, recorded_by "
                 f"FROM record WHERE id = {ids[3]}", -7, "no seal"),
        (subject, "UPDATE subject SET name = 'x' WHERE subject_id = 'Z0'", "Z0", "edited"),
        (subject, "INSERT INTO subject (subject_id, kind, name, district, village, consent, "
                  "registered_at, updated_at) SELECT 'AB', kind, name, district, village, "
                  "consent, registered_at, updated_at FROM subject WHERE subject_id = 'A'",
         "AB", "no seal"),
    ]
    for kind, tamper, named, reason in steps:
        if tamper is None:
            session.delete(session.get(Record, ids[0]))
            session.commit()
        else:
            _behind(session, tamper)
        in_database, merged = _both_checks(session, monkeypatch, kind)
        assert in_database[1] == merged[1], tamper
        assert in_database[1] is not None and in_database[1].key == str(named), tamper
        assert reason in in_database[1].reason, tamper
