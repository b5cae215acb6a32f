"""The rulebook in force on each day: a rulebook put in force answers from its first day on,
never before, on both paths (the evaluator and the nightly SQL), and a measure it switches on
starts its full notice period on that first day."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from app.db import session_scope
from app.models import AuditEvent, Notice, Standing, StandingMeasure
from app.rulebook import RulebookTimeline, load_rulebook
from app.rulebook.timeline import InForce, first_day
from app.services.due_process.notices import send_nightly_notices
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from app.services.rulebooks.history import IN_FORCE, record_event
from app.services.rulebooks.in_force import in_force_on
from app.services.rulebooks.registry import EXTENSION_KEY, store_rulebook
from app.services.standings.facts import standing_for
from app.services.standings.recompute import recompute
from app.services.transaction import transaction
from app.standing import standing_to_json
from tests.conftest import TEST_RULES

FIRST_PUT = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
TICKET_DAY = date(2026, 1, 10)
CHANGE_PUT = datetime(2026, 2, 1, 20, 30, tzinfo=UTC)  # 2 February in the city
CHANGE_DAY = date(2026, 2, 2)
BEFORE = CHANGE_DAY - timedelta(days=1)


def _changed_rules(tmp_path: Path, *, in_force_from: str | None = None):
    """The test rulebook with tier A's minimum raised (995 points is B there) and the tender
    ban switched on by tier B as well, after its 7 days' notice."""
    rules = tmp_path / "rules"
    shutil.copytree(TEST_RULES, rules)
    scheme = rules / "scheme.yaml"
    text = scheme.read_text().replace("{code: A, min: 960}", "{code: A, min: 1000}")
    if in_force_from:
        text += f"in_force_from: {in_force_from}\n"
    scheme.write_text(text)
    measures = rules / "measures.yaml"
    measures.write_text(measures.read_text().replace(
        "when: {tiers: [D], lists: [court-defaulters]}",
        "when: {tiers: [B, D], lists: [court-defaulters]}"))
    return load_rulebook(str(rules))


def _put_in_force(app, rulebook, moment: datetime) -> None:
    with time_machine.travel(moment, tick=False), app.app_context(), \
            session_scope(app) as s, transaction(s):
        store_rulebook(s, rulebook, loaded_by="author", source="test")
        record_event(s, action=IN_FORCE, actor="author", fingerprint=rulebook.fingerprint)


@pytest.fixture
def history(app, make_subject):
    """A subject at 995 points from 10 January under the first rulebook (tier A)."""
    with time_machine.travel(FIRST_PUT, tick=False), app.app_context():
        first = app.extensions[EXTENSION_KEY].current()  # put in force on 5 January
        with session_scope(app) as s:
            subject = make_subject(s).subject_id
            record_conduct(s, RecordDraft(subject_id=subject, rule_code="TRAFFIC-TICKET",
                                          occurred_on=TICKET_DAY),
                           rulebook=first, department="traffic-police", recorded_by="t",
                           today=TICKET_DAY)
    return first, subject


def _standing(app, rulebook, subject, day):
    with app.app_context(), session_scope(app) as s:
        return standing_to_json(standing_for(s, rulebook=rulebook, subject_id=subject,
                                             as_of=day))


def _stored(app, rulebook, subject, day):
    with app.app_context(), session_scope(app) as s:
        recompute(s, rulebook=rulebook, as_of=day)
        tier = s.execute(select(Standing.tier).where(Standing.subject_id == subject)).scalar()
        measures = s.execute(select(StandingMeasure.measure_code)
                             .where(StandingMeasure.subject_id == subject)).scalars().all()
    return tier, sorted(measures)


def test_timeline_picks_the_rulebook_of_each_day(history, tmp_path):
    first, _ = history
    second = _changed_rules(tmp_path, in_force_from="2026-03-01")
    assert first_day(second, put_in_force_on=CHANGE_DAY) == date(2026, 3, 1)
    assert first_day(first, put_in_force_on=CHANGE_DAY) == CHANGE_DAY
    timeline = RulebookTimeline([InForce(date(2026, 1, 5), first),
                                 InForce(date(2026, 3, 1), second)])
    assert timeline.on(date(2025, 1, 1)) is first  # before anything known: the first
    assert timeline.on(date(2026, 2, 28)) is first and timeline.on(date(2026, 3, 1)) is second
    assert timeline.after(CHANGE_DAY) == (timeline.entries[1],)
    assert [(a, b) for a, b, _ in timeline.eras(date(2026, 2, 27), date(2026, 3, 3))] == [
        (date(2026, 2, 27), date(2026, 3, 1)), (date(2026, 3, 1), date(2026, 3, 3))]
    later = timeline.with_entry(InForce(date(2026, 3, 1), first))  # same day: the later wins
    assert later.on(date(2026, 3, 1)) is first and len(later.entries) == 2


def test_a_change_never_rewrites_the_days_before_its_first_day(app, history, tmp_path):
    first, subject = history
    before_change = _standing(app, first, subject, BEFORE)
    assert before_change["tier"] == "A" and before_change["rulebook"] == {
        "fingerprint": first.fingerprint, "in_force_from": "2026-01-05"}
    assert _stored(app, first, subject, BEFORE) == ("A", [])

    second = _changed_rules(tmp_path)
    _put_in_force(app, second, CHANGE_PUT)
    # Asked again after the change, the day before it gives the same answer on both paths.
    assert _standing(app, second, subject, BEFORE) == before_change
    assert _stored(app, second, subject, BEFORE) == ("A", [])
    # From its first day (the city's day of the change) the new rulebook answers.
    on_change = _standing(app, second, subject, CHANGE_DAY)
    assert on_change["tier"] == "B" and on_change["rulebook"] == {
        "fingerprint": second.fingerprint, "in_force_from": CHANGE_DAY.isoformat()}
    # The ban's condition held under the new rulebook since 10 January, but only from the
    # change on under the rulebook of each day: its full notice starts on the first day.
    assert on_change["measures"] == []
    assert on_change["pending_measures"] == [{
        "code": "TENDER-BAN", "kind": "restriction", "holds_since": CHANGE_DAY.isoformat(),
        "takes_effect_on": (CHANGE_DAY + timedelta(days=7)).isoformat()}]
    assert _stored(app, second, subject, CHANGE_DAY) == ("B", [])
    with app.app_context(), session_scope(app) as s:  # the nightly notices of the first day
        send_nightly_notices(s, rulebook=second, as_of=CHANGE_DAY)
        keys = s.execute(select(Notice.dedupe_key).where(
            Notice.kind == "measure_pending")).scalars().all()
    assert keys == [f"measure_pending:{subject}:TENDER-BAN:{CHANGE_DAY.isoformat()}"]
    week_on = CHANGE_DAY + timedelta(days=7)
    assert _standing(app, second, subject, week_on)["measures"] == [
        {"code": "TENDER-BAN", "kind": "restriction", "since": week_on.isoformat()}]
    assert _stored(app, second, subject, week_on) == ("B", ["TENDER-BAN"])
    assert _stored(app, second, subject, week_on - timedelta(days=1)) == ("B", [])


def test_a_rulebook_with_a_later_first_day_waits_for_it(app, history, tmp_path):
    first, subject = history
    second = _changed_rules(tmp_path, in_force_from="2026-03-01")
    _put_in_force(app, second, CHANGE_PUT)
    assert _standing(app, second, subject, date(2026, 2, 28))["tier"] == "A"
    assert _stored(app, second, subject, date(2026, 2, 28)) == ("A", [])
    on_day = _standing(app, second, subject, date(2026, 3, 1))
    assert on_day["tier"] == "B" and on_day["rulebook"]["in_force_from"] == "2026-03-01"
    assert _stored(app, second, subject, date(2026, 3, 1)) == ("B", [])


def test_nightly_incremental_runs_switch_on_the_first_day(app, history, tmp_path):
    first, subject = history
    with app.app_context(), session_scope(app) as s:
        recompute(s, rulebook=first, as_of=date(2026, 1, 30))
    second = _changed_rules(tmp_path)
    _put_in_force(app, second, CHANGE_PUT)
    seen = {}
    day = date(2026, 1, 31)
    while day <= CHANGE_DAY + timedelta(days=8):
        with app.app_context(), session_scope(app) as s:
            summary = recompute(s, rulebook=second, as_of=day, incremental=True)
            seen[day] = (summary.scope, s.execute(
                select(Standing.tier).where(Standing.subject_id == subject)).scalar(),
                s.execute(select(StandingMeasure.measure_code)
                          .where(StandingMeasure.subject_id == subject)).scalars().all())
        day += timedelta(days=1)
    assert seen[BEFORE] == ("incremental", "A", [])
    assert seen[CHANGE_DAY] == ("full", "B", [])  # a new rulebook: every subject
    assert seen[CHANGE_DAY + timedelta(days=6)] == ("incremental", "B", [])
    assert seen[CHANGE_DAY + timedelta(days=7)] == ("incremental", "B", ["TENDER-BAN"])


def _reload(app, rules_dir: Path, moment: datetime):
    registry = app.extensions[EXTENSION_KEY]
    registry.rules_dir = str(rules_dir)
    with time_machine.travel(moment, tick=False), app.app_context():
        # The changed rules carry no rule tests: put in force as an admin's decision.
        return registry.reload(loaded_by="author", without_tests=True)


def test_scheduling_refuses_a_past_day_and_a_taken_day_with_file_and_line(app, history,
                                                                          tmp_path):
    first, _ = history
    _changed_rules(tmp_path / "past", in_force_from="2026-02-01")
    state = _reload(app, tmp_path / "past" / "rules", CHANGE_PUT)  # the city is on 2 February
    assert [str(p) for p in state.problems] == [
        "scheme.yaml:14: in_force_from 2026-02-01 is in the past (today is 2026-02-02 in the "
        "city): a rulebook takes effect today at the earliest; name a later day or remove the "
        "key"]
    assert state.rulebook.fingerprint == first.fingerprint  # the rulebook in force stays
    coming = _changed_rules(tmp_path / "coming", in_force_from="2026-03-01")
    assert not _reload(app, tmp_path / "coming" / "rules", CHANGE_PUT).problems
    other = tmp_path / "other"
    _changed_rules(other, in_force_from="2026-03-01")
    scheme = other / "rules" / "scheme.yaml"
    scheme.write_text(scheme.read_text().replace("min: 1050", "min: 1060"))
    state = _reload(app, other / "rules", CHANGE_PUT)
    assert [str(p) for p in state.problems] == [
        f"scheme.yaml:14: rulebook {coming.fingerprint[:12]} is already scheduled for "
        f"2026-03-01; cancel it first (flask --app app rules cancel {coming.fingerprint[:12]}) "
        "or name another day"]


def test_a_scheduled_rulebook_is_announced_and_can_be_cancelled(app, client, runner, history,
                                                               tmp_path):
    first, subject = history
    coming = _changed_rules(tmp_path, in_force_from="2026-03-01")
    with time_machine.travel(CHANGE_PUT, tick=False):
        state = _reload(app, tmp_path / "rules", CHANGE_PUT)
        assert not state.problems and state.rulebook.fingerprint == coming.fingerprint
        with app.app_context():
            assert app.extensions[EXTENSION_KEY].in_force_today().fingerprint == \
                first.fingerprint  # scheduled, not applied
        body = client.get("/api/v1/rulebook").get_json()
        assert body["fingerprint"] == first.fingerprint
        assert [(c["fingerprint"], c["in_force_from"]) for c in body["scheduled"]] == [
            (coming.fingerprint, "2026-03-01")]
        assert body["scheduled"][0]["changes"][0] == "tier A: min 960 → 1000"
        assert body["scheduled"][0]["change_data"][0] == {
            "code": "tier_min", "values": {"tier": "A", "before": 960, "after": 1000}}
        # The public scheme page words the same change in its reader's language.
        assert "tier A: min 960 → 1000" in client.get("/scheme").get_data(as_text=True)
        zh = client.get("/scheme", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
        assert "等级 A：最低分 960 → 1000" in zh and "tier A: min" not in zh
        listed = runner.invoke(args=["rules", "scheduled"])
        assert f"{coming.fingerprint[:12]}  from 2026-03-01" in listed.output
        done = runner.invoke(args=["rules", "cancel", coming.fingerprint[:12], "--as", "author"])
        assert done.exit_code == 0, done.output
        again = runner.invoke(args=["rules", "cancel", coming.fingerprint[:12]])
        assert again.exit_code == 1 and "no rulebook" in again.output
        assert client.get("/api/v1/rulebook").get_json()["scheduled"] == []
    with app.app_context(), session_scope(app) as s:
        actions = s.execute(select(AuditEvent.action, AuditEvent.actor)).all()
    assert ("rulebook.cancel", "author") in actions
    # Cancelled before its first day, it never comes into force.
    assert _standing(app, first, subject, date(2026, 3, 1))["tier"] == "A"
    assert _stored(app, first, subject, date(2026, 3, 1)) == ("A", [])


def test_putting_in_force_scheduling_and_cancelling_are_each_audited(app, runner, history,
                                                                    tmp_path):
    first, _ = history
    coming = _changed_rules(tmp_path, in_force_from="2026-03-01")
    with time_machine.travel(CHANGE_PUT, tick=False):
        assert not _reload(app, tmp_path / "rules", CHANGE_PUT).problems
        _reload(app, tmp_path / "rules", CHANGE_PUT)  # the same again: nothing new to audit
        done = runner.invoke(args=["rules", "cancel", coming.fingerprint[:12], "--as", "author"])
        assert done.exit_code == 0, done.output
    with app.app_context(), session_scope(app) as s:
        events = [(e.action, json.loads(e.details)) for e in s.execute(
            select(AuditEvent).where(AuditEvent.action.in_(
                ("rulebook.in_force", "rulebook.schedule", "rulebook.cancel")))
            .order_by(AuditEvent.id)).scalars()]
    assert [(action, d["fingerprint"], d["in_force_from"]) for action, d in events] == [
        ("rulebook.in_force", first.fingerprint, "2026-01-05"),
        ("rulebook.schedule", coming.fingerprint, "2026-03-01"),
        ("rulebook.cancel", coming.fingerprint, "2026-03-01")]
    assert events[1][1]["previous"] == first.fingerprint
    # The registry still holds the cancelled rulebook (the last one loaded): asked for the
    # rulebook in force on its would-be first day, the timeline answers the one before.
    with app.app_context(), session_scope(app) as s:
        assert in_force_on(s, coming, date(2026, 3, 1)).fingerprint == first.fingerprint


def test_the_subjects_a_scheduled_rulebook_will_move_are_told_when_it_is_scheduled(
        app, history, tmp_path, make_subject):
    first, subject = history
    with app.app_context(), session_scope(app) as s:
        untouched = make_subject(s).subject_id  # at 1000 points: tier A before and after
    coming = _changed_rules(tmp_path, in_force_from="2026-03-01")
    assert not _reload(app, tmp_path / "rules", CHANGE_PUT).problems
    assert not _reload(app, tmp_path / "rules", CHANGE_PUT).problems  # no second notice
    with app.app_context(), session_scope(app) as s:
        notices = s.execute(select(Notice).where(Notice.kind == "rulebook_change")).scalars().all()
        audited = s.execute(select(AuditEvent.details)
                            .where(AuditEvent.action == "notices.rulebook")).scalars().all()
    assert [n.subject_id for n in notices] == [subject]
    assert untouched not in {n.subject_id for n in notices}
    notice = notices[0]
    assert notice.title == "The scheme's rules change on 2026-03-01: your standing will change"
    assert notice.notified_on == CHANGE_DAY  # told on the day it was scheduled, before it bites
    assert f"a new rulebook ({coming.fingerprint[:12]})" in notice.body
    assert "- your tier moves from A to B" in notice.body
    assert "- tier A: min 960 → 1000" in notice.body
    assert [json.loads(d)["made"] for d in audited] == [1]
    # The rulebook in force today is unchanged: the notice announces, it does not apply.
    assert _standing(app, first, subject, CHANGE_DAY)["tier"] == "A"


def test_the_timeline_kept_by_the_process_follows_a_rulebook_put_in_force_later(
        app, history, tmp_path):
    """The timeline is built once per process for the events in force (in_force._TIMELINES):
    a rulebook put in force after that, by any process, counts at the next call made with
    the very same rulebook object."""
    first, subject = history
    before = _standing(app, first, subject, CHANGE_DAY)  # builds and keeps the timeline
    assert before["rulebook"]["fingerprint"] == first.fingerprint and before["tier"] == "A"
    assert _standing(app, first, subject, CHANGE_DAY) == before  # from what it kept
    second = _changed_rules(tmp_path)
    _put_in_force(app, second, CHANGE_PUT)
    after = _standing(app, first, subject, CHANGE_DAY)
    assert after["rulebook"] == {"fingerprint": second.fingerprint,
                                 "in_force_from": CHANGE_DAY.isoformat()}
    assert after["tier"] == "B"
    assert _standing(app, first, subject, BEFORE)["rulebook"]["fingerprint"] == \
        first.fingerprint
