"""Plain values the evaluator reads (facts) and returns (a standing and its explanation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from app.rulebook.model import ListDef, Measure, Rule, Tier
from app.standing.because import Because, english


@dataclass(frozen=True)
class SubjectFact:
    subject_id: str
    kind: str = "person"  # "person" or "organisation"
    consent: bool = True
    name: str = ""
    legal_representative: str | None = None  # a person's subject_id, for organisations
    # The day the register named that representative: measures reach them from then on
    # (None: named before the register kept the date).
    legal_representative_since: date | None = None


@dataclass(frozen=True)
class Dispute:
    """An objection against a record: pending from `filed_on` until `decided_on` (exclusive)."""

    filed_on: date
    decided_on: date | None = None


@dataclass(frozen=True)
class RecordFact:
    """One stored record, as the evaluator needs it. Points were fixed when it was recorded."""

    id: int
    subject_id: str
    rule_code: str
    rule_version: int
    occurred_on: date
    points: int
    ends_on: date  # occurred_on + expires_after of its rule version (exclusive)
    voided: bool = False
    annulled: bool = False
    repaired_on: date | None = None
    disputes: tuple[Dispute, ...] = ()
    department: str = ""
    evidence: str = ""
    note: str = ""  # how the points were fixed (repeat, cap), in words
    base_points: int | None = None  # the rule version's points when recorded
    factor: int = 1  # the repeat factor applied when recorded


@dataclass(frozen=True)
class ListEntryFact:
    """One entry on a list: counts from `entered_on` until `ends_on`/`removed_on` (exclusive)."""

    id: int
    subject_id: str
    list_code: str
    entered_on: date
    ends_on: date | None = None
    removed_on: date | None = None
    department: str = ""
    legal_basis: str = ""
    decision_ref: str = ""


@dataclass(frozen=True, slots=True)  # an import of a million rows keeps a million
class PriorRecord:
    """A record already stored for the same subject and rule, used to fix a new one's points."""

    occurred_on: date
    points: int


@dataclass(frozen=True)
class FixedPoints:
    points: int  # what the record adds (negative for a deduction)
    base_points: int  # the rule version's points
    factor: int = 1  # the repeat factor applied (1 if none)
    note: str = ""  # how repeat and cap changed the points, in words; empty if they did not


@dataclass(frozen=True)
class CountingRecord:
    record: RecordFact
    rule: Rule | None  # the version it was recorded under (None if no longer in the rulebook)
    until: date  # the first day it no longer counts
    relief: Rule | None = None  # a later, milder version whose points it counts with
    relief_points: int | None = None  # what it counts with under `relief`

    @property
    def points(self) -> int:
        """Return the points this record counts with on the standing's date."""
        return self.record.points if self.relief_points is None else self.relief_points


@dataclass(frozen=True)
class ExcludedRecord:
    record: RecordFact
    rule: Rule | None
    why: Because  # why it does not count on the standing's date

    @property
    def reason(self) -> str:
        """Return why it does not count, in English."""
        return english(self.why)


@dataclass(frozen=True)
class ActiveList:
    entry: ListEntryFact
    list: ListDef
    until: date | None  # first day it no longer counts; None if open-ended


@dataclass(frozen=True)
class RaisedFlag:
    code: str
    list_code: str
    entries: tuple[ListEntryFact, ...]  # the watchlist entries behind the flag
    threshold: int
    within: str  # the window, as written (e.g. "1y")


@dataclass(frozen=True)
class Reason:
    """Why a measure applies: a tier, a list entry or a flag, with its legal basis."""

    kind: str  # "tier", "list" or "flag"
    code: str
    because: Because  # the reason as data (its code is the kind)
    legal_basis: str = ""
    entries: tuple[ListEntryFact, ...] = ()  # the list entry, or the entries behind a flag
    via: SubjectFact | None = None  # the organisation it reaches this subject through

    @property
    def detail(self) -> str:
        """Return the reason in English."""
        return english(self.because)


@dataclass(frozen=True)
class ActiveMeasure:
    measure: Measure
    since: date | None  # first day it applied in the current unbroken run; None: from the start
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class PendingMeasure:
    """A measure whose condition holds but whose notice period has not yet run."""

    measure: Measure
    holds_since: date
    takes_effect_on: date
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Standing:
    subject_id: str
    as_of: date
    scored: bool  # False when the scheme requires consent and the subject has not given it
    starting_points: int
    points: int | None
    tier: Tier | None
    records: tuple[CountingRecord, ...] = ()
    excluded: tuple[ExcludedRecord, ...] = ()
    lists: tuple[ActiveList, ...] = ()
    flags: tuple[RaisedFlag, ...] = ()
    measures: tuple[ActiveMeasure, ...] = ()
    pending_measures: tuple[PendingMeasure, ...] = ()
    fingerprint: str = ""
    in_force_from: date | None = None  # the first day of the rulebook used (None: always)
    explanation: tuple[str, ...] = field(default=(), compare=False)
