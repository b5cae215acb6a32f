"""The standing as the JSON object of the standing API (and `flask standing --json`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.standing.model import Standing


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def standing_to_json(standing: Standing) -> dict[str, Any]:
    """Return `standing` as the standing API's JSON object, in a deterministic order."""
    return {
        "subject_id": standing.subject_id,
        "as_of": standing.as_of.isoformat(),
        "points": standing.points,
        "tier": standing.tier.code if standing.tier is not None else None,
        "lists": sorted({active.list.code for active in standing.lists}),
        "flags": sorted({flag.code for flag in standing.flags}),
        "measures": [
            {"code": m.measure.code, "kind": m.measure.kind, "since": _iso(m.since)}
            for m in sorted(standing.measures, key=lambda m: m.measure.code)
        ],
        "records": [
            {
                "id": item.record.id,
                "rule_code": item.record.rule_code,
                "rule_version": item.record.rule_version,
                "title": item.rule.title if item.rule is not None else "",
                "points": item.points,  # as counted on as_of (relief applied; see explanation)
                "occurred_on": item.record.occurred_on.isoformat(),
                "ends_on": item.until.isoformat(),
                "legal_basis": item.rule.legal_basis if item.rule is not None else "",
                "department": item.record.department,
                "evidence": item.record.evidence,
                "note": item.record.note,
            }
            for item in sorted(standing.records, key=lambda c: (c.record.occurred_on, c.record.id))
        ],
        "scored": standing.scored,
        "starting_points": standing.starting_points,
        "pending_measures": [
            {
                "code": p.measure.code,
                "kind": p.measure.kind,
                "holds_since": p.holds_since.isoformat(),
                "takes_effect_on": p.takes_effect_on.isoformat(),
            }
            for p in sorted(standing.pending_measures, key=lambda p: p.measure.code)
        ],
        "excluded": [
            {"id": item.record.id, "rule_code": item.record.rule_code, "reason": item.reason,
             "because": item.why.as_json()}
            for item in sorted(standing.excluded, key=lambda x: (x.record.occurred_on, x.record.id))
        ],
        "explanation": list(standing.explanation),
        "fingerprint": standing.fingerprint,
        "rulebook": {"fingerprint": standing.fingerprint,
                     "in_force_from": _iso(standing.in_force_from)},
    }
