"""Run rule test cases with the reference evaluator and report each failure where it was written.

Records are fixed as the recording service fixes them: in the order the case lists
them, each with the rule version in force on its date, repeat and cap applied from the
subject's earlier records of the same code (voided and annulled ones left out).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.rulebook.limits import Limits
from app.rulebook.model import Rulebook
from app.rulebook.problems import Problem, Sink
from app.ruletests.cases import DEFAULT_SUBJECT, Case, Expectation, read_cases
from app.standing import evaluate, fix_points
from app.standing.model import (
    Dispute,
    ListEntryFact,
    PriorRecord,
    RecordFact,
    Standing,
    SubjectFact,
)

TESTS_DIR = "tests"
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Mismatch:
    key: str
    line: int
    expected: object
    got: object

    def __str__(self) -> str:
        return f"{self.key}: expected {_show(self.expected)}, got {_show(self.got)}"


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold, with where it was written and why."""

    file: str  # labelled, e.g. rules/tests/traffic.yaml
    case: str
    expectation: Expectation
    mismatches: tuple[Mismatch, ...]
    explanation: tuple[str, ...]

    def lines(self) -> list[str]:
        """Return the report lines: one `file:line: ...` per mismatch, then the explanation."""
        e = self.expectation
        where = f"case {self.case!r} on {e.on.isoformat()}"
        if e.subject != DEFAULT_SUBJECT:
            where += f" for {e.subject}"
        out = [f"{self.file}:{m.line}: FAIL {where}: {m}" for m in self.mismatches]
        out.append("    the evaluator's explanation:")
        out.extend(f"    | {line}" for line in self.explanation)
        return out


@dataclass
class RuleTestReport:
    """What a run of the rule tests found."""

    files: int = 0
    cases: int = 0
    checks: int = 0
    failures: list[Failure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # unreadable test files or cases

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems

    @property
    def passed(self) -> int:
        return self.checks - len(self.failures)

    def summary(self) -> str:
        """Return one line: files, cases, checks passed and failed, problems."""
        text = (f"{self.files} file{'s' * (self.files != 1)}, {self.cases} "
                f"case{'s' * (self.cases != 1)}, {self.checks} "
                f"check{'s' * (self.checks != 1)}: {self.passed} passed, "
                f"{len(self.failures)} failed")
        if self.problems:
            count = len(self.problems)
            text += f"; {count} problem{'s' * (count != 1)} in the test files"
        return text

    def as_problems(self) -> list[Problem]:
        """Return every problem and failure as `file:line: message` problems (for a refusal)."""
        out = list(self.problems)
        for failure in self.failures:
            e = failure.expectation
            for m in failure.mismatches:
                out.append(Problem(failure.file, m.line, f"rule test failed: case "
                                   f"{failure.case!r} on {e.on.isoformat()}: {m}"))
        return out


def read_test_files(rules_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Return the texts of `<rules_dir>/tests/**/*.yaml` keyed by path relative to rules_dir."""
    root = Path(rules_dir)
    return {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8", errors="replace")
            for path in _test_paths(root)}


def _test_paths(root: Path) -> list[Path]:
    folder = root / TESTS_DIR
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.rglob("*"))
            if path.is_file() and path.suffix in SUFFIXES and not any(
                part.startswith(".") for part in path.relative_to(root).parts)]


def run_rule_tests(rulebook: Rulebook, files: Mapping[str, str], *,
                   root_label: str = "rules", limits: Limits | None = None) -> RuleTestReport:
    """Run the cases in `files` (texts keyed by path relative to the rules directory);
    `limits` on their YAML (None: none)."""
    sink = Sink(root_label)
    cases = read_cases(dict(files), sink, limits)
    report = RuleTestReport(files=len(files), cases=len(cases))
    for case in cases:
        _run_case(case, rulebook, sink, report)
    report.problems = sink.sorted_problems()
    return report


def run_rule_tests_in(rulebook: Rulebook, rules_dir: str | os.PathLike[str], *,
                      limits: Limits | None = None) -> RuleTestReport:
    """Run the rule tests kept in `<rules_dir>/tests/` (`limits`: on their files' sizes,
    judged before they are read, and on their YAML)."""
    label = os.fspath(rules_dir).rstrip("/") or "."
    if limits is not None:
        sizes = {path: path.stat().st_size for path in _test_paths(Path(rules_dir))}
        refused = [Problem(f"{label}/{path.relative_to(rules_dir).as_posix()}", 0, message)
                   for path, size in sizes.items() if (message := limits.too_big(size))]
        if (message := limits.too_much(sum(sizes.values()))):
            refused.append(Problem(f"{label}/{TESTS_DIR}", 0, message))
        if refused:
            return RuleTestReport(files=len(sizes), cases=0, problems=refused)
    return run_rule_tests(rulebook, read_test_files(rules_dir), root_label=label,
                          limits=limits)


def _run_case(case: Case, rulebook: Rulebook, sink: Sink, report: RuleTestReport) -> None:
    before = len(sink.problems)
    records = _fix_records(case, rulebook, sink)
    entries = _entries(case, rulebook, sink)
    _check_codes(case, rulebook, sink)
    if len(sink.problems) > before:
        return  # the case cannot be run as written; its problems say why
    subjects = {s.id: s for s in case.subjects}
    facts = {s.id: SubjectFact(subject_id=s.id, kind=s.kind, consent=s.consent,
                               name=s.name or s.id, legal_representative=s.legal_representative,
                               legal_representative_since=s.legal_representative_since)
             for s in case.subjects}
    for expectation in case.expectations:
        report.checks += 1
        subject = facts[expectation.subject]
        represented = [(facts[o.id], [e for e in entries if e.subject_id == o.id])
                       for o in subjects.values()
                       if o.kind == "organisation" and o.legal_representative == subject.subject_id]
        standing = evaluate(subject=subject, records=records, list_entries=entries,
                            rulebook=rulebook, as_of=expectation.on, represented=represented)
        mismatches = _compare(expectation, standing)
        if mismatches:
            report.failures.append(Failure(sink.label(case.file), case.name, expectation,
                                           tuple(mismatches), standing.explanation))


def _fix_records(case: Case, rulebook: Rulebook, sink: Sink) -> list[RecordFact]:
    facts: list[RecordFact] = []
    prior: dict[tuple[str, str], list[PriorRecord]] = {}
    for n, given in enumerate(case.records, start=1):
        rule = rulebook.rule_on(given.rule, given.on)
        if rule is None:
            versions = rulebook.versions(given.rule)
            why = (f"rule {given.rule} was not in force on {given.on}" if versions
                   else f"unknown rule {given.rule!r}")
            sink.error(case.file, given.line, f"case {case.name!r}: {why}")
            continue
        mine = prior.setdefault((given.subject, given.rule), [])
        fixed = fix_points(rule=rule, occurred_on=given.on, prior=mine)
        if not (given.voided or given.annulled):
            mine.append(PriorRecord(given.on, fixed.points))
        disputes = ()
        if given.objection is not None:
            disputes = (Dispute(filed_on=given.objection[0], decided_on=given.objection[1]),)
        facts.append(RecordFact(
            id=n, subject_id=given.subject, rule_code=given.rule, rule_version=rule.version,
            occurred_on=given.on, points=fixed.points, ends_on=rule.ends_on(given.on),
            voided=given.voided, annulled=given.annulled, repaired_on=given.repaired,
            disputes=disputes, department=rule.departments[0] if rule.departments else "",
            note=fixed.note, base_points=fixed.base_points, factor=fixed.factor))
    return facts


def _entries(case: Case, rulebook: Rulebook, sink: Sink) -> list[ListEntryFact]:
    out = []
    for n, given in enumerate(case.entries, start=1):
        list_def = rulebook.list_def(given.list)
        if list_def is None:
            sink.error(case.file, given.line, f"case {case.name!r}: unknown list {given.list!r}")
            continue
        out.append(ListEntryFact(
            id=n, subject_id=given.subject, list_code=given.list, entered_on=given.on,
            ends_on=given.ends, removed_on=given.removed,
            department=list_def.departments[0] if list_def.departments else ""))
    return out


def _check_codes(case: Case, rulebook: Rulebook, sink: Sink) -> None:
    known = {
        "tier": {t.code for t in rulebook.scheme.tiers},
        "measures": {m.code for m in rulebook.measures},
        "pending": {m.code for m in rulebook.measures},
        "lists": {x.code for x in rulebook.lists},
        "flags": {flag.code for _, flag in rulebook.flags()},
    }
    for e in case.expectations:
        for key, codes in known.items():
            if key not in e.values:
                continue
            wanted = e.values[key] if isinstance(e.values[key], tuple) else (e.values[key],)
            for code in wanted:
                if code not in codes:
                    sink.error(case.file, e.lines[key],
                               f"case {case.name!r}: {key}: unknown code {code!r} "
                               "(the rulebook has "
                               f"{', '.join(sorted(codes)) or 'none'})")


def _compare(expectation: Expectation, standing: Standing) -> list[Mismatch]:
    got = {
        "scored": standing.scored,
        "points": standing.points,
        "tier": standing.tier.code if standing.tier is not None else None,
        "lists": tuple(sorted({a.list.code for a in standing.lists})),
        "flags": tuple(sorted({f.code for f in standing.flags})),
        "measures": tuple(sorted(m.measure.code for m in standing.measures)),
        "pending": tuple(sorted(p.measure.code for p in standing.pending_measures)),
    }
    return [Mismatch(key, expectation.lines[key], expected, got[key])
            for key, expected in expectation.values.items() if got[key] != expected]


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if value is None:
        return "nothing"
    return str(value)
