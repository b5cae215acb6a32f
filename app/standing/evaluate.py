"""The reference evaluator: a subject's standing on a date from its facts and the rulebook."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta

from app.rulebook.model import ListDef, Measure, Rulebook, Scheme
from app.rulebook.timeline import InForce, RulebookTimeline
from app.standing.because import Because
from app.standing.explain import explain, flag_because, list_because
from app.standing.model import (
    ActiveList,
    ActiveMeasure,
    CountingRecord,
    ExcludedRecord,
    ListEntryFact,
    PendingMeasure,
    RaisedFlag,
    Reason,
    RecordFact,
    Standing,
    SubjectFact,
)
from app.standing.relief import counted_points
from app.standing.spans import (
    History,
    Segment,
    flag_span,
    list_entry_end,
    pending_dispute_since,
    record_until,
)


def is_scored(*, subject: SubjectFact, scheme: Scheme) -> bool:
    """Return whether the scheme gives `subject` points and a tier (consent, if required)."""
    return subject.consent or not scheme.requires_consent


def subject_records(*, subject: SubjectFact, records: Iterable[RecordFact]) -> list[RecordFact]:
    """Return the records of `subject`, in a fixed order (conduct date, then id)."""
    mine = (r for r in records if r.subject_id == subject.subject_id)
    return sorted(mine, key=lambda r: (r.occurred_on, r.id))


def subject_entries(
    *, subject: SubjectFact, list_entries: Iterable[ListEntryFact]
) -> list[ListEntryFact]:
    """Return the list entries of `subject`, in a fixed order (entry date, list, id)."""
    mine = (e for e in list_entries if e.subject_id == subject.subject_id)
    return sorted(mine, key=lambda e: (e.entered_on, e.list_code, e.id))


def evaluate(
    *,
    subject: SubjectFact,
    records: Iterable[RecordFact],
    list_entries: Iterable[ListEntryFact],
    rulebook: Rulebook,
    as_of: date,
    represented: Sequence[tuple[SubjectFact, Sequence[ListEntryFact]]] = (),
    timeline: RulebookTimeline | None = None,
) -> Standing:
    """Return the standing of `subject` on `as_of`, with its explanation.

    `represented`: the organisations whose legal representative `subject` is, each with its
    list entries; measures that say `reaches: [legal_representative]` follow them here.
    `timeline`: the rulebooks in force before `rulebook` (which must be its rulebook on
    `as_of`); a notice period counts a day only when the measure's condition held under the
    rulebook in force on that day.
    """
    scheme = rulebook.scheme
    scored = is_scored(subject=subject, scheme=scheme)
    records = subject_records(subject=subject, records=records)
    entries = subject_entries(subject=subject, list_entries=list_entries)
    history = History(records=records, list_entries=entries, rulebook=rulebook)
    joint = _represented_histories(subject, represented, rulebook=rulebook)

    counting: list[CountingRecord] = []
    excluded: list[ExcludedRecord] = []
    for record in records:
        rule = rulebook.rule_version(record.rule_code, record.rule_version)
        if any(start <= as_of < end for start, end in history.record_spans[record.id]):
            points, relief = counted_points(record, rulebook, as_of)
            counting.append(CountingRecord(
                record=record, rule=rule, until=record_until(record), relief=relief,
                relief_points=points if relief is not None else None))
        else:
            why = exclusion_reason(record, day=as_of, suspend=scheme.objections.suspend_record)
            excluded.append(ExcludedRecord(record=record, rule=rule, why=why))

    points = scheme.starting_points + sum(c.points for c in counting)
    tier = scheme.tier_for(points)
    lists = _active_lists(entries, rulebook=rulebook, day=as_of)
    flags = _raised_flags(entries, rulebook=rulebook, day=as_of)

    measures: list[ActiveMeasure] = []
    pending: list[PendingMeasure] = []
    for measure in sorted(rulebook.measures, key=lambda m: m.code):
        state = _measure_state(
            measure,
            history=history,
            scheme=scheme,
            scored=scored,
            day=as_of,
        ) if not (joint and reaches_representative(measure)) else _joint_measure_state(
            measure, history=history, joint=joint, scheme=scheme, scored=scored, day=as_of
        )
        if state is None:
            continue
        if timeline is not None:
            state = _across_changes(measure, state, timeline=timeline, as_of=as_of,
                                    subject=subject, records=records, entries=entries,
                                    represented=represented)
        holds_since, takes_effect_on = state
        reasons = _reasons(
            measure, scored=scored, points=points, tier_code=tier.code, lists=lists, flags=flags
        )
        if joint and reaches_representative(measure):
            reasons += _joint_reasons(measure, joint=joint, rulebook=rulebook, day=as_of)
        if takes_effect_on is None or takes_effect_on <= as_of:
            measures.append(ActiveMeasure(measure=measure, since=takes_effect_on, reasons=reasons))
        else:
            assert holds_since is not None  # a run from before any fact has no notice to wait
            pending.append(
                PendingMeasure(
                    measure=measure,
                    holds_since=holds_since,
                    takes_effect_on=takes_effect_on,
                    reasons=reasons,
                )
            )

    standing = Standing(
        subject_id=subject.subject_id,
        as_of=as_of,
        scored=scored,
        starting_points=scheme.starting_points,
        points=points if scored else None,
        tier=tier if scored else None,
        records=tuple(counting),
        excluded=tuple(excluded),
        lists=lists,
        flags=flags,
        measures=tuple(measures),
        pending_measures=tuple(pending),
        fingerprint=rulebook.fingerprint,
    )
    return replace(standing, explanation=explain(standing, rulebook=rulebook))


def exclusion_reason(record: RecordFact, *, day: date, suspend: bool) -> Because:
    """Return why `record` does not count on `day`."""
    if record.voided:
        return Because.of("voided")
    if record.annulled:
        return Because.of("annulled")
    if day < record.occurred_on:
        return Because.of("not_yet", occurs_on=record.occurred_on)
    until = record_until(record)
    if until <= day:
        if record.repaired_on is not None and until == record.repaired_on:
            return Because.of("repaired", on=until)
        return Because.of("lapsed", on=until)
    since = pending_dispute_since(record, day)
    if suspend and since is not None:
        return Because.of("suspended", since=since)
    return Because.of("not_counted")  # not reached: the cases above are exhaustive


def _placeholder_list(code: str) -> ListDef:
    # An entry whose list left the rulebook still shows: nothing recorded is hidden.
    return ListDef(code=code, kind="", title="(list not in the rulebook in force)")


def _active_lists(
    entries: list[ListEntryFact], *, rulebook: Rulebook, day: date
) -> tuple[ActiveList, ...]:
    active = []
    for entry in entries:
        list_def = rulebook.list_def(entry.list_code)
        until = list_entry_end(entry, list_def)
        if entry.entered_on <= day and (until is None or day < until):
            active.append(
                ActiveList(
                    entry=entry, list=list_def or _placeholder_list(entry.list_code), until=until
                )
            )
    active.sort(key=lambda a: (a.list.code, a.entry.entered_on, a.entry.id))
    return tuple(active)


def _raised_flags(
    entries: list[ListEntryFact], *, rulebook: Rulebook, day: date
) -> tuple[RaisedFlag, ...]:
    raised = []
    for list_def, flag in rulebook.flags():
        behind = []
        for entry in entries:
            if entry.list_code != list_def.code:
                continue
            span = flag_span(entry, flag)
            if span is not None and span[0] <= day < span[1]:
                behind.append(entry)
        if len(behind) >= flag.entries:
            raised.append(
                RaisedFlag(
                    code=flag.code,
                    list_code=list_def.code,
                    entries=tuple(behind),
                    threshold=flag.entries,
                    within=str(flag.within),
                )
            )
    raised.sort(key=lambda f: (f.code, f.list_code))
    return tuple(raised)


def holds(measure: Measure, segment: Segment, *, scheme: Scheme, scored: bool) -> bool:
    """Return whether any `when` condition of `measure` holds in `segment`."""
    when = measure.when
    if scored and when.tiers and scheme.tier_for(segment.points).code in when.tiers:
        return True
    return bool(segment.lists.intersection(when.lists) or segment.flags.intersection(when.flags))


def _measure_state(
    measure: Measure, *, history: History, scheme: Scheme, scored: bool, day: date
) -> tuple[date | None, date | None] | None:
    """Return (first day of the unbroken run, day it takes effect), or None if it does not hold.

    None for a day means the run began before the subject's first fact.
    """
    index = history.index_on(day)
    segments = history.segments
    if not holds(measure, segments[index], scheme=scheme, scored=scored):
        return None
    while index > 0 and holds(measure, segments[index - 1], scheme=scheme, scored=scored):
        index -= 1
    holds_since = segments[index].start
    if holds_since is None or measure.notice is None:
        return holds_since, holds_since
    return holds_since, measure.notice.after(holds_since)


def _across_changes(
    measure: Measure,
    state: tuple[date | None, date | None],
    *,
    timeline: RulebookTimeline,
    as_of: date,
    subject: SubjectFact,
    records: list[RecordFact],
    entries: list[ListEntryFact],
    represented: Sequence[tuple[SubjectFact, Sequence[ListEntryFact]]],
) -> tuple[date | None, date | None]:
    """Carry the run of `measure`'s condition back across rulebook changes: before a
    rulebook's first day, the run goes on only while the condition held under the rulebook
    in force then (a measure new or changed there starts its run on the first day)."""
    since = state[0]
    entry: InForce | None = timeline.entry_on(as_of)
    # A run that starts on a first day may go on the day before, under the rulebook before.
    while entry is not None and (since is None or since <= entry.first_day):
        previous = timeline.before(entry)
        if previous is None:
            break
        old = previous.rulebook.measure(measure.code)
        old_state = None
        if old is not None:
            book = previous.rulebook
            history = History(records=records, list_entries=entries, rulebook=book)
            scored = is_scored(subject=subject, scheme=book.scheme)
            day = entry.first_day - timedelta(days=1)
            joint = _represented_histories(subject, represented, rulebook=book)
            old_state = _joint_measure_state(
                old, history=history, joint=joint, scheme=book.scheme, scored=scored, day=day
            ) if joint and reaches_representative(old) else _measure_state(
                old, history=history, scheme=book.scheme, scored=scored, day=day)
        if old_state is None:
            since = entry.first_day
            break
        since, entry = old_state[0], previous
    if since == state[0]:
        return state
    if since is None:  # held under the earlier rulebooks since before any fact
        return None, None
    return since, measure.notice.after(since) if measure.notice is not None else since


def _reasons(
    measure: Measure,
    *,
    scored: bool,
    points: int,
    tier_code: str,
    lists: tuple[ActiveList, ...],
    flags: tuple[RaisedFlag, ...],
) -> tuple[Reason, ...]:
    when = measure.when
    reasons = []
    if scored and tier_code in when.tiers:
        reasons.append(
            Reason(
                kind="tier",
                code=tier_code,
                because=Because.of("tier", tier=tier_code, points=points),
                legal_basis=measure.legal_basis,
            )
        )
    for active in lists:
        if active.list.code in when.lists:
            reasons.append(
                Reason(
                    kind="list",
                    code=active.list.code,
                    because=list_because(active),
                    legal_basis=active.entry.legal_basis
                    or active.list.legal_basis
                    or measure.legal_basis,
                    entries=(active.entry,),
                )
            )
    for flag in flags:
        if flag.code in when.flags:
            reasons.append(
                Reason(
                    kind="flag",
                    code=flag.code,
                    because=flag_because(flag),
                    legal_basis=measure.legal_basis,
                    entries=flag.entries,
                )
            )
    return tuple(reasons)


# Joint measures: `reaches: [legal_representative]` carries a measure that an organisation's
# lists or flags switch on over to the person who is its legal representative.
REPRESENTATIVE = "legal_representative"
Joint = list[tuple[SubjectFact, list[ListEntryFact], History]]


def reaches_representative(measure: Measure) -> bool:
    """Return whether `measure` reaches legal representatives (through lists or flags)."""
    return REPRESENTATIVE in measure.reaches and bool(measure.when.lists or measure.when.flags)


def _represented_histories(
    subject: SubjectFact,
    represented: Sequence[tuple[SubjectFact, Sequence[ListEntryFact]]],
    *,
    rulebook: Rulebook,
) -> Joint:
    """Return the organisations `subject` (a person) represents, their entries and history."""
    if subject.kind != "person":
        return []
    joint = []
    for org, org_entries in sorted(represented, key=lambda item: item[0].subject_id):
        if org.kind != "organisation" or org.legal_representative != subject.subject_id:
            continue
        mine = subject_entries(subject=org, list_entries=org_entries)
        joint.append((org, mine, History(records=(), list_entries=mine, rulebook=rulebook)))
    return joint


def represents_on(org: SubjectFact, day: date | None) -> bool:
    """Return whether the organisation's representative represented it on `day` (None:
    before any fact): the register names a representative from its own date, never earlier."""
    since = org.legal_representative_since
    return since is None or (day is not None and since <= day)


def _reached(measure: Measure, segment: Segment) -> bool:
    when = measure.when
    return bool(segment.lists.intersection(when.lists) or segment.flags.intersection(when.flags))


def _joint_measure_state(
    measure: Measure, *, history: History, joint: Joint, scheme: Scheme, scored: bool, day: date
) -> tuple[date | None, date | None] | None:
    """Like _measure_state, where the condition is the subject's own or a represented one's."""

    def holds_from(start: date | None) -> bool:
        own = history.segments[0] if start is None else history.on(start)
        if holds(measure, own, scheme=scheme, scored=scored):
            return True
        return any(
            represents_on(org, start)
            and _reached(measure, org_history.segments[0] if start is None
                         else org_history.on(start))
            for org, _entries, org_history in joint
        )

    # Between two edges of any of the histories nothing changes: walk back edge by edge.
    # The day the subject became an organisation's representative is an edge too.
    edges = {s.start for s in history.segments[1:]}
    for org, _entries, org_history in joint:
        edges.update(s.start for s in org_history.segments[1:])
        edges.add(org.legal_representative_since)
    starts: list[date | None] = [None, *sorted(d for d in edges if d is not None and d <= day)]
    index = len(starts) - 1
    if not holds_from(starts[index]):
        return None
    while index > 0 and holds_from(starts[index - 1]):
        index -= 1
    holds_since = starts[index]
    if holds_since is None or measure.notice is None:
        return holds_since, holds_since
    return holds_since, measure.notice.after(holds_since)


def _joint_reasons(
    measure: Measure, *, joint: Joint, rulebook: Rulebook, day: date
) -> tuple[Reason, ...]:
    """Return the reasons a measure reaches the subject through the organisations it represents."""
    reasons = []
    for org, org_entries, _history in joint:
        if not represents_on(org, day):
            continue
        via = {"via": org.subject_id, "via_name": org.name}
        for active in _active_lists(org_entries, rulebook=rulebook, day=day):
            if active.list.code in measure.when.lists:
                reasons.append(
                    Reason(
                        kind="list",
                        code=active.list.code,
                        because=list_because(active, **via),
                        legal_basis=active.entry.legal_basis
                        or active.list.legal_basis
                        or measure.legal_basis,
                        entries=(active.entry,),
                        via=org,
                    )
                )
        for flag in _raised_flags(org_entries, rulebook=rulebook, day=day):
            if flag.code in measure.when.flags:
                reasons.append(
                    Reason(
                        kind="flag",
                        code=flag.code,
                        because=flag_because(flag, **via),
                        legal_basis=measure.legal_basis,
                        entries=flag.entries,
                        via=org,
                    )
                )
    return tuple(reasons)
