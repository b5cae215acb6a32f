"""Relief: a later, milder version of a rule applied to records made under earlier versions.

A version with `relief: true` lets records of the same code made under an earlier version
count, from the relief version's `from` date, at `factor x` the relief version's points
(the repeat factor fixed at recording is kept), but only when that favours the subject:
counted = max(recorded points, factor x relief points). When several relief versions have
started, the latest one applies. Stored records are never edited; the relief is applied
when a standing is computed, by this module and by the SQL recompute alike.

One guard beyond the bare maximum: an addition whose points were cut by its cap keeps
the points it was given, since a relief that raised it would break the cap it was
recorded under. (For a deduction the maximum already respects the cap.)
"""

from __future__ import annotations

from datetime import date

from app.rulebook.model import Rule, Rulebook
from app.standing.model import RecordFact

Step = tuple[date, int, Rule | None]  # from this day on: the counted points, the relief used


def relief_start(rule: Rule) -> date:
    """Return the first day relief under `rule` applies (its `from` date)."""
    return rule.effective.start or date.min


def relief_on(rulebook: Rulebook, *, code: str, version: int, day: date) -> Rule | None:
    """Return the relief version that applies on `day` to records of `code` version `version`."""
    found = None
    for rule in rulebook.versions(code):  # oldest first, so the last match is the latest
        if rule.relief and rule.version > version and relief_start(rule) <= day:
            found = rule
    return found


def cut_by_cap(record: RecordFact) -> bool:
    """Return whether `record` is an addition whose points its cap reduced."""
    base = record.base_points
    return base is not None and base > 0 and record.points < record.factor * base


def relieved_points(record: RecordFact, relief: Rule | None) -> int | None:
    """Return the points `record` counts under `relief`, or None if that would not favour it."""
    if relief is None or cut_by_cap(record):
        return None
    candidate = record.factor * relief.points
    return candidate if candidate > record.points else None


def counted_points(record: RecordFact, rulebook: Rulebook, day: date) -> tuple[int, Rule | None]:
    """Return the points `record` counts with on `day` and the relief version behind them."""
    relief = relief_on(rulebook, code=record.rule_code, version=record.rule_version, day=day)
    points = relieved_points(record, relief)
    return (record.points, None) if points is None else (points, relief)


def point_steps(record: RecordFact, rulebook: Rulebook) -> list[Step]:
    """Return the (from, points, relief) steps of `record`, earliest first, for sweeping."""
    steps: list[Step] = [(date.min, record.points, None)]
    for rule in rulebook.versions(record.rule_code):
        if not (rule.relief and rule.version > record.rule_version):
            continue
        points = relieved_points(record, rule)
        step = (relief_start(rule), record.points if points is None else points,
                None if points is None else rule)
        if step[0] == steps[-1][0]:
            steps[-1] = step
        else:
            steps.append(step)
    return steps


def pieces(start: date, end: date, steps: list[Step]) -> list[tuple[date, date, int]]:
    """Cut the span [start, end) at the steps; return (from, until, points) pieces."""
    out = []
    for i, (step_from, points, _relief) in enumerate(steps):
        step_until = steps[i + 1][0] if i + 1 < len(steps) else date.max
        low, high = max(start, step_from), min(end, step_until)
        if low < high:
            out.append((low, high, points))
    return out
