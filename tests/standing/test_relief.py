"""Relief: a later, milder version applies to records of earlier versions from its `from`
date, keeping their repeat factor; a harsher one never changes them."""

from __future__ import annotations

from dataclasses import replace

from app.standing import evaluate, next_changes, points_timeline, standing_to_json
from app.standing.relief import counted_points, point_steps

from .factories import d, make_measure, make_record, make_rule, make_rulebook, make_subject

V1 = make_rule("TICKET", points=-5, expires_after="1y", effective=(None, d("2023-12-31")))
V2 = replace(make_rule("TICKET", points=-3, expires_after="1y",
                       effective=(d("2024-01-01"), None), version=2), relief=True)
RELIEF_BOOK = make_rulebook(rules=(V1, V2))


def standing(records, as_of, rulebook=RELIEF_BOOK, measures=()):
    book = replace(rulebook, measures=measures) if measures else rulebook
    return evaluate(subject=make_subject(), records=records, list_entries=(), rulebook=book,
                    as_of=d(as_of))


def test_relief_applies_from_its_from_date_and_never_before():
    record = make_record(V1, d("2023-12-20"))
    assert standing([record], "2023-12-31").points == 995  # the past stays as it was
    after = standing([record], "2024-01-01")
    assert after.points == 997
    item = after.records[0]
    assert (item.record.points, item.points, item.relief) == (-5, -3, V2)
    assert "relief under version 2 from 2024-01-01: -5 → -3" in "\n".join(after.explanation)
    assert "- 3  TICKET" in "\n".join(after.explanation)


def test_relief_keeps_the_repeat_factor_fixed_at_recording():
    repeat = replace(make_record(V1, d("2023-12-20")), points=-10, base_points=-5, factor=2)
    assert standing([repeat], "2023-12-25").points == 990
    assert standing([repeat], "2024-02-01").points == 994  # 2 x -3


def test_a_harsher_relief_version_never_applies():
    harsh = replace(V2, points=-8)
    book = make_rulebook(rules=(V1, harsh))
    record = make_record(V1, d("2023-12-20"))
    result = standing([record], "2024-02-01", rulebook=book)
    assert result.points == 995
    assert result.records[0].relief is None
    assert "relief" not in "\n".join(result.explanation)


def test_relief_does_not_touch_records_of_its_own_or_later_versions():
    record = make_record(V2, d("2024-02-01"))
    assert standing([record], "2024-03-01").points == 997
    assert counted_points(record, RELIEF_BOOK, d("2024-03-01")) == (-3, None)


def test_without_relief_a_new_version_changes_nothing():
    book = make_rulebook(rules=(V1, replace(V2, relief=False)))
    record = make_record(V1, d("2023-12-20"))
    assert standing([record], "2024-02-01", rulebook=book).points == 995


def test_the_latest_relief_in_force_applies():
    v2 = replace(V2, effective=replace(V2.effective, until=d("2024-06-30")))
    v3 = replace(make_rule("TICKET", points=-1, expires_after="1y",
                           effective=(d("2024-07-01"), None), version=3), relief=True)
    book = make_rulebook(rules=(V1, v2, v3))
    old = make_record(V1, d("2023-12-20"))
    middle = make_record(v2, d("2024-03-01"))
    assert standing([old], "2024-03-01", rulebook=book).points == 997
    assert standing([old], "2024-07-01", rulebook=book).points == 999
    assert standing([middle], "2024-06-30", rulebook=book).points == 997
    assert standing([middle], "2024-07-01", rulebook=book).points == 999
    assert [(day, pts) for day, pts, _ in point_steps(old, book)][1:] == [
        (d("2024-01-01"), -3), (d("2024-07-01"), -1)]


def test_relief_on_an_addition_never_breaks_the_cap_it_was_recorded_under():
    low = make_rule("DEED", points=3, expires_after="1y", effective=(None, d("2023-12-31")),
                    cap=(10, "year"))
    high = replace(make_rule("DEED", points=5, expires_after="1y", cap=(10, "year"),
                             effective=(d("2024-01-01"), None), version=2), relief=True)
    book = make_rulebook(rules=(low, high))
    full = replace(make_record(low, d("2023-12-01")), base_points=3)
    cut = replace(make_record(low, d("2023-12-02")), points=1, base_points=3)
    result = standing([full, cut], "2024-01-02", rulebook=book)
    assert [item.points for item in result.records] == [5, 1]
    assert result.points == 1006


def test_relief_moves_the_tier_and_the_measures_with_their_notice():
    big = make_rule("BIG", points=-50, expires_after="2y", effective=(None, d("2023-12-31")))
    mild = replace(make_rule("BIG", points=-20, expires_after="2y",
                             effective=(d("2024-01-01"), None), version=2), relief=True)
    book = make_rulebook(rules=(big, mild))
    warning = make_measure("CREDIT-WARNING", tiers=("B",))
    loans = make_measure("LOAN-TERMS", kind="benefit", tiers=("A",), notice="7d")
    records = [make_record(big, d("2023-06-01"))]
    before = standing(records, "2023-12-31", rulebook=book, measures=(warning, loans))
    assert (before.points, before.tier.code) == (950, "B")
    assert [m.measure.code for m in before.measures] == ["CREDIT-WARNING"]
    after = standing(records, "2024-01-03", rulebook=book, measures=(warning, loans))
    assert (after.points, after.tier.code) == (980, "A")
    assert [p.measure.code for p in after.pending_measures] == ["LOAN-TERMS"]
    assert after.pending_measures[0].takes_effect_on == d("2024-01-08")
    assert [m.measure.code for m in standing(records, "2024-01-08", rulebook=book,
                                             measures=(warning, loans)).measures] == ["LOAN-TERMS"]


def test_the_timeline_and_the_json_show_the_relief():
    record = make_record(V1, d("2023-12-20"))
    timeline = points_timeline(subject=make_subject(), records=[record], rulebook=RELIEF_BOOK,
                               start=d("2023-12-01"), end=d("2024-12-31"))
    assert [(day.isoformat(), pts) for day, pts, _ in timeline] == [
        ("2023-12-01", 1000), ("2023-12-20", 995), ("2024-01-01", 997), ("2024-12-20", 1000)]
    upcoming = next_changes(subject=make_subject(), records=[record], rulebook=RELIEF_BOOK,
                            as_of=d("2024-02-01"))
    assert [(c.on.isoformat(), c.points_before, c.points) for c in upcoming] == [
        ("2024-12-20", 997, 1000)]
    payload = standing_to_json(standing([record], "2024-02-01"))
    assert payload["points"] == 997 and payload["records"][0]["points"] == -3
