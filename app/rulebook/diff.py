"""A readable diff between two rulebooks: per-file unified diffs and what changed in meaning."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from app.rulebook.model import Effective, Measure, Rule, Rulebook


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
    """Return the changes in meaning from `old` to `new`, one sentence each."""
    return (*_scheme(old, new), *_departments(old, new), *_rules(old, new),
            *_measures(old, new), *_lists(old, new))


def diff(old_files: Mapping[str, str], new_files: Mapping[str, str],
         old: Rulebook | None, new: Rulebook | None) -> RulebookDiff:
    """Return the file diffs and, when both rulebooks loaded, the semantic summary."""
    changes = diff_rulebooks(old, new) if old is not None and new is not None else ()
    return RulebookDiff(diff_files(old_files, new_files), changes)


def _period(e: Effective) -> str:
    if e.start and e.until:
        return f"{e.start} to {e.until}"
    if e.start:
        return f"from {e.start}"
    if e.until:
        return f"until {e.until}"
    return "always"


def _scheme(old: Rulebook, new: Rulebook) -> Iterator[str]:
    a, b = old.scheme, new.scheme
    if a.starting_points != b.starting_points:
        yield f"starting points {a.starting_points} → {b.starting_points}"
    if a.requires_consent != b.requires_consent:
        yield f"requires consent {str(a.requires_consent).lower()} → " \
              f"{str(b.requires_consent).lower()}"
    tiers_a = {t.code: t for t in a.tiers}
    tiers_b = {t.code: t for t in b.tiers}
    for code in tiers_b.keys() - tiers_a.keys():
        yield f"tier {code} added (min {tiers_b[code].min})"
    for code in tiers_a.keys() - tiers_b.keys():
        yield f"tier {code} removed"
    for tier in b.tiers:
        before = tiers_a.get(tier.code)
        if before is not None and before.min != tier.min:
            yield f"tier {tier.code}: min {before.min} → {tier.min}"
    if [t.code for t in a.tiers if t.code in tiers_b] != [t.code for t in b.tiers
                                                          if t.code in tiers_a]:
        yield "the order of the tiers changed"
    if a.objections != b.objections:
        yield "objection deadlines changed"


def _departments(old: Rulebook, new: Rulebook) -> Iterator[str]:
    a = {d.code for d in old.departments}
    b = {d.code for d in new.departments}
    for code in sorted(b - a):
        yield f"department {code} added"
    for code in sorted(a - b):
        yield f"department {code} removed"
    keeps_a = {d.code for d in old.departments if d.keeps_register}
    keeps_b = {d.code for d in new.departments if d.keeps_register}
    for code in sorted((keeps_b - keeps_a) & a):
        yield f"department {code} now keeps the register"
    for code in sorted((keeps_a - keeps_b) & b):
        yield f"department {code} no longer keeps the register"


def _rule_text(rule: Rule) -> str:
    text = f"{rule.points:+d}, {_period(rule.effective)}"
    return text + (", relief" if rule.relief else "")


_RULE_FIELDS = (
    ("title", "title"), ("table", "table"), ("expires_after", "expires after"),
    ("repairable_after", "repairable after"), ("legal_basis", "legal basis"),
    ("departments", "departments"), ("subjects", "subjects"),
)


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return str(value)


def _rules(old: Rulebook, new: Rulebook) -> Iterator[str]:
    codes = sorted(set(old.rule_codes) | set(new.rule_codes))
    for code in codes:
        a, b = old.versions(code), new.versions(code)
        if not a:
            yield f"rule {code} added: " + "; ".join(f"version {r.version} {_rule_text(r)}"
                                                     for r in b)
            continue
        if not b:
            yield f"rule {code} removed (it had {len(a)} version{'s' * (len(a) != 1)})"
            continue
        for number in range(1, max(len(a), len(b)) + 1):
            ra = a[number - 1] if number <= len(a) else None
            rb = b[number - 1] if number <= len(b) else None
            name = f"rule {code} version {number}"
            if ra is None:
                assert rb is not None  # number is within one of the two
                yield f"{name} added: {_rule_text(rb)}"
                continue
            if rb is None:
                yield f"{name} removed"
                continue
            if ra.points != rb.points:
                yield f"{name}: points {ra.points:+d} → {rb.points:+d}"
            if ra.effective != rb.effective:
                yield f"{name}: in force {_period(ra.effective)} → {_period(rb.effective)}"
            if ra.relief != rb.relief:
                yield f"{name}: relief {'granted' if rb.relief else 'withdrawn'}"
            if ra.cap != rb.cap:
                yield f"{name}: cap {_cap(ra)} → {_cap(rb)}"
            if ra.repeat != rb.repeat:
                yield f"{name}: repeat {_repeat(ra)} → {_repeat(rb)}"
            for attr, label in _RULE_FIELDS:
                va, vb = getattr(ra, attr), getattr(rb, attr)
                if va != vb:
                    yield f"{name}: {label} {_show(va)} → {_show(vb)}"


def _cap(rule: Rule) -> str:
    return f"{rule.cap.points} per {rule.cap.per}" if rule.cap else "none"


def _repeat(rule: Rule) -> str:
    return f"x{rule.repeat.factor} within {rule.repeat.within}" if rule.repeat else "none"


def _when(measure: Measure) -> str:
    parts = []
    for label, codes in (("tiers", measure.when.tiers), ("lists", measure.when.lists),
                         ("flags", measure.when.flags)):
        if codes:
            parts.append(f"{label} {', '.join(codes)}")
    return "; ".join(parts) or "nothing"


def _measures(old: Rulebook, new: Rulebook) -> Iterator[str]:
    a = {m.code: m for m in old.measures}
    b = {m.code: m for m in new.measures}
    for code in sorted(b.keys() - a.keys()):
        yield f"measure {code} added ({b[code].kind}, when {_when(b[code])})"
    for code in sorted(a.keys() - b.keys()):
        yield f"measure {code} removed"
    for code in sorted(a.keys() & b.keys()):
        ma, mb = a[code], b[code]
        if ma.when != mb.when:
            yield f"measure {code}: when {_when(ma)} → {_when(mb)}"
        if ma.notice != mb.notice:
            yield f"measure {code}: notice {_show(ma.notice)} → {_show(mb.notice)}"
        for attr in ("kind", "title", "owner", "legal_basis", "reaches"):
            va, vb = getattr(ma, attr), getattr(mb, attr)
            if va != vb:
                yield f"measure {code}: {attr.replace('_', ' ')} {_show(va)} → {_show(vb)}"


def _lists(old: Rulebook, new: Rulebook) -> Iterator[str]:
    a = {x.code: x for x in old.lists}
    b = {x.code: x for x in new.lists}
    for code in sorted(b.keys() - a.keys()):
        yield f"list {code} added ({b[code].kind})"
    for code in sorted(a.keys() - b.keys()):
        yield f"list {code} removed"
    for code in sorted(a.keys() & b.keys()):
        la, lb = a[code], b[code]
        for attr in ("kind", "lasts", "departments", "public", "flag", "title", "legal_basis"):
            va, vb = getattr(la, attr), getattr(lb, attr)
            if va != vb:
                if attr == "flag":
                    va = f"{va.entries} within {va.within}" if va else None
                    vb = f"{vb.entries} within {vb.within}" if vb else None
                yield f"list {code}: {attr.replace('_', ' ')} {_show(va)} → {_show(vb)}"
