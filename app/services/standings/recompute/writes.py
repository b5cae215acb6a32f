"""The run's writes: the tier changes, then the standings, flags and measures, in full (every
subject) or incrementally (the subjects in cp_scope), from the points in cp_new."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from app.rulebook import Rulebook, RulebookTimeline
from app.services.locks import is_postgres
from app.services.standings.recompute.measures import flags_table, measures_table
from app.services.standings.recompute.sql import run


def log_tier_changes(session: Session, as_of: date, run_id: int) -> int:
    """Log each subject whose tier in cp_new differs from its stored one; return how many."""
    return run(session, """
        INSERT INTO tier_change (subject_id, on_date, from_tier, to_tier, from_points,
                                 to_points, run_id)
        SELECT n.subject_id, :d, s.tier, n.tier, s.points, n.points, :run
        FROM cp_new n JOIN standing s ON s.subject_id = n.subject_id
        WHERE COALESCE(s.tier, '') <> COALESCE(n.tier, '')
    """, d=as_of, run=run_id).rowcount


def write_full(session: Session, rulebook: Rulebook, as_of: date, run_id: int,
               timeline: RulebookTimeline | None = None) -> None:
    """Write every standing (as of `as_of`) from cp_new, and every flag and measure."""
    # Update the rows in place rather than delete and insert them all: an update that keeps
    # subject_id skips PostgreSQL's foreign-key check, one that keeps the tier is HOT (no
    # index entries), and a subject's row keeps its place.
    run(session, "DELETE FROM standing WHERE NOT EXISTS "
                 "(SELECT 1 FROM cp_new n WHERE n.subject_id = standing.subject_id)")
    run(session, "UPDATE standing SET as_of = :d, points = n.points, tier = n.tier, "
                 "run_id = :run FROM cp_new n WHERE n.subject_id = standing.subject_id",
        d=as_of, run=run_id)
    _insert_new_standings(session, as_of, run_id)
    _flags_and_measures(session, rulebook, as_of, None, timeline)


def write_incremental(session: Session, rulebook: Rulebook, as_of: date, run_id: int,
                      timeline: RulebookTimeline | None = None) -> None:
    """Write the standings, flags and measures of the subjects in cp_scope (those that
    changed; the rows of the others are left as they are)."""
    # Driven from the few recomputed subjects (UPDATE ... FROM scans the whole table on SQLite).
    run(session, "DROP TABLE IF EXISTS cp_changed")
    run(session, "CREATE TEMPORARY TABLE cp_changed (subject_id VARCHAR(18) PRIMARY KEY, "
                 "points INTEGER, tier VARCHAR(16))")
    run(session, """
        INSERT INTO cp_changed (subject_id, points, tier)
        SELECT n.subject_id, n.points, n.tier FROM cp_new n JOIN standing s
          ON s.subject_id = n.subject_id
        WHERE s.points IS DISTINCT FROM n.points OR s.tier IS DISTINCT FROM n.tier
    """)
    run(session, """
        UPDATE standing SET as_of = :d, run_id = :run,
            points = (SELECT c.points FROM cp_changed c WHERE c.subject_id = standing.subject_id),
            tier = (SELECT c.tier FROM cp_changed c WHERE c.subject_id = standing.subject_id)
        WHERE subject_id IN (SELECT subject_id FROM cp_changed)
    """, d=as_of, run=run_id)
    run(session, "DROP TABLE cp_changed")
    _insert_new_standings(session, as_of, run_id)
    _flags_and_measures(session, rulebook, as_of, "cp_scope", timeline)


def _insert_new_standings(session: Session, as_of: date, run_id: int) -> None:
    run(session, """
        INSERT INTO standing (subject_id, as_of, points, tier, run_id)
        SELECT n.subject_id, :d, n.points, n.tier, :run FROM cp_new n
        WHERE NOT EXISTS (SELECT 1 FROM standing s WHERE s.subject_id = n.subject_id)
    """, d=as_of, run=run_id)


def _flags_and_measures(session: Session, rulebook: Rulebook, as_of: date,
                        only: str | None, timeline: RulebookTimeline | None) -> None:
    """Write the flags and measures of the subjects in `only` (all if None), changes only."""
    flags_table(session, rulebook=rulebook, day=as_of, table="cp_sf", only=only)
    _apply_diff(session, "standing_flag", "cp_sf", ("subject_id", "flag_code"), only)
    measures_table(session, rulebook=rulebook, day=as_of, points="cp_new", table="cp_sm",
                   only=only, timeline=timeline)
    _apply_diff(session, "standing_measure", "cp_sm", ("subject_id", "measure_code"), only)


def _apply_diff(session: Session, table: str, temp: str, key: tuple[str, str],
                only: str | None) -> None:
    """Make `table`'s rows (those of the subjects in table `only`, if given) those of `temp`.

    A night changes few flags and measures: the rest are left alone (no dead rows, no
    index churn), which is most of the write on PostgreSQL.
    """
    if is_postgres(session):
        run(session, f"ANALYZE {temp}")
    same = " AND ".join(f"t.{k} = {table}.{k}" for k in key)
    where = f"subject_id IN (SELECT subject_id FROM {only}) AND " if only else ""
    run(session, f"DELETE FROM {table} WHERE {where}"
                 f"NOT EXISTS (SELECT 1 FROM {temp} t WHERE {same})")
    same = " AND ".join(f"x.{k} = t.{k}" for k in key)
    run(session, f"INSERT INTO {table} ({', '.join(key)}) SELECT {', '.join(key)} "
                 f"FROM {temp} t WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {same})")
    run(session, f"DROP TABLE IF EXISTS {temp}")
