"""Recording conduct and importing records: checks, fixed points, atomicity, idempotency."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Forbidden, InvalidInput
from app.models import Record, RulebookVersion
from app.services.intake.drafts import RecordDraft, read_record
from app.services.records.conduct import import_records_file, record_conduct
from tests.conftest import new_person_id

TODAY = date(2026, 11, 26)


def _record(session, rulebook, subject, code="TRAFFIC-TICKET", department="traffic-police",
            occurred_on=TODAY, **kw):
    values = {"subject_id": subject if isinstance(subject, str) else subject.subject_id,
              "rule_code": code, **kw}
    draft = (read_record({**values, "occurred_on": occurred_on}) if isinstance(occurred_on, str)
             else RecordDraft(occurred_on=occurred_on, **values))  # text is read at the edge
    return record_conduct(session, draft, rulebook=rulebook, department=department,
                          recorded_by="officer", today=TODAY)


def _count(session) -> int:
    return session.execute(select(func.count()).select_from(Record)).scalar()


def _problem(error: InvalidInput, field: str) -> str:
    messages = [p.message for p in error.problems if p.field == field]
    assert messages, f"no problem on {field}: {error.problems}"
    return messages[0]


def test_a_record_keeps_its_rule_version_fingerprint_and_end(session, rulebook, make_subject):
    subject = make_subject(session)
    rec = _record(session, rulebook, subject, evidence="ticket 1").record
    assert (rec.points, rec.base_points, rec.rule_version) == (-5, -5, 1)
    assert rec.rulebook_fingerprint == rulebook.fingerprint
    assert rec.ends_on == date(2027, 11, 26)
    assert session.execute(select(RulebookVersion.fingerprint)).scalars().all() == [
        rulebook.fingerprint]


def test_repeat_within_the_window_escalates_without_compounding(session, rulebook, make_subject):
    subject = make_subject(session)
    first = _record(session, rulebook, subject, occurred_on=TODAY - timedelta(days=200)).record
    second = _record(session, rulebook, subject, occurred_on=TODAY - timedelta(days=100)).record
    third = _record(session, rulebook, subject).record
    assert (first.points, second.points, third.points) == (-5, -10, -10)
    assert "repeat" in second.note


def test_cap_reduces_the_crossing_record_and_says_so(session, rulebook, make_subject):
    subject = make_subject(session)
    points = [_record(session, rulebook, subject, code="VOL-HOURS", department="civil-affairs",
                      occurred_on=date(2026, m, 1)).record for m in (1, 2, 3, 4)]
    assert [r.points for r in points] == [1, 1, 1, 0]
    assert "capped" in points[3].note


@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"department": "heating-company"}, "rule_code", "may not record"),
    ({"code": "NO-SUCH-CODE"}, "rule_code", "unknown rule code"),
    ({"occurred_on": TODAY + timedelta(days=1)}, "occurred_on", "future"),
    ({"occurred_on": "2026-02-30"}, "occurred_on", "not a date"),
    ({"code": "HEAT-TAMPER", "department": "heating-company", "occurred_on": date(2015, 5, 1)},
     "occurred_on", "not in force"),
])
def test_bad_input_names_the_field_and_stores_nothing(session, rulebook, make_subject, kwargs,
                                                      field, words):
    subject = make_subject(session)
    with pytest.raises(InvalidInput) as caught:
        _record(session, rulebook, subject, **kwargs)
    assert words in _problem(caught.value, field)
    assert _count(session) == 0


def test_a_wrong_check_digit_is_explained(session, rulebook):
    good = new_person_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(InvalidInput) as caught:
        _record(session, rulebook, bad)
    assert "check digit" in _problem(caught.value, "subject_id")


def test_an_unregistered_subject_is_refused(session, rulebook):
    with pytest.raises(InvalidInput) as caught:
        _record(session, rulebook, new_person_id())
    assert "population register" in _problem(caught.value, "subject_id")


def test_a_person_only_rule_refuses_an_organisation(session, rulebook, make_subject):
    org = make_subject(session, kind="organisation")
    with pytest.raises(InvalidInput) as caught:
        _record(session, rulebook, org, code="DRUNK-DRIVING")
    assert "organisation" in _problem(caught.value, "subject_id")


def test_external_ref_makes_recording_idempotent(session, rulebook, make_subject):
    subject = make_subject(session)
    first = _record(session, rulebook, subject, external_ref="TP-1")
    again = _record(session, rulebook, subject, external_ref="TP-1")
    assert first.created and not again.created
    assert again.record.id == first.record.id
    with pytest.raises(InvalidInput) as caught:
        _record(session, rulebook, subject, code="DRUNK-DRIVING", external_ref="TP-1")
    assert "already recorded" in _problem(caught.value, "external_ref")
    assert _count(session) == 1


def _csv(*rows: str) -> bytes:
    header = "subject_id,rule_code,occurred_on,evidence,external_ref\n"
    return (header + "\n".join(rows) + "\n").encode()


def _import(session, rulebook, data: bytes, department="traffic-police", name="tp.csv"):
    return import_records_file(session, rulebook=rulebook, department=department, data=data,
                               name=name, recorded_by="cli", today=TODAY)


def test_import_is_all_or_nothing_and_names_each_bad_row(session, rulebook, make_subject):
    a, b = make_subject(session), make_subject(session)
    data = _csv(f"{a.subject_id},TRAFFIC-TICKET,2026-01-05,photo 1,TP-1",
                f"{b.subject_id},TRAFFIC-TICKET,2026-13-01,photo 2,TP-2",
                f"{b.subject_id},HEAT-TAMPER,2026-01-05,meter,TP-3")
    with pytest.raises(InvalidInput) as caught:
        _import(session, rulebook, data)
    rendered = [str(p) for p in caught.value.problems]
    assert any(r.startswith("tp.csv:3: column occurred_on:") for r in rendered), rendered
    assert any(r.startswith("tp.csv:4: column rule_code:") for r in rendered), rendered
    assert _count(session) == 0


def test_import_fixes_points_in_file_order_and_a_rerun_adds_nothing(session, rulebook,
                                                                     make_subject):
    a = make_subject(session)
    data = _csv(f"{a.subject_id},TRAFFIC-TICKET,2026-01-05,,TP-1",
                f"{a.subject_id},TRAFFIC-TICKET,2026-02-05,,TP-2")
    first = _import(session, rulebook, data)
    again = _import(session, rulebook, data)
    assert (first.added, again.added, again.unchanged) == (2, 0, 2)
    points = session.execute(select(Record.points).order_by(Record.occurred_on)).scalars().all()
    assert points == [-5, -10]


def test_rows_without_external_ref_are_idempotent_too(session, rulebook, make_subject):
    a = make_subject(session)
    data = _csv(f"{a.subject_id},TRAFFIC-TICKET,2026-01-05,,",
                f"{a.subject_id},TRAFFIC-TICKET,2026-01-05,,")
    assert _import(session, rulebook, data).added == 2  # two identical tickets are two records
    assert _import(session, rulebook, data).added == 0


def test_json_lines_import(session, rulebook, make_subject):
    a = make_subject(session)
    data = (f'{{"subject_id": "{a.subject_id}", "rule_code": "TRAFFIC-TICKET", '
            f'"occurred_on": "2026-03-01", "external_ref": "J-1"}}\n').encode()
    assert _import(session, rulebook, data, name="tp.jsonl").added == 1


@pytest.mark.parametrize(("data", "words"), [
    (b"subject_id,rule_code\n1,2\n", "missing column"),
    (b"subject_id,rule_code,occurred_on,colour\n", "unknown column"),
    (b"", "empty"),
    (b"\xff\xfe\x00", "UTF-8"),
    (b'{"subject_id": 1\n', "not valid JSON"),
])
def test_unreadable_files_are_refused_with_where(session, rulebook, data, words):
    with pytest.raises(InvalidInput) as caught:
        _import(session, rulebook, data)
    text = caught.value.message + " " + " ".join(str(p) for p in caught.value.problems)
    assert words in text
    assert _count(session) == 0


def test_duplicate_reference_within_one_file(session, rulebook, make_subject):
    a = make_subject(session)
    data = _csv(f"{a.subject_id},TRAFFIC-TICKET,2026-01-05,,TP-1",
                f"{a.subject_id},TRAFFIC-TICKET,2026-01-06,,TP-1")
    with pytest.raises(InvalidInput) as caught:
        _import(session, rulebook, data)
    assert "first on line 2" in _problem(caught.value, "external_ref")
    assert _count(session) == 0


def test_unknown_department_is_refused(session, rulebook, make_subject):
    with pytest.raises(InvalidInput):
        _import(session, rulebook, _csv(), department="no-such-department")


def test_a_mistyped_ancient_year_is_refused_not_a_crash(session, rulebook, make_subject):
    subject = make_subject(session)
    with pytest.raises(InvalidInput) as caught:
        _record(session, rulebook, subject, occurred_on="0001-01-01")
    assert "mistyped" in _problem(caught.value, "occurred_on")


def test_a_code_no_version_gives_the_department_is_forbidden_whatever_else(
        session, rulebook, make_subject):
    """Access is the reason: Forbidden (403 over the API) even when the date is wrong too,
    and every problem is still named by its field (a form shows them)."""
    subject = make_subject(session)
    with pytest.raises(Forbidden) as caught:
        _record(session, rulebook, subject, department="heating-company",
                occurred_on="2026-02-30")
    assert isinstance(caught.value, InvalidInput)
    assert "may not record TRAFFIC-TICKET" in _problem(caught.value, "rule_code")
    assert "not a date" in _problem(caught.value, "occurred_on")
    with pytest.raises(InvalidInput) as caught:  # a department given the code: no access issue
        _record(session, rulebook, subject, occurred_on="2026-02-30")
    assert not isinstance(caught.value, Forbidden)
    assert _count(session) == 0


def test_a_derived_reference_is_the_one_earlier_versions_made(session, rulebook, make_subject):
    """Rows without an external_ref are idempotent across versions of the importer: the
    reference is derived from the row as a file writes it, and stays what it was."""
    import hashlib

    a = make_subject(session)
    _import(session, rulebook, _csv(f"{a.subject_id.lower()},TRAFFIC-TICKET,2026-01-05, x ,"))
    key = "\x1f".join([a.subject_id, "TRAFFIC-TICKET", "2026-01-05", "x", "1"])
    stored = session.execute(select(Record.external_ref)).scalar_one()
    assert stored == "auto:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def test_a_dry_run_writes_nothing_not_even_a_new_rulebook(session, rulebook, make_subject):
    from app.models import AuditEvent, Department
    from tests.services.test_rulebook_store import _another

    subject = make_subject(session)
    new = _another(rulebook)

    def counts():
        session.rollback()
        return [session.execute(select(func.count()).select_from(m)).scalar()
                for m in (Record, RulebookVersion, Department, AuditEvent)]

    before = counts()
    plan = import_records_file(session, rulebook=new, department="traffic-police",
                               data=_csv(f"{subject.subject_id},TRAFFIC-TICKET,2026-01-05,,T-1"),
                               name="tp.csv", recorded_by="cli", today=TODAY, dry_run=True)
    assert plan.added == 1 and plan.planned[0]["rulebook_fingerprint"] == new.fingerprint
    assert counts() == before
    _import(session, new, _csv(f"{subject.subject_id},TRAFFIC-TICKET,2026-01-05,,T-1"))
    assert counts() != before  # the import itself stores the rulebook with the record
