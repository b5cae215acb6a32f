"""Every reason, statement and piece of evidence that comes in passes the one character
policy (app/services/intake/text.py): a control character is refused with the field named,
and nothing is written."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import InvalidInput
from app.models import AuditEvent, Record, Subject
from app.services.due_process.objections import decide_objection, file_objection
from app.services.intake.drafts import ListEntryDraft, RecordDraft, SubjectDraft
from app.services.intake.text import written_text
from app.services.lists.entries import enter, remove_from_list
from app.services.records.conduct import record_conduct
from app.services.records.corrections import repair_record, void_record
from app.services.subjects.register import import_subjects

TODAY = date(2026, 11, 26)
# NUL, an escape sequence (C0), DEL, and NEL (a C1 control).
BAD = ("debt\x00paid", "debt \x1b[31mpaid", "debt\x7fpaid", "debt\x85paid")


def test_written_text_checks_presence_length_and_characters():
    assert written_text("  paid\n\tin cash ", name="reason", limit=40) == "paid\n\tin cash"
    assert written_text("   ", name="attachment_ref", limit=40) == ""
    with pytest.raises(InvalidInput, match="say why") as empty:
        written_text(" ", name="reason", limit=40, required="say why")
    assert empty.value.problems[0].field == "reason"
    with pytest.raises(InvalidInput, match="the reason is longer than 4 characters"):
        written_text("12345", name="reason", limit=4)
    with pytest.raises(InvalidInput, match="U\\+000A at position 3") as one_line:
        written_text("ab\ncd", name="attachment_ref", limit=40, free=False)
    assert one_line.value.problems[0].field == "attachment_ref"
    for bad in BAD:
        with pytest.raises(InvalidInput, match="control character"):
            written_text(bad, name="reason", limit=40)


def _record(session, rulebook, subject, occurred_on=TODAY - timedelta(days=10)):
    return record_conduct(
        session, RecordDraft(subject_id=subject.subject_id, rule_code="HEAT-TAMPER",
                             occurred_on=occurred_on, evidence="meter seal broken"),
        rulebook=rulebook, department="heating-company", recorded_by="heat-1",
        today=occurred_on).record


def _events(session) -> int:
    return session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def test_reasons_and_evidence_refuse_control_characters(session, rulebook, make_subject):
    subject = make_subject(session)
    record = _record(session, rulebook, subject)
    entry = enter(session, ListEntryDraft(subject_id=subject.subject_id,
                                          list_code="court-defaulters", entered_on=TODAY,
                                          decision_ref="(2026) Lu 1082 Zhi 7"),
                  rulebook=rulebook, department="court", today=TODAY, actor="judge-1").entry
    before = _events(session)
    writes = {
        "void": lambda text: void_record(session, record_id=record.id,
                                         department="heating-company", reason=text,
                                         actor="heat-1"),
        "repair": lambda text: repair_record(session, rulebook=rulebook, record_id=record.id,
                                             department="heating-company", evidence=text,
                                             actor="heat-1", today=TODAY),
        "objection": lambda text: file_objection(session, rulebook=rulebook,
                                                 subject_id=subject.subject_id,
                                                 record_id=record.id, reason=text,
                                                 actor="resident", today=TODAY),
        "removal": lambda text: remove_from_list(session, rulebook=rulebook,
                                                 entry_id=entry.id, department="court",
                                                 reason=text, actor="judge-1", today=TODAY),
    }
    for what, write in writes.items():
        for bad in BAD:
            with pytest.raises(InvalidInput, match="control character"):
                write(bad)
        assert _events(session) == before, what
    stored = session.get(Record, record.id, populate_existing=True)
    assert (stored.voided_at, stored.repaired_on) == (None, None)
    objection = file_objection(session, rulebook=rulebook, subject_id=subject.subject_id,
                               record_id=record.id, reason="not my meter", actor="resident",
                               today=TODAY)
    with pytest.raises(InvalidInput, match="control character"):
        file_objection(session, rulebook=rulebook, subject_id=subject.subject_id,
                       record_id=record.id, reason="fine", attachment_ref="a\nb",
                       actor="resident", today=TODAY)
    for bad in BAD:
        with pytest.raises(InvalidInput, match="control character"):
            decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                             outcome="upheld", reason=bad, reviewer="reviewer-1",
                             today=TODAY)


def test_an_admins_consent_reason_follows_the_policy(session, make_subject):
    subject = make_subject(session, consent=True)
    draft = SubjectDraft(subject_id=subject.subject_id, kind=subject.kind, name=subject.name,
                         district=subject.district, village=subject.village, consent=False)
    for bad in BAD:
        with pytest.raises(InvalidInput, match="the consent reason holds the control"):
            import_subjects(session, [draft], name="register.csv", actor="admin",
                            department=None, consent_reason=bad, today=TODAY)
    assert session.get(Subject, subject.subject_id, populate_existing=True).consent is True
    import_subjects(session, [draft], name="register.csv", actor="admin", department=None,
                    consent_reason="withdrawn by letter\nof 3 December", today=TODAY)
    assert session.get(Subject, subject.subject_id, populate_existing=True).consent is False
