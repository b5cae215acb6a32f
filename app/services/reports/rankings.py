"""Rankings: the tier distribution (overall, per district and village) and its change since
a month ago, the villages by share of A-and-above, the departments by records entered and by
objections upheld against them, and the public honour roll.

Everything is read from what the nightly recompute stores (the standings, the runs and the
tier changes), in a few grouped queries; no record is evaluated per request. The
distribution a month ago is rebuilt from the tier changes: a subject's tier after the
reference run (the last good run on or before a month before the last run) is the `from_tier`
of its first tier change in a later run, or its tier now if it has not changed since.
Subjects registered after the reference run did not have a standing then and are left out of
the month-ago counts.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from sqlalchemy import and_, case, func, select, union
from sqlmodel import Session

from app import clock
from app.models import ListEntry, Objection, Record, Run, Standing, Subject, TierChange
from app.rulebook import Rulebook
from app.rulebook.model import Duration
from app.services.rulebooks.in_force import in_force_on
from app.services.standings.predicates import entry_counts

NOT_SCORED = ""  # the tier key of subjects without a tier (no consent where it is required)
MONTH = Duration(1, "m")


@dataclass
class Distribution:
    """Subjects per tier in one place (the whole city, a district or a village)."""

    district: str = ""
    village: str = ""
    now: dict[str, int] = field(default_factory=dict)  # tier code ("" unscored) -> subjects
    then: dict[str, int] = field(default_factory=dict)  # the same, after the reference run

    @property
    def total(self) -> int:
        return sum(self.now.values())

    @property
    def total_then(self) -> int:
        return sum(self.then.values())

    def change(self, tier: str) -> int:
        return self.now.get(tier, 0) - self.then.get(tier, 0)

    def share(self, tiers) -> float | None:
        """Return the share of the scored subjects that are in `tiers` (None if none scored)."""
        scored = self.total - self.now.get(NOT_SCORED, 0)
        return sum(self.now.get(t, 0) for t in tiers) / scored if scored else None

    def share_then(self, tiers) -> float | None:
        scored = self.total_then - self.then.get(NOT_SCORED, 0)
        return sum(self.then.get(t, 0) for t in tiers) / scored if scored else None

    def count(self, tiers) -> int:
        return sum(self.now.get(t, 0) for t in tiers)


@dataclass(frozen=True)
class TierDistributions:
    """The distribution now (as of the last run) and after the reference run a month before."""

    as_of: date | None  # the last run's date (None: no standings yet)
    reference: Run | None  # the run the change is measured from (None: no run that old)
    tiers: tuple[str, ...]  # the rulebook's tier codes, highest first, then NOT_SCORED
    overall: Distribution
    districts: list[Distribution]
    villages: list[Distribution]


def reference_run(session: Session, *, as_of: date) -> Run | None:
    """Return the last good run whose date is at least a month before `as_of`."""
    return session.execute(
        select(Run).where(Run.status == "ok", Run.kind == "recompute",
                          Run.as_of <= MONTH.before(as_of))
        .order_by(Run.id.desc()).limit(1)).scalars().first()


def _tier_then(ref: Run):
    """Return (join target, tier expression) for each subject's tier after run `ref`."""
    first = (select(TierChange.subject_id, func.min(TierChange.id).label("first_id"))
             .where(TierChange.run_id > ref.id).group_by(TierChange.subject_id).subquery())
    changed = (select(TierChange.subject_id, TierChange.from_tier)
               .join(first, first.c.first_id == TierChange.id).subquery())
    tier = case((changed.c.subject_id.is_not(None), changed.c.from_tier), else_=Standing.tier)
    return changed, tier


def tier_distributions(session: Session, *, rulebook: Rulebook,
                       district: str | None = None) -> TierDistributions:
    """Return the tier distribution overall, per district and per village, now and a month ago.

    With `district`, the villages are those of that district only (the overall and district
    figures stay whole).
    """
    codes = tuple(t.code for t in rulebook.scheme.tiers)
    last = session.execute(select(Run.id, Run.started_at, Run.as_of)
                           .where(Run.status == "ok", Run.kind == "recompute")
                           .order_by(Run.id.desc()).limit(1)).first()
    if last is None:
        return TierDistributions(None, None, codes + (NOT_SCORED,), Distribution(), [], [])
    # The figures change only when a run completes: keep them per run (a grouped read of
    # every standing takes a second or more at a million subjects).
    key = (str(session.get_bind().url), last.id, last.started_at, rulebook.fingerprint)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        cached = _tier_distributions(session, codes=codes, as_of=last.as_of, district=None)
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = cached
    if district is None:
        return cached
    return replace(cached, villages=[v for v in cached.villages if v.district == district])


_CACHE: dict[tuple, TierDistributions] = {}
_CACHE_SIZE = 8  # one entry a run and rulebook (any district is cut from it)
_CACHE_LOCK = threading.Lock()


def _tier_distributions(session: Session, *, codes: tuple[str, ...], as_of: date,
                        district: str | None) -> TierDistributions:
    overall = Distribution()
    places: dict[tuple[str, str], Distribution] = {}

    def add(rows, attr: str) -> None:
        for d, v, tier, n in rows:
            key = (d or "", v or "")
            dist = places.setdefault(key, Distribution(district=key[0], village=key[1]))
            getattr(dist, attr)[tier or NOT_SCORED] = n

    now = (select(Subject.district, Subject.village, Standing.tier, func.count())
           .join(Subject, Subject.subject_id == Standing.subject_id)
           .group_by(Subject.district, Subject.village, Standing.tier))
    add(session.execute(now).all(), "now")
    ref = reference_run(session, as_of=as_of)
    if ref is not None:
        session.expunge(ref)  # kept with the cached figures, past this session
        changed, tier = _tier_then(ref)
        then = (select(Subject.district, Subject.village, tier, func.count())
                .select_from(Standing)
                .join(Subject, Subject.subject_id == Standing.subject_id)
                .outerjoin(changed, changed.c.subject_id == Standing.subject_id)
                .where(Subject.registered_at <= ref.started_at)
                .group_by(Subject.district, Subject.village, tier))
        add(session.execute(then).all(), "then")
    districts: dict[str, Distribution] = {}
    for (d, _v), dist in sorted(places.items()):
        for attr in ("now", "then"):
            for tier_code, n in getattr(dist, attr).items():
                for target in (overall, districts.setdefault(d, Distribution(district=d))):
                    bucket = getattr(target, attr)
                    bucket[tier_code] = bucket.get(tier_code, 0) + n
    villages = [dist for (d, _v), dist in sorted(places.items())
                if district is None or d == district]
    return TierDistributions(as_of, ref, codes + (NOT_SCORED,), overall,
                             list(districts.values()), villages)


def a_and_above(rulebook: Rulebook) -> tuple[str, ...]:
    """Return the codes of the tiers whose minimum is at or above tier A's (just the top
    tier when the rulebook has no tier A)."""
    tiers = rulebook.scheme.tiers
    edge = next((t.min for t in tiers if t.code == "A"), None)
    if edge is None:
        return (tiers[0].code,) if tiers else ()
    return tuple(t.code for t in tiers if t.min is not None and t.min >= edge)


@dataclass(frozen=True)
class VillageRank:
    rank: int
    place: Distribution
    count: int  # subjects in A-and-above
    scored: int
    share: float | None
    share_then: float | None


def village_ranking(distributions: TierDistributions, tiers) -> list[VillageRank]:
    """Rank the villages by their share of scored subjects in `tiers`, highest first."""
    rows = []
    for place in distributions.villages:
        scored = place.total - place.now.get(NOT_SCORED, 0)
        rows.append((place, place.count(tiers), scored, place.share(tiers),
                     place.share_then(tiers) if distributions.reference else None))
    rows.sort(key=lambda r: (r[3] is None, -(r[3] or 0), -r[1], r[0].district, r[0].village))
    out, rank, previous = [], 0, object()
    for i, (place, count, scored, share, then) in enumerate(rows, start=1):
        if share != previous:  # equal shares share a rank
            rank, previous = i, share
        out.append(VillageRank(rank, place, count, scored, share, then))
    return out


@dataclass(frozen=True)
class DepartmentRank:
    code: str
    title: str
    records: int  # records entered in the period (voided ones included: they were entered)
    voided: int
    decided: int  # objections to its records decided in the period
    annulled: int  # of which upheld against the department: the record was annulled

    @property
    def annulled_share(self) -> float | None:
        return self.annulled / self.decided if self.decided else None


def department_ranking(session: Session, *, rulebook: Rulebook, since: date,
                       until: date) -> list[DepartmentRank]:
    """Return every department with its records entered and objections upheld against it
    between `since` and `until` (days, both included), most records first."""
    start, end = clock.day_start(since), clock.day_start(until + timedelta(days=1))
    entered = dict(session.execute(
        select(Record.department_code, func.count())
        .where(Record.recorded_at >= start, Record.recorded_at < end)
        .group_by(Record.department_code)).all())
    voided = dict(session.execute(
        select(Record.department_code, func.count())
        .where(Record.recorded_at >= start, Record.recorded_at < end,
               Record.voided_at.is_not(None))
        .group_by(Record.department_code)).all())
    decided: dict[str, int] = defaultdict(int)
    annulled: dict[str, int] = defaultdict(int)
    for code, outcome, n in session.execute(
            select(Record.department_code, Objection.outcome, func.count())
            .join(Record, Record.id == Objection.record_id)
            .where(Objection.decided_on >= since, Objection.decided_on <= until)
            .group_by(Record.department_code, Objection.outcome)).all():
        decided[code] += n
        if outcome == "annulled":
            annulled[code] += n
    titles = {d.code: d.title for d in rulebook.departments}
    codes = list(titles) + sorted(set(entered) - set(titles))
    rows = [DepartmentRank(c, titles.get(c, c), entered.get(c, 0), voided.get(c, 0),
                           decided[c], annulled[c]) for c in codes]
    rows.sort(key=lambda r: (-r.records, r.code))
    return rows


def by_objections_upheld(rows: list[DepartmentRank]) -> list[DepartmentRank]:
    """Return the departments with the most objections upheld against them first."""
    return sorted(rows, key=lambda r: (-r.annulled, -(r.annulled_share or 0), r.code))


@dataclass(frozen=True)
class HonourEntry:
    name: str
    kind: str
    district: str
    village: str
    reasons: tuple[str, ...]  # tier codes and list codes


def honour_roll(session: Session, *, rulebook: Rulebook, today: date, offset: int = 0,
                limit: int = 100) -> tuple[list[HonourEntry], int]:
    """Return one page of the honour roll and its length: subjects who consented, and are in
    the top tier (as of the last run) or on a public redlist today (under the rulebook in
    force today: its redlists, and their `lasts` for entries stored without an end)."""
    rulebook = in_force_on(session, rulebook, today).rulebook
    tiers = rulebook.scheme.tiers
    redlists = [x.code for x in rulebook.lists if x.kind == "redlist" and x.public]
    parts = []
    if tiers:
        parts.append(select(Standing.subject_id.label("subject_id"),
                            Standing.tier.label("reason"))
                     .where(Standing.tier == tiers[0].code))
    if redlists:
        parts.append(select(ListEntry.subject_id.label("subject_id"),
                            ListEntry.list_code.label("reason"))
                     .where(ListEntry.list_code.in_(redlists),
                            entry_counts(ListEntry, today, rulebook=rulebook)))
    if not parts:
        return [], 0
    why = union(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    consented = and_(Subject.subject_id == why.c.subject_id, Subject.consent.is_(True))
    total = session.execute(select(func.count(func.distinct(why.c.subject_id)))
                            .select_from(why).join(Subject, consented)).scalar() or 0
    page = (select(Subject.subject_id).select_from(why).join(Subject, consented)
            .group_by(Subject.subject_id, Subject.name)
            .order_by(Subject.name, Subject.subject_id).offset(offset).limit(limit)).subquery()
    rows = session.execute(
        select(Subject.subject_id, Subject.name, Subject.kind, Subject.district,
               Subject.village, why.c.reason)
        .join(page, page.c.subject_id == Subject.subject_id)
        .join(why, why.c.subject_id == Subject.subject_id)
        .order_by(Subject.name, Subject.subject_id, why.c.reason)).all()
    order = {code: i for i, code in enumerate([t.code for t in tiers] + redlists)}
    grouped: dict[str, list] = {}
    for sid, name, kind, district, village, reason in rows:
        grouped.setdefault(sid, [name, kind, district, village, []])[4].append(reason)
    entries = [HonourEntry(name, kind, district, village,
                           tuple(sorted(set(reasons), key=lambda r: order.get(r, 99))))
               for name, kind, district, village, reasons in grouped.values()]
    return entries, total


__all__ = ["NOT_SCORED", "Distribution", "TierDistributions", "VillageRank", "DepartmentRank",
           "HonourEntry", "reference_run", "tier_distributions", "a_and_above",
           "village_ranking", "department_ranking", "by_objections_upheld", "honour_roll"]
