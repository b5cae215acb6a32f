"""The run's writes: the tier changes, then the standings that changed, and the flags and
measures, in full (every subject) or incrementally (the subjects in cp_scope), from the
points in cp_new."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from app.rulebook import Measure, Rulebook, RulebookTimeline
from app.services.locks import is_postgres
from app.services.standings.recompute import bookkeeping
from app.services.standings.recompute.measures import (
    flags_table,
    measures_table,
    pairs_table,
    tier_only_measures,
)
from app.services.standings.recompute.sql import in_list, run


def log_tier_changes(session: Session, as_of: date, run_id: int) -> int:
    """Fill temp table cp_changed with the subjects of cp_new whose points or tier differ from
    their stored standing, or who have none; log each one whose tier changed; return how many.

    The writes that follow apply cp_changed: one join of the new standings with the stored
    ones finds both the tier changes and the rows to write.
    """
    run(session, "DROP TABLE IF EXISTS cp_changed")
    run(session, "CREATE TEMPORARY TABLE cp_changed (subject_id VARCHAR(18) PRIMARY KEY, "
                 "points INTEGER, tier VARCHAR(16), stored BOOLEAN NOT NULL, "
                 "from_points INTEGER, from_tier VARCHAR(16))")
    run(session, """
        INSERT INTO cp_changed (subject_id, points, tier, stored, from_points, from_tier)
        SELECT n.subject_id, n.points, n.tier, s.subject_id IS NOT NULL, s.points, s.tier
        FROM cp_new n LEFT JOIN standing s ON s.subject_id = n.subject_id
        WHERE s.subject_id IS NULL
           OR s.points IS DISTINCT FROM n.points OR s.tier IS DISTINCT FROM n.tier
    """)
    return run(session, """
        INSERT INTO tier_change (subject_id, on_date, from_tier, to_tier, from_points,
                                 to_points, run_id)
        SELECT c.subject_id, :d, c.from_tier, c.tier, c.from_points, c.points, :run
        FROM cp_changed c
        WHERE c.stored AND COALESCE(c.from_tier, '') <> COALESCE(c.tier, '')
    """, d=as_of, run=run_id).rowcount


def write_full(session: Session, rulebook: Rulebook, as_of: date, run_id: int,
               timeline: RulebookTimeline | None = None) -> None:
    """Write the standings that changed (cp_changed) and every subject's flags and measures.

    The rows that did not change keep their day and run: `standing.as_of` is the day a row
    last changed, and the day of the standings as a whole is the run's (`standings_day`),
    so a night costs the rows that changed, not a million row writes. No row goes: every
    standing is a subject's (a foreign key), and cp_new holds every subject.
    """
    _write_changed(session, as_of, run_id)
    # Under the rulebook of the stored standings, a measure of tiers alone changes only for
    # the subjects whose tier changed: those measures are written from cp_changed rather
    # than listed for every subject (a million rows) and compared.
    by_tier = tier_only_measures(rulebook) \
        if bookkeeping.stored_fingerprint(session, run_id) == rulebook.fingerprint else ()
    _flags_and_measures(session, rulebook, as_of, None, timeline, by_tier)
    run(session, "DROP TABLE cp_changed")


def write_incremental(session: Session, rulebook: Rulebook, as_of: date, run_id: int,
                      timeline: RulebookTimeline | None = None) -> None:
    """Write the standings that changed (cp_changed), and the flags and measures of the
    subjects in cp_scope (the rows of the others are left as they are)."""
    _write_changed(session, as_of, run_id)
    _flags_and_measures(session, rulebook, as_of, "cp_scope", timeline)
    run(session, "DROP TABLE cp_changed")


def _write_changed(session: Session, as_of: date, run_id: int) -> None:
    """Update the stored standings in cp_changed and insert the new ones, as of `as_of`."""
    if is_postgres(session):
        run(session, "ANALYZE cp_changed")
    # Driven from the few changed subjects (UPDATE ... FROM scans the whole table on SQLite).
    run(session, """
        UPDATE standing SET as_of = :d, run_id = :run,
            points = (SELECT c.points FROM cp_changed c WHERE c.subject_id = standing.subject_id),
            tier = (SELECT c.tier FROM cp_changed c WHERE c.subject_id = standing.subject_id)
        WHERE subject_id IN (SELECT subject_id FROM cp_changed WHERE stored)
    """, d=as_of, run=run_id)
    run(session, """
        INSERT INTO standing (subject_id, as_of, points, tier, run_id)
        SELECT c.subject_id, :d, c.points, c.tier, :run FROM cp_changed c WHERE NOT c.stored
    """, d=as_of, run=run_id)


def _flags_and_measures(session: Session, rulebook: Rulebook, as_of: date,
                        only: str | None, timeline: RulebookTimeline | None,
                        by_tier: tuple[Measure, ...] = ()) -> None:
    """Write the flags and measures of the subjects in `only` (all if None), changes only;
    the measures `by_tier` (of tiers alone) only for the subjects in cp_changed."""
    flags_table(session, rulebook=rulebook, day=as_of, table="cp_sf", only=only)
    _apply_diff(session, "standing_flag", "cp_sf", ("subject_id", "flag_code"), only)
    skip = tuple(m.code for m in by_tier)
    measures_table(session, rulebook=rulebook, day=as_of, points="cp_new", table="cp_sm",
                   only=only, timeline=timeline, skip=skip)
    # With `by_tier`, the stored rows are of this rulebook's measures: the others' codes
    # name every stored row to compare (by the measure_code index, not a scan of all).
    codes = tuple(m.code for m in rulebook.measures if m.code not in skip) if skip else None
    _apply_diff(session, "standing_measure", "cp_sm", ("subject_id", "measure_code"), only,
                codes)
    if by_tier:
        # The measures of tiers alone of the subjects whose standing changed, compared with
        # theirs in one statement each way.
        pairs_table(session, "cp_bt", "measure_code")
        for i, measure in enumerate(by_tier):
            tiers = in_list(f"bt{i}_", measure.when.tiers)
            run(session, "INSERT INTO cp_bt (subject_id, measure_code) SELECT subject_id, "
                         f":code FROM cp_changed WHERE tier IN {tiers}", tiers,
                code=measure.code)
        _apply_diff(session, "standing_measure", "cp_bt", ("subject_id", "measure_code"),
                    "cp_changed", skip)


def _apply_diff(session: Session, table: str, temp: str, key: tuple[str, str],
                only: str | None, codes: tuple[str, ...] | None = None) -> None:
    """Make `table`'s rows (those of the subjects in table `only`, if given, and of the
    `codes`, if given) those of `temp`.

    A night changes few flags and measures: the rest are left alone (no dead rows, no
    index churn), which is most of the write on PostgreSQL.
    """
    if is_postgres(session):
        run(session, f"ANALYZE {temp}")
    same = " AND ".join(f"t.{k} = {table}.{k}" for k in key)
    where = f"subject_id IN (SELECT subject_id FROM {only}) AND " if only else ""
    named = in_list("dc", codes or ())
    if codes:
        where += f"{key[1]} IN {named} AND "
    if codes != ():
        run(session, f"DELETE FROM {table} WHERE {where}"
                     f"NOT EXISTS (SELECT 1 FROM {temp} t WHERE {same})", named)
    same = " AND ".join(f"x.{k} = t.{k}" for k in key)
    run(session, f"INSERT INTO {table} ({', '.join(key)}) SELECT {', '.join(key)} "
                 f"FROM {temp} t WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {same})")
    run(session, f"DROP TABLE IF EXISTS {temp}")
