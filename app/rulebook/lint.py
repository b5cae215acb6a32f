"""Warnings about a valid rulebook: things that load but are probably not what was meant.

A warning never refuses a rulebook (`rules check` exits 0); it names the file and line of
the row to look at. The checks, precisely:

- a tier that no measure's `when.tiers` mentions: the grade means nothing to a resident;
- a tier that no points can reach: above the starting points when no rule adds points,
  or below them when no rule deducts any;
- a measure that no condition can switch on: every tier it names is unreachable and every
  list or flag it names is on a list that no department may write to;
- a rule whose points can never matter because of its cap: `cap.points` below `|points|`
  (every record is cut to the cap, so the points as written never count in full), and a
  `repeat` beside a cap of at most `|points|` (a single record already reaches the cap, so
  the repeat factor never changes anything); a rule of 0 points (it never changes a
  standing);
- a list that no department may write to: no entry can ever be made on it.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.rulebook.model import Measure, Rulebook, Source

Warning_ = tuple[str, int, str]  # (file relative to the rules directory, line, message)


def _at(source: Source | None) -> tuple[str, int]:
    return (source.file, source.line) if source is not None else ("", 0)


def lint(rulebook: Rulebook) -> list[Warning_]:
    """Return the warnings about `rulebook`, as (file, line, message)."""
    return [*_tiers(rulebook), *_measures(rulebook), *_rules(rulebook), *_lists(rulebook)]


def reachable_tiers(rulebook: Rulebook) -> set[str]:
    """Return the codes of the tiers whose band some points can reach."""
    rows = [rule for table in rulebook.tables for rule in table.rules]
    start = rulebook.scheme.starting_points
    can_rise = any(rule.points > 0 for rule in rows)
    can_fall = any(rule.points < 0 for rule in rows)
    reachable = set()
    upper = None  # the band of a tier is [min, min of the tier above)
    for tier in rulebook.scheme.tiers:
        low_ok = can_rise or tier.min is None or tier.min <= start
        high_ok = can_fall or upper is None or start < upper
        if low_ok and high_ok:
            reachable.add(tier.code)
        upper = tier.min if tier.min is not None else upper
    return reachable


def _tiers(rulebook: Rulebook) -> Iterator[Warning_]:
    mentioned = {code for m in rulebook.measures for code in m.when.tiers}
    reachable = reachable_tiers(rulebook)
    start = rulebook.scheme.starting_points
    for tier in rulebook.scheme.tiers:
        file, line = _at(tier.source)
        if tier.code not in reachable:
            way = "adds" if tier.min is not None and tier.min > start else "deducts"
            yield file, line, (
                f"tier {tier.code}: no points can reach it: it lies "
                f"{'above' if way == 'adds' else 'below'} the starting {start} points and no "
                f"rule {way} points"
            )
        if tier.code not in mentioned:
            yield file, line, (
                f"tier {tier.code}: no measure mentions it in when.tiers, so the grade "
                "switches no benefit or restriction on"
            )


def _writable_lists(rulebook: Rulebook) -> set[str]:
    return {x.code for x in rulebook.lists if x.departments}


def _dead_measure(measure: Measure, rulebook: Rulebook, reachable: set[str]) -> bool:
    when = measure.when
    writable = _writable_lists(rulebook)
    live_flags = {flag.code for list_def, flag in rulebook.flags() if list_def.code in writable}
    return not (
        any(code in reachable for code in when.tiers)
        or any(code in writable for code in when.lists)
        or any(code in live_flags for code in when.flags)
    )


def _measures(rulebook: Rulebook) -> Iterator[Warning_]:
    reachable = reachable_tiers(rulebook)
    for measure in rulebook.measures:
        if _dead_measure(measure, rulebook, reachable):
            file, line = _at(measure.source)
            yield file, line, (
                f"measure {measure.code}: no condition can switch it on: "
                + _why_dead(measure, rulebook, reachable)
            )


def _why_dead(measure: Measure, rulebook: Rulebook, reachable: set[str]) -> str:
    parts = []
    when = measure.when
    if when.tiers:
        parts.append(f"no points can reach tier{'s' * (len(when.tiers) > 1)} "
                     f"{', '.join(when.tiers)}")
    if when.lists:
        parts.append(f"no department may write to {', '.join(when.lists)}")
    if when.flags:
        parts.append(f"no department may write to the watchlist of {', '.join(when.flags)}")
    return "; ".join(parts) or "its when names nothing"


def _rules(rulebook: Rulebook) -> Iterator[Warning_]:
    for table in rulebook.tables:
        for rule in table.rules:
            file, line = _at(rule.source)
            name = f"rule {rule.code}" + (
                f" (version {rule.version})" if len(rulebook.versions(rule.code)) > 1 else ""
            )
            size = abs(rule.points)
            if rule.points == 0:
                yield file, line, f"{name}: points 0: its records never change a standing"
                continue
            if rule.cap is None:
                continue
            cap, per = rule.cap.points, rule.cap.per
            if cap < size:
                yield file, line, (
                    f"{name}: its points ({rule.points:+d}) can never count in full: the cap "
                    f"of {cap} per {per} cuts every record to at most {cap}"
                )
            if rule.repeat is not None and cap <= size:
                yield file, line, (
                    f"{name}: its repeat (x{rule.repeat.factor}) can never matter: one record "
                    f"of {rule.points:+d} already reaches the cap of {cap} per {per}"
                )


def _lists(rulebook: Rulebook) -> Iterator[Warning_]:
    for list_def in rulebook.lists:
        if not list_def.departments:
            file, line = _at(list_def.source)
            yield file, line, (
                f"list {list_def.code}: no department may write to it, so no subject can "
                "ever be on it: give it departments"
            )

