"""Simulate a candidate rulebook over the whole population before it takes effect.

Both rulebooks are evaluated on one date by the recompute's own set-based SQL, into
temporary tables, inside a transaction that is rolled back: the live standings are never
touched. The report counts subjects per tier before and after, the moves up and down, who
gains or loses each measure, and explains a sample of the movers with the reference
evaluator under each rulebook. The only row written is the simulation's log entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Result, select, text
from sqlmodel import Session

from app.models import Subject
from app.rulebook import Rulebook
from app.rulebook.diff import diff_rulebooks
from app.services.locks import begin_write
from app.services.rulebooks.history import SIMULATE, record_event
from app.services.standings.facts import load_facts, load_represented, subject_fact
from app.services.standings.recompute import measures_table, points_table
from app.services.transaction import transaction
from app.standing import evaluate
from app.standing.explain import describe_relief
from app.standing.model import Standing

log = logging.getLogger(__name__)
NOT_SCORED = "(not scored)"
LOWEST = -(10**12)
_TABLES = ("cp_sim_before", "cp_sim_after", "cp_sim_mb", "cp_sim_ma")


@dataclass(frozen=True)
class TierCount:
    tier: str
    before: int
    after: int


@dataclass(frozen=True)
class Transition:
    before: str
    after: str
    subjects: int
    direction: str  # "up", "down" or "other" (scored / no longer scored)


@dataclass
class MeasureChange:
    code: str
    kind: str
    title: str
    gained: int = 0
    lost: int = 0
    gained_ids: list[str] = field(default_factory=list)  # the first ones, by subject id
    lost_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordChange:
    """A record that counts differently under the candidate, with its rule rows."""

    record_id: int
    rule_code: str
    occurred_on: date
    before: int | None  # the points it counts with (None: does not count)
    after: int | None
    rule_before: str  # e.g. "TRAFFIC-TICKET version 1 (-5), conduct/traffic.yaml:21"
    rule_after: str
    reason: str  # e.g. "relief under version 2 from 2024-01-01: -5 → -3"


@dataclass
class Mover:
    subject_id: str
    name: str
    points_before: int | None
    tier_before: str | None
    points_after: int | None
    tier_after: str | None
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    records: list[RecordChange] = field(default_factory=list)
    rule_changes: list[str] = field(default_factory=list)  # rulebook changes that touch it
    explanation_before: tuple[str, ...] = ()
    explanation_after: tuple[str, ...] = ()


@dataclass
class SubjectChange:
    """What a candidate changes for one subject: its tier, and the measures it gains or loses."""

    tier_before: str | None
    tier_after: str | None
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


@dataclass
class SimulationReport:
    as_of: date
    in_force: str  # fingerprints
    candidate: str
    subjects: int = 0
    tiers: list[TierCount] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    moved_up: int = 0
    moved_down: int = 0
    moved_other: int = 0
    measures: list[MeasureChange] = field(default_factory=list)
    sample: list[Mover] = field(default_factory=list)
    changes: tuple[str, ...] = ()  # what the candidate changes, in words
    duration_ms: int = 0
    everyone: dict[str, SubjectChange] | None = None  # every subject it moves (if asked)

    @property
    def moved(self) -> int:
        return self.moved_up + self.moved_down + self.moved_other

    def summary(self) -> dict:
        """Return the headline numbers (logged with the simulation)."""
        return {"as_of": self.as_of.isoformat(), "in_force": self.in_force,
                "subjects": self.subjects, "moved_up": self.moved_up,
                "moved_down": self.moved_down, "moved_other": self.moved_other,
                "measures": {m.code: {"gained": m.gained, "lost": m.lost}
                             for m in self.measures if m.gained or m.lost},
                "duration_ms": self.duration_ms}


def simulate(session: Session, *, in_force: Rulebook, candidate: Rulebook, as_of: date,
             actor: str, source: str = "", sample: int = 20, ids_per_measure: int = 50,
             log_it: bool = True, everyone: bool = False,
             progress: Callable[[int, int, str], None] | None = None) -> SimulationReport:
    """Compare `candidate` with `in_force` for every subject on `as_of`; write only a log row.
    With `everyone`, the report also names every subject whose tier or measures change.

    `progress(done, total, step)`, when given, hears of each step as it starts.
    """
    started = time.perf_counter()
    steps = 7 + sample

    def tell(done: int, step: str) -> None:
        if progress is not None:
            progress(done, steps, step)

    report = SimulationReport(as_of=as_of, in_force=in_force.fingerprint,
                              candidate=candidate.fingerprint,
                              changes=diff_rulebooks(in_force, candidate))
    session.rollback()  # start from a clean transaction; everything below is rolled back
    try:
        for n, (rulebook, points, measures, which) in enumerate((
                (in_force, "cp_sim_before", "cp_sim_mb", "the rulebook in force"),
                (candidate, "cp_sim_after", "cp_sim_ma", "the candidate"))):
            tell(2 * n, f"points under {which}")
            points_table(session, rulebook=rulebook, day=as_of, table=points)
            tell(2 * n + 1, f"measures under {which}")
            measures_table(session, rulebook=rulebook, day=as_of, points=points, table=measures)
        tell(4, "counting tiers")
        _count_tiers(session, report, in_force, candidate)
        tell(5, "counting measures")
        _count_measures(session, report, in_force, candidate, ids_per_measure)
        tell(6, "choosing movers to explain")
        movers = _sample_ids(session, sample)
        if everyone:
            report.everyone = _everyone(session)
        for table in _TABLES:
            _run(session, f"DROP TABLE IF EXISTS {table}")
    finally:
        session.rollback()
    report.sample = []
    for n, (sid, row) in enumerate(movers):
        tell(7 + n, "explaining the movers")
        report.sample.append(_explain(session, sid, report, in_force, candidate, as_of, row))
    tell(steps, "done")
    session.rollback()  # the sample only read
    report.duration_ms = int((time.perf_counter() - started) * 1000)
    if log_it:
        with transaction(session):
            begin_write(session, "rulebook-history")
            record_event(session, action=SIMULATE, actor=actor,
                         fingerprint=candidate.fingerprint, source=source,
                         details=report.summary())
    log.info("simulated %s against %s on %s: %d subjects, %d up, %d down, %d ms",
             candidate.fingerprint[:12], in_force.fingerprint[:12], as_of, report.subjects,
             report.moved_up, report.moved_down, report.duration_ms)
    return report


def _run(session: Session, sql: str, params: dict | None = None) -> Result:
    """Run one of the simulation's statements on its temporary tables."""
    return session.execute(text(sql), params or {})


def _levels(rulebook: Rulebook) -> dict[str | None, int]:
    levels: dict[str | None, int] = {t.code: (t.min if t.min is not None else LOWEST)
                                     for t in rulebook.scheme.tiers}
    levels[None] = LOWEST - 1
    return levels


def _count_tiers(session: Session, report: SimulationReport, in_force: Rulebook,
                 candidate: Rulebook) -> None:
    before = dict(_run(session, "SELECT tier, COUNT(*) FROM cp_sim_before GROUP BY tier").all())
    after = dict(_run(session, "SELECT tier, COUNT(*) FROM cp_sim_after GROUP BY tier").all())
    report.subjects = sum(before.values())
    order = [t.code for t in candidate.scheme.tiers]
    order += [t.code for t in in_force.scheme.tiers if t.code not in order]
    order += sorted(k for k in set(before) | set(after) if k is not None and k not in order)
    report.tiers = [TierCount(code, before.get(code, 0), after.get(code, 0)) for code in order]
    if None in before or None in after:
        report.tiers.append(TierCount(NOT_SCORED, before.get(None, 0), after.get(None, 0)))
    old_levels, new_levels = _levels(in_force), _levels(candidate)
    rows = _run(session, """
        SELECT b.tier, a.tier, COUNT(*) FROM cp_sim_before b
        JOIN cp_sim_after a ON a.subject_id = b.subject_id
        WHERE COALESCE(b.tier, '') <> COALESCE(a.tier, '')
        GROUP BY b.tier, a.tier
    """).all()
    for old, new, count in rows:
        if old is None or new is None:
            direction = "other"
            report.moved_other += count
        elif new_levels.get(new, LOWEST) > old_levels.get(old, LOWEST):
            direction = "up"
            report.moved_up += count
        else:
            direction = "down"
            report.moved_down += count
        report.transitions.append(Transition(old or NOT_SCORED, new or NOT_SCORED, count,
                                             direction))
    report.transitions.sort(key=lambda t: (-t.subjects, t.before, t.after))


def _count_measures(session: Session, report: SimulationReport, in_force: Rulebook,
                    candidate: Rulebook, limit: int) -> None:
    defs = {m.code: m for m in in_force.measures}
    defs.update({m.code: m for m in candidate.measures})
    changes = {code: MeasureChange(code, m.kind, m.title) for code, m in sorted(defs.items())}
    for name, this, other in (("gained", "cp_sim_ma", "cp_sim_mb"),
                              ("lost", "cp_sim_mb", "cp_sim_ma")):
        missing = (f"FROM {this} t WHERE NOT EXISTS (SELECT 1 FROM {other} o WHERE "
                   "o.subject_id = t.subject_id AND o.measure_code = t.measure_code)")
        for code, count in _run(session, f"SELECT t.measure_code, COUNT(*) {missing} "
                                          "GROUP BY t.measure_code").all():
            setattr(changes[code], name, count)
            ids = _run(session, f"SELECT t.subject_id {missing} AND t.measure_code = :c "
                                 f"ORDER BY t.subject_id LIMIT {int(limit)}", {"c": code})
            setattr(changes[code], f"{name}_ids", [row[0] for row in ids])
    report.measures = list(changes.values())


def _everyone(session: Session) -> dict[str, SubjectChange]:
    """Return every subject whose tier or measures differ, with what differs."""
    found = {sid: SubjectChange(old, new) for sid, old, new in _run(session, """
        SELECT b.subject_id, b.tier, a.tier FROM cp_sim_before b
        JOIN cp_sim_after a ON a.subject_id = b.subject_id
        WHERE COALESCE(b.tier, '') <> COALESCE(a.tier, '')""")}
    for name, this, other in (("gained", "cp_sim_ma", "cp_sim_mb"),
                              ("lost", "cp_sim_mb", "cp_sim_ma")):
        for sid, code, tier in _run(session, f"""
                SELECT t.subject_id, t.measure_code, b.tier FROM {this} t
                JOIN cp_sim_before b ON b.subject_id = t.subject_id
                WHERE NOT EXISTS (SELECT 1 FROM {other} o WHERE o.subject_id = t.subject_id
                                  AND o.measure_code = t.measure_code)
                ORDER BY t.subject_id, t.measure_code"""):
            change = found.setdefault(sid, SubjectChange(tier, tier))
            getattr(change, name).append(code)
    return found


def _sample_ids(session: Session, size: int) -> list[tuple[str, tuple]]:
    """Return up to `size` movers by subject id (tier changes first, then measure changes)."""
    rows = _run(session, f"""
        SELECT b.subject_id, b.points, b.tier, a.points, a.tier FROM cp_sim_before b
        JOIN cp_sim_after a ON a.subject_id = b.subject_id
        WHERE COALESCE(b.tier, '') <> COALESCE(a.tier, '')
        ORDER BY b.subject_id LIMIT {int(size)}
    """).all()
    found = [(r[0], tuple(r[1:])) for r in rows]
    if len(found) < size:
        seen = {sid for sid, _ in found}
        more = _run(session, f"""
            SELECT b.subject_id, b.points, b.tier, a.points, a.tier FROM cp_sim_before b
            JOIN cp_sim_after a ON a.subject_id = b.subject_id
            WHERE b.subject_id IN (
                SELECT subject_id FROM (
                    SELECT subject_id, measure_code FROM cp_sim_ma EXCEPT
                    SELECT subject_id, measure_code FROM cp_sim_mb) g
                UNION SELECT subject_id FROM (
                    SELECT subject_id, measure_code FROM cp_sim_mb EXCEPT
                    SELECT subject_id, measure_code FROM cp_sim_ma) l)
            ORDER BY b.subject_id LIMIT {int(size) * 2}
        """).all()
        for r in more:
            if r[0] not in seen and len(found) < size:
                found.append((r[0], tuple(r[1:])))
    return found


def _rule_row(rulebook: Rulebook, code: str, version: int) -> str:
    rule = rulebook.rule_version(code, version)
    if rule is None:
        return f"{code} version {version}: not in this rulebook"
    where = f", {rule.source}" if rule.source is not None else ""
    return f"{code} version {version} ({rule.points:+d}){where}"


def _counted(standing: Standing) -> dict[int, tuple[int, str, str]]:
    """Return, per counting record, its points, the relief in words and the relief's row."""
    out = {}
    for item in standing.records:
        reason = row = ""
        if item.relief is not None:
            reason = describe_relief(item)
            where = f", {item.relief.source}" if item.relief.source is not None else ""
            row = (f"; relief from {item.relief.code} version {item.relief.version} "
                   f"({item.relief.points:+d}){where}")
        out[item.record.id] = (item.points, reason, row)
    return out


def _explain(session: Session, subject_id: str, report: SimulationReport, in_force: Rulebook,
             candidate: Rulebook, as_of: date, row: tuple) -> Mover:
    subject = session.execute(select(Subject).where(Subject.subject_id == subject_id)).scalar_one()
    records, entries = load_facts(session, subject)
    represented = load_represented(session, subject)
    fact = subject_fact(subject)
    before = evaluate(subject=fact, records=records, list_entries=entries, rulebook=in_force,
                      as_of=as_of, represented=represented)
    after = evaluate(subject=fact, records=records, list_entries=entries, rulebook=candidate,
                     as_of=as_of, represented=represented)
    mover = Mover(subject_id, subject.name, row[0], row[1], row[2], row[3],
                  explanation_before=before.explanation, explanation_after=after.explanation)
    had = {m.measure.code for m in before.measures}
    has = {m.measure.code for m in after.measures}
    mover.gained, mover.lost = sorted(has - had), sorted(had - has)
    counted_before, counted_after = _counted(before), _counted(after)
    by_id = {r.id: r for r in records}
    for record_id in sorted(set(counted_before) | set(counted_after)):
        b, a = counted_before.get(record_id), counted_after.get(record_id)
        if b is not None and a is not None and b[0] == a[0]:
            continue
        record = by_id[record_id]
        mover.records.append(RecordChange(
            record_id, record.rule_code, record.occurred_on, b[0] if b else None,
            a[0] if a else None,
            _rule_row(in_force, record.rule_code, record.rule_version) + (b[2] if b else ""),
            _rule_row(candidate, record.rule_code, record.rule_version) + (a[2] if a else ""),
            (a[1] if a else "") or (b[1] if b else "")))
    touched = {by_id[i].rule_code for i in set(counted_before) | set(counted_after)}
    tiers = {t for t in (row[1], row[3]) if t}
    measures = set(mover.gained) | set(mover.lost)
    mover.rule_changes = [
        change for change in report.changes
        if any(f"rule {code} " in change for code in touched)
        or any(f"tier {tier}:" in change or f"tier {tier} " in change for tier in tiers)
        or any(f"measure {code}" in change for code in measures)
        or change.startswith("starting points")]
    return mover
