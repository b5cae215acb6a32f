"""Read rule test files (`rules/tests/*.yaml`) into cases, with every problem at its line.

A file holds `cases:`, a list. Each case names its subjects, records and list entries
and what is expected on given dates:

    cases:
      - case: A second ticket within a year counts double
        subjects: [{id: driver}]                  # optional: one person called "subject"
        records:
          - {rule: TRAFFIC-TICKET, occurred_on: 2024-03-01}
          - {rule: TRAFFIC-TICKET, occurred_on: 2024-09-15}
        list_entries:
          - {list: court-defaulters, entered_on: 2024-05-10}
        expect:
          - as_of: 2024-09-20
            points: 991
            tier: A
            lists: [court-defaulters]
            flags: []
            measures: [LOAN-TERMS]
            pending: [TENDER-BAN]

A record may also say `subject` (required when the case has several subjects), `voided`,
`annulled`, `repaired_on` and `objection: {filed_on, decided_on}`; a list entry `subject`,
`ends_on` and `removed_on`; a subject `kind`, `consent`, `legal_representative` and `name`.
(`on` alone is not used as a key: YAML reads it as "true".)

Only the keys written under an expectation are checked; `measures`, `pending`, `lists`
and `flags` must match exactly (write `[]` for none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from app.rulebook.fields import Reader
from app.rulebook.limits import Limits
from app.rulebook.model import SUBJECT_KINDS
from app.rulebook.problems import Sink
from app.rulebook.yamlio import LineDict, parse_yaml

CASE_KEYS = ("case", "description", "subjects", "records", "list_entries", "expect")
SUBJECT_KEYS = ("id", "kind", "consent", "legal_representative", "legal_representative_since",
                "name")
RECORD_KEYS = ("rule", "occurred_on", "subject", "voided", "annulled", "repaired_on",
               "objection")
ENTRY_KEYS = ("list", "entered_on", "subject", "ends_on", "removed_on")
EXPECT_KEYS = ("as_of", "subject", "scored", "points", "tier", "lists", "flags", "measures",
               "pending")
SET_KEYS = ("lists", "flags", "measures", "pending")
DEFAULT_SUBJECT = "subject"


@dataclass(frozen=True)
class GivenSubject:
    id: str
    kind: str = "person"
    consent: bool = True
    legal_representative: str | None = None
    name: str = ""
    legal_representative_since: date | None = None  # None: named before any fact


@dataclass(frozen=True)
class GivenRecord:
    rule: str
    on: date
    subject: str
    line: int
    voided: bool = False
    annulled: bool = False
    repaired: date | None = None
    objection: tuple[date, date | None] | None = None


@dataclass(frozen=True)
class GivenEntry:
    list: str
    on: date
    subject: str
    line: int
    ends: date | None = None
    removed: date | None = None


@dataclass(frozen=True)
class Expectation:
    on: date
    subject: str
    line: int
    values: dict  # key -> expected value (sets as sorted tuples)
    lines: dict  # key -> line of that key


@dataclass
class Case:
    name: str
    file: str  # relative to the rules directory, e.g. tests/traffic.yaml
    line: int
    subjects: list[GivenSubject] = field(default_factory=list)
    records: list[GivenRecord] = field(default_factory=list)
    entries: list[GivenEntry] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)


def read_cases(files: dict[str, str], sink: Sink, limits: Limits | None = None) -> list[Case]:
    """Read every rule test file; record problems in `sink` and return the cases read
    (`limits`: on the YAML of each file, None for none)."""
    cases: list[Case] = []
    used: list[int] = []  # the limit is on all the files together
    for relative, text in sorted(files.items()):
        data, problems = parse_yaml(
            text, max_nodes=limits.yaml_nodes if limits else None,
            max_aliases=limits.yaml_aliases if limits else None, used=used)
        for line, message in problems:
            sink.error(relative, line, message)
        if data is None:
            if not problems:
                sink.error(relative, 1, "empty file: a rule test file holds 'cases:'")
            continue
        if not isinstance(data, LineDict):
            sink.error(relative, 1, "a rule test file must be a mapping with 'cases:'")
            continue
        top = Reader(sink, relative, data, name=None, keys=("cases",), required=("cases",))
        items = top.items("cases", required=True) or []
        if "cases" in data and not items:
            top.fail("cases", "must list at least one case")
        for index, (value, line) in enumerate(items):
            case = _case(sink, relative, value, line, index)
            if case is not None:
                cases.append(case)
    return cases


def _case(sink: Sink, file: str, value, line: int, index: int) -> Case | None:
    title = value.get("case") if isinstance(value, dict) else None
    name = f"case {title!r}" if isinstance(title, str) and title else f"case #{index + 1}"
    reader = Reader.open(sink, file, value, line, label=f"cases item {index + 1}",
                         like="case: ..., records: [...], expect: [...]", name=name,
                         keys=CASE_KEYS, required=("case", "expect"))
    if reader is None:
        return None
    case = Case(name=reader.text("case", required=True) or name, file=file, line=line)
    case.subjects = _subjects(sink, file, reader)
    ids = {s.id for s in case.subjects}
    default = case.subjects[0].id if len(case.subjects) == 1 else None
    for item in _entries(sink, file, reader, "records", RECORD_KEYS, ("rule", "occurred_on"),
                         "{rule: TRAFFIC-TICKET, occurred_on: 2024-03-01}"):
        sub, at = item
        subject = _subject_of(sub, ids, default)
        rule, on = sub.code("rule", slug=False), sub.day("occurred_on")
        objection = None
        raw = sub.sub("objection", like="{filed_on: 2024-03-10, decided_on: 2024-03-20}",
                      keys=("filed_on", "decided_on"), required=("filed_on",))
        if raw is not None and raw.day("filed_on") is not None:
            objection = (raw.day("filed_on"), raw.day("decided_on"))
        if rule and on and subject:
            case.records.append(GivenRecord(
                rule=rule, on=on, subject=subject, line=at,
                voided=sub.boolean("voided", default=False),
                annulled=sub.boolean("annulled", default=False),
                repaired=sub.day("repaired_on"), objection=objection))
    for sub, at in _entries(sink, file, reader, "list_entries", ENTRY_KEYS,
                            ("list", "entered_on"),
                            "{list: court-defaulters, entered_on: 2024-05-10}"):
        subject = _subject_of(sub, ids, default)
        code, on = sub.code("list", slug=True), sub.day("entered_on")
        if code and on and subject:
            case.entries.append(GivenEntry(list=code, on=on, subject=subject, line=at,
                                           ends=sub.day("ends_on"), removed=sub.day("removed_on")))
    raw = reader.raw("expect")
    if isinstance(raw, dict):  # one expectation may be written without the list
        raw_items = [(raw, reader.line("expect"))]
    else:
        raw_items = reader.items("expect", required=True) or []
        if isinstance(raw, list) and not raw:
            reader.fail("expect", "must list at least one expectation")
    for n, (value, at) in enumerate(raw_items):
        sub = Reader.open(sink, file, value, at, label=f"expect item {n + 1}",
                          like="{as_of: 2024-09-20, points: 991, tier: A}",
                          name=f"case {case.name!r}", keys=EXPECT_KEYS, required=("as_of",))
        if sub is None:
            continue
        expectation = _expectation(sub, ids, default, at)
        if expectation is not None:
            case.expectations.append(expectation)
    return case


def _subjects(sink: Sink, file: str, reader: Reader) -> list[GivenSubject]:
    if reader.raw("subjects") is None:
        return [GivenSubject(DEFAULT_SUBJECT)]
    found: list[GivenSubject] = []
    for sub, line in _entries(sink, file, reader, "subjects", SUBJECT_KEYS, ("id",),
                              "{id: acme, kind: organisation}"):
        sid = sub.code("id", slug=False)
        kind = sub.choice("kind", SUBJECT_KINDS, default="person")
        rep = sub.code("legal_representative", slug=False, required=False)
        if sid is None:
            continue
        if any(s.id == sid for s in found):
            sink.error(file, line, f"{reader.name}: subject {sid!r} is given twice")
            continue
        found.append(GivenSubject(sid, kind or "person", sub.boolean("consent", default=True),
                                  rep, sub.text("name"),
                                  sub.day("legal_representative_since")))
    return found or [GivenSubject(DEFAULT_SUBJECT)]


def _entries(sink: Sink, file: str, reader: Reader, key: str, keys, required, like):
    for index, (value, line) in enumerate(reader.items(key) or []):
        sub = Reader.open(sink, file, value, line, label=f"{key} item {index + 1}", like=like,
                          name=reader.name, keys=keys, required=required)
        if sub is not None:
            yield sub, line


def _subject_of(sub: Reader, ids: set[str], default: str | None) -> str | None:
    if "subject" not in sub.data:
        if default is None:
            sub.fail("subject", "is missing: the case has several subjects, so say whose it is")
        return default
    sid = sub.code("subject", slug=False)
    if sid is not None and sid not in ids:
        sub.fail("subject", f"{sid!r} is not one of the case's subjects ({', '.join(sorted(ids))})")
        return None
    return sid


def _expectation(sub: Reader, ids: set[str], default: str | None, line: int) -> Expectation | None:
    on = sub.day("as_of")
    subject = _subject_of(sub, ids, default)
    values: dict = {}
    lines: dict = {}
    for key in ("scored",):
        if key in sub.data:
            values[key] = sub.boolean(key, default=True)
    if "points" in sub.data:
        points = sub.integer("points", required=True)
        if points is not None:
            values["points"] = points
    if "tier" in sub.data:
        tier = sub.code("tier", slug=False)
        if tier is not None:
            values["tier"] = tier
    for key in SET_KEYS:
        if key in sub.data:
            codes = sub.codes(key, slug=key in ("lists", "flags"))
            if codes is not None:
                values[key] = tuple(sorted(code for code, _ in codes))
    for key in values:
        lines[key] = sub.line(key)
    if on is None or subject is None:
        return None
    return Expectation(on=on, subject=subject, line=line, values=values, lines=lines)
