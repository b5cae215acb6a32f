"""The reference evaluator on hand-made examples, one semantic rule at a time."""

from __future__ import annotations

import json

import pytest

from app.standing import evaluate, standing_to_json
from app.standing.model import Dispute

from .factories import (
    SUBJECT_ID,
    d,
    make_entry,
    make_measure,
    make_record,
    make_rule,
    make_rulebook,
    make_subject,
)

VOL = make_rule(
    "VOL-HOURS",
    points=1,
    expires_after="1y",
    title="Four hours of registered volunteering",
    legal_basis="Rongcheng volunteering rules, art. 3",
    cap=(20, "year"),
)
TAMPER = make_rule("UTIL-HEAT-TAMPER", points=-50, expires_after="2y", title="Tampering")
MONTHLY = make_rule("ARREARS", points=-10, expires_after="1m")
BIG = make_rule("BIG-DEDUCTION", points=-450, expires_after="5y")
RULES = (VOL, TAMPER, MONTHLY, BIG)


def run(records=(), entries=(), *, as_of, rulebook=None, subject=None):
    return evaluate(
        subject=subject or make_subject(),
        records=records,
        list_entries=entries,
        rulebook=rulebook or make_rulebook(rules=RULES),
        as_of=d(as_of) if isinstance(as_of, str) else as_of,
    )


def reasons(standing):
    return {item.record.id: item.reason for item in standing.excluded}


# --- when a record counts ----------------------------------------------------------------


def test_record_counts_from_occurred_on_until_the_day_before_ends_on():
    record = make_record(VOL, d("2026-03-01"))
    assert record.ends_on == d("2027-03-01")
    assert run([record], as_of="2026-02-28").points == 1000
    assert reasons(run([record], as_of="2026-02-28")) == {
        record.id: "not yet: occurs on 2026-03-01"
    }
    assert run([record], as_of="2026-03-01").points == 1001
    assert run([record], as_of="2027-02-28").points == 1001
    lapsed = run([record], as_of="2027-03-01")
    assert lapsed.points == 1000
    assert reasons(lapsed) == {record.id: "lapsed on 2027-03-01"}


@pytest.mark.parametrize(
    ("occurred_on", "ends_on"),
    [("2026-01-31", "2026-02-28"), ("2028-01-31", "2028-02-29"), ("2026-03-31", "2026-04-30")],
)
def test_month_expiry_clamps_to_the_month_end(occurred_on, ends_on):
    record = make_record(MONTHLY, d(occurred_on))
    assert record.ends_on == d(ends_on)
    last_day = d(ends_on).toordinal() - 1
    assert run([record], as_of=d(ends_on).fromordinal(last_day)).points == 990
    assert run([record], as_of=ends_on).points == 1000


def test_voided_and_annulled_records_never_count():
    voided = make_record(TAMPER, d("2026-01-01"), voided=True)
    annulled = make_record(
        TAMPER,
        d("2026-01-02"),
        annulled=True,
        disputes=(Dispute(d("2026-01-05"), d("2026-01-10")),),
    )
    standing = run([voided, annulled], as_of="2026-01-03")
    assert standing.points == 1000 and standing.records == ()
    assert reasons(standing) == {
        voided.id: "voided (entered in error)",
        annulled.id: "annulled after an objection",
    }


def test_repaired_record_stops_counting_on_its_repair_date():
    record = make_record(TAMPER, d("2025-06-01"), repaired_on=d("2026-01-05"))
    counting = run([record], as_of="2026-01-04")
    assert counting.points == 950
    assert counting.records[0].until == d("2026-01-05")
    repaired = run([record], as_of="2026-01-05")
    assert repaired.points == 1000
    assert reasons(repaired) == {record.id: "repaired on 2026-01-05"}


@pytest.mark.parametrize("suspend", [True, False])
def test_disputed_record_is_suspended_only_if_the_scheme_says_so(suspend):
    rulebook = make_rulebook(rules=RULES, suspend_record=suspend)
    record = make_record(
        TAMPER, d("2026-01-01"), disputes=(Dispute(d("2026-01-10"), d("2026-01-20")),)
    )
    assert run([record], as_of="2026-01-09", rulebook=rulebook).points == 950
    pending = run([record], as_of="2026-01-10", rulebook=rulebook)
    if suspend:
        assert pending.points == 1000
        assert reasons(pending) == {record.id: "suspended: objection pending since 2026-01-10"}
    else:
        assert pending.points == 950
        assert any("objection pending since 2026-01-10" in line for line in pending.explanation)
    assert run([record], as_of="2026-01-19", rulebook=rulebook).points == (1000 if suspend else 950)
    assert run([record], as_of="2026-01-20", rulebook=rulebook).points == 950  # rejected


def test_undecided_objection_suspends_until_decided():
    record = make_record(TAMPER, d("2026-01-01"), disputes=(Dispute(d("2026-01-10")),))
    assert run([record], as_of="2027-12-31").excluded[0].reason.startswith("suspended")
    assert run([record], as_of="2028-01-01").excluded[0].reason == "lapsed on 2028-01-01"


def test_records_of_other_subjects_are_ignored():
    mine = make_record(VOL, d("2026-03-01"))
    theirs = make_record(TAMPER, d("2026-03-01"), subject_id="370782199001019999")
    standing = run([mine, theirs], as_of="2026-03-02")
    assert standing.points == 1001 and standing.excluded == ()


# --- points and tiers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "tier"),
    [
        (1050, "AAA"),
        (1049, "AA"),
        (1030, "AA"),
        (1029, "A"),
        (960, "A"),
        (959, "B"),
        (850, "B"),
        (849, "C"),
        (600, "C"),
        (599, "D"),
        (-100, "D"),
    ],
)
def test_tier_edges(points, tier):
    rule = make_rule("DELTA", points=points - 1000)
    standing = run([make_record(rule, d("2026-01-01"))], as_of="2026-01-01")
    assert (standing.points, standing.tier.code) == (points, tier)


def test_without_consent_there_are_no_points_and_no_tier_measures():
    rulebook = make_rulebook(
        rules=RULES,
        requires_consent=True,
        measures=(
            make_measure("TIER-ONLY", tiers=("D",)),
            make_measure("TENDER-BAN", tiers=("D",), lists=("court-defaulters",)),
        ),
    )
    records = [make_record(BIG, d("2026-01-01"))]
    entries = [make_entry("court-defaulters", d("2026-01-01"))]
    subject = make_subject(consent=False)
    standing = run(records, entries, as_of="2026-02-01", rulebook=rulebook, subject=subject)
    assert (standing.scored, standing.points, standing.tier) == (False, None, None)
    assert [m.measure.code for m in standing.measures] == ["TENDER-BAN"]
    assert [r.kind for r in standing.measures[0].reasons] == ["list"]
    assert standing_to_json(standing)["points"] is None
    assert any(line.startswith("No score") for line in standing.explanation)

    consenting = run(records, entries, as_of="2026-02-01", rulebook=rulebook)
    assert (consenting.scored, consenting.points, consenting.tier.code) == (True, 550, "D")
    assert [m.measure.code for m in consenting.measures] == ["TENDER-BAN", "TIER-ONLY"]


# --- lists and flags ---------------------------------------------------------------------


def test_list_entry_lasts_from_the_list_when_no_end_is_given():
    entry = make_entry("court-defaulters", d("2025-01-01"))
    assert [a.list.code for a in run([], [entry], as_of="2025-01-01").lists] == ["court-defaulters"]
    assert run([], [entry], as_of="2026-12-31").lists[0].until == d("2027-01-01")
    assert run([], [entry], as_of="2027-01-01").lists == ()
    assert run([], [entry], as_of="2024-12-31").lists == ()


def test_list_entry_ends_early_or_is_removed():
    ends = make_entry("court-defaulters", d("2025-01-01"), ends_on=d("2025-06-01"))
    removed = make_entry("model-citizens", d("2025-01-01"), removed_on=d("2025-03-01"))
    assert {a.list.code for a in run([], [ends, removed], as_of="2025-02-28").lists} == {
        "court-defaulters",
        "model-citizens",
    }
    assert [a.list.code for a in run([], [ends, removed], as_of="2025-03-01").lists] == [
        "court-defaulters"
    ]
    assert run([], [ends, removed], as_of="2025-06-01").lists == ()


WATCH = ["2025-03-01", "2025-06-01", "2025-09-01"]


def watch_entries(days=WATCH, **overrides):
    return [make_entry("priority-scrutiny", d(day), **overrides) for day in days]


@pytest.mark.parametrize(
    ("as_of", "raised"),
    [("2025-08-31", False), ("2025-09-01", True), ("2026-03-01", True), ("2026-03-02", False)],
)
def test_watchlist_flag_needs_three_entries_within_one_year(as_of, raised):
    standing = run([], watch_entries(), as_of=as_of)
    assert [f.code for f in standing.flags] == (["priority-scrutiny"] if raised else [])
    if raised:
        assert len(standing.flags[0].entries) == 3


def test_removed_watchlist_entries_do_not_count_towards_a_flag():
    entries = watch_entries()
    entries[0] = make_entry("priority-scrutiny", d("2025-03-01"), removed_on=d("2025-10-01"))
    assert run([], entries, as_of="2025-09-30").flags != ()
    assert run([], entries, as_of="2025-10-01").flags == ()


# --- measures ----------------------------------------------------------------------------

BAN = make_measure("TENDER-BAN", tiers=("D",), lists=("court-defaulters",), notice="7d")


def ban_rulebook(*measures):
    return make_rulebook(rules=RULES, measures=measures or (BAN,))


def test_measure_with_notice_is_pending_then_applies_on_the_day():
    records = [make_record(BIG, d("2026-01-01"))]
    rulebook = ban_rulebook()
    for day in ("2026-01-01", "2026-01-07"):
        standing = run(records, as_of=day, rulebook=rulebook)
        assert standing.measures == ()
        (pending,) = standing.pending_measures
        assert (pending.holds_since, pending.takes_effect_on) == (d("2026-01-01"), d("2026-01-08"))
        assert standing_to_json(standing)["pending_measures"][0]["takes_effect_on"] == "2026-01-08"
    applies = run(records, as_of="2026-01-08", rulebook=rulebook)
    assert applies.pending_measures == ()
    assert [(m.measure.code, m.since) for m in applies.measures] == [
        ("TENDER-BAN", d("2026-01-08"))
    ]


def test_a_break_restarts_the_notice_period():
    short = make_rule("SHORT", points=-450, expires_after="3d")
    rulebook = make_rulebook(rules=(*RULES, short), measures=(BAN,))
    records = [make_record(short, d("2026-01-01")), make_record(short, d("2026-01-05"))]
    # D on Jan 1-3, B on Jan 4, D again from Jan 5: the run restarts on Jan 5.
    standing = run(records, as_of="2026-01-07", rulebook=rulebook)
    assert standing.pending_measures[0].holds_since == d("2026-01-05")
    assert standing.pending_measures[0].takes_effect_on == d("2026-01-12")
    assert run(records, as_of="2026-01-08", rulebook=rulebook).measures == ()


def test_any_condition_keeps_the_run_unbroken():
    short = make_rule("SHORT", points=-450, expires_after="3d")
    rulebook = make_rulebook(rules=(*RULES, short), measures=(BAN,))
    records = [make_record(short, d("2026-01-01"))]
    entries = [make_entry("court-defaulters", d("2026-01-03"), decision_ref="(2026) Lu 10 Zhi 1")]
    standing = run(records, entries, as_of="2026-01-08", rulebook=rulebook)
    assert [(m.measure.code, m.since) for m in standing.measures] == [
        ("TENDER-BAN", d("2026-01-08"))
    ]
    (reason,) = standing.measures[0].reasons
    assert reason.kind == "list" and reason.code == "court-defaulters"
    assert "2026-01-03" in reason.detail and "(2026) Lu 10 Zhi 1" in reason.detail
    assert reason.legal_basis == "SPC provisions on the list of dishonest judgment debtors"


def test_measure_since_is_the_start_of_the_run_or_none_from_the_start():
    discount = make_measure("HEATING-DISCOUNT", kind="benefit", tiers=("AAA",), legal_basis="")
    a_benefit = make_measure("BIKE-DEPOSIT", kind="benefit", tiers=("A", "AA", "AAA"), notice="30d")
    rulebook = ban_rulebook(discount, a_benefit)
    heroic = make_rule("HEROIC", points=60, expires_after="1y")
    records = [make_record(heroic, d("2026-02-01"))]
    standing = run(
        records,
        as_of="2026-03-01",
        rulebook=make_rulebook(rules=(*RULES, heroic), measures=(discount, a_benefit)),
    )
    assert {m.measure.code: m.since for m in standing.measures} == {
        "BIKE-DEPOSIT": None,  # tier A or better since before any record: no notice to wait
        "HEATING-DISCOUNT": d("2026-02-01"),
    }
    assert run([], as_of="2026-03-01", rulebook=rulebook).measures[0].since is None


def test_reasons_name_the_tier_the_list_and_the_flag():
    measure = make_measure(
        "TENDER-BAN", tiers=("D",), lists=("court-defaulters",), flags=("priority-scrutiny",)
    )
    rulebook = make_rulebook(rules=RULES, measures=(measure,))
    records = [make_record(BIG, d("2025-01-01"))]
    entries = [
        make_entry("court-defaulters", d("2025-02-01"), decision_ref="REF-1"),
        *watch_entries(),
    ]
    standing = run(records, entries, as_of="2025-10-01", rulebook=rulebook)
    (active,) = standing.measures
    assert active.since == d("2025-01-01")
    kinds = {r.kind: r for r in active.reasons}
    assert kinds["tier"].detail == "tier D (points 550)"
    assert kinds["tier"].legal_basis == "Tendering and Bidding Law, arts. 53, 54, 60"
    assert "REF-1" in kinds["list"].detail
    assert kinds["flag"].code == "priority-scrutiny"
    assert "3 entries on priority-scrutiny within 1y" in kinds["flag"].detail


# --- explanation and JSON ----------------------------------------------------------------


def test_explanation_shows_the_arithmetic():
    records = [make_record(VOL, d("2026-03-01")), make_record(TAMPER, d("2020-01-01"))]
    standing = run(records, as_of="2026-03-01", rulebook=ban_rulebook())
    lines = standing.explanation
    assert "Starting points 1000" in lines
    assert (
        "+ 1  VOL-HOURS (Four hours of registered volunteering) on 2026-03-01, counts until "
        "2027-03-01 — legal basis: Rongcheng volunteering rules, art. 3"
    ) in lines
    assert "= 1001 points → tier A (960 and above)" in lines
    assert any(line.startswith("Not counted: - 50  UTIL-HEAT-TAMPER") for line in lines)
    assert any("lapsed on 2022-01-01" in line for line in lines)


def test_explanation_names_pending_measures_and_their_date():
    standing = run([make_record(BIG, d("2026-01-01"))], as_of="2026-01-02", rulebook=ban_rulebook())
    assert "= 550 points → tier D (below 600)" in standing.explanation
    assert any(
        line.startswith("Pending: TENDER-BAN") and "takes effect on 2026-01-08" in line
        for line in standing.explanation
    )


def test_standing_json_has_the_api_shape():
    records = [
        make_record(VOL, d("2026-03-01"), note="capped: 19 of 20 points for 2026 already used"),
        make_record(TAMPER, d("2026-03-02"), voided=True),
    ]
    entries = [make_entry("court-defaulters", d("2026-01-01"))]
    standing = run(records, entries, as_of="2026-03-08", rulebook=ban_rulebook())
    payload = standing_to_json(standing)
    json.dumps(payload)
    assert {
        "subject_id",
        "as_of",
        "points",
        "tier",
        "lists",
        "flags",
        "measures",
        "records",
    } <= payload.keys()
    assert payload["subject_id"] == SUBJECT_ID
    assert (payload["as_of"], payload["points"], payload["tier"]) == ("2026-03-08", 1001, "A")
    assert payload["lists"] == ["court-defaulters"] and payload["flags"] == []
    assert payload["measures"] == [
        {"code": "TENDER-BAN", "kind": "restriction", "since": "2026-01-08"}
    ]
    (record,) = payload["records"]
    assert record == {
        "id": records[0].id,
        "rule_code": "VOL-HOURS",
        "rule_version": 1,
        "title": "Four hours of registered volunteering",
        "points": 1,
        "occurred_on": "2026-03-01",
        "ends_on": "2027-03-01",
        "legal_basis": "Rongcheng volunteering rules, art. 3",
        "department": "village-committee",
        "evidence": "minutes of the village committee",
        "note": "capped: 19 of 20 points for 2026 already used",
    }
    assert payload["excluded"] == [
        {
            "id": records[1].id,
            "rule_code": "UTIL-HEAT-TAMPER",
            "reason": "voided (entered in error)",
            "because": {"code": "voided", "values": {}},
        }
    ]
    assert payload["fingerprint"] == "test-fingerprint" and payload["scored"] is True
    assert payload["explanation"] == list(standing.explanation)
