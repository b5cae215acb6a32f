"""Due process in the services: objections and reconsideration, voids, repair, consent,
the history sentence and chart, and the audit trail of each action."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models import AuditEvent, ConsentChange, Notice, Objection, Record, Standing, Subject
from app.services.due_process.objections import (
    WindowClosed,
    ask_reconsideration,
    decide_objection,
    file_objection,
    review_queue,
)
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from app.services.records.corrections import repair_record, void_record
from app.services.standings.facts import standing_for
from app.services.standings.recompute import recompute
from app.services.subject_file.chart import next_tier_sentence, points_chart, points_over_time
from app.services.subject_file.due_process import due_process_of
from app.services.subjects.consent import set_consent, set_contact_email
from app.standing import next_changes
from app.standing.model import RecordFact, SubjectFact

TODAY = date(2026, 11, 26)


def _record(session, rulebook, subject, code="DRUNK-DRIVING", department="traffic-police",
            occurred_on=TODAY - timedelta(days=5), today=TODAY, by="officer-1"):
    return record_conduct(
        session, RecordDraft(subject_id=subject.subject_id, rule_code=code, occurred_on=occurred_on,
                             evidence="breath test 0.9"),
        rulebook=rulebook, department=department, recorded_by=by, today=today).record


def _object(session, rulebook, record, *, today=TODAY, reason="the car was not mine"):
    return file_objection(session, rulebook=rulebook, subject_id=record.subject_id,
                          record_id=record.id, reason=reason, attachment_ref="lease-42",
                          actor="resident-1", today=today)


def _points(session, rulebook, subject, day):
    return standing_for(session, rulebook=rulebook, subject_id=subject.subject_id,
                        as_of=day).points


def _audit(session, action):
    return [(e.actor, json.loads(e.details)) for e in session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()]


# --- objections --------------------------------------------------------------------------------
def test_a_pending_objection_suspends_the_record_on_both_paths(session, rulebook, make_subject):
    subject = make_subject(session)
    record = _record(session, rulebook, subject)
    assert _points(session, rulebook, subject, TODAY) == 800
    objection = _object(session, rulebook, record)
    assert (objection.level, objection.filed_on) == (1, TODAY)
    assert objection.deadline == TODAY + timedelta(days=15)
    assert objection.attachment_ref == "lease-42"
    standing = standing_for(session, rulebook=rulebook, subject_id=subject.subject_id,
                            as_of=TODAY)
    assert standing.points == 1000
    assert "suspended: objection pending since" in standing.excluded[0].reason
    assert _points(session, rulebook, subject, TODAY - timedelta(days=1)) == 800  # before filing
    recompute(session, rulebook=rulebook, as_of=TODAY)
    assert session.get(Standing, subject.subject_id).points == 1000
    recompute(session, rulebook=rulebook, as_of=TODAY - timedelta(days=1))
    assert session.get(Standing, subject.subject_id).points == 800
    assert _audit(session, "objection.file")[-1][1]["reason"] == "the car was not mine"


def test_without_suspend_record_a_disputed_record_counts_meanwhile(session, rulebook,
                                                                   make_subject):
    keep = replace(rulebook, scheme=replace(
        rulebook.scheme, objections=replace(rulebook.scheme.objections, suspend_record=False)))
    subject = make_subject(session)
    record = _record(session, keep, subject)
    _object(session, keep, record)
    standing = standing_for(session, rulebook=keep, subject_id=subject.subject_id, as_of=TODAY)
    assert standing.points == 800
    assert any("objection pending since" in line for line in standing.explanation)
    recompute(session, rulebook=keep, as_of=TODAY)
    assert session.get(Standing, subject.subject_id).points == 800


def test_the_window_runs_from_the_notice_and_refuses_a_late_objection(session, rulebook,
                                                                      make_subject):
    subject = make_subject(session)
    record = _record(session, rulebook, subject)
    notice = session.execute(select(Notice).where(Notice.record_id == record.id)).scalar_one()
    assert notice.notified_on == TODAY
    last_day = TODAY + timedelta(days=30)
    assert f"you may object until {last_day.isoformat()}" in notice.body
    with pytest.raises(WindowClosed) as refused:
        _object(session, rulebook, record, today=last_day + timedelta(days=1))
    assert f"ended on {last_day.isoformat()}" in refused.value.message
    assert session.execute(select(func.count()).select_from(Objection)).scalar() == 0
    assert _object(session, rulebook, record, today=last_day).filed_on == last_day


def test_objections_are_refused_for_others_records_twice_or_without_reason(
        session, rulebook, make_subject):
    subject, other = make_subject(session), make_subject(session)
    record = _record(session, rulebook, subject)
    with pytest.raises(NotFound):
        file_objection(session, rulebook=rulebook, subject_id=other.subject_id,
                       record_id=record.id, reason="not me", actor="x", today=TODAY)
    with pytest.raises(InvalidInput) as empty:
        _object(session, rulebook, record, reason="   ")
    assert empty.value.problems[0].field == "reason"
    _object(session, rulebook, record)
    with pytest.raises(Conflict, match="already objected"):
        _object(session, rulebook, record)


def test_a_reviewer_who_recorded_or_voided_the_record_cannot_decide(session, rulebook,
                                                                   make_subject):
    subject = make_subject(session)
    record = _record(session, rulebook, subject, by="dual-role")
    objection = _object(session, rulebook, record)
    with pytest.raises(Forbidden, match="you recorded"):
        decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                         outcome="annulled", reason="fine", reviewer="dual-role", today=TODAY)
    void_record(session, record_id=record.id, department="traffic-police",
                reason="wrong plate", actor="voider")
    with pytest.raises(Forbidden, match="you voided"):
        decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                         outcome="annulled", reason="fine", reviewer="voider", today=TODAY)
    assert session.get(Objection, objection.id).decided_on is None


def test_a_decision_needs_a_reason_and_an_outcome(session, rulebook, make_subject):
    subject = make_subject(session)
    objection = _object(session, rulebook, _record(session, rulebook, subject))
    with pytest.raises(InvalidInput) as no_reason:
        decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                         outcome="upheld", reason=" ", reviewer="rev", today=TODAY)
    assert no_reason.value.problems[0].field == "reason"
    with pytest.raises(InvalidInput) as bad:
        decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                         outcome="maybe", reason="x", reviewer="rev", today=TODAY)
    assert bad.value.problems[0].field == "outcome"
    assert session.get(Objection, objection.id).decided_on is None


def test_annulment_is_final_annuls_once_and_notifies(session, rulebook, make_subject):
    subject = make_subject(session)
    record = _record(session, rulebook, subject)
    objection = _object(session, rulebook, record)
    day = TODAY + timedelta(days=3)
    decided = decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                               outcome="annulled", reason="the plate was misread",
                               reviewer="rev-a", today=day)
    assert (decided.outcome, decided.decided_by, decided.decided_on) == ("annulled", "rev-a", day)
    session.refresh(record)
    assert record.annulled_on == day
    assert _points(session, rulebook, subject, TODAY - timedelta(days=1)) == 1000  # never counts
    with pytest.raises(Conflict, match="final"):
        decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                         outcome="upheld", reason="changed my mind", reviewer="rev-b", today=day)
    notice = session.execute(select(Notice).where(Notice.kind == "objection_decision")
                             ).scalar_one()
    assert "annulled" in notice.title and "the plate was misread" in notice.body
    with pytest.raises(Conflict, match="annulled"):
        ask_reconsideration(session, rulebook=rulebook, subject_id=subject.subject_id,
                            objection_id=objection.id, reason="x", actor="r", today=day)
    assert _audit(session, "objection.decide")[-1][1]["outcome"] == "annulled"


def test_reconsideration_once_by_a_different_reviewer_within_its_window(session, rulebook,
                                                                         make_subject):
    subject = make_subject(session)
    record = _record(session, rulebook, subject)
    first = _object(session, rulebook, record)
    decided_on = TODAY + timedelta(days=2)
    decide_objection(session, rulebook=rulebook, objection_id=first.id, outcome="upheld",
                     reason="the test was valid", reviewer="rev-a", today=decided_on)
    assert _points(session, rulebook, subject, decided_on) == 800  # counts again
    assert _points(session, rulebook, subject, TODAY + timedelta(days=1)) == 1000
    notice = session.execute(select(Notice).where(Notice.kind == "objection_decision")
                             ).scalar_one()
    until = decided_on + timedelta(days=10)
    assert f"reconsideration by a different reviewer until {until.isoformat()}" in notice.body
    with pytest.raises(WindowClosed):
        ask_reconsideration(session, rulebook=rulebook, subject_id=subject.subject_id,
                            objection_id=first.id, reason="new evidence", actor="r",
                            today=until + timedelta(days=1))
    second = ask_reconsideration(session, rulebook=rulebook, subject_id=subject.subject_id,
                                 objection_id=first.id, reason="new evidence",
                                 attachment_ref="doc 7", actor="r", today=until)
    assert (second.level, second.parent_id, second.deadline) == (
        2, first.id, until + timedelta(days=15))
    assert _points(session, rulebook, subject, until) == 1000  # suspended again while pending
    with pytest.raises(Conflict, match="once"):
        ask_reconsideration(session, rulebook=rulebook, subject_id=subject.subject_id,
                            objection_id=first.id, reason="again", actor="r", today=until)
    with pytest.raises(Forbidden, match="different reviewer"):
        decide_objection(session, rulebook=rulebook, objection_id=second.id, outcome="annulled",
                         reason="x", reviewer="rev-a", today=until)
    final = decide_objection(session, rulebook=rulebook, objection_id=second.id,
                             outcome="annulled", reason="new evidence holds",
                             reviewer="rev-b", today=until + timedelta(days=1))
    assert final.outcome == "annulled"
    session.refresh(record)
    assert record.annulled_on == until + timedelta(days=1)
    last = session.execute(select(Notice).where(Notice.objection_id == second.id)).scalar_one()
    assert "request for reconsideration succeeded" in last.title


def test_the_queue_orders_by_deadline_and_marks_overdue(session, rulebook, make_subject):
    early = TODAY - timedelta(days=3)
    late = _object(session, rulebook, _record(session, rulebook, make_subject(session),
                                              occurred_on=early, today=early), today=early)
    soon = _object(session, rulebook, _record(session, rulebook, make_subject(session)))
    queue = review_queue(session, today=TODAY + timedelta(days=13))
    assert [item.objection.id for item in queue] == [late.id, soon.id]
    assert [item.overdue for item in queue] == [True, False]
    assert queue[0].days_left == -1


# --- voids and repair --------------------------------------------------------------------------
def test_void_only_by_the_recording_department_with_a_reason_and_once(session, rulebook,
                                                                     make_subject):
    subject = make_subject(session)
    record = _record(session, rulebook, subject)
    with pytest.raises(Forbidden, match="recording department"):
        void_record(session, record_id=record.id, department="court", reason="x", actor="c")
    with pytest.raises(InvalidInput):
        void_record(session, record_id=record.id, department="traffic-police", reason="",
                    actor="t")
    voided = void_record(session, record_id=record.id, department="traffic-police",
                         reason="wrong plate number", actor="officer-2")
    assert (voided.voided_by, voided.void_reason) == ("officer-2", "wrong plate number")
    first_at = voided.voided_at
    with pytest.raises(Conflict, match="already voided"):
        void_record(session, record_id=record.id, department="traffic-police",
                    reason="again", actor="officer-3")
    session.refresh(record)
    assert (record.voided_at, record.voided_by) == (first_at, "officer-2")
    assert session.execute(select(func.count()).select_from(Record)).scalar() == 1
    assert _points(session, rulebook, subject, TODAY) == 1000
    assert _audit(session, "record.void")[-1] == (
        "officer-2", {"reason": "wrong plate number", "department": "traffic-police",
                      "rule_code": "DRUNK-DRIVING", "points": -200})
    with pytest.raises(Conflict, match="voided"):
        _object(session, rulebook, record)


def test_repair_only_after_repairable_after_with_evidence_and_once(session, rulebook,
                                                                   make_subject):
    subject = make_subject(session)
    occurred = TODAY - timedelta(days=100)
    record = _record(session, rulebook, subject, code="HEAT-TAMPER",
                     department="heating-company", occurred_on=occurred)
    assert record.repairable_on == date(2026, 11, 18)  # 3 months after 2026-08-18
    with pytest.raises(InvalidInput, match="from 2026-11-18"):
        repair_record(session, rulebook=rulebook, record_id=record.id,
                      department="heating-company", evidence="paid",
                      actor="h", today=date(2026, 11, 17))
    with pytest.raises(Forbidden):
        repair_record(session, rulebook=rulebook, record_id=record.id,
                      department="traffic-police", evidence="paid", actor="t", today=TODAY)
    with pytest.raises(InvalidInput):
        repair_record(session, rulebook=rulebook, record_id=record.id,
                      department="heating-company", evidence=" ", actor="h", today=TODAY)
    assert _points(session, rulebook, subject, TODAY) == 950
    repaired = repair_record(session, rulebook=rulebook, record_id=record.id,
                             department="heating-company", evidence="meter seal restored",
                             actor="heating-officer", today=TODAY)
    assert (repaired.repaired_on, repaired.repaired_by) == (TODAY, "heating-officer")
    assert _points(session, rulebook, subject, TODAY) == 1000
    assert _points(session, rulebook, subject, TODAY - timedelta(days=1)) == 950
    with pytest.raises(Conflict, match="already marked repaired"):
        repair_record(session, rulebook=rulebook, record_id=record.id,
                      department="heating-company", evidence="again", actor="h",
                      today=TODAY + timedelta(days=1))
    notice = session.execute(select(Notice).where(Notice.kind == "record_repaired")
                             ).scalar_one()
    assert "meter seal restored" in notice.body
    assert _audit(session, "record.repair")[-1][0] == "heating-officer"
    recompute(session, rulebook=rulebook, as_of=TODAY)
    assert session.get(Standing, subject.subject_id).points == 1000


def test_a_rule_without_repairable_after_cannot_be_repaired(session, rulebook, make_subject):
    record = _record(session, rulebook, make_subject(session), code="TRAFFIC-TICKET")
    with pytest.raises(Conflict, match="does not allow repair"):
        repair_record(session, rulebook=rulebook, record_id=record.id,
                      department="traffic-police", evidence="x", actor="t", today=TODAY)


# --- consent and contact -----------------------------------------------------------------------
def test_consent_changes_are_recorded_with_date_and_who(session, rulebook, make_subject):
    consenting = replace(rulebook, scheme=replace(rulebook.scheme, requires_consent=True))
    subject = make_subject(session, consent=False)
    _record(session, consenting, subject)
    assert _points(session, consenting, subject, TODAY) is None
    set_consent(session, subject_id=subject.subject_id, consent=True, actor="resident-9",
                today=TODAY)
    session.refresh(subject)
    assert (subject.consent, subject.consent_changed_on) == (True, TODAY)
    assert _points(session, consenting, subject, TODAY) == 800
    with pytest.raises(Conflict, match="already given"):
        set_consent(session, subject_id=subject.subject_id, consent=True, actor="r",
                    today=TODAY)
    set_consent(session, subject_id=subject.subject_id, consent=False, actor="resident-9",
                today=TODAY + timedelta(days=1))
    changes = session.execute(select(ConsentChange).order_by(ConsentChange.id)).scalars().all()
    assert [(c.consent, c.changed_on, c.changed_by) for c in changes] == [
        (True, TODAY, "resident-9"), (False, TODAY + timedelta(days=1), "resident-9")]
    assert session.get(Subject, subject.subject_id).consent is False
    assert [d["consent"] for _a, d in _audit(session, "subject.consent")] == [True, False]


def test_contact_email_is_checked(session, make_subject):
    subject = make_subject(session)
    with pytest.raises(InvalidInput):
        set_contact_email(session, subject_id=subject.subject_id, email="not an address",
                          actor="r")
    assert set_contact_email(session, subject_id=subject.subject_id,
                             email="wang@example.org", actor="r") == "wang@example.org"
    assert set_contact_email(session, subject_id=subject.subject_id, email="", actor="r") is None


# --- the due-process file ---------------------------------------------------------------------
def test_the_file_offers_each_next_step_with_its_state(session, rulebook, make_subject):
    subject = make_subject(session)
    disputed = _record(session, rulebook, subject)
    _object(session, rulebook, disputed)
    old = _record(session, rulebook, subject, code="HEAT-TAMPER", department="heating-company",
                  occurred_on=TODAY - timedelta(days=200), today=TODAY - timedelta(days=150))
    file = due_process_of(session, rulebook=rulebook, subject_id=subject.subject_id,
                            today=TODAY)
    by_id = {r.record.id: r for r in file.records}
    assert by_id[disputed.id].state == "disputed" and not by_id[disputed.id].can_object
    assert by_id[old.id].state == "counting"
    assert not by_id[old.id].can_object  # its window closed 120 days ago
    assert by_id[old.id].can_repair
    assert len(file.pending_objections) == 1
    assert [i.notice.kind for i in file.inbox] == ["record", "record"]


# --- history -----------------------------------------------------------------------------------
def _fact(i, occurred, ends, points):
    return RecordFact(id=i, subject_id="S", rule_code=f"R{i}", rule_version=1,
                      occurred_on=occurred, points=points, ends_on=ends)


def test_the_next_tier_sentence_names_the_day_and_the_tier(rulebook):
    subject = SubjectFact("S")
    records = [_fact(1, date(2026, 1, 1), date(2027, 3, 4), -30),
               _fact(2, date(2026, 2, 1), date(2027, 3, 4), -20),
               _fact(3, date(2026, 3, 1), date(2027, 9, 1), -5)]
    changes = next_changes(subject=subject, records=records, rulebook=rulebook, as_of=TODAY)
    from app.standing.because import english

    because = next_tier_sentence(changes, scheme=rulebook.scheme, scored=True, you=True)
    assert (because.code, because.v["on"], because.v["tier"], because.v["up"]) == (
        "tier_change", date(2027, 3, 4), "A", True)
    assert english(because) == "On 2027-03-04 two records lapse and you return to A."
    official = next_tier_sentence(changes, scheme=rulebook.scheme, scored=True, you=False)
    assert english(official) == "On 2027-03-04 two records lapse and the subject returns to A."
    assert "not scored" in english(
        next_tier_sentence([], scheme=rulebook.scheme, scored=False, you=True))
    assert english(next_tier_sentence([], scheme=rulebook.scheme, scored=True, you=True)) == (
        "Nothing recorded so far will change your points.")


def test_the_chart_draws_bands_steps_and_the_coming_lapses(session, rulebook, make_subject):
    subject = make_subject(session)
    _record(session, rulebook, subject, occurred_on=TODAY - timedelta(days=400),
            today=TODAY - timedelta(days=400))
    history = points_over_time(session, rulebook=rulebook, subject_id=subject.subject_id,
                              as_of=TODAY)
    chart = history.chart
    assert history.scored and chart is not None
    assert {b.code for b in chart.bands} >= {"A", "B", "C"}
    assert chart.past.startswith("M") and " V" in chart.past  # a step down to 800
    assert [t.label for t in chart.x_ticks] == ["2024", "2025", "2026", "2027"]
    assert chart.left < chart.now_x < chart.right
    assert len(chart.markers) == 1 and "tier C → A" in chart.markers[0].label
    assert history.sentence.startswith("On ") and "you return to A" in history.sentence
    assert history.timeline[0][1] == 1000 and history.timeline[-1][1] == 800
    plain = points_chart([(TODAY, 1000, "A")], scheme=rulebook.scheme, start=TODAY,
                         as_of=TODAY, end=TODAY + timedelta(days=1))
    assert plain.markers == () and plain.bands
