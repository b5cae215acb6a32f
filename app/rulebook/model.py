"""The rulebook as frozen values: what the YAML rule tables mean, with no I/O.

Every object keeps `source` (file and line) so that any decision can be traced
back to the row a rule author wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

SUBJECT_KINDS = ("person", "organisation")
MEASURE_KINDS = ("benefit", "restriction")
LIST_KINDS = ("blacklist", "redlist", "watchlist")
CAP_PERIODS = ("year", "month")
# Languages a text (title, description, legal basis...) may be written in:
# `title: {en: ..., zh: ...}`. A plain string is the English text.
TITLE_LANGUAGES = ("en", "zh")
TEXT_LANGUAGES = TITLE_LANGUAGES

# A text written per language, other than the title: (key, ((language, text), ...)).
Texts = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

_DURATION_RE = re.compile(r"^([1-9][0-9]*|0)([dmy])$")


@dataclass(frozen=True, order=True)
class Source:
    """Where a value was written: a file (relative to the rules directory) and a line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Duration:
    """A span of `count` days, months or years; month and year steps clamp to month end."""

    count: int
    unit: str  # "d", "m" or "y"

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse `Nd`, `Nm` or `Ny`; raise ValueError with a readable message otherwise."""
        match = _DURATION_RE.match(str(text).strip())
        if not match:
            raise ValueError(
                f"{text!r} is not a duration: write a whole number followed by d, m or y "
                "(for example 30d, 3m, 2y)"
            )
        return cls(int(match.group(1)), match.group(2))

    def _delta(self) -> timedelta | relativedelta:
        if self.unit == "d":
            return timedelta(days=self.count)
        if self.unit == "m":
            return relativedelta(months=self.count)
        return relativedelta(years=self.count)

    def after(self, day: date) -> date:
        """Return `day` + this duration (Jan 31 + 1m = Feb 28 or 29), at the latest date.max."""
        try:
            return day + self._delta()
        except (OverflowError, ValueError):
            return date.max

    def before(self, day: date) -> date:
        """Return `day` - this duration (Mar 31 - 1m = Feb 28 or 29), at the earliest date.min."""
        try:
            return day - self._delta()
        except (OverflowError, ValueError):
            return date.min

    def latest_start(self, day: date) -> date:
        """Return the last day s with s + this duration on or before `day`.

        A period begun on any day up to that one has run by `day`. The same as `before(day)`
        for days; where months are short, later: on Feb 28 a month has run since Jan 31
        (Jan 31 + 1m = Feb 28), though Feb 28 - 1m is Jan 28.
        """
        start = self.before(day)
        while start < date.max and self.after(start + timedelta(days=1)) <= day:
            start += timedelta(days=1)
        return start

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


@dataclass(frozen=True)
class Tier:
    code: str
    min: int | None  # inclusive; None only for the last (lowest) tier
    title: str = ""
    description: str = ""
    source: Source | None = field(default=None, compare=False)
    titles: tuple[tuple[str, str], ...] = ()  # (language, title) when written per language
    texts: Texts = ()  # other texts written per language (description, legal_basis)


@dataclass(frozen=True)
class Objections:
    window: Duration = Duration(30, "d")
    decide_within: Duration = Duration(15, "d")
    suspend_record: bool = True
    reconsider_window: Duration = Duration(10, "d")
    reconsider_within: Duration = Duration(15, "d")


@dataclass(frozen=True)
class Repair:
    """How a resident's application for repair is handled: the recording department
    decides within `decide_within` of the application."""

    decide_within: Duration = Duration(15, "d")


@dataclass(frozen=True)
class Scheme:
    code: str
    title: str
    starting_points: int
    requires_consent: bool
    tiers: tuple[Tier, ...]
    objections: Objections = Objections()
    description: str = ""
    source: Source | None = field(default=None, compare=False)
    titles: tuple[tuple[str, str], ...] = ()
    texts: Texts = ()  # other texts written per language (description)
    repair: Repair = Repair()
    languages: tuple[str, ...] = ()  # the languages every text should be in; first: residents'
    in_force_from: date | None = None  # the first day it may be in force (city time)
    in_force_from_source: Source | None = field(default=None, compare=False)

    def tier_for(self, points: int) -> Tier:
        """Return the first tier, highest first, whose min is at or below `points`."""
        for tier in self.tiers:
            if tier.min is None or points >= tier.min:
                return tier
        raise AssertionError("the last tier has no minimum")  # guaranteed by validation


@dataclass(frozen=True)
class Department:
    code: str
    title: str
    source: Source | None = field(default=None, compare=False)
    titles: tuple[tuple[str, str], ...] = ()
    keeps_register: bool = False  # may write the population register (API and imports)


@dataclass(frozen=True)
class Effective:
    """The dates a rule version is in force: from `start` to `until`, both inclusive."""

    start: date | None = None
    until: date | None = None

    def contains(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (
            self.until is None or day <= self.until
        )


@dataclass(frozen=True)
class Cap:
    points: int  # the most, in absolute value, per calendar period
    per: str  # "year" or "month"

    def period_of(self, day: date) -> tuple[date, date]:
        """Return the first and last day of the calendar period that holds `day`."""
        if self.per == "year":
            return date(day.year, 1, 1), date(day.year, 12, 31)
        first = day.replace(day=1)
        return first, first + relativedelta(months=1) - timedelta(days=1)


@dataclass(frozen=True)
class Repeat:
    within: Duration
    factor: int


@dataclass(frozen=True)
class Rule:
    """One version of one row of a conduct table."""

    code: str
    title: str
    points: int
    table: str
    departments: tuple[str, ...]
    expires_after: Duration
    legal_basis: str = ""
    repairable_after: Duration | None = None
    cap: Cap | None = None
    repeat: Repeat | None = None
    effective: Effective = Effective()
    relief: bool = False
    subjects: tuple[str, ...] = SUBJECT_KINDS
    version: int = 1  # 1-based position among the versions of this code, by start date
    description: str = ""
    source: Source | None = field(default=None, compare=False)
    titles: tuple[tuple[str, str], ...] = ()
    texts: Texts = ()  # other texts written per language (description, legal_basis)

    def ends_on(self, occurred_on: date) -> date:
        """Return the first day a record of this version no longer counts."""
        return self.expires_after.after(occurred_on)

    def repairable_on(self, occurred_on: date) -> date | None:
        """Return the first day a record may be marked repaired, or None if never."""
        if self.repairable_after is None:
            return None
        return self.repairable_after.after(occurred_on)


@dataclass(frozen=True)
class ConductTable:
    code: str
    title: str
    departments: tuple[str, ...]
    rules: tuple[Rule, ...]
    source: Source | None = field(default=None, compare=False)
    description: str = ""
    titles: tuple[tuple[str, str], ...] = ()
    texts: Texts = ()  # other texts written per language (description, legal_basis)


@dataclass(frozen=True)
class When:
    tiers: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measure:
    code: str
    kind: str  # "benefit" or "restriction"
    title: str
    owner: str
    when: When
    legal_basis: str = ""
    notice: Duration | None = None
    reaches: tuple[str, ...] = ()  # e.g. ("legal_representative",)
    description: str = ""
    source: Source | None = field(default=None, compare=False)
    titles: tuple[tuple[str, str], ...] = ()
    texts: Texts = ()  # other texts written per language (description, legal_basis)


@dataclass(frozen=True)
class Flag:
    """A watchlist raises flag `code` with `entries` entries within `within`."""

    code: str
    entries: int = 3
    within: Duration = Duration(1, "y")


@dataclass(frozen=True)
class ListDef:
    code: str
    kind: str  # "blacklist", "redlist" or "watchlist"
    title: str = ""
    departments: tuple[str, ...] = ()
    lasts: Duration | None = None
    public: bool = False
    flag: Flag | None = None
    legal_basis: str = ""
    source: Source | None = field(default=None, compare=False)
    titles: tuple[tuple[str, str], ...] = ()
    texts: Texts = ()  # other texts written per language (description, legal_basis)
    objections: Objections | None = None  # objections to an entry; None: the scheme's


@dataclass(frozen=True)
class Rulebook:
    """All rule files loaded and validated as one unit, with their fingerprint."""

    scheme: Scheme
    departments: tuple[Department, ...]
    tables: tuple[ConductTable, ...]
    measures: tuple[Measure, ...]
    lists: tuple[ListDef, ...]
    fingerprint: str
    files: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)
    # Derived lookups, built once in __post_init__ (the dataclass is frozen).
    _versions: dict[str, tuple[Rule, ...]] = field(
        init=False, default_factory=dict, compare=False, repr=False)
    _measures: dict[str, Measure] = field(
        init=False, default_factory=dict, compare=False, repr=False)
    _lists: dict[str, ListDef] = field(init=False, default_factory=dict, compare=False, repr=False)
    _departments: dict[str, Department] = field(
        init=False, default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        versions: dict[str, list[Rule]] = {}
        for table in self.tables:
            for rule in table.rules:
                versions.setdefault(rule.code, []).append(rule)
        for code, rows in versions.items():
            rows.sort(key=lambda r: r.effective.start or date.min)
            versions[code] = rows
        object.__setattr__(self, "_versions", {c: tuple(v) for c, v in versions.items()})
        object.__setattr__(self, "_measures", {m.code: m for m in self.measures})
        object.__setattr__(self, "_lists", {x.code: x for x in self.lists})
        object.__setattr__(self, "_departments", {d.code: d for d in self.departments})

    @property
    def rule_codes(self) -> tuple[str, ...]:
        return tuple(sorted(self._versions))

    def versions(self, code: str) -> tuple[Rule, ...]:
        """Return every version of rule `code`, oldest first (empty if unknown)."""
        return self._versions.get(code, ())

    def rule_on(self, code: str, day: date) -> Rule | None:
        """Return the version of rule `code` in force on `day`, or None."""
        for rule in self._versions.get(code, ()):
            if rule.effective.contains(day):
                return rule
        return None

    def rule_version(self, code: str, version: int) -> Rule | None:
        """Return version number `version` (1-based) of rule `code`, or None."""
        rows = self._versions.get(code, ())
        return rows[version - 1] if 0 < version <= len(rows) else None

    def measure(self, code: str) -> Measure | None:
        return self._measures.get(code)

    def list_def(self, code: str) -> ListDef | None:
        return self._lists.get(code)

    def department(self, code: str) -> Department | None:
        return self._departments.get(code)

    def flags(self) -> tuple[tuple[ListDef, Flag], ...]:
        """Return each watchlist that raises a flag, with its flag."""
        return tuple((x, x.flag) for x in self.lists if x.flag is not None)

    def codes_for_department(self, department: str, day: date | None = None) -> tuple[str, ...]:
        """Return the rule codes `department` may record (in force on `day`, if given)."""
        codes = set()
        for code, rows in self._versions.items():
            for rule in rows:
                if department in rule.departments and (day is None or rule.effective.contains(day)):
                    codes.add(code)
        return tuple(sorted(codes))


def title_in(item: object, language: str) -> str:
    """Return the title of `item` (scheme, tier, rule...) in `language`, else its plain title."""
    if item is None:
        return ""
    return dict(getattr(item, "titles", ())).get(language) or getattr(item, "title", "") or ""


def text_in(item: object, key: str, language: str) -> str:
    """Return the text `key` of `item` (description, legal_basis...) in `language`.

    Falls back to the plain text (the English one, or the only one written).
    """
    if item is None:
        return ""
    if key == "title":
        return title_in(item, language)
    written = dict(getattr(item, "texts", ())).get(key)
    if written:
        found: str | None = dict(written).get(language)
        if found:
            return found
    value = getattr(item, key, "")
    return value if isinstance(value, str) else ""
