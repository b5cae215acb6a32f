"""The rulebook's fingerprint: a sha256 of what the rules mean, not of how they are written.

Comments, key order, quoting, the order of unordered lists (departments, measures...)
and which file a section lives in do not change it; any change of meaning does.
Defaults are written out, so leaving a key at its default equals writing the default.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from app.rulebook.model import (
    ConductTable,
    Department,
    Duration,
    Effective,
    ListDef,
    Measure,
    Objections,
    Repair,
    Rule,
    Scheme,
)

FORMAT = "citypoints-rulebook/1"  # bump when the canonical form changes


def _duration(value: Duration | None) -> str | None:
    return None if value is None else str(value)


def _effective(value: Effective) -> dict[str, Any]:
    return {
        "from": value.start.isoformat() if value.start else None,
        "until": value.until.isoformat() if value.until else None,
    }


def _titled(content: dict[str, Any], item: Any) -> dict[str, Any]:
    """Add `titles` and `texts` to `content` only when written, so plain texts keep their hash."""
    if getattr(item, "titles", ()):
        content["titles"] = dict(item.titles)
    if getattr(item, "texts", ()):  # other texts written per language, likewise
        content["texts"] = {key: dict(pairs) for key, pairs in item.texts}
    if getattr(item, "languages", ()):
        content["languages"] = list(item.languages)
    return content


def _objections(o: Objections) -> dict[str, Any]:
    return {
        "window": _duration(o.window),
        "decide_within": _duration(o.decide_within),
        "suspend_record": o.suspend_record,
        "reconsider_window": _duration(o.reconsider_window),
        "reconsider_within": _duration(o.reconsider_within),
    }


def _scheme(scheme: Scheme) -> dict[str, Any]:
    o = scheme.objections
    content = _titled({
        "code": scheme.code,
        "title": scheme.title,
        "description": scheme.description,
        "starting_points": scheme.starting_points,
        "requires_consent": scheme.requires_consent,
        # Tier order is meaningful (highest first), so it is kept.
        "tiers": [
            _titled(
                {"code": t.code, "min": t.min, "title": t.title, "description": t.description}, t
            )
            for t in scheme.tiers
        ],
        "objections": _objections(o),
        # Written only when it differs from the default, so rulebooks written before the
        # key existed keep their fingerprint.
        **({"repair": {"decide_within": _duration(scheme.repair.decide_within)}}
           if scheme.repair != Repair() else {}),
    }, scheme)
    if scheme.in_force_from is not None:  # only when written, so other rulebooks keep their hash
        content["in_force_from"] = scheme.in_force_from.isoformat()
    return content


def _rule(rule: Rule) -> dict[str, Any]:
    return _titled({
        "code": rule.code,
        "title": rule.title,
        "points": rule.points,
        "departments": sorted(rule.departments),
        "expires_after": _duration(rule.expires_after),
        "legal_basis": rule.legal_basis,
        "repairable_after": _duration(rule.repairable_after),
        "cap": {"points": rule.cap.points, "per": rule.cap.per} if rule.cap else None,
        "repeat": (
            {"within": _duration(rule.repeat.within), "factor": rule.repeat.factor}
            if rule.repeat
            else None
        ),
        "effective": _effective(rule.effective),
        "relief": rule.relief,
        "subjects": sorted(rule.subjects),
        "description": rule.description,
    }, rule)


def _table(table: ConductTable) -> dict[str, Any]:
    rules = sorted(
        (_rule(r) for r in table.rules),
        key=lambda r: (r["code"], r["effective"]["from"] or ""),
    )
    return _titled({
        "code": table.code,
        "title": table.title,
        "description": table.description,
        "departments": sorted(table.departments),
        "rules": rules,
    }, table)


def _measure(measure: Measure) -> dict[str, Any]:
    return _titled({
        "code": measure.code,
        "kind": measure.kind,
        "title": measure.title,
        "owner": measure.owner,
        "legal_basis": measure.legal_basis,
        "when": {
            "tiers": sorted(measure.when.tiers),
            "lists": sorted(measure.when.lists),
            "flags": sorted(measure.when.flags),
        },
        "notice": _duration(measure.notice),
        "reaches": sorted(measure.reaches),
        "description": measure.description,
    }, measure)


def _list(item: ListDef) -> dict[str, Any]:
    flag = item.flag
    return _titled({
        "code": item.code,
        "kind": item.kind,
        "title": item.title,
        "departments": sorted(item.departments),
        "lasts": _duration(item.lasts),
        "public": item.public,
        "legal_basis": item.legal_basis,
        "flag": (
            {"code": flag.code, "entries": flag.entries, "within": _duration(flag.within)}
            if flag
            else None
        ),
        **({"objections": _objections(item.objections)} if item.objections else {}),
    }, item)


def _by_code(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda x: x["code"])


def canonical_json(
    *,
    scheme: Scheme,
    departments: Iterable[Department],
    tables: Iterable[ConductTable],
    measures: Iterable[Measure],
    lists: Iterable[ListDef],
) -> str:
    """Return the canonical JSON text of a rulebook's meaning."""
    content = {
        "format": FORMAT,
        "scheme": _scheme(scheme),
        "departments": _by_code(
            # keeps_register only when set: rulebooks without it keep their fingerprints
            _titled({"code": d.code, "title": d.title,
                     **({"keeps_register": True} if d.keeps_register else {})}, d)
            for d in departments
        ),
        "tables": _by_code(_table(t) for t in tables),
        "measures": _by_code(_measure(m) for m in measures),
        "lists": _by_code(_list(x) for x in lists),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_fingerprint(**parts: Any) -> str:
    """Return the sha256 hex digest of `canonical_json(**parts)`."""
    return hashlib.sha256(canonical_json(**parts).encode("utf-8")).hexdigest()
