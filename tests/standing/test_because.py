"""The evaluator explains with data (a reason code and its values), never with sentences."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

from app.standing.because import CODES, Because, english
from app.standing.model import Dispute

from .factories import d, make_entry, make_measure, make_record, make_rulebook
from .test_evaluate import RULES, TAMPER, VOL, run


def _plain(value) -> bool:
    """True for a value that is data (a code, a number, a day), not a sentence."""
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return not isinstance(value, str) or " " not in value or value in ("",)


def test_exclusions_are_codes_with_values():
    voided = make_record(TAMPER, d("2026-01-01"), voided=True)
    later = make_record(VOL, d("2026-05-01"))
    lapsed = make_record(VOL, d("2024-01-01"))
    disputed = make_record(TAMPER, d("2026-01-02"), disputes=(Dispute(d("2026-02-01")),))
    standing = run([voided, later, lapsed, disputed], as_of="2026-03-01")
    why = {item.record.id: item.why for item in standing.excluded}
    assert why == {
        voided.id: Because.of("voided"),
        later.id: Because.of("not_yet", occurs_on=date(2026, 5, 1)),
        lapsed.id: Because.of("lapsed", on=date(2025, 1, 1)),
        disputed.id: Because.of("suspended", since=date(2026, 2, 1)),
    }
    # The English text beside it (CLI, API) is worded from the data.
    assert {item.record.id: item.reason for item in standing.excluded}[lapsed.id] == \
        "lapsed on 2025-01-01"


def test_measure_reasons_are_codes_with_values():
    measure = make_measure("TENDER-BAN", tiers=("A",), lists=("court-defaulters",))
    rulebook = make_rulebook(rules=RULES, measures=(measure,))
    entry = make_entry("court-defaulters", d("2026-01-01"), decision_ref="(2026) 1")
    standing = run([], [entry], as_of="2026-03-01", rulebook=rulebook)
    (applied,) = standing.measures
    tier, listed = applied.reasons
    assert tier.because == Because.of("tier", tier="A", points=1000)
    assert listed.because.code == "list"
    assert listed.because.v["since"] == date(2026, 1, 1)
    assert listed.because.v["decision"] == "(2026) 1"
    assert tier.detail == "tier A (points 1000)"
    assert listed.detail.startswith("on list court-defaulters")


def test_no_explanation_in_the_core_is_a_sentence():
    """Every reason the evaluator returns is a known code whose values are data."""
    record = make_record(VOL, d("2024-01-01"))
    standing = run([record], as_of="2026-03-01")
    for item in standing.excluded:
        assert item.why.code in CODES
        assert all(_plain(v) for _k, v in item.why.values)
    assert "reason" not in {f.name for f in fields(type(standing.excluded[0]))}


def test_the_english_wording_can_change_without_touching_the_data(monkeypatch):
    from app.standing import because

    record = make_record(VOL, d("2024-01-01"))
    before = run([record], as_of="2026-03-01").excluded[0].why
    monkeypatch.setitem(because._ENGLISH, "lapsed", lambda v: f"expired {v['on']}")
    after = run([record], as_of="2026-03-01").excluded[0]
    assert after.why == before and after.reason == "expired 2025-01-01"
    assert english(Because.of("unknown-code")) == "unknown-code"
