"""A subject's points over time and what comes next: the points over the last years as a chart with
the tier bands behind it, each coming lapse with its effect, and one plain sentence on what
changes the tier next ("On 2027-03-04 two records lapse and you return to A.").

The chart is geometry for a server-rendered inline SVG (no script, no external files).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from app.rulebook.model import Duration, Rulebook, Scheme
from app.services.standings.facts import get_subject, load_facts, subject_fact
from app.standing import UpcomingChange, next_changes, points_timeline
from app.standing.because import Because, english
from app.standing.evaluate import is_scored

YEARS_BACK = Duration(3, "y")
AHEAD = Duration(1, "y")
WIDTH, HEIGHT = 480, 240  # drawn at the width of a phone (scaled up on a desktop)
LEFT, RIGHT, TOP, BOTTOM = 46, 44, 12, 30


@dataclass(frozen=True)
class Band:
    code: str
    y: float
    height: float
    label_y: float
    css: str


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    change: Because  # what happens on that day

    @property
    def label(self) -> str:
        """Return what happens on that day, in English."""
        return english(self.change)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    bands: tuple[Band, ...]
    past: str  # SVG path data: the points up to the date shown
    future: str  # and after it, if nothing new is recorded
    now_x: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    markers: tuple[Marker, ...]
    start: date
    as_of: date
    end: date
    summary_because: Because  # the points' range, for screen readers

    @property
    def summary(self) -> str:
        """Return the points' range in English."""
        return english(self.summary_because)


@dataclass(frozen=True)
class PointsOverTime:
    scored: bool
    chart: Chart | None
    timeline: tuple[tuple[date, int, str], ...]  # up to the date shown
    lapses: tuple[UpcomingChange, ...]  # the coming days on which records stop counting
    next_change: Because  # what changes the tier next

    @property
    def sentence(self) -> str:
        """Return what changes the tier next, in English."""
        return english(self.next_change)


def _r(value: float) -> float:
    return round(value, 1)


def points_chart(timeline: list[tuple[date, int, str]], *, scheme: Scheme, start: date,
                 as_of: date, end: date, changes: list[UpcomingChange] = ()) -> Chart:
    """Lay out `timeline` (from points_timeline over [start, end]) as chart geometry."""
    values = [p for _d, p, _t in timeline] or [scheme.starting_points]
    lo, hi = min(values), max(values)
    pad = max(20, (hi - lo) // 10)
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max((end - start).days, 1)

    def x(day: date) -> float:
        return _r(LEFT + (min(max(day, start), end) - start).days / span * plot_w)

    def y(points: float) -> float:
        return _r(TOP + (hi - min(max(points, lo), hi)) / (hi - lo) * plot_h)

    bands = []
    upper = None
    for i, tier in enumerate(scheme.tiers):
        top = hi if upper is None else min(upper, hi)
        bottom = lo if tier.min is None else max(tier.min, lo)
        if top > bottom:
            bands.append(Band(tier.code, y(top), _r(y(bottom) - y(top)),
                              _r((y(top) + y(bottom)) / 2 + 4),
                              f"band band-{'odd' if i % 2 else 'even'} band-{tier.code}"))
        upper = tier.min
    y_ticks = tuple(Tick(y(t.min), str(t.min)) for t in scheme.tiers
                    if t.min is not None and lo < t.min < hi)
    x_ticks = tuple(Tick(x(date(year, 1, 1)), str(year))
                    for year in range(start.year + 1, end.year + 1))

    def value_on(day: date) -> int:
        current = values[0]
        for d, p, _t in timeline:
            if d <= day:
                current = p
        return current

    def steps(first: date, last: date) -> str:
        path = f"M{x(first)} {y(value_on(first))}"
        for d, p, _t in timeline:
            if first < d <= last:
                path += f" H{x(d)} V{y(p)}"
        return path + f" H{x(last)}"

    markers = tuple(Marker(x(c.on), y(c.points), c.because) for c in changes
                    if as_of < c.on <= end)
    summary = Because.of("points_range", start=start, as_of=as_of, low=min(values),
                         high=max(values), now=value_on(as_of))
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM, tuple(bands),
                 steps(start, as_of), steps(as_of, end), x(as_of), x_ticks, y_ticks, markers,
                 start, as_of, end, summary)


def _rank(scheme: Scheme, code: str) -> int:
    return next((i for i, t in enumerate(scheme.tiers) if t.code == code), len(scheme.tiers))


def next_tier_sentence(changes: list[UpcomingChange], *, scheme: Scheme, scored: bool,
                       you: bool) -> Because:
    """Return what changes the tier next, if nothing new is recorded."""
    if not scored:
        return Because.of("not_scored", you=you)
    change = next((c for c in changes if c.tier != c.tier_before), None)
    if change is None:
        if not changes:
            return Because.of("no_change", you=you)
        return Because.of("no_tier_change", you=you, on=changes[0].on,
                          points_before=changes[0].points_before, points=changes[0].points)
    return Because.of(
        "tier_change", you=you, on=change.on,
        lapsing=all(r.ends_on == change.on for r in change.ending),
        ending=tuple(r.rule_code for r in change.ending),
        starting=tuple(r.rule_code for r in change.starting), tier=change.tier,
        up=_rank(scheme, change.tier) < _rank(scheme, change.tier_before))


def points_over_time(session: Session, *, rulebook: Rulebook, subject_id: str, as_of: date,
                    you: bool = True) -> PointsOverTime:
    """Return a subject's chart, coming lapses and next-tier sentence as of `as_of`."""
    subject = get_subject(session, subject_id)
    records, _entries = load_facts(session, subject)
    fact = subject_fact(subject)
    scored = is_scored(subject=fact, scheme=rulebook.scheme)
    changes = next_changes(subject=fact, records=records, rulebook=rulebook, as_of=as_of)
    sentence = next_tier_sentence(changes, scheme=rulebook.scheme, scored=scored, you=you)
    lapses = tuple(c for c in changes if c.ending)[:12]
    if not scored:
        return PointsOverTime(False, None, (), lapses, sentence)
    start, end = YEARS_BACK.before(as_of), AHEAD.after(as_of)
    timeline = points_timeline(subject=fact, records=records, rulebook=rulebook, start=start,
                               end=end)
    chart = points_chart(timeline, scheme=rulebook.scheme, start=start, as_of=as_of, end=end,
                         changes=changes)
    past = tuple(t for t in timeline if t[0] <= as_of)
    return PointsOverTime(True, chart, past, lapses, sentence)
