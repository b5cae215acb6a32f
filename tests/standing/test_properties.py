"""Invariants of the evaluator, checked on generated facts against a day-by-day oracle."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.rulebook.model import Duration, Flag, ListDef
from app.standing import evaluate, standing_to_json
from app.standing.model import Dispute, ListEntryFact, RecordFact

from .factories import (
    DEFAULT_LISTS,
    SUBJECT_ID,
    make_measure,
    make_rule,
    make_rulebook,
    make_subject,
)

START = date(2024, 1, 1)
SPAN_DAYS = 500
ONE_DAY = timedelta(days=1)

RULES = (
    make_rule("PLUS", points=5, expires_after="1y"),
    make_rule("MINUS", points=-60, expires_after="3m"),
    make_rule("HEAVY", points=-300, expires_after="45d"),
    make_rule("JAN", points=-20, expires_after="1m"),
)
LISTS = (
    *DEFAULT_LISTS,
    ListDef(code="short-watch", kind="watchlist", flag=Flag("short-flag", 2, Duration(1, "m"))),
)
MEASURES = (
    make_measure("BAN", tiers=("D",), lists=("court-defaulters",), notice="7d"),
    make_measure("LOW", tiers=("C", "D")),
    make_measure("FLAGGED", flags=("priority-scrutiny", "short-flag"), notice="10d"),
    make_measure("HONOUR", kind="benefit", tiers=("AAA", "AA"), lists=("model-citizens",)),
    make_measure("WATCHED", lists=("priority-scrutiny",), notice="3d"),
    make_measure("FAIR", kind="benefit", tiers=("A", "AA", "AAA"), notice="5d"),
)

days = st.integers(min_value=0, max_value=SPAN_DAYS).map(lambda n: START + timedelta(days=n))
gaps = st.integers(min_value=0, max_value=120).map(lambda n: timedelta(days=n))
rarely = st.sampled_from([False] * 7 + [True])


@st.composite
def records(draw, record_id):
    rule = draw(st.sampled_from(RULES))
    occurred_on = draw(days)
    disputes = []
    for _ in range(draw(st.integers(0, 2))):
        filed_on = occurred_on + draw(gaps)
        decided_on = draw(st.none() | gaps.map(lambda g, f=filed_on: f + g + ONE_DAY))
        disputes.append(Dispute(filed_on, decided_on))
    return RecordFact(
        id=record_id,
        subject_id=SUBJECT_ID,
        rule_code=rule.code,
        rule_version=1,
        occurred_on=occurred_on,
        points=draw(st.sampled_from([rule.points, rule.points * 2, 0, 1])),
        ends_on=rule.ends_on(occurred_on),
        voided=draw(rarely),
        annulled=draw(rarely),
        repaired_on=draw(st.none() | gaps.map(lambda g: occurred_on + g)),
        disputes=tuple(disputes),
    )


@st.composite
def entries(draw, entry_id):
    list_code = draw(
        st.sampled_from(
            ["court-defaulters", "model-citizens"] + ["priority-scrutiny", "short-watch"] * 2
        )
    )
    entered_on = draw(days)
    return ListEntryFact(
        id=entry_id,
        subject_id=SUBJECT_ID,
        list_code=list_code,
        entered_on=entered_on,
        ends_on=draw(st.none() | gaps.map(lambda g: entered_on + g)),
        removed_on=draw(st.none() | gaps.map(lambda g: entered_on + g)),
    )


@st.composite
def cases(draw):
    n_records = draw(st.integers(0, 8))
    n_entries = draw(st.integers(0, 8))
    return {
        "records": [draw(records(i)) for i in range(n_records)],
        "entries": [draw(entries(100 + i)) for i in range(n_entries)],
        "rulebook": make_rulebook(
            rules=RULES,
            measures=MEASURES,
            lists=LISTS,
            requires_consent=draw(st.booleans()),
            suspend_record=draw(st.booleans()),
        ),
        "subject": make_subject(consent=draw(st.booleans())),
        "as_of": draw(days),
    }


# --- a deliberately naive oracle: the Semantics section, one day at a time ----------------


def record_counts(record, day, *, suspend):
    if record.voided or record.annulled or not record.occurred_on <= day < record.ends_on:
        return False
    if record.repaired_on is not None and day >= record.repaired_on:
        return False
    pending = any(
        x.filed_on <= day and (x.decided_on is None or day < x.decided_on) for x in record.disputes
    )
    return not (suspend and pending)


def entry_counts(entry, list_def, day):
    end = entry.ends_on
    if end is None and list_def.lasts is not None:
        end = list_def.lasts.after(entry.entered_on)
    removed = entry.removed_on is not None and entry.removed_on <= day
    return entry.entered_on <= day and (end is None or day < end) and not removed


def oracle_state(case, day):
    rulebook = case["rulebook"]
    scheme = rulebook.scheme
    suspend = scheme.objections.suspend_record
    points = scheme.starting_points + sum(
        r.points for r in case["records"] if record_counts(r, day, suspend=suspend)
    )
    lists = {
        e.list_code for e in case["entries"] if entry_counts(e, rulebook.list_def(e.list_code), day)
    }
    flags = set()
    for list_def, flag in rulebook.flags():
        n = sum(
            1
            for e in case["entries"]
            if e.list_code == list_def.code
            and flag.within.before(day) <= e.entered_on <= day
            and not (e.removed_on is not None and e.removed_on <= day)
        )
        if n >= flag.entries:
            flags.add(flag.code)
    return points, lists, flags


def oracle_holds(case, measure, day):
    points, lists, flags = oracle_state(case, day)
    scheme = case["rulebook"].scheme
    scored = case["subject"].consent or not scheme.requires_consent
    when = measure.when
    return bool(
        (scored and scheme.tier_for(points).code in when.tiers)
        or lists & set(when.lists)
        or flags & set(when.flags)
    )


def first_fact(case):
    dates = [r.occurred_on for r in case["records"]] + [e.entered_on for e in case["entries"]]
    return min(dates, default=START)


def oracle_measure(case, measure, day):
    """Return ("active", since) / ("pending", takes_effect_on) / None, day by day."""
    if not oracle_holds(case, measure, day):
        return None
    floor = first_fact(case) - ONE_DAY
    start = day
    while start > floor and oracle_holds(case, measure, start - ONE_DAY):
        start -= ONE_DAY
    if start <= floor:
        return ("active", None)
    notice = measure.notice.count if measure.notice else 0  # all notices here are in days
    held_for_notice = all(
        oracle_holds(case, measure, day - timedelta(days=k)) for k in range(notice + 1)
    )
    takes_effect_on = start + timedelta(days=notice)
    assert held_for_notice == (takes_effect_on <= day)
    return ("active", takes_effect_on) if held_for_notice else ("pending", takes_effect_on)


def run(case, **overrides):
    args = {
        "subject": case["subject"],
        "records": case["records"],
        "list_entries": case["entries"],
        "rulebook": case["rulebook"],
        "as_of": case["as_of"],
    }
    return evaluate(**{**args, **overrides})


@settings(max_examples=100, deadline=None)
@given(case=cases())
def test_evaluator_agrees_with_the_day_by_day_oracle(case):
    standing = run(case)
    day = case["as_of"]
    points, lists, flags = oracle_state(case, day)
    if standing.scored:
        assert standing.points == points
        assert standing.tier == case["rulebook"].scheme.tier_for(points)
    else:
        assert (standing.points, standing.tier) == (None, None)
    assert {a.list.code for a in standing.lists} == lists
    assert {f.code for f in standing.flags} == flags
    suspend = case["rulebook"].scheme.objections.suspend_record
    assert {c.record.id for c in standing.records} == {
        r.id for r in case["records"] if record_counts(r, day, suspend=suspend)
    }
    assert len(standing.records) + len(standing.excluded) == len(case["records"])
    got = {m.measure.code: ("active", m.since) for m in standing.measures}
    got |= {p.measure.code: ("pending", p.takes_effect_on) for p in standing.pending_measures}
    expected = {}
    for measure in MEASURES:
        state = oracle_measure(case, measure, day)
        if state is not None:
            expected[measure.code] = state
    assert got == expected


@settings(max_examples=50, deadline=None)
@given(case=cases(), seed=st.randoms(use_true_random=False))
def test_evaluation_is_deterministic_whatever_the_input_order(case, seed):
    first = run(case)
    records, entries = list(case["records"]), list(case["entries"])
    seed.shuffle(records)
    seed.shuffle(entries)
    second = run(case, records=records, list_entries=entries)
    assert first == second
    assert first.explanation == second.explanation
    assert standing_to_json(first) == standing_to_json(second)


@settings(max_examples=100, deadline=None)
@given(case=cases(), later=gaps)
def test_expiry_only_takes_contributions_away(case, later):
    """With nothing new in (d1, d2], the records counting on d2 are a subset of those on d1."""
    d1 = case["as_of"]
    d2 = d1 + later
    # Drop what could make a record (re)start counting in (d1, d2]: new conduct, a decision.
    kept = []
    for record in case["records"]:
        if d1 < record.occurred_on <= d2:
            continue
        disputes = tuple(
            x for x in record.disputes if not (x.decided_on and d1 < x.decided_on <= d2)
        )
        kept.append(replace(record, disputes=disputes))
    subject = make_subject(consent=True)
    before = run(case, records=kept, subject=subject, as_of=d1)
    after = run(case, records=kept, subject=subject, as_of=d2)
    ids_before = {c.record.id for c in before.records}
    ids_after = {c.record.id for c in after.records}
    assert ids_after <= ids_before
    start = before.starting_points
    assert after.points - start == sum(c.record.points for c in after.records)
    signs = {c.record.points > 0 for c in before.records if c.record.points}
    if len(signs) <= 1:  # all one way: the points can only move back toward the start
        assert abs(after.points - start) <= abs(before.points - start)


@given(
    low=st.integers(min_value=-2000, max_value=3000), extra=st.integers(min_value=0, max_value=500)
)
def test_tier_is_monotone_in_points(low, extra):
    rulebook = make_rulebook(rules=RULES)
    tiers = [t.code for t in rulebook.scheme.tiers]
    subject = make_subject()

    def tier_with(points):
        rule = make_rule("DELTA", points=points - 1000)
        record = RecordFact(1, SUBJECT_ID, "DELTA", 1, START, rule.points, rule.ends_on(START))
        standing = evaluate(
            subject=subject, records=[record], list_entries=[], rulebook=rulebook, as_of=START
        )
        return tiers.index(standing.tier.code)

    assert tier_with(low + extra) <= tier_with(low)  # more points: same or higher tier
