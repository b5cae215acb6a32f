"""The notice walk-back: the days a noticed measure's condition must have held.

A measure with a notice period is in force on `as_of` when its condition held on every day
of [as_of - notice, as_of]. The subjects it holds for on `as_of` are few (the candidates):
their points are computed for each earlier day at once, then the days are walked back one
by one, each dropping the candidates for whom the condition did not hold that day.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Integer, literal_column
from sqlmodel import Session

from app.rulebook import Measure, Rulebook, RulebookTimeline
from app.services.locks import is_postgres
from app.services.standings.predicates import (
    record_counts,
    record_may_count,
    record_stands,
    tier_of,
)
from app.services.standings.recompute.conditions import holds_sql
from app.services.standings.recompute.points import R, relief_between, relief_sql
from app.services.standings.recompute.sql import Sql, run

# The candidates' records are read by the window index above this many candidates, by
# subject below (tens of thousands of index walks beat one window scan).
WALK_BY_WINDOW = 50_000


def walk_back(session: Session, *, rulebook: Rulebook, as_of: date, noticed: list[Measure],
              points: str, table: str, only: str | None,
              timeline: RulebookTimeline | None = None) -> None:
    """Insert into `table` (subject_id, measure_code) the measures of `noticed` in force on
    `as_of`, the points on `as_of` being those of table `points` (see measures_table).

    Each earlier day is judged by the rulebook in force that day (`timeline`; `rulebook`
    alone without one): its points, tiers and the measure's condition there; a day whose
    rulebook lacks the measure breaks every run."""
    timeline = timeline or RulebookTimeline.always(rulebook)
    run(session, "DROP TABLE IF EXISTS cp_mcand")
    run(session, "CREATE TEMPORARY TABLE cp_mcand (subject_id VARCHAR(18), "
                 "measure_code VARCHAR(64), PRIMARY KEY (subject_id, measure_code))")
    for measure in noticed:
        holds = holds_sql(rulebook, measure, points, as_of, "m", only)
        run(session, "INSERT INTO cp_mcand (subject_id, measure_code) "
                     f"SELECT DISTINCT subject_id, :code FROM ({holds}) h",
            holds, code=measure.code)
    run(session, "DROP TABLE IF EXISTS cp_cand")
    run(session, "CREATE TEMPORARY TABLE cp_cand (subject_id VARCHAR(18) PRIMARY KEY)")
    # A notice has run on as_of when its condition held from latest_start(as_of) on, where
    # latest_start + notice = as_of (PRODUCT.md: Jan 31 + 1m = Feb 28, clamped).
    first = min(m.notice.latest_start(as_of) for m in noticed if m.notice)
    last = as_of - timedelta(days=1)
    days = [last - timedelta(days=k) for k in range((last - first).days + 1)]
    run(session, "INSERT INTO cp_cand (subject_id) SELECT DISTINCT subject_id FROM cp_mcand")
    if days and run(session, "SELECT 1 FROM cp_cand LIMIT 1").first():
        # Points are walked from as_of's only under one rulebook from `first` to as_of.
        if relief_between(rulebook, first, as_of) or \
                len(timeline.eras(first, as_of + timedelta(days=1))) > 1:
            walk_points(session, timeline, days)
        else:
            walk_back_changes(session, rulebook, days, as_of, points)
    for k, day in enumerate(days):
        # cp_cand stays the first day's candidates: narrowing it each day costs more than
        # the few subjects already dropped from cp_mcand cost in the day's statements.
        if not run(session, "SELECT 1 FROM cp_mcand LIMIT 1").first():
            break
        then = timeline.on(day)
        tier = Sql.of(tier_of(then, literal_column(f"w.p{k}", Integer)))
        run(session, "DROP TABLE IF EXISTS cp_day")
        run(session, "CREATE TEMPORARY TABLE cp_day (subject_id VARCHAR(18) PRIMARY KEY, "
                     "points INTEGER, tier VARCHAR(16))")
        run(session, f"INSERT INTO cp_day (subject_id, points, tier) SELECT w.subject_id, "
                     f"w.p{k}, CASE WHEN w.p{k} IS NULL THEN NULL ELSE {tier} END "
                     "FROM cp_cand c CROSS JOIN cp_days w WHERE w.subject_id = c.subject_id",
            tier)
        for measure in noticed:
            if measure.notice and day < measure.notice.latest_start(as_of):
                continue
            rule = then.measure(measure.code)
            if rule is None:  # not a measure on that day: no run goes through it
                run(session, "DELETE FROM cp_mcand WHERE measure_code = :code",
                    code=measure.code)
                continue
            held = holds_sql(then, rule, "cp_day", day, "x", "cp_cand")
            run(session, "DELETE FROM cp_mcand WHERE measure_code = :code "
                         f"AND subject_id NOT IN ({held})", held, code=measure.code)
    run(session, f"INSERT INTO {table} (subject_id, measure_code) "
                 "SELECT subject_id, measure_code FROM cp_mcand")
    for temp in ("cp_mcand", "cp_cand", "cp_day", "cp_crec", "cp_days"):
        run(session, f"DROP TABLE IF EXISTS {temp}")


def _days_table(session: Session, days: list[date]) -> str:
    """(Re)create temp table cp_days (subject_id, p0, p1, ...); return "p0, p1, ..."."""
    run(session, "DROP TABLE IF EXISTS cp_days")
    run(session, "CREATE TEMPORARY TABLE cp_days (subject_id VARCHAR(18) PRIMARY KEY, "
                 + ", ".join(f"p{k} INTEGER" for k in range(len(days))) + ")")
    return ", ".join(f"p{k}" for k in range(len(days)))


def walk_back_changes(session: Session, rulebook: Rulebook, days: list[date], as_of: date,
                      points: str) -> None:
    """Fill cp_days like walk_points, from the points on `as_of` (in table `points`) and the
    few records that start or stop counting in (first day, as_of]: every other record
    counts on all of the days or on none (no relief starts in between: the caller checks)."""
    first = days[-1]
    suspend = rulebook.scheme.objections.suspend_record
    changing = ["SELECT id FROM record WHERE occurred_on > :first AND occurred_on <= :d",
                "SELECT id FROM record WHERE ends_on > :first AND ends_on <= :d",
                "SELECT id FROM record WHERE repaired_on > :first AND repaired_on <= :d"]
    if suspend:
        changing.append("SELECT record_id FROM objection WHERE (filed_on > :first AND "
                        "filed_on <= :d) OR (decided_on > :first AND decided_on <= :d)")
    stands = Sql.of(record_stands(R))
    run(session, "DROP TABLE IF EXISTS cp_crec")
    run(session, "CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM record r WHERE r.id IN ("
                 + " UNION ".join(changing) + f") AND {stands} AND "
                 "r.subject_id IN (SELECT subject_id FROM cp_cand)",
        stands, first=first, d=as_of)
    run(session, "CREATE INDEX cp_crec_subject ON cp_crec (subject_id)")
    if is_postgres(session):
        run(session, "ANALYZE cp_crec")
    counts_now = Sql.of(record_counts(R, as_of, suspend=suspend, name="d"))
    now = relief_sql(rulebook, as_of, key="wd")
    sums = []
    for k, day in enumerate(days):
        counts = Sql.of(record_counts(R, day, suspend=suspend, name=f"w{k}"))
        then = relief_sql(rulebook, day, key=f"w{k}")
        sums.append(Sql(
            f"CASE WHEN n.points IS NULL THEN NULL ELSE n.points + COALESCE(SUM("
            f"CASE WHEN {counts} THEN {then} ELSE 0 END"
            f" - CASE WHEN {counts_now} THEN {now} ELSE 0 END), 0) END AS p{k}",
            counts, then, counts_now, now))
    names = _days_table(session, days)
    run(session, f"INSERT INTO cp_days (subject_id, {names}) "
                 f"SELECT c.subject_id, {', '.join(map(str, sums))} "
                 f"FROM cp_cand c JOIN {points} n ON n.subject_id = c.subject_id "
                 "LEFT JOIN cp_crec r ON r.subject_id = c.subject_id "
                 "GROUP BY c.subject_id, n.points", *sums)


def walk_points(session: Session, timeline: RulebookTimeline, days: list[date]) -> None:
    """Fill temp table cp_days (subject_id, p0, p1, ...): the points of each subject in
    cp_cand on each of `days` (NULL where not scored) under the rulebook in force that day,
    from one pass over their records."""
    # The candidates' records that can count on one of the days, read once: in one pass
    # over the window index when the candidates are many (an index walk per candidate is
    # millions of random reads at city scale), by subject when they are few.
    candidates = run(session, "SELECT COUNT(*) FROM cp_cand").scalar_one()
    live = Sql.of(record_may_count(R, days[-1], days[0], names=("first", "last")))
    run(session, "DROP TABLE IF EXISTS cp_crec")
    if candidates > WALK_BY_WINDOW:
        window = "" if is_postgres(session) else " INDEXED BY ix_record_window"
        run(session, f"CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM record r{window} "
                     f"WHERE {live} AND r.subject_id IN (SELECT subject_id FROM cp_cand)", live)
    else:
        run(session, "CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM cp_cand c "
                     f"CROSS JOIN record r WHERE r.subject_id = c.subject_id AND {live}", live)
    run(session, "CREATE INDEX cp_crec_subject ON cp_crec (subject_id)")
    if is_postgres(session):  # temporary tables get no statistics otherwise
        run(session, "ANALYZE cp_crec")
    sums = []
    for k, day in enumerate(days):
        rulebook = timeline.on(day)
        suspend = rulebook.scheme.objections.suspend_record
        counts = Sql.of(record_counts(R, day, suspend=suspend, name=f"w{k}"))
        counted = relief_sql(rulebook, day, key=f"w{k}")
        points = Sql(f":start{k} + COALESCE(SUM(CASE WHEN {counts} THEN {counted} END), 0)",
                     counts, counted, **{f"start{k}": rulebook.scheme.starting_points})
        if rulebook.scheme.requires_consent:
            points = Sql(f"CASE WHEN s.consent THEN {points} ELSE NULL END", points)
        sums.append(Sql(f"{points} AS p{k}", points))
    names = _days_table(session, days)
    run(session, f"INSERT INTO cp_days (subject_id, {names}) "
                 f"SELECT c.subject_id, {', '.join(map(str, sums))} "
                 "FROM cp_cand c JOIN subject s ON s.subject_id = c.subject_id "
                 "LEFT JOIN cp_crec r ON r.subject_id = c.subject_id "
                 "GROUP BY c.subject_id, s.consent", *sums)
