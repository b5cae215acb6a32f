"""The run's writes: the tier changes, then the standings that changed, and the flags and
measures, in full (every subject, from the sums of their records in cp_agg) or
incrementally (the subjects in cp_scope, from their points in cp_new)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from app.rulebook import Measure, Rulebook, RulebookTimeline
from app.services.locks import is_postgres
from app.services.standings.predicates import tier_of
from app.services.standings.recompute import bookkeeping
from app.services.standings.recompute.measures import (
    flags_table,
    measures_table,
    pairs_table,
    tier_only_measures,
)
from app.services.standings.recompute.points import starting_plus
from app.services.standings.recompute.sql import Sql, in_list, run


def log_tier_changes(session: Session, as_of: date, run_id: int) -> int:
    """Fill temp table cp_changed with the subjects of cp_new whose points or tier differ from
    their stored standing, or who have none; log each one whose tier changed; return how many.

    The writes that follow apply cp_changed: one join of the new standings with the stored
    ones finds both the tier changes and the rows to write.
    """
    _changed_table(session)
    run(session, """
        INSERT INTO cp_changed (subject_id, points, tier, stored, from_points, from_tier)
        SELECT n.subject_id, n.points, n.tier, s.subject_id IS NOT NULL, s.points, s.tier
        FROM cp_new n LEFT JOIN standing s ON s.subject_id = n.subject_id
        WHERE s.subject_id IS NULL
           OR s.points IS DISTINCT FROM n.points OR s.tier IS DISTINCT FROM n.tier
    """)
    return _log_changed_tiers(session, as_of, run_id)


def log_tier_changes_full(session: Session, rulebook: Rulebook, as_of: date, run_id: int,
                          deltas: str, same_tiers: bool) -> int:
    """As `log_tier_changes`, for every subject, from table `deltas` (subject_id, delta):
    the sums of the records of the subjects that have records counting on `as_of`. A
    subject not in it is at the starting points; without consent, where the scheme requires
    it, a subject is not scored (NULL). Each subject's points and tier are worked out here,
    beside its stored standing, so only the rows that changed are ever written.

    `same_tiers`: the stored standings are of a rulebook with this one's tiers (the same
    fingerprint), so a stored row whose points are the same has the same tier, and the
    tier is worked out only for the rows whose points changed.
    """
    expression = starting_plus(rulebook, "a.delta")
    points, tier = Sql.of(expression), Sql.of(tier_of(rulebook, expression))
    if rulebook.scheme.requires_consent:
        points = Sql(f"CASE WHEN s.consent THEN {points} ELSE NULL END", points)
        tier = Sql(f"CASE WHEN s.consent THEN {tier} ELSE NULL END", tier)
    differs = f"st.points IS DISTINCT FROM {points}"
    if not same_tiers:
        differs += f" OR st.tier IS DISTINCT FROM {tier}"
    _changed_table(session)
    # Every subject once, in the subject table's order, beside its sum (if it has records)
    # and its stored standing (if any): two index probes per subject, nothing written for
    # the subjects whose standing stays.
    run(session, f"""
        INSERT INTO cp_changed (subject_id, points, tier, stored, from_points, from_tier)
        SELECT s.subject_id, {points}, {tier}, st.subject_id IS NOT NULL, st.points, st.tier
        FROM subject s
        LEFT JOIN {deltas} a ON a.subject_id = s.subject_id
        LEFT JOIN standing st ON st.subject_id = s.subject_id
        WHERE st.subject_id IS NULL OR {differs}
    """, points, tier)
    return _log_changed_tiers(session, as_of, run_id)


def _changed_table(session: Session) -> None:
    run(session, "DROP TABLE IF EXISTS cp_changed")
    run(session, "CREATE TEMPORARY TABLE cp_changed (subject_id VARCHAR(18) PRIMARY KEY, "
                 "points INTEGER, tier VARCHAR(16), stored BOOLEAN NOT NULL, "
                 "from_points INTEGER, from_tier VARCHAR(16))")


def _log_changed_tiers(session: Session, as_of: date, run_id: int) -> int:
    """Log a tier change for each stored standing of cp_changed whose tier changed; return
    how many."""
    return run(session, """
        INSERT INTO tier_change (subject_id, on_date, from_tier, to_tier, from_points,
                                 to_points, run_id)
        SELECT c.subject_id, :d, c.from_tier, c.tier, c.from_points, c.points, :run
        FROM cp_changed c
        WHERE c.stored AND COALESCE(c.from_tier, '') <> COALESCE(c.tier, '')
    """, d=as_of, run=run_id).rowcount


def write_full(session: Session, rulebook: Rulebook, as_of: date, run_id: int,
               timeline: RulebookTimeline | None = None, same_rulebook: bool = False) -> None:
    """Write the standings that changed (cp_changed) and every subject's flags and measures.

    The rows that did not change keep their day and run: `standing.as_of` is the day a row
    last changed, and the day of the standings as a whole is the run's (`standings_day`),
    so a night costs the rows that changed, not a million row writes. No row goes: every
    standing is a subject's (a foreign key), and cp_changed holds every subject without
    one. So once written, `standing` holds every subject's points and tier on `as_of`: the
    flags and measures read them there (by its tier index), not from a table of its own.

    `same_rulebook`: the stored standings were computed under this rulebook (its
    fingerprint is that of the last successful run: see `same_rulebook`).
    """
    _write_changed(session, as_of, run_id)
    # Under the rulebook of the stored standings, a measure of tiers alone changes only for
    # the subjects whose tier changed: those measures are written from cp_changed rather
    # than listed for every subject (a million rows) and compared.
    by_tier = tier_only_measures(rulebook) if same_rulebook else ()
    # SQLite's run has no table of every subject's points (cp_agg holds those with records);
    # PostgreSQL's has cp_new, which its measures' statements read faster than `standing`
    # (2026-12-08, quiet: INSERT standing_measure 1.2-1.5 s against 2.1-2.2 s at 1M).
    points = "cp_new" if is_postgres(session) else "standing"
    _flags_and_measures(session, rulebook, as_of, None, timeline, by_tier, points=points)
    run(session, "DROP TABLE cp_changed")


def same_rulebook(session: Session, rulebook: Rulebook, run_id: int) -> bool:
    """Return True if the stored standings were computed under `rulebook`."""
    return bookkeeping.stored_fingerprint(session, run_id) == rulebook.fingerprint


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
                        by_tier: tuple[Measure, ...] = (), points: str = "cp_new") -> None:
    """Write the flags and measures of the subjects in `only` (all if None), changes only;
    the measures `by_tier` (of tiers alone) only for the subjects in cp_changed. The tiers
    are those of table `points` (subject_id, points, tier)."""
    flags_table(session, rulebook=rulebook, day=as_of, table="cp_sf", only=only)
    _apply_diff(session, "standing_flag", "cp_sf", ("subject_id", "flag_code"), only)
    skip = tuple(m.code for m in by_tier)
    measures_table(session, rulebook=rulebook, day=as_of, points=points, table="cp_sm",
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
