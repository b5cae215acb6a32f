"""Lists: entering (checks per field, idempotent), removing, the public page's query, flags
raised and lowered across nightly runs, and file imports (dry run, all or nothing)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, ExternalRefConflict, Forbidden, InvalidInput, NotFound
from app.models import AuditEvent, ListEntry, StandingFlag
from app.services.intake.drafts import ListEntryDraft, read_list_entry
from app.services.lists.entries import (
    enter,
    import_list_entries,
    import_list_entries_file,
    remove_from_list,
)
from app.services.lists.queries import entries_on, flagged_subjects, public_entries
from app.services.standings.recompute import recompute

TODAY = date(2026, 6, 15)


def _enter(session, rulebook, subject_id, department="court", **overrides):
    values = {"list_code": "court-defaulters", "entered_on": TODAY - timedelta(days=10),
              "decision_ref": "(2026) Zhi 1"}
    values.update(overrides)
    return enter(session, ListEntryDraft(subject_id=subject_id, **values), rulebook=rulebook,
                 department=department, today=TODAY, actor="clerk")


def _count(session, model=ListEntry) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _problems(error) -> dict[str, str]:
    return {p.field: p.message for p in error.problems}


def test_enter_names_every_bad_field_at_once(session, rulebook, make_subject):
    subject = make_subject(session)
    with pytest.raises(InvalidInput) as caught:
        enter(
            session, read_list_entry({
                "subject_id": subject.subject_id[:-1] + "Y", "list_code": "court-defaulters",
                "entered_on": "2026-02-30", "ends_on": "soon", "legal_basis": "x" * 2001,
                "decision_ref": ""}),
            rulebook=rulebook, department="court", today=TODAY, actor="clerk")
    problems = _problems(caught.value)
    assert set(problems) == {"subject_id", "entered_on", "ends_on", "decision_ref", "legal_basis"}
    assert "not a date on the calendar" in problems["entered_on"]
    assert "decision reference is empty" in problems["decision_ref"]
    with pytest.raises(InvalidInput) as caught:
        _enter(session, rulebook, subject.subject_id, entered_on=TODAY + timedelta(days=1))
    assert "in the future" in _problems(caught.value)["entered_on"]
    with pytest.raises(InvalidInput) as caught:
        _enter(session, rulebook, subject.subject_id, list_code="blackest-list")
    assert "unknown list" in _problems(caught.value)["list_code"]
    assert _count(session) == 0


def test_enter_is_forbidden_to_other_departments(session, rulebook, make_subject):
    subject = make_subject(session)
    with pytest.raises(Forbidden) as caught:
        _enter(session, rulebook, subject.subject_id, department="traffic-police")
    assert "kept by court" in caught.value.message
    assert _count(session) == 0


def test_enter_sets_the_end_and_is_idempotent_on_external_ref(session, rulebook, make_subject):
    subject = make_subject(session)
    first = _enter(session, rulebook, subject.subject_id, external_ref="CD-1")
    assert first.created
    entry = first.entry
    assert entry.ends_on == date(2028, 6, 5)  # lasts: 2y
    assert entry.created_by == "clerk" and entry.department_code == "court"
    again = _enter(session, rulebook, subject.subject_id, external_ref="CD-1")
    assert not again.created and again.entry.id == entry.id
    with pytest.raises(ExternalRefConflict) as caught:
        _enter(session, rulebook, subject.subject_id, external_ref="CD-1",
               entered_on=TODAY - timedelta(days=1))
    assert caught.value.status == 409
    shorter = _enter(session, rulebook, subject.subject_id, external_ref="CD-2",
                     ends_on=TODAY + timedelta(days=30))
    assert shorter.entry.ends_on == TODAY + timedelta(days=30)
    assert _count(session) == 2
    assert session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "list.enter")).scalar_one() == 2


def test_removal_takes_effect_at_once_and_is_kept(session, rulebook, make_subject):
    subject = make_subject(session)
    entry = _enter(session, rulebook, subject.subject_id).entry
    with pytest.raises(Forbidden):
        remove_from_list(session, rulebook=rulebook, entry_id=entry.id, department="civil-affairs",
                         reason="x", actor="other", today=TODAY)
    with pytest.raises(InvalidInput):
        remove_from_list(session, rulebook=rulebook, entry_id=entry.id, department="court",
                         reason="  ", actor="clerk", today=TODAY)
    with pytest.raises(NotFound):
        remove_from_list(session, rulebook=rulebook, entry_id=entry.id, department="court",
                         reason="paid", actor="clerk", today=TODAY, list_code="model-citizens")
    removed = remove_from_list(session, rulebook=rulebook, entry_id=entry.id, department="court",
                               reason="the debt was paid", actor="judge", today=TODAY)
    assert (removed.removed_on, removed.removed_by, removed.removed_reason) == (
        TODAY, "judge", "the debt was paid")
    assert [e.id for e, _ in entries_on(session, rulebook=rulebook, list_code="court-defaulters",
                                        today=TODAY)] == []
    assert [e.id for e, _ in entries_on(session, rulebook=rulebook, list_code="court-defaulters",
                                        today=TODAY - timedelta(days=1))] == [entry.id]
    with pytest.raises(Conflict):
        remove_from_list(session, rulebook=rulebook, entry_id=entry.id, department="court",
                         reason="again", actor="judge", today=TODAY)
    assert _count(session) == 1


def test_an_entry_that_ended_by_itself_cannot_be_removed(session, rulebook, make_subject):
    subject = make_subject(session)
    old = _enter(session, rulebook, subject.subject_id, list_code="model-citizens",
                 department="civil-affairs", entered_on=TODAY - timedelta(days=400)).entry
    with pytest.raises(Conflict) as caught:
        remove_from_list(session, rulebook=rulebook, entry_id=old.id,
                         department="civil-affairs", reason="x", actor="clerk", today=TODAY)
    assert "ended by itself" in caught.value.message


def test_public_entries_show_only_public_lists_counting_today(session, rulebook, make_subject):
    listed = make_subject(session, name="Listed Debtor")
    paid = make_subject(session, name="Paid Debtor")
    lapsed = make_subject(session, name="Lapsed Citizen")
    watched = make_subject(session, name="Watched Person")
    _enter(session, rulebook, listed.subject_id, legal_basis="Civil Procedure Law")
    gone = _enter(session, rulebook, paid.subject_id).entry
    remove_from_list(session, rulebook=rulebook, entry_id=gone.id, department="court",
                     reason="paid", actor="judge", today=TODAY)
    _enter(session, rulebook, lapsed.subject_id, list_code="model-citizens",
           department="civil-affairs", entered_on=TODAY - timedelta(days=366))
    _enter(session, rulebook, watched.subject_id, list_code="priority-scrutiny")
    page, total = public_entries(session, rulebook=rulebook, today=TODAY)
    assert total == 1
    (shown,) = page
    assert (shown.name, shown.list_code, shown.legal_basis, shown.entered_on, shown.until) == (
        "Listed Debtor", "court-defaulters", "Civil Procedure Law", TODAY - timedelta(days=10),
        date(2028, 6, 5))
    yesterday, _ = public_entries(session, rulebook=rulebook, today=TODAY - timedelta(days=1))
    assert {e.name for e in yesterday} == {"Listed Debtor", "Paid Debtor"}


def test_flags_are_raised_and_lowered_across_runs(session, rulebook, make_subject):
    subject = make_subject(session)
    other = make_subject(session)
    days = [TODAY - timedelta(days=d) for d in (300, 200, 100)]
    for n, day in enumerate(days):
        _enter(session, rulebook, subject.subject_id, list_code="priority-scrutiny",
               department=("court", "traffic-police")[n % 2], entered_on=day,
               decision_ref=f"PS-{n}")
    _enter(session, rulebook, other.subject_id, list_code="priority-scrutiny")

    def flagged(as_of):
        recompute(session, rulebook=rulebook, as_of=as_of)
        rows = session.execute(select(StandingFlag)).scalars()
        return {(f.subject_id, f.flag_code) for f in rows}

    assert flagged(TODAY - timedelta(days=150)) == set()  # two entries only
    assert flagged(TODAY) == {(subject.subject_id, "priority-scrutiny")}  # raised
    found = flagged_subjects(session, rulebook=rulebook)
    assert [(f.subject.subject_id, f.flag_code, f.threshold) for f in found] == [
        (subject.subject_id, "priority-scrutiny", 3)]
    assert [e.entered_on for e in found[0].entries] == days
    assert found[0].as_of == TODAY
    assert flagged(TODAY + timedelta(days=70)) == set()  # the first entry left the window
    assert flagged_subjects(session, rulebook=rulebook) == []
    assert flagged(TODAY) == {(subject.subject_id, "priority-scrutiny")}  # raised again
    remove_from_list(session, rulebook=rulebook, entry_id=found[0].entries[1].id,
                     department="traffic-police", reason="entered in error", actor="officer",
                     today=TODAY)
    assert flagged(TODAY) == set()  # lowered: a removal counts from its day


def _rows(*rows: dict) -> list[ListEntryDraft]:
    return [read_list_entry(row, n + 2) for n, row in enumerate(rows)]


def test_import_is_all_or_nothing_with_a_dry_run(session, rulebook, make_subject):
    a, b = make_subject(session), make_subject(session)
    good = {"subject_id": a.subject_id, "list_code": "court-defaulters",
            "entered_on": "2026-06-01", "decision_ref": "D-1"}
    rows = _rows(good, {"subject_id": b.subject_id, "list_code": "model-citizens",
                        "entered_on": "2026-06-40", "decision_ref": "D-2"},
                 {**good, "decision_ref": "D-3", "subject_id": "123"})
    with pytest.raises(InvalidInput) as caught:
        import_list_entries(session, rows, rulebook=rulebook, department="court",
                            actor="clerk", today=TODAY, name="court.csv")
    where = {(p.row, p.field) for p in caught.value.problems}
    assert where == {(3, "list_code"), (3, "entered_on"), (4, "subject_id")}
    assert _count(session) == 0
    plan = import_list_entries(session, _rows(good), rulebook=rulebook, department="court",
                               dry_run=True, actor="clerk", today=TODAY)
    assert (plan.added, plan.unchanged, len(plan.planned)) == (1, 0, 1)
    assert plan.planned[0]["ends_on"] == date(2028, 6, 1)
    assert _count(session) == 0  # a dry run writes nothing


def test_importing_the_same_file_twice_adds_nothing(session, rulebook, make_subject):
    a, b = make_subject(session), make_subject(session)
    data = ("subject_id,list_code,entered_on,decision_ref,external_ref\n"
            f"{a.subject_id},court-defaulters,2026-06-01,D-1,\n"
            f"{b.subject_id},priority-scrutiny,2026-06-02,D-2,PS-7\n").encode()
    first = import_list_entries_file(session, rulebook=rulebook, department="court", data=data,
                                     name="court.csv", actor="clerk", today=TODAY)
    assert (first.added, first.unchanged) == (2, 0)
    second = import_list_entries_file(session, rulebook=rulebook, department="court", data=data,
                                      name="court.csv", actor="clerk", today=TODAY)
    assert (second.added, second.unchanged) == (0, 2)
    assert _count(session) == 2
    # The same reference with another decision is a refused row (its line and column).
    changed = data.replace(b"D-2,PS-7", b"D-3,PS-7")
    with pytest.raises(InvalidInput) as refused:
        import_list_entries_file(session, rulebook=rulebook, department="court", data=changed,
                                 name="court.csv", actor="clerk", today=TODAY)
    (problem,) = refused.value.problems
    assert (problem.where, problem.field, problem.row) == ("court.csv:3", "external_ref", 3)
    assert "another decision_ref" in problem.message
    assert _count(session) == 2


def test_a_dry_run_stores_nothing_not_even_a_new_rulebook(session, rulebook, make_subject):
    from app.models import RulebookVersion
    from tests.services.test_rulebook_store import _another

    subject = make_subject(session)
    new = _another(rulebook)
    data = ("subject_id,list_code,entered_on,decision_ref\n"
            f"{subject.subject_id},court-defaulters,2026-06-01,D-1\n").encode()
    plan = import_list_entries_file(session, rulebook=new, department="court", data=data,
                                    name="court.csv", actor="clerk", today=TODAY, dry_run=True)
    assert plan.added == 1
    session.rollback()
    assert _count(session) == 0 and _count(session, RulebookVersion) == 1  # the one in force
