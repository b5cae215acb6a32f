"""The rulebook: YAML rule files parsed, validated and fingerprinted into frozen values (pure)."""

from app.rulebook.fingerprint import canonical_json, compute_fingerprint
from app.rulebook.limits import Limits
from app.rulebook.loader import (
    check_rulebook,
    check_rulebook_texts,
    load_rulebook,
    load_rulebook_from_texts,
)
from app.rulebook.model import (
    Cap,
    ConductTable,
    Department,
    Duration,
    Effective,
    Flag,
    ListDef,
    Measure,
    Objections,
    Repeat,
    Rule,
    Rulebook,
    Scheme,
    Source,
    Tier,
    When,
)
from app.rulebook.problems import CheckResult, Problem, RulebookError
from app.rulebook.timeline import InForce, RulebookTimeline, first_day

__all__ = [
    "Cap",
    "CheckResult",
    "ConductTable",
    "Department",
    "Duration",
    "Effective",
    "Flag",
    "InForce",
    "RulebookTimeline",
    "first_day",
    "ListDef",
    "Measure",
    "Objections",
    "Problem",
    "Repeat",
    "Rule",
    "Rulebook",
    "RulebookError",
    "Scheme",
    "Source",
    "Tier",
    "When",
    "canonical_json",
    "check_rulebook",
    "Limits",
    "check_rulebook_texts",
    "compute_fingerprint",
    "load_rulebook",
    "load_rulebook_from_texts",
]
