"""Points over time and the changes ahead."""

from __future__ import annotations

from datetime import date, timedelta

from app.rulebook import InForce, RulebookTimeline
from app.standing import evaluate, next_changes, points_timeline
from app.standing.model import Dispute

from .factories import d, make_measure, make_record, make_rule, make_rulebook, make_subject

VOL = make_rule("VOL-HOURS", points=1, expires_after="1y")
TAMPER = make_rule("UTIL-HEAT-TAMPER", points=-50, expires_after="2y")
MINOR = make_rule("MINOR", points=-5, expires_after="1y")
RULEBOOK = make_rulebook(rules=(VOL, TAMPER, MINOR), requires_consent=True)

RECORDS = [
    make_record(VOL, d("2026-03-01")),
    make_record(TAMPER, d("2025-03-04")),
    make_record(MINOR, d("2026-03-04")),
    make_record(MINOR, d("2026-04-01"), voided=True),
]


def test_points_timeline_lists_each_change():
    timeline = points_timeline(
        subject=make_subject(),
        records=RECORDS,
        rulebook=RULEBOOK,
        start=d("2025-01-01"),
        end=d("2027-12-31"),
    )
    assert timeline == [
        (d("2025-01-01"), 1000, "A"),
        (d("2025-03-04"), 950, "B"),
        (d("2026-03-01"), 951, "B"),
        (d("2026-03-04"), 946, "B"),
        (d("2027-03-01"), 945, "B"),
        (d("2027-03-04"), 1000, "A"),
    ]


def test_points_timeline_starts_with_the_points_on_start_and_stops_at_end():
    timeline = points_timeline(
        subject=make_subject(),
        records=RECORDS,
        rulebook=RULEBOOK,
        start=d("2026-03-02"),
        end=d("2027-03-03"),
    )
    assert timeline == [
        (d("2026-03-02"), 951, "B"),
        (d("2026-03-04"), 946, "B"),
        (d("2027-03-01"), 945, "B"),
    ]


def test_next_changes_name_the_lapsing_records_and_where_they_lead():
    changes = next_changes(
        subject=make_subject(), records=RECORDS, rulebook=RULEBOOK, as_of=d("2026-06-01")
    )
    assert [(c.on, c.points, c.tier) for c in changes] == [
        (d("2027-03-01"), 945, "B"),
        (d("2027-03-04"), 1000, "A"),
    ]
    last = changes[-1]
    assert [r.rule_code for r in last.ending] == ["UTIL-HEAT-TAMPER", "MINOR"]
    assert last.describe() == (
        "On 2027-03-04 2 records (UTIL-HEAT-TAMPER, MINOR) stop counting: "
        "points 945 → 1000, tier B → A."
    )
    assert changes[0].describe() == (
        "On 2027-03-01 1 record (VOL-HOURS) stops counting: points 946 → 945."
    )


def test_next_changes_limit_and_horizon():
    kwargs = {"subject": make_subject(), "records": RECORDS, "rulebook": RULEBOOK}
    assert len(next_changes(**kwargs, as_of=d("2026-06-01"), limit=1)) == 1
    assert next_changes(**kwargs, as_of=d("2026-06-01"), until=d("2027-03-03"))[-1].on == d(
        "2027-03-01"
    )
    assert next_changes(**kwargs, as_of=d("2027-03-04")) == []


def test_a_suspended_record_has_no_known_return_date():
    record = make_record(TAMPER, d("2026-01-01"), disputes=(Dispute(d("2026-02-01")),))
    changes = next_changes(
        subject=make_subject(), records=[record], rulebook=RULEBOOK, as_of=d("2026-03-01")
    )
    assert changes == []


def test_no_timeline_without_consent_when_the_scheme_requires_it():
    subject = make_subject(consent=False)
    kwargs = {"subject": subject, "records": RECORDS, "rulebook": RULEBOOK}
    assert points_timeline(**kwargs, start=d("2025-01-01"), end=d("2027-12-31")) == []
    assert next_changes(**kwargs, as_of=d("2026-06-01")) == []


def test_a_notice_run_goes_on_across_a_change_while_the_old_condition_held():
    """Under the new rulebook the condition holds only from the change's first day (a
    record of that day), but under the old one it held on the days before: the run, and
    the notice period, go on across the change."""
    change = date(2025, 3, 1)
    fine = make_rule(points=-50)
    ban = make_measure(tiers=("B",), notice="7d")
    old = make_rulebook(rules=(fine,), measures=(ban,), fingerprint="old")
    new = make_rulebook(rules=(fine,), measures=(ban,), starting_points=1015, fingerprint="new")
    records = [make_record(fine, change - timedelta(days=20)),
               make_record(fine, change, points=-10)]
    timeline = RulebookTimeline([InForce(date(2020, 1, 1), old), InForce(change, new)])
    standing = evaluate(subject=make_subject(), records=records, list_entries=(), rulebook=new,
                        as_of=change, timeline=timeline)
    assert standing.tier is not None and standing.tier.code == "B"  # 1015 - 50 - 10
    assert [(m.measure.code, m.since) for m in standing.measures] == [
        ("TENDER-BAN", change - timedelta(days=13))]  # held since 9 February under the old
