"""Read conduct tables, and number each rule code's versions by their effective dates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from app.rulebook.fields import Reader
from app.rulebook.model import (
    CAP_PERIODS,
    SUBJECT_KINDS,
    Cap,
    ConductTable,
    Duration,
    Effective,
    Repeat,
    Rule,
    Source,
)
from app.rulebook.problems import Sink
from app.rulebook.sections import Builder, texted, titled

TABLE_KEYS = ("table", "title", "description", "departments", "rules")
RULE_KEYS = (
    "code",
    "title",
    "points",
    "legal_basis",
    "departments",
    "expires_after",
    "repairable_after",
    "cap",
    "repeat",
    "effective",
    "relief",
    "subjects",
    "description",
)


@dataclass
class RuleRow:
    """One rule row as read, with where it was written and whether it read cleanly."""

    rule: Rule
    file: str
    line: int
    ok: bool
    relief_line: int


@dataclass
class TableRead:
    table: ConductTable
    rows: list[RuleRow] = field(default_factory=list)


def read_table(builder: Builder, file: str, top: Reader) -> None:
    """Read a conduct table file: its keys and every rule row."""
    code = top.code("table", slug=True)
    builder.claim("table", code, file, top.line("table"))
    departments = builder.refer("department", top.codes("departments"), file, top, "departments")
    read = TableRead(
        ConductTable(
            code=code or "",
            **titled(top),
            departments=departments,
            rules=(),
            **texted(top, "description"),
            source=_source(file, top.line()),
        )
    )
    rules = top.raw("rules")
    if isinstance(rules, list) and not rules:
        top.fail("rules", "must list at least one rule")
    raw = top.raw("departments")
    unreadable = raw not in (None, []) and not departments  # already a problem
    for reader, line, _ in builder.entries(
        file,
        top,
        "rules",
        kind="rule",
        like="code: UTIL-X, title: ..., points: -50",
        keys=RULE_KEYS,
        required=("code", "title", "points", "expires_after"),
    ):
        before = len(builder.sink.problems)
        rule = _rule(builder, file, reader, read.table, line, unreadable)
        read.rows.append(
            RuleRow(rule, file, line, len(builder.sink.problems) == before, reader.line("relief"))
        )
    builder.tables.append(read)


def _rule(
    builder: Builder,
    file: str,
    reader: Reader,
    table: ConductTable,
    line: int,
    table_unreadable: bool,
) -> Rule:
    code = reader.code("code")
    raw = reader.raw("departments")
    if raw is None:
        departments = table.departments
        nobody = not departments and not table_unreadable
    else:
        departments = builder.refer(
            "department", reader.codes("departments"), file, reader, "departments"
        )
        nobody = raw == []
    if nobody:
        builder.sink.error(
            file,
            reader.line("departments"),
            f"{reader.name}: no department may "
            "record it: give departments to the rule or to its table",
        )
    cap = reader.sub(
        "cap",
        like="{points: 20, per: year}",
        keys=("points", "per"),
        required=("points", "per"),
    )
    repeat = reader.sub(
        "repeat",
        like="{within: 1y, factor: 2}",
        keys=("within", "factor"),
        required=("within", "factor"),
    )
    subjects = reader.codes("subjects", choices=SUBJECT_KINDS)
    if subjects == [] and reader.raw("subjects") == []:
        reader.fail("subjects", f"must name at least one of {', '.join(SUBJECT_KINDS)}")
    chosen = {c for c, _ in subjects or ()}
    if reader.raw("legal_basis") in (None, ""):
        builder.sink.warn(
            file,
            line,
            f"{reader.name}: no legal_basis: say which law or regulation allows these points",
        )
    return Rule(
        code=code or "",
        **titled(reader, required=True),
        points=_or(reader.integer("points", required=True), 0),
        table=table.code,
        departments=departments,
        expires_after=reader.duration("expires_after", required=True) or Duration(1, "d"),
        repairable_after=reader.duration("repairable_after"),
        cap=Cap(
            _or(cap.integer("points", required=True, minimum=1), 1),
            cap.choice("per", CAP_PERIODS, required=True) or "year",
        )
        if cap
        else None,
        repeat=Repeat(
            repeat.duration("within", required=True) or Duration(1, "y"),
            _or(repeat.integer("factor", required=True, minimum=2), 2),
        )
        if repeat
        else None,
        effective=_effective(reader),
        relief=reader.boolean("relief", default=False),
        subjects=tuple(k for k in SUBJECT_KINDS if k in chosen) if subjects else SUBJECT_KINDS,
        **texted(reader, "legal_basis", "description"),
        source=_source(file, line),
    )


def _effective(reader: Reader) -> Effective:
    sub = reader.sub(
        "effective", like="{from: 2016-01-01, until: 2018-12-31}", keys=("from", "until")
    )
    if sub is None:
        return Effective()
    start, until = sub.day("from"), sub.day("until")
    if start is not None and until is not None and until < start:
        sub.fail("until", f"{until} is before effective.from {start}")
    return Effective(start, until)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _source(file: str, line: int) -> Source:
    return Source(file, line)


def _period(effective: Effective) -> str:
    if effective.start is None and effective.until is None:
        return "always"
    parts = [
        f"from {effective.start}" if effective.start else "",
        f"until {effective.until}" if effective.until else "",
    ]
    return " ".join(p for p in parts if p)


def _overlap(a: Effective, b: Effective) -> bool:
    low = [d for d in (a.start, b.start) if d is not None]
    high = [d for d in (a.until, b.until) if d is not None]
    return not low or not high or max(low) <= min(high)


def assign_versions(builder: Builder, sink: Sink) -> dict[int, Rule]:
    """Number each code's versions by start date; report codes shared or overlapping."""
    groups: dict[str, list[tuple[str, RuleRow]]] = {}
    for read in builder.tables:
        for row in read.rows:
            if row.rule.code:
                groups.setdefault(row.rule.code, []).append((read.table.code, row))
    numbered: dict[int, Rule] = {}
    for code, rows in groups.items():
        home, first = rows[0]
        mine: list[RuleRow] = []
        for table, row in rows:
            if row is not first and (table != home or row.file != first.file):
                sink.error(
                    row.file,
                    row.line,
                    f"rule {code} is already in table {home} "
                    f"({sink.label(first.file)}:{first.line}): a rule code may be used "
                    "in one table only",
                )
            else:
                mine.append(row)
        _check_overlaps(code, [r for r in mine if r.ok], sink)
        mine.sort(key=lambda r: r.rule.effective.start or date.min)
        previous = None
        for number, row in enumerate(mine, start=1):
            rule = replace(row.rule, version=number)
            numbered[id(row)] = rule
            if rule.relief and previous is None:
                sink.warn(
                    row.file,
                    row.relief_line,
                    f"rule {code}: relief has no effect on the first version of a rule",
                )
            elif rule.relief and previous is not None and rule.points < previous.points:
                sink.error(
                    row.file,
                    row.relief_line,
                    f"rule {code}: relief may only make a rule "
                    f"milder, but points {rule.points} are lower than the earlier "
                    f"version's {previous.points}",
                )
            previous = rule
    for read in builder.tables:  # rows without a usable code keep their placeholder
        for row in read.rows:
            numbered.setdefault(id(row), row.rule)
    return numbered


def _check_overlaps(code: str, rows: list[RuleRow], sink: Sink) -> None:
    for i, later in enumerate(rows):
        for earlier in rows[:i]:
            a, b = earlier.rule.effective, later.rule.effective
            if not _overlap(a, b):
                continue
            if a == b == Effective():
                message = (
                    f"rule {code} is written twice (also at line {earlier.line}): to make "
                    "a new version, give both rows 'effective' dates that do not overlap"
                )
            else:
                message = (
                    f"rule {code}: in force {_period(b)}, which overlaps the version at "
                    f"line {earlier.line} (in force {_period(a)}): versions of a rule "
                    "must not overlap"
                )
            sink.error(later.file, later.line, message)
