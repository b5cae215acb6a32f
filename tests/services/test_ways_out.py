"""A resident's ways out besides objecting to a record: an application for a record's
repair decided by its department, and an objection to a list entry decided by a reviewer;
each audited and notified, each within the rulebook's deadlines."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models import AuditEvent, Notice
from app.rulebook.model import Duration, Objections, Repair
from app.services.due_process.objections import WindowClosed
from app.services.due_process.ways_out import (
    apply_for_repair,
    decide_entry_objection,
    decide_repair,
    entries_of,
    entry_objection_queue,
    object_to_entry,
    repair_queue,
)
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from app.services.standings.facts import standing_for

TODAY = date(2026, 11, 26)


def _heat_record(session, rulebook, subject, occurred_on=TODAY - timedelta(days=100)):
    return record_conduct(
        session, RecordDraft(subject_id=subject.subject_id, rule_code="HEAT-TAMPER",
                             occurred_on=occurred_on, evidence="meter seal broken"),
        rulebook=rulebook, department="heating-company", recorded_by="heat-1",
        today=occurred_on).record


def _court_entry(session, rulebook, subject, entered_on=TODAY - timedelta(days=3)):
    return enter(session, ListEntryDraft(subject_id=subject.subject_id,
                                         list_code="court-defaulters", entered_on=entered_on,
                                         decision_ref="(2026) Lu 1082 Zhi 7"),
                 rulebook=rulebook, department="court", today=entered_on, actor="judge-1").entry


def _lists(session, rulebook, subject, day):
    return [active.entry.list_code for active in standing_for(
        session, rulebook=rulebook, subject_id=subject.subject_id, as_of=day).lists]


def _actions(session, action):
    return [json.loads(e.details) for e in session.execute(
        select(AuditEvent).where(AuditEvent.action == action)).scalars()]


def _notices(session, subject, kind):
    return list(session.execute(select(Notice).where(
        Notice.subject_id == subject.subject_id, Notice.kind == kind)).scalars())


def test_a_resident_applies_for_repair_and_the_department_grants_it(session, rulebook,
                                                                    make_subject):
    subject = make_subject(session)
    record = _heat_record(session, rulebook, subject)
    with pytest.raises(InvalidInput, match="from 2026-11-18"):
        apply_for_repair(session, rulebook=rulebook, subject_id=subject.subject_id,
                         record_id=record.id, statement="paid", actor="r",
                         today=date(2026, 11, 17))
    with pytest.raises(NotFound):
        apply_for_repair(session, rulebook=rulebook, subject_id=make_subject(session).subject_id,
                         record_id=record.id, statement="paid", actor="x", today=TODAY)
    application = apply_for_repair(session, rulebook=rulebook, subject_id=subject.subject_id,
                                   record_id=record.id, statement="seal restored, fine paid",
                                   actor="resident-1", today=TODAY)
    assert application.deadline == TODAY + timedelta(days=15)  # the scheme's default
    assert application.department_code == "heating-company"
    with pytest.raises(Conflict, match="already waiting"):
        apply_for_repair(session, rulebook=rulebook, subject_id=subject.subject_id,
                         record_id=record.id, statement="again", actor="resident-1", today=TODAY)
    assert [i.request.id for i in repair_queue(session, department="heating-company",
                                                today=TODAY)] == [application.id]
    assert repair_queue(session, department="traffic-police", today=TODAY) == []
    with pytest.raises(Forbidden):
        decide_repair(session, rulebook=rulebook, request_id=application.id, grant=True,
                      reason="ok", department="traffic-police", actor="t", today=TODAY)
    with pytest.raises(InvalidInput):
        decide_repair(session, rulebook=rulebook, request_id=application.id, grant=True,
                      reason=" ", department="heating-company", actor="h", today=TODAY)
    assert standing_for(session, rulebook=rulebook, subject_id=subject.subject_id,
                        as_of=TODAY).points == 950
    decided = decide_repair(session, rulebook=rulebook, request_id=application.id, grant=True,
                            reason="receipt 123 checked", department="heating-company",
                            actor="heat-2", today=TODAY)
    assert decided.status == "granted"
    assert standing_for(session, rulebook=rulebook, subject_id=subject.subject_id,
                        as_of=TODAY).points == 1000
    assert _notices(session, subject, "record_repaired")
    assert _actions(session, "repair.apply")[0]["record"] == record.id
    assert _actions(session, "repair.decide")[0]["granted"] is True
    with pytest.raises(Conflict):
        decide_repair(session, rulebook=rulebook, request_id=application.id, grant=False,
                      reason="no", department=None, actor="admin", today=TODAY)


def test_a_refused_application_is_notified_with_reasons_and_may_be_made_again(
        session, rulebook, make_subject):
    subject = make_subject(session)
    record = _heat_record(session, rulebook, subject)
    first = apply_for_repair(session, rulebook=rulebook, subject_id=subject.subject_id,
                             record_id=record.id, statement="paid", actor="r", today=TODAY)
    decide_repair(session, rulebook=rulebook, request_id=first.id, grant=False,
                  reason="no receipt was shown", department=None, actor="reviewer-1",
                  today=TODAY)
    [notice] = _notices(session, subject, "repair_decision")
    assert "no receipt was shown" in notice.body and notice.notified_on == TODAY
    assert standing_for(session, rulebook=rulebook, subject_id=subject.subject_id,
                        as_of=TODAY).points == 950
    again = apply_for_repair(session, rulebook=rulebook, subject_id=subject.subject_id,
                             record_id=record.id, statement="receipt attached", actor="r",
                             today=TODAY + timedelta(days=1))
    assert again.status == "pending"


def test_the_scheme_sets_how_long_the_department_has(session, rulebook, make_subject):
    subject = make_subject(session)
    record = _heat_record(session, rulebook, subject)
    longer = replace(rulebook, scheme=replace(rulebook.scheme,
                                              repair=Repair(decide_within=Duration(1, "m"))))
    application = apply_for_repair(session, rulebook=longer, subject_id=subject.subject_id,
                                   record_id=record.id, statement="paid", actor="r",
                                   today=TODAY)
    assert application.deadline == date(2026, 12, 26)


def test_a_resident_objects_to_a_list_entry_and_a_reviewer_ends_it(session, rulebook,
                                                                   make_subject):
    subject = make_subject(session)
    entry = _court_entry(session, rulebook, subject)
    [status] = entries_of(session, rulebook=rulebook, subject_id=subject.subject_id, today=TODAY)
    assert status.can_object and status.window.closes == entry.entered_on + timedelta(days=30)
    objection = object_to_entry(session, rulebook=rulebook, subject_id=subject.subject_id,
                                entry_id=entry.id, reason="the debt was paid in 2025",
                                actor="resident-1", today=TODAY)
    assert objection.deadline == TODAY + timedelta(days=15)
    with pytest.raises(Conflict, match="filed once"):
        object_to_entry(session, rulebook=rulebook, subject_id=subject.subject_id,
                        entry_id=entry.id, reason="again", actor="resident-1", today=TODAY)
    assert [i.objection.id for i in entry_objection_queue(session, today=TODAY)] == [objection.id]
    with pytest.raises(Forbidden):  # the official who made the entry does not decide
        decide_entry_objection(session, rulebook=rulebook, objection_id=objection.id,
                               outcome="ended", reason="paid", reviewer="judge-1", today=TODAY)
    decided = decide_entry_objection(session, rulebook=rulebook, objection_id=objection.id,
                                     outcome="ended", reason="payment confirmed by the bank",
                                     reviewer="reviewer-1", today=TODAY)
    assert decided.outcome == "ended"
    assert "court-defaulters" not in _lists(session, rulebook, subject, TODAY)
    assert "court-defaulters" in _lists(session, rulebook, subject, TODAY - timedelta(days=1))
    assert entries_of(session, rulebook=rulebook, subject_id=subject.subject_id,
                      today=TODAY) == []
    [decision] = _notices(session, subject, "entry_objection_decision")
    assert "payment confirmed by the bank" in decision.body
    assert _actions(session, "entry_objection.decide")[0]["outcome"] == "ended"


def test_an_upheld_objection_leaves_the_entry_and_the_window_is_the_lists_own(
        session, rulebook, make_subject):
    subject = make_subject(session)
    entry = _court_entry(session, rulebook, subject, entered_on=TODAY - timedelta(days=20))
    lists = tuple(replace(d, objections=Objections(window=Duration(15, "d"),
                                                   decide_within=Duration(5, "d")))
                  if d.code == "court-defaulters" else d for d in rulebook.lists)
    strict = replace(rulebook, lists=lists)
    with pytest.raises(WindowClosed, match="ended on"):
        object_to_entry(session, rulebook=strict, subject_id=subject.subject_id,
                        entry_id=entry.id, reason="late", actor="r", today=TODAY)
    objection = object_to_entry(session, rulebook=rulebook, subject_id=subject.subject_id,
                                entry_id=entry.id, reason="wrong person", actor="r",
                                today=TODAY)
    decide_entry_objection(session, rulebook=rulebook, objection_id=objection.id,
                           outcome="upheld", reason="the judgment names you",
                           reviewer="reviewer-1", today=TODAY)
    assert "court-defaulters" in _lists(session, rulebook, subject, TODAY)
    with pytest.raises(InvalidInput):
        decide_entry_objection(session, rulebook=rulebook, objection_id=objection.id,
                               outcome="maybe", reason="x", reviewer="reviewer-2", today=TODAY)


def test_the_entry_notice_says_the_list_is_public_and_how_to_object(session, rulebook,
                                                                    make_subject):
    from app.services.due_process.notices import send_nightly_notices

    subject = make_subject(session)
    entry = _court_entry(session, rulebook, subject)
    send_nightly_notices(session, rulebook=rulebook, as_of=entry.entered_on)
    [notice] = _notices(session, subject, "list_entry")
    assert "The list is public" in notice.body
    closes = (entry.entered_on + timedelta(days=30)).isoformat()
    assert f"To object, use your page by {closes}" in notice.body


def test_rule_files_set_the_repair_deadline_and_a_lists_own_objections(tmp_path):
    import shutil

    from app.rulebook import load_rulebook
    from tests.conftest import TEST_RULES

    shutil.copytree(TEST_RULES, tmp_path / "rules")
    plain = load_rulebook(tmp_path / "rules")
    assert plain.scheme.repair.decide_within == Duration(15, "d")
    assert plain.list_def("court-defaulters").objections is None
    scheme = tmp_path / "rules" / "scheme.yaml"
    scheme.write_text(scheme.read_text() + "\nrepair: {decide_within: 15d}\n")
    assert load_rulebook(tmp_path / "rules").fingerprint == plain.fingerprint  # the default
    scheme.write_text(scheme.read_text().replace("decide_within: 15d}\n", "decide_within: 20d}\n"))
    lists = tmp_path / "rules" / "lists.yaml"
    lists.write_text(lists.read_text().replace(
        "lasts: 2y, public: true}",
        "lasts: 2y, public: true, objections: {window: 15d, decide_within: 10d}}", 1))
    changed = load_rulebook(tmp_path / "rules")
    assert changed.scheme.repair.decide_within == Duration(20, "d")
    assert changed.list_def("court-defaulters").objections.window == Duration(15, "d")
    assert changed.fingerprint != plain.fingerprint


def test_ways_out_follow_the_one_character_policy(session, rulebook, make_subject):
    subject = make_subject(session)
    record = _heat_record(session, rulebook, subject)
    for bad in ("paid\x00", "paid\x1b[31m", "pa\x85id"):
        with pytest.raises(InvalidInput, match="control character"):
            apply_for_repair(session, rulebook=rulebook, subject_id=subject.subject_id,
                             record_id=record.id, statement=bad, actor="r", today=TODAY)
    ok = apply_for_repair(session, rulebook=rulebook, subject_id=subject.subject_id,
                          record_id=record.id, statement="paid\non the 3rd\tin cash",
                          actor="r", today=TODAY)
    assert ok.statement == "paid\non the 3rd\tin cash"
