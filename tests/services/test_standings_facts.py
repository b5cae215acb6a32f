"""A page that shows one subject several ways reads the subject's facts once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event

from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from app.services.standings.facts import facts_read_once, get_subject, load_facts

TODAY = date(2026, 11, 26)


def _record_reads(session, table: str = "record") -> list[str]:
    seen: list[str] = []
    engine = session.get_bind()

    def before(conn, cursor, statement, *args):
        if f"FROM {table}" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return seen


def test_facts_are_read_once_inside_the_block_and_afresh_outside(session, rulebook,
                                                                  make_subject):
    subject = make_subject(session)
    record_conduct(
        session, RecordDraft(subject_id=subject.subject_id, rule_code="TRAFFIC-TICKET",
                             occurred_on=TODAY),
        rulebook=rulebook, department="traffic-police", recorded_by="officer", today=TODAY)
    reads = _record_reads(session)
    subject = get_subject(session, subject.subject_id)
    with facts_read_once(session):
        first = load_facts(session, subject)
        second = load_facts(session, subject)
        first[0].append("changed by a caller")  # callers get their own lists
        assert load_facts(session, subject) == second
    assert len(reads) == 1
    assert first[0][:-1] == second[0] and [r.points for r in second[0]] == [-5]
    load_facts(session, subject)
    assert len(reads) == 2


def test_the_resident_page_reads_the_facts_once(app, session, rulebook, make_subject):
    from app.services.subject_file.chart import points_over_time
    from app.services.subject_file.standing import open_subject_file

    subject = make_subject(session)
    reads = _record_reads(session)
    with facts_read_once(session):
        open_subject_file(session, rulebook=rulebook, subject_id=subject.subject_id, as_of=TODAY)
        points_over_time(session, rulebook=rulebook, subject_id=subject.subject_id, as_of=TODAY)
    assert len([s for s in reads if "record.subject_id" in s]) == 1


def test_the_rulebooks_in_force_are_read_once_inside_the_block(app, session, rulebook,
                                                                make_subject):
    from app.services.subject_file.chart import points_over_time
    from app.services.subject_file.standing import open_subject_file

    subject = make_subject(session)
    reads = _record_reads(session, "rulebook_event")
    with facts_read_once(session):
        open_subject_file(session, rulebook=rulebook, subject_id=subject.subject_id, as_of=TODAY)
        points_over_time(session, rulebook=rulebook, subject_id=subject.subject_id, as_of=TODAY)
    assert len(reads) == 1
    open_subject_file(session, rulebook=rulebook, subject_id=subject.subject_id, as_of=TODAY)
    assert len(reads) > 1  # outside the block, afresh: another process may have put one in force


def test_the_measure_check_reads_the_rulebooks_in_force_once(session, rulebook, make_subject):
    from app.services.subject_file.standing import check_measure

    subject = make_subject(session)
    code = rulebook.measures[0].code
    reads = _record_reads(session, "rulebook_event")
    check_measure(session, rulebook=rulebook, code=code, subject_id=subject.subject_id,
                  as_of=TODAY, viewer="finance-bureau")
    assert len(reads) == 1
