"""Turn facts into the date spans on which they count, and sweep the spans into segments.

Everything the evaluator asks ("does this condition hold on d?") depends only on which
spans contain d. Between two span edges nothing changes, so a subject's whole history
is a short list of segments rather than one state per day.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from app.rulebook.model import Duration, Flag, ListDef, Rulebook
from app.standing.model import ListEntryFact, RecordFact
from app.standing.relief import pieces, point_steps

FOREVER = date.max  # an exclusive end that no real date reaches
ONE_DAY = timedelta(days=1)

Span = tuple[date, date]  # [start, end): counts on start, not on end


def record_spans(record: RecordFact, *, suspend: bool) -> tuple[Span, ...]:
    """Return the spans on which `record` counts (empty if voided or annulled)."""
    if record.voided or record.annulled:
        return ()
    end = record_until(record)
    spans: list[Span] = [(record.occurred_on, end)] if record.occurred_on < end else []
    if suspend:
        for dispute in record.disputes:
            cut = (dispute.filed_on, dispute.decided_on or FOREVER)
            spans = [piece for span in spans for piece in _subtract(span, cut)]
    return tuple(spans)


def _subtract(span: Span, cut: Span) -> list[Span]:
    start, end = span
    cut_start, cut_end = cut
    if cut_end <= start or end <= cut_start:
        return [span]
    pieces = []
    if start < cut_start:
        pieces.append((start, cut_start))
    if cut_end < end:
        pieces.append((cut_end, end))
    return pieces


def record_until(record: RecordFact) -> date:
    """Return the first day `record` no longer counts: its end, or its repair if earlier."""
    if record.repaired_on is not None and record.repaired_on < record.ends_on:
        return record.repaired_on
    return record.ends_on


def pending_dispute_since(record: RecordFact, day: date) -> date | None:
    """Return when the earliest objection pending on `day` was filed, or None."""
    filed = [
        d.filed_on
        for d in record.disputes
        if d.filed_on <= day and (d.decided_on is None or day < d.decided_on)
    ]
    return min(filed) if filed else None


def list_entry_end(entry: ListEntryFact, list_def: ListDef | None) -> date | None:
    """Return the first day `entry` no longer counts, or None if it is open-ended."""
    end = entry.ends_on
    if end is None and list_def is not None and list_def.lasts is not None:
        end = list_def.lasts.after(entry.entered_on)
    if entry.removed_on is not None and (end is None or entry.removed_on < end):
        end = entry.removed_on
    return end


def window_exit(entered_on: date, within: Duration) -> date:
    """Return the first day d on which `entered_on` is no longer in [within before d, d]."""
    # `before` is monotone, so the window holds `entered_on` up to a point and never again;
    # month clamping can push that point a few days past `within.after(entered_on)`.
    day = within.after(entered_on) + ONE_DAY
    while within.before(day) <= entered_on:
        day += ONE_DAY
    return day


def flag_span(entry: ListEntryFact, flag: Flag) -> Span | None:
    """Return the span on which watchlist `entry` counts towards `flag`, or None."""
    end = window_exit(entry.entered_on, flag.within)
    if entry.removed_on is not None:
        end = min(end, entry.removed_on)
    return (entry.entered_on, end) if entry.entered_on < end else None


@dataclass(frozen=True)
class Segment:
    """What holds from `start` until the next segment; `start` None: since before any fact."""

    start: date | None
    points: int
    lists: frozenset[str]
    flags: frozenset[str]


class History:
    """A subject's facts as segments: points, list codes and raised flags over time."""

    def __init__(
        self,
        *,
        records: Iterable[RecordFact],
        list_entries: Iterable[ListEntryFact],
        rulebook: Rulebook,
    ) -> None:
        suspend = rulebook.scheme.objections.suspend_record
        points_delta: Counter[date] = Counter()
        list_delta: defaultdict[date, Counter[str]] = defaultdict(Counter)
        flag_delta: defaultdict[date, Counter[str]] = defaultdict(Counter)
        events: set[date] = set()
        self.record_spans: dict[int, tuple[Span, ...]] = {}
        for record in records:
            spans = record_spans(record, suspend=suspend)
            self.record_spans[record.id] = spans
            steps = point_steps(record, rulebook)  # relief changes a record's points on a date
            for start, end in spans:
                for piece_start, piece_end, points in pieces(start, end, steps):
                    points_delta[piece_start] += points
                    points_delta[piece_end] -= points
                    events.update((piece_start, piece_end))
        flags = {list_def.code: flag for list_def, flag in rulebook.flags()}
        self.flag_thresholds = {
            list_code: (flag.code, flag.entries) for list_code, flag in flags.items()
        }
        for entry in list_entries:
            end = list_entry_end(entry, rulebook.list_def(entry.list_code)) or FOREVER
            if entry.entered_on < end:
                list_delta[entry.entered_on][entry.list_code] += 1
                list_delta[end][entry.list_code] -= 1
                events.update((entry.entered_on, end))
            flag = flags.get(entry.list_code)
            span = flag_span(entry, flag) if flag is not None else None
            if span is not None:
                flag_delta[span[0]][entry.list_code] += 1
                flag_delta[span[1]][entry.list_code] -= 1
                events.update(span)
        events.discard(FOREVER)

        points = rulebook.scheme.starting_points
        on_lists: Counter[str] = Counter()
        on_watch: Counter[str] = Counter()
        self.segments: list[Segment] = [Segment(None, points, frozenset(), frozenset())]
        for day in sorted(events):
            points += points_delta.get(day, 0)
            on_lists.update(list_delta.get(day, {}))
            on_watch.update(flag_delta.get(day, {}))
            self.segments.append(
                Segment(
                    start=day,
                    points=points,
                    lists=frozenset(code for code, n in on_lists.items() if n > 0),
                    flags=frozenset(
                        self.flag_thresholds[code][0]
                        for code, n in on_watch.items()
                        if n >= self.flag_thresholds[code][1]
                    ),
                )
            )
        # Every segment after the first starts on a day (only the first may be None).
        self._starts = [s.start for s in self.segments[1:] if s.start is not None]

    def index_on(self, day: date) -> int:
        """Return the index of the segment that holds `day`."""
        return bisect_right(self._starts, day)

    def on(self, day: date) -> Segment:
        """Return the segment that holds `day`."""
        return self.segments[self.index_on(day)]
