"""A readable diff between two rulebooks: per-file unified diffs and what changed in meaning.

What changed in meaning is data first (`rulebook_changes`: a `Change` is a code and its
JSON-able values) and words second (app.rulebook.change_words: `wording`, in any language
the message catalogue has; `english` and `diff_rulebooks` give the one English wording).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.rulebook.model import Duration, Rule, Rulebook, When

JSONValue = Any  # str, int, bool, None, or a list (of these or of such dicts)
Values = dict[str, JSONValue]


@dataclass(frozen=True)
class Change:
    """One change in meaning: a code (CODES) and the values it is worded from, all JSON-able
    (codes, numbers, booleans, ISO dates, durations as written in the rule files: "30d";
    None for "none")."""

    code: str
    values: Values = field(default_factory=dict)

    def to_json(self) -> Values:
        return {"code": self.code, "values": dict(self.values)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(str(data["code"]), dict(data.get("values") or {}))


@dataclass(frozen=True)
class FileDiff:
    name: str  # relative to the rules directory
    status: str  # "added", "removed" or "changed"
    lines: tuple[str, ...]  # the unified diff, without line ends


@dataclass(frozen=True)
class RulebookDiff:
    files: tuple[FileDiff, ...]
    changes: tuple[str, ...]  # the semantic summary, one sentence per change

    @property
    def same(self) -> bool:
        return not self.files and not self.changes


def diff_files(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[FileDiff, ...]:
    """Return the unified diff of each file that was added, removed or changed."""
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        status = "added" if a is None else "removed" if b is None else "changed"
        lines = difflib.unified_diff(
            (a or "").splitlines(), (b or "").splitlines(),
            fromfile=f"a/{name}" if a is not None else "/dev/null",
            tofile=f"b/{name}" if b is not None else "/dev/null", lineterm="")
        out.append(FileDiff(name, status, tuple(lines)))
    return tuple(out)


def diff_rulebooks(old: Rulebook, new: Rulebook) -> tuple[str, ...]:
    """Return the changes in meaning from `old` to `new`, one English sentence each."""
    from app.rulebook.change_words import english  # the words build on the data

    return tuple(english(change) for change in rulebook_changes(old, new))


def rulebook_changes(old: Rulebook, new: Rulebook) -> tuple[Change, ...]:
    """Return the changes in meaning from `old` to `new` as data, in the order of
    `diff_rulebooks`."""
    return (*_scheme(old, new), *_departments(old, new), *_rules(old, new),
            *_measures(old, new), *_lists(old, new))


def diff(old_files: Mapping[str, str], new_files: Mapping[str, str],
         old: Rulebook | None, new: Rulebook | None) -> RulebookDiff:
    """Return the file diffs and, when both rulebooks loaded, the semantic summary."""
    changes = diff_rulebooks(old, new) if old is not None and new is not None else ()
    return RulebookDiff(diff_files(old_files, new_files), changes)


# The changes as data -------------------------------------------------------------------


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _duration(duration: Duration | None) -> str | None:
    return str(duration) if duration is not None else None


def _value(value: object) -> JSONValue:
    """A rulebook value as JSON: tuples as lists, durations as their text ("30d")."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Duration):
        return str(value)
    return value  # str, int, bool or None


def _scheme(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    a, b = old.scheme, new.scheme
    if a.starting_points != b.starting_points:
        yield Change("starting_points", {"before": a.starting_points, "after": b.starting_points})
    if a.requires_consent != b.requires_consent:
        yield Change("requires_consent", {"before": a.requires_consent,
                                          "after": b.requires_consent})
    tiers_a = {t.code: t for t in a.tiers}
    tiers_b = {t.code: t for t in b.tiers}
    for code in tiers_b.keys() - tiers_a.keys():
        yield Change("tier_added", {"tier": code, "min": tiers_b[code].min})
    for code in tiers_a.keys() - tiers_b.keys():
        yield Change("tier_removed", {"tier": code})
    for tier in b.tiers:
        before = tiers_a.get(tier.code)
        if before is not None and before.min != tier.min:
            yield Change("tier_min", {"tier": tier.code, "before": before.min,
                                      "after": tier.min})
    if [t.code for t in a.tiers if t.code in tiers_b] != [t.code for t in b.tiers
                                                          if t.code in tiers_a]:
        yield Change("tier_order", {})
    if a.objections != b.objections:
        yield Change("objection_deadlines", {})


def _departments(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    a = {d.code for d in old.departments}
    b = {d.code for d in new.departments}
    for code in sorted(b - a):
        yield Change("department_added", {"department": code})
    for code in sorted(a - b):
        yield Change("department_removed", {"department": code})
    keeps_a = {d.code for d in old.departments if d.keeps_register}
    keeps_b = {d.code for d in new.departments if d.keeps_register}
    for code in sorted((keeps_b - keeps_a) & a):
        yield Change("department_keeps_register", {"department": code})
    for code in sorted((keeps_a - keeps_b) & b):
        yield Change("department_no_longer_keeps_register", {"department": code})


def _version(rule: Rule) -> dict[str, JSONValue]:
    return {"version": rule.version, "points": rule.points,
            "start": _day(rule.effective.start), "until": _day(rule.effective.until),
            "relief": rule.relief}


RULE_FIELDS = ("title", "table", "expires_after", "repairable_after", "legal_basis",
                "departments", "subjects")


def _rules(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    codes = sorted(set(old.rule_codes) | set(new.rule_codes))
    for code in codes:
        a, b = old.versions(code), new.versions(code)
        if not a:
            yield Change("rule_added", {"rule": code, "versions": [_version(r) for r in b]})
            continue
        if not b:
            yield Change("rule_removed", {"rule": code, "versions": len(a)})
            continue
        for number in range(1, max(len(a), len(b)) + 1):
            ra = a[number - 1] if number <= len(a) else None
            rb = b[number - 1] if number <= len(b) else None
            name = {"rule": code, "version": number}
            if ra is None:
                assert rb is not None  # number is within one of the two
                yield Change("rule_version_added", {**_version(rb), **name})
                continue
            if rb is None:
                yield Change("rule_version_removed", name)
                continue
            if ra.points != rb.points:
                yield Change("rule_points", {**name, "before": ra.points, "after": rb.points})
            if ra.effective != rb.effective:
                yield Change("rule_in_force", {
                    **name, "before_start": _day(ra.effective.start),
                    "before_until": _day(ra.effective.until),
                    "after_start": _day(rb.effective.start),
                    "after_until": _day(rb.effective.until)})
            if ra.relief != rb.relief:
                yield Change("rule_relief", {**name, "relief": rb.relief})
            if ra.cap != rb.cap:
                yield Change("rule_cap", {
                    **name, "before_points": ra.cap.points if ra.cap else None,
                    "before_per": ra.cap.per if ra.cap else None,
                    "after_points": rb.cap.points if rb.cap else None,
                    "after_per": rb.cap.per if rb.cap else None})
            if ra.repeat != rb.repeat:
                yield Change("rule_repeat", {
                    **name, "before_factor": ra.repeat.factor if ra.repeat else None,
                    "before_within": _duration(ra.repeat.within) if ra.repeat else None,
                    "after_factor": rb.repeat.factor if rb.repeat else None,
                    "after_within": _duration(rb.repeat.within) if rb.repeat else None})
            for attr in RULE_FIELDS:
                va, vb = getattr(ra, attr), getattr(rb, attr)
                if va != vb:
                    yield Change(f"rule_{attr}", {**name, "before": _value(va),
                                                  "after": _value(vb)})


def _when(when: When, prefix: str) -> dict[str, JSONValue]:
    return {f"{prefix}tiers": list(when.tiers), f"{prefix}lists": list(when.lists),
            f"{prefix}flags": list(when.flags)}


def _measures(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    a = {m.code: m for m in old.measures}
    b = {m.code: m for m in new.measures}
    for code in sorted(b.keys() - a.keys()):
        yield Change("measure_added", {"measure": code, "kind": b[code].kind,
                                       **_when(b[code].when, "")})
    for code in sorted(a.keys() - b.keys()):
        yield Change("measure_removed", {"measure": code})
    for code in sorted(a.keys() & b.keys()):
        ma, mb = a[code], b[code]
        if ma.when != mb.when:
            yield Change("measure_when", {"measure": code, **_when(ma.when, "before_"),
                                          **_when(mb.when, "after_")})
        if ma.notice != mb.notice:
            yield Change("measure_notice", {"measure": code, "before": _value(ma.notice),
                                            "after": _value(mb.notice)})
        for attr in ("kind", "title", "owner", "legal_basis", "reaches"):
            va, vb = getattr(ma, attr), getattr(mb, attr)
            if va != vb:
                yield Change(f"measure_{attr}", {"measure": code, "before": _value(va),
                                                 "after": _value(vb)})


def _lists(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    a = {x.code: x for x in old.lists}
    b = {x.code: x for x in new.lists}
    for code in sorted(b.keys() - a.keys()):
        yield Change("list_added", {"list": code, "kind": b[code].kind})
    for code in sorted(a.keys() - b.keys()):
        yield Change("list_removed", {"list": code})
    for code in sorted(a.keys() & b.keys()):
        la, lb = a[code], b[code]
        for attr in ("kind", "lasts", "departments", "public", "flag", "title", "legal_basis"):
            va, vb = getattr(la, attr), getattr(lb, attr)
            if va == vb:
                continue
            if attr == "flag":
                yield Change("list_flag", {
                    "list": code, "before_entries": va.entries if va else None,
                    "before_within": _duration(va.within) if va else None,
                    "after_entries": vb.entries if vb else None,
                    "after_within": _duration(vb.within) if vb else None})
            else:
                yield Change(f"list_{attr}", {"list": code, "before": _value(va),
                                              "after": _value(vb)})
