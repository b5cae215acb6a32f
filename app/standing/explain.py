"""Write a standing out in English lines (the CLI, the rule tests, the API's `explanation`).

The reasons themselves are data (app.standing.because); this words them in English.
"""

from __future__ import annotations

from datetime import date

from app.rulebook.model import Rulebook, Scheme, Tier
from app.standing.because import Because, Value, english
from app.standing.model import (
    ActiveList,
    ActiveMeasure,
    CountingRecord,
    ExcludedRecord,
    PendingMeasure,
    RaisedFlag,
    Reason,
    Standing,
)
from app.standing.spans import pending_dispute_since


def signed(points: int) -> str:
    """Write points with their sign and a space: "+ 1", "- 50"."""
    return f"{'-' if points < 0 else '+'} {abs(points)}"


def tier_range(scheme: Scheme, tier: Tier) -> str:
    """Describe the points band of `tier`: "960 and above", "below 600"."""
    if tier.min is not None:
        return f"{tier.min} and above"
    above = [t.min for t in scheme.tiers if t.min is not None]
    return f"below {min(above)}" if above else "any points"


def list_because(active: ActiveList, *, via: str = "", via_name: str = "") -> Because:
    """Return why a list entry counts, as data: the list, since when, the decision, the end."""
    entry = active.entry
    values: dict[str, Value] = {
        "list": active.list.code, "list_title": active.list.title, "since": entry.entered_on,
        "decision": entry.decision_ref, "department": entry.department, "until": active.until,
    }
    if via:
        values.update(via=via, via_name=via_name)
    return Because.of("list", **values)


def describe_list_entry(active: ActiveList) -> str:
    """Describe one list entry in English: the list, since when, the decision and the end."""
    return english(list_because(active))


def describe_relief(item: CountingRecord) -> str:
    """Describe the relief a counting record gets: "relief under version 2 from ...: -5 → -3"."""
    assert item.relief is not None
    start = item.relief.effective.start
    since = f" from {start.isoformat()}" if start else ""
    return (
        f"relief under version {item.relief.version}{since}: "
        f"{_number(item.record.points)} → {_number(item.points)}"
    )


def _number(points: int) -> str:
    return f"{points:+d}" if points else "0"


def flag_because(flag: RaisedFlag, *, via: str = "", via_name: str = "") -> Because:
    """Return why a flag is raised, as data: how many entries, on which watchlist, when."""
    values: dict[str, Value] = {
        "flag": flag.code, "list": flag.list_code, "count": len(flag.entries),
        "threshold": flag.threshold, "within": flag.within,
        "entered_on": tuple(e.entered_on for e in flag.entries),
    }
    if via:
        values.update(via=via, via_name=via_name)
    return Because.of("flag", **values)


def describe_flag(flag: RaisedFlag) -> str:
    """Describe a raised flag in English: how many entries, on which watchlist, when."""
    return english(flag_because(flag))


def _record_line(item: CountingRecord, *, day: date) -> str:
    record, rule = item.record, item.rule
    title = f" ({rule.title})" if rule is not None else " (rule no longer in the rulebook)"
    line = (
        f"{signed(item.points)}  {record.rule_code}{title} on {record.occurred_on.isoformat()}, "
        f"counts until {item.until.isoformat()}"
    )
    if record.note:
        line += f" ({record.note})"
    if item.relief is not None:
        line += f" ({describe_relief(item)})"
    if rule is not None and rule.legal_basis:
        line += f" — legal basis: {rule.legal_basis}"
    pending_since = pending_dispute_since(record, day)
    if pending_since is not None:
        line += f"; objection pending since {pending_since.isoformat()}, counts meanwhile"
    return line


def _excluded_line(item: ExcludedRecord) -> str:
    record = item.record
    title = f" ({item.rule.title})" if item.rule is not None else ""
    return (
        f"Not counted: {signed(record.points)}  {record.rule_code}{title} on "
        f"{record.occurred_on.isoformat()}: {item.reason}"
    )


def _because(reasons: tuple[Reason, ...]) -> str:
    parts = []
    for reason in reasons:
        part = reason.detail
        if reason.legal_basis:
            part += f" — legal basis: {reason.legal_basis}"
        parts.append(part)
    return "; ".join(parts)


def _measure_name(measure_line_start: str, item: ActiveMeasure | PendingMeasure) -> str:
    measure = item.measure
    return f"{measure_line_start} {measure.code} ({measure.kind}: {measure.title})"


def explain(standing: Standing, *, rulebook: Rulebook) -> tuple[str, ...]:
    """Return the lines that explain `standing`: records, points, tier, lists, measures."""
    scheme = rulebook.scheme
    lines = [f"Standing of {standing.subject_id} on {standing.as_of.isoformat()}"]
    if not standing.scored:
        lines.append(
            "No score: this scheme scores only subjects who have consented, and this subject "
            "has not. Records are kept, but no points or tier are given and no measure "
            "follows from a tier."
        )
        lines.extend(
            f"Record kept: {_record_line(item, day=standing.as_of)}" for item in standing.records
        )
    else:
        lines.append(f"Starting points {standing.starting_points}")
        lines.extend(_record_line(item, day=standing.as_of) for item in standing.records)
        assert standing.tier is not None
        lines.append(
            f"= {standing.points} points → tier {standing.tier.code} "
            f"({tier_range(scheme, standing.tier)})"
        )

    if standing.lists:
        lines.extend(_list_line(active) for active in standing.lists)
    else:
        lines.append("On no list.")
    lines.extend(_capitalised(describe_flag(flag)) for flag in standing.flags)

    for item in standing.measures:
        since = (
            f"since {item.since.isoformat()}"
            if item.since is not None
            else "since before any record or list entry"
        )
        lines.append(f"{_measure_name('Applies:', item)} {since}, because {_because(item.reasons)}")
    for pending in standing.pending_measures:
        notice = pending.measure.notice
        lines.append(
            f"{_measure_name('Pending:', pending)} takes effect on "
            f"{pending.takes_effect_on.isoformat()} if its condition still holds then "
            f"(holds since {pending.holds_since.isoformat()}, notice {notice}), "
            f"because {_because(pending.reasons)}"
        )
    if not standing.measures and not standing.pending_measures:
        lines.append("No measure applies.")

    lines.extend(_excluded_line(item) for item in standing.excluded)
    return tuple(lines)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _list_line(active: ActiveList) -> str:
    line = _capitalised(describe_list_entry(active))
    basis = active.entry.legal_basis or active.list.legal_basis
    return f"{line} — legal basis: {basis}" if basis else line
