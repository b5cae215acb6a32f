"""Fixing a new record's points: repeat escalation, then the per-period cap."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.standing import fix_points
from app.standing.model import PriorRecord

from .factories import d, make_rule

SPEEDING = make_rule("TRAFFIC-SPEED", points=-5, expires_after="1y", repeat=("1y", 2))
VOLUNTEERING = make_rule("VOL-HOURS", points=1, expires_after="1y", cap=(20, "year"))


def prior(day: str, points: int) -> PriorRecord:
    return PriorRecord(occurred_on=d(day), points=points)


def test_plain_rule_gets_its_points_and_no_note():
    fixed = fix_points(rule=make_rule(points=-50), occurred_on=d("2026-03-01"), prior=[])
    assert (fixed.points, fixed.base_points, fixed.factor, fixed.note) == (-50, -50, 1, "")


def test_first_record_of_a_repeat_rule_is_not_escalated():
    fixed = fix_points(rule=SPEEDING, occurred_on=d("2026-03-01"), prior=[])
    assert (fixed.points, fixed.factor, fixed.note) == (-5, 1, "")


def test_repeat_window_includes_its_first_day():
    fixed = fix_points(rule=SPEEDING, occurred_on=d("2026-03-01"), prior=[prior("2025-03-01", -5)])
    assert (fixed.points, fixed.factor) == (-10, 2)
    assert fixed.note == "repeat within 1y: 2 × -5 = -10"


def test_repeat_window_excludes_the_day_before():
    fixed = fix_points(rule=SPEEDING, occurred_on=d("2026-03-01"), prior=[prior("2025-02-28", -5)])
    assert (fixed.points, fixed.factor, fixed.note) == (-5, 1, "")


def test_repeat_window_includes_the_same_day():
    fixed = fix_points(rule=SPEEDING, occurred_on=d("2026-03-01"), prior=[prior("2026-03-01", -5)])
    assert fixed.points == -10


def test_a_later_prior_does_not_make_an_earlier_conduct_a_repeat():
    fixed = fix_points(rule=SPEEDING, occurred_on=d("2026-03-01"), prior=[prior("2026-03-02", -5)])
    assert fixed.points == -5


def test_repeat_does_not_compound():
    priors = [prior("2025-06-01", -5), prior("2025-09-01", -10), prior("2026-01-01", -10)]
    fixed = fix_points(rule=SPEEDING, occurred_on=d("2026-03-01"), prior=priors)
    assert (fixed.points, fixed.factor) == (-10, 2)


def test_repeat_counts_a_prior_that_was_capped_to_zero():
    rule = make_rule("X", points=-5, repeat=("30d", 3))
    fixed = fix_points(rule=rule, occurred_on=d("2026-03-31"), prior=[prior("2026-03-01", 0)])
    assert fixed.points == -15


def test_repeat_window_in_months_clamps_to_month_end():
    rule = make_rule("X", points=-5, repeat=("1m", 2))
    # 2026-03-31 - 1m = 2026-02-28
    assert (
        fix_points(rule=rule, occurred_on=d("2026-03-31"), prior=[prior("2026-02-28", -5)]).factor
        == 2
    )
    assert (
        fix_points(rule=rule, occurred_on=d("2026-03-31"), prior=[prior("2026-02-27", -5)]).factor
        == 1
    )


def test_cap_per_year_reduces_the_crossing_record():
    priors = [prior("2026-01-10", 10), prior("2026-02-10", 9)]
    rule = make_rule("VOL-HOURS", points=2, cap=(20, "year"))
    fixed = fix_points(rule=rule, occurred_on=d("2026-03-01"), prior=priors)
    assert fixed.points == 1
    assert fixed.note == "capped: 19 of 20 points for 2026 already used; -> 1 instead of 2"


def test_cap_reached_gives_zero_and_says_so():
    priors = [prior(f"2026-01-{day:02d}", 1) for day in range(1, 21)]
    fixed = fix_points(rule=VOLUNTEERING, occurred_on=d("2026-03-01"), prior=priors)
    assert fixed.points == 0
    assert fixed.note == "capped: 20 of 20 points for 2026 already used; -> 0 instead of 1"


def test_cap_ignores_other_years_at_the_boundary():
    priors = [prior("2025-12-31", 20)]
    assert fix_points(rule=VOLUNTEERING, occurred_on=d("2026-01-01"), prior=priors).points == 1
    priors = [prior("2026-01-01", 20)]
    assert fix_points(rule=VOLUNTEERING, occurred_on=d("2026-12-31"), prior=priors).points == 0


def test_cap_counts_records_later_in_the_same_period():
    priors = [prior("2026-11-01", 20)]
    assert fix_points(rule=VOLUNTEERING, occurred_on=d("2026-02-01"), prior=priors).points == 0


def test_cap_per_month():
    rule = make_rule("ARREARS", points=-10, cap=(25, "month"))
    priors = [prior("2026-02-28", -10), prior("2026-03-01", -10), prior("2026-03-31", -10)]
    fixed = fix_points(rule=rule, occurred_on=d("2026-03-15"), prior=priors)
    assert fixed.points == -5
    assert fixed.note == "capped: 20 of 25 points for 2026-03 already used; -> -5 instead of -10"
    fixed = fix_points(rule=rule, occurred_on=d("2026-04-01"), prior=priors)
    assert (fixed.points, fixed.note) == (-10, "")


def test_zero_point_priors_use_nothing_of_the_cap():
    priors = [prior("2026-01-01", 20), prior("2026-01-02", 0)]
    rule = make_rule("VOL-HOURS", points=1, cap=(21, "year"))
    assert fix_points(rule=rule, occurred_on=d("2026-03-01"), prior=priors).points == 1


def test_zero_point_rule_is_never_capped():
    rule = make_rule("WARNING", points=0, cap=(1, "year"))
    fixed = fix_points(rule=rule, occurred_on=d("2026-03-01"), prior=[prior("2026-01-01", 0)])
    assert (fixed.points, fixed.note) == (0, "")


def test_cap_applies_after_repeat():
    rule = make_rule("X", points=-5, repeat=("1y", 2), cap=(12, "year"))
    fixed = fix_points(rule=rule, occurred_on=d("2026-03-01"), prior=[prior("2026-01-01", -5)])
    assert (fixed.points, fixed.factor) == (-7, 2)
    assert fixed.note == (
        "repeat within 1y: 2 × -5 = -10; "
        "capped: 5 of 12 points for 2026 already used; -> -7 instead of -10"
    )


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=730), min_size=1, max_size=40),
    points=st.integers(min_value=-30, max_value=30).filter(bool),
    cap=st.integers(min_value=1, max_value=60),
    per=st.sampled_from(["year", "month"]),
    factor=st.integers(min_value=2, max_value=4),
)
def test_records_made_one_by_one_never_exceed_the_cap(offsets, points, cap, per, factor):
    rule = make_rule("X", points=points, cap=(cap, per), repeat=("30d", factor))
    stored: list[PriorRecord] = []
    for offset in offsets:  # recorded in this order, whatever their conduct dates
        day = date(2025, 1, 1) + timedelta(days=offset)
        fixed = fix_points(rule=rule, occurred_on=day, prior=stored)
        assert abs(fixed.points) <= abs(points) * factor
        assert fixed.points == 0 or (fixed.points > 0) == (points > 0)
        stored.append(PriorRecord(occurred_on=day, points=fixed.points))
    periods: dict[tuple[int, int], int] = {}
    for record in stored:
        key = (record.occurred_on.year, record.occurred_on.month if per == "month" else 0)
        periods[key] = periods.get(key, 0) + abs(record.points)
    assert all(total <= cap for total in periods.values())
