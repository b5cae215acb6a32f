"""Rankings from the stored standings: tier distribution and its change since a month ago,
villages by share of A-and-above, departments, the honour roll; and the dashboard figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from app.models import Objection, Run, Standing
from app.services.due_process.objections import decide_objection, file_objection
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from app.services.reports.dashboard import (
    ending_per_list,
    entries_ending,
    objection_summary,
    records_per_day,
    run_status,
)
from app.services.reports.rankings import (
    NOT_SCORED,
    a_and_above,
    by_objections_upheld,
    department_ranking,
    honour_roll,
    reference_run,
    tier_distributions,
    village_ranking,
)
from app.services.standings.recompute import recompute


def _record(session, rulebook, subject, code, day, today, department="traffic-police"):
    return record_conduct(
        session, RecordDraft(subject_id=subject, rule_code=code, occurred_on=day),
        rulebook=rulebook, department=department, recorded_by=f"rec-{department}",
        today=today).record


@pytest.fixture
def city(session, rulebook, make_subject, today):
    """Four subjects in two villages, a run 40 days ago (all A), then conduct, a new subject
    and a run today: Dongshan has one C and one A, Xishan one B and two A (one new)."""
    s = {name: make_subject(session, name=name, district="Yatou", village=village).subject_id
         for name, village in (("s1", "Dongshan"), ("s2", "Dongshan"), ("s3", "Xishan"),
                               ("s4", "Xishan"))}
    recompute(session, rulebook=rulebook, as_of=today - timedelta(days=40))
    _record(session, rulebook, s["s1"], "DRUNK-DRIVING", today - timedelta(days=10), today)
    _record(session, rulebook, s["s3"], "HEAT-TAMPER", today - timedelta(days=5), today,
            department="heating-company")
    s["s5"] = make_subject(session, name="s5", district="Yatou", village="Xishan").subject_id
    recompute(session, rulebook=rulebook, as_of=today)
    return s


def test_distribution_now_and_a_month_ago(session, rulebook, city, today):
    dists = tier_distributions(session, rulebook=rulebook)
    assert dists.as_of == today
    assert dists.reference is not None and dists.reference.as_of == today - timedelta(days=40)
    overall = dists.overall
    assert overall.now == {"A": 3, "B": 1, "C": 1}
    assert overall.then == {"A": 4}  # s5 had no standing then: left out
    assert (overall.change("A"), overall.change("B"), overall.change("C")) == (-1, 1, 1)
    assert [(d.district, d.total) for d in dists.districts] == [("Yatou", 5)]
    villages = {v.village: v for v in dists.villages}
    assert villages["Dongshan"].now == {"A": 1, "C": 1}
    assert villages["Dongshan"].then == {"A": 2}
    assert villages["Xishan"].now == {"A": 2, "B": 1}
    assert villages["Xishan"].then == {"A": 2}
    assert dists.tiers[-1] == NOT_SCORED


def test_no_change_without_a_run_a_month_old(session, rulebook, make_subject, today):
    make_subject(session, village="Dongshan")
    assert tier_distributions(session, rulebook=rulebook).as_of is None  # no run yet
    recompute(session, rulebook=rulebook, as_of=today)
    dists = tier_distributions(session, rulebook=rulebook)
    assert dists.reference is None and dists.overall.now == {"A": 1} and dists.overall.then == {}
    assert reference_run(session, as_of=today) is None


def test_month_ago_is_the_tier_after_the_reference_run(session, rulebook, city, today):
    """A subject that changed twice since counts with its first change's from_tier."""
    _record(session, rulebook, city["s2"], "HEAT-TAMPER", today - timedelta(days=1), today,
            department="heating-company")
    recompute(session, rulebook=rulebook, as_of=today + timedelta(days=1))  # s2 A -> B
    _record(session, rulebook, city["s2"], "DRUNK-DRIVING", today, today)
    recompute(session, rulebook=rulebook, as_of=today + timedelta(days=2))  # s2 B -> C
    dists = tier_distributions(session, rulebook=rulebook)
    assert dists.overall.now == {"A": 2, "B": 1, "C": 2}
    assert dists.overall.then == {"A": 4}


def test_a_failed_run_is_never_the_reference(session, rulebook, city, today):
    session.execute(update(Run).values(status="failed"))
    session.commit()
    assert reference_run(session, as_of=today) is None


def test_district_filter_narrows_the_villages_only(session, rulebook, city, make_subject, today):
    make_subject(session, district="Renhe Town", village="Renhe")
    recompute(session, rulebook=rulebook, as_of=today)
    dists = tier_distributions(session, rulebook=rulebook, district="Renhe Town")
    assert [v.village for v in dists.villages] == ["Renhe"]
    assert dists.overall.total == 6 and len(dists.districts) == 2


def test_villages_ranked_by_share_of_a_and_above(session, rulebook, city):
    top = a_and_above(rulebook)
    assert top == ("AAA", "AA", "A")
    ranked = village_ranking(tier_distributions(session, rulebook=rulebook), top)
    assert [(r.rank, r.place.village, r.count, r.scored) for r in ranked] == \
        [(1, "Xishan", 2, 3), (2, "Dongshan", 1, 2)]
    assert ranked[0].share == pytest.approx(2 / 3)
    assert ranked[1].share_then == 1.0


def test_unscored_subjects_are_left_out_of_the_share(session, rulebook, city, today):
    session.execute(update(Standing).where(Standing.subject_id == city["s2"])
                    .values(tier=None, points=None))
    session.commit()
    dists = tier_distributions(session, rulebook=rulebook)
    assert dists.overall.now[NOT_SCORED] == 1
    ranked = {r.place.village: r for r in village_ranking(dists, a_and_above(rulebook))}
    assert ranked["Dongshan"].scored == 1 and ranked["Dongshan"].share == 0.0


def test_departments_by_records_and_objections_upheld(session, rulebook, city, today):
    ticket = _record(session, rulebook, city["s4"], "TRAFFIC-TICKET", today, today)
    _record(session, rulebook, city["s2"], "TRAFFIC-TICKET", today, today)
    objection = file_objection(session, rulebook=rulebook, subject_id=city["s4"],
                               record_id=ticket.id, reason="not me", actor="s4", today=today)
    decide_objection(session, rulebook=rulebook, objection_id=objection.id, outcome="annulled",
                     reason="the camera was wrong", reviewer="a-reviewer", today=today)
    rows = department_ranking(session, rulebook=rulebook, since=today - timedelta(days=30),
                              until=today)
    by_code = {r.code: r for r in rows}
    assert rows[0].code == "traffic-police" and rows[0].records == 3
    assert by_code["heating-company"].records == 1
    assert by_code["court"].records == 0
    assert (by_code["traffic-police"].decided, by_code["traffic-police"].annulled) == (1, 1)
    assert by_code["traffic-police"].annulled_share == 1.0
    assert by_objections_upheld(rows)[0].code == "traffic-police"
    earlier = department_ranking(session, rulebook=rulebook, since=today - timedelta(days=400),
                                 until=today - timedelta(days=1))
    assert sum(r.records for r in earlier) == 0  # entered today, not before


def test_honour_roll_needs_consent_and_top_tier_or_public_redlist(
        session, rulebook, make_subject, today):
    top = make_subject(session, name="Top Consenting")
    shy = make_subject(session, name="Top Not Consenting", consent=False)
    red = make_subject(session, name="Model Citizen")
    plain = make_subject(session, name="Plain Citizen")
    recompute(session, rulebook=rulebook, as_of=today)
    session.execute(update(Standing).where(Standing.subject_id.in_(
        [top.subject_id, shy.subject_id])).values(tier="AAA", points=1060))
    session.commit()
    enter(
        session, ListEntryDraft(subject_id=red.subject_id, list_code="model-citizens",
                                entered_on=today - timedelta(days=3), decision_ref="(2026) 7"),
        rulebook=rulebook, department="civil-affairs", today=today, actor="t")
    enter(
        session, ListEntryDraft(subject_id=top.subject_id, list_code="model-citizens",
                                entered_on=today - timedelta(days=3), decision_ref="(2026) 7"),
        rulebook=rulebook, department="civil-affairs", today=today, actor="t")
    entries, total = honour_roll(session, rulebook=rulebook, today=today)
    assert total == 2
    assert [(e.name, e.reasons) for e in entries] == [
        ("Model Citizen", ("model-citizens",)), ("Top Consenting", ("AAA", "model-citizens"))]
    assert plain.name not in {e.name for e in entries}
    page, total = honour_roll(session, rulebook=rulebook, today=today, offset=1, limit=1)
    assert total == 2 and [e.name for e in page] == ["Top Consenting"]


def test_dashboard_figures(session, rulebook, city, today):
    status = run_status(session)
    assert status.latest.status == "ok" and status.latest.tier_changes == 2
    assert status.failures == []
    per_day = records_per_day(session, today=today)
    assert len(per_day.days) == 30 and per_day.days[-1] == today
    assert per_day.on(today) == 2 and per_day.total == 2
    assert set(per_day.departments) == {"traffic-police", "heating-company"}
    assert objection_summary(session, today=today).pending == 0
    ticket = _record(session, rulebook, city["s4"], "TRAFFIC-TICKET", today, today)
    file_objection(session, rulebook=rulebook, subject_id=city["s4"], record_id=ticket.id,
                   reason="not me", actor="s4", today=today)
    session.execute(update(Objection).values(deadline=today - timedelta(days=2)))
    session.commit()
    summary = objection_summary(session, today=today)
    assert (summary.pending, summary.overdue, summary.due_soon) == (1, 1, 0)
    assert summary.oldest_overdue == today - timedelta(days=2)
    entry = enter(
        session, ListEntryDraft(subject_id=city["s2"], list_code="model-citizens",
                                entered_on=today - timedelta(days=350), decision_ref="(2026) 8"),
        rulebook=rulebook, department="civil-affairs", today=today, actor="t").entry
    ending = entries_ending(session, rulebook=rulebook, today=today)
    assert [e.entry.id for e in ending] == [entry.id]
    assert ending[0].ends_on == entry.ends_on
    second = enter(
        session, ListEntryDraft(subject_id=city["s3"], list_code="model-citizens",
                                entered_on=today - timedelta(days=340), decision_ref="(2026) 9"),
        rulebook=rulebook, department="civil-affairs", today=today, actor="t").entry
    # the names shown are cut at `limit`; the count per list is not
    assert [e.entry.id for e in entries_ending(session, rulebook=rulebook, today=today,
                                               limit=1)] == [entry.id]
    assert ending_per_list(session, rulebook=rulebook, today=today) == [("model-citizens", 2)]
    assert second.id != entry.id
    session.add(Run(as_of=today, status="failed", error="disk full"))
    session.commit()
    assert [r.error for r in run_status(session).failures] == ["disk full"]


def test_no_standing_no_rankings(session, rulebook, today):
    session.execute(delete(Standing))
    session.commit()
    dists = tier_distributions(session, rulebook=rulebook)
    assert dists.as_of is None and village_ranking(dists, ("A",)) == []
    assert honour_roll(session, rulebook=rulebook, today=today) == ([], 0)


def test_the_distribution_is_kept_per_run_and_follows_the_next_one(session, rulebook, city,
                                                                   today):
    first = tier_distributions(session, rulebook=rulebook)
    assert tier_distributions(session, rulebook=rulebook) is first  # same run: kept
    session.rollback()  # a later request's rollback must not spoil the kept figures
    assert first.reference.as_of == today - timedelta(days=40)
    _record(session, rulebook, city["s2"], "DRUNK-DRIVING", today, today)
    recompute(session, rulebook=rulebook, as_of=today)
    second = tier_distributions(session, rulebook=rulebook)
    assert second is not first
    assert second.overall.now != first.overall.now  # s2 fell from A
    assert sum(second.overall.now.values()) == sum(first.overall.now.values())
