"""Build rulebooks and facts directly from the dataclasses, without YAML or a database."""

from __future__ import annotations

from datetime import date
from itertools import count

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
    Tier,
    When,
)
from app.standing.model import Dispute, ListEntryFact, RecordFact, SubjectFact

SUBJECT_ID = "370782199001011234"
_ids = count(1)


def d(text: str) -> date:
    """Parse an ISO date."""
    return date.fromisoformat(text)


def dur(text: str) -> Duration:
    """Parse a duration such as 1y."""
    return Duration.parse(text)


RONGCHENG_TIERS = (
    Tier("AAA", 1050, "Exemplary"),
    Tier("AA", 1030),
    Tier("A", 960),
    Tier("B", 850),
    Tier("C", 600),
    Tier("D", None),
)


def make_scheme(
    *, starting_points: int = 1000, requires_consent: bool = False, suspend_record: bool = True
) -> Scheme:
    """Return the Rongcheng pilot scheme (AAA>=1050, AA>=1030, A>=960, B>=850, C>=600, D)."""
    return Scheme(
        code="rongcheng-pilot",
        title="Personal credit points (pilot)",
        starting_points=starting_points,
        requires_consent=requires_consent,
        tiers=RONGCHENG_TIERS,
        objections=Objections(suspend_record=suspend_record),
    )


def make_rule(
    code: str = "VOL-HOURS",
    *,
    points: int = 1,
    expires_after: str = "1y",
    title: str | None = None,
    legal_basis: str = "Personal credit assessment standard, annex 1",
    cap: tuple[int, str] | None = None,
    repeat: tuple[str, int] | None = None,
    effective: tuple[date | None, date | None] = (None, None),
    version: int = 1,
    table: str = "general",
) -> Rule:
    """Return a rule row with sensible defaults."""
    return Rule(
        code=code,
        title=title or f"Title of {code}",
        points=points,
        table=table,
        departments=("village-committee",),
        expires_after=dur(expires_after),
        legal_basis=legal_basis,
        cap=Cap(*cap) if cap else None,
        repeat=Repeat(dur(repeat[0]), repeat[1]) if repeat else None,
        effective=Effective(*effective),
        version=version,
    )


def make_measure(
    code: str = "TENDER-BAN",
    *,
    kind: str = "restriction",
    tiers: tuple[str, ...] = (),
    lists: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    notice: str | None = None,
    legal_basis: str = "Tendering and Bidding Law, arts. 53, 54, 60",
) -> Measure:
    """Return a measure switched on by the given tiers, lists and flags."""
    return Measure(
        code=code,
        kind=kind,
        title=f"Title of {code}",
        owner="finance-bureau",
        when=When(tiers=tiers, lists=lists, flags=flags),
        legal_basis=legal_basis,
        notice=dur(notice) if notice else None,
    )


DEFAULT_LISTS = (
    ListDef(
        code="court-defaulters",
        kind="blacklist",
        title="Dishonest judgment debtors",
        departments=("court",),
        lasts=dur("2y"),
        public=True,
        legal_basis="SPC provisions on the list of dishonest judgment debtors",
    ),
    ListDef(code="model-citizens", kind="redlist", departments=("civil-affairs",), lasts=dur("1y")),
    ListDef(
        code="priority-scrutiny",
        kind="watchlist",
        flag=Flag(code="priority-scrutiny", entries=3, within=dur("1y")),
    ),
)


def make_rulebook(
    *,
    rules: tuple[Rule, ...] = (),
    measures: tuple[Measure, ...] = (),
    lists: tuple[ListDef, ...] = DEFAULT_LISTS,
    starting_points: int = 1000,
    requires_consent: bool = False,
    suspend_record: bool = True,
    fingerprint: str = "test-fingerprint",
) -> Rulebook:
    """Return a Rongcheng rulebook holding `rules` in one table."""
    return Rulebook(
        scheme=make_scheme(
            starting_points=starting_points,
            requires_consent=requires_consent,
            suspend_record=suspend_record,
        ),
        departments=(
            Department("village-committee", "Village committee"),
            Department("court", "People's Court"),
            Department("finance-bureau", "Finance Bureau"),
            Department("civil-affairs", "Civil Affairs Bureau"),
        ),
        tables=(
            ConductTable(
                code="general", title="General", departments=("village-committee",), rules=rules
            ),
        ),
        measures=measures,
        lists=lists,
        fingerprint=fingerprint,
    )


def make_subject(*, subject_id: str = SUBJECT_ID, consent: bool = True) -> SubjectFact:
    """Return a person."""
    return SubjectFact(subject_id=subject_id, consent=consent, name="Zhang San")


def make_record(
    rule: Rule,
    occurred_on: date,
    *,
    points: int | None = None,
    subject_id: str = SUBJECT_ID,
    record_id: int | None = None,
    voided: bool = False,
    annulled: bool = False,
    repaired_on: date | None = None,
    disputes: tuple[Dispute, ...] = (),
    note: str = "",
) -> RecordFact:
    """Return a stored record of `rule` (points default to the rule's)."""
    return RecordFact(
        id=record_id if record_id is not None else next(_ids),
        subject_id=subject_id,
        rule_code=rule.code,
        rule_version=rule.version,
        occurred_on=occurred_on,
        points=rule.points if points is None else points,
        ends_on=rule.ends_on(occurred_on),
        voided=voided,
        annulled=annulled,
        repaired_on=repaired_on,
        disputes=disputes,
        department="village-committee",
        evidence="minutes of the village committee",
        note=note,
    )


def make_entry(
    list_code: str,
    entered_on: date,
    *,
    ends_on: date | None = None,
    removed_on: date | None = None,
    subject_id: str = SUBJECT_ID,
    entry_id: int | None = None,
    decision_ref: str = "",
    legal_basis: str = "",
) -> ListEntryFact:
    """Return a list entry."""
    return ListEntryFact(
        id=entry_id if entry_id is not None else next(_ids),
        subject_id=subject_id,
        list_code=list_code,
        entered_on=entered_on,
        ends_on=ends_on,
        removed_on=removed_on,
        department="court",
        legal_basis=legal_basis,
        decision_ref=decision_ref,
    )
