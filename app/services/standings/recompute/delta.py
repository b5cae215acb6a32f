"""The points of an incremental run from the stored ones: stored points plus what changed.

A subject's points on a day are the scheme's starting points plus the points of the records
that count on that day (app.services.standings.recompute.points). Between the base run's
day `lo` and today `d` (one day, the same rulebook, no relief starting in between:
bookkeeping.base_run), a record of the base run that nobody touched since counts on `d` as
on `lo` unless one of its dates falls in (lo, d]: it occurs, ends or is repaired then, or
an objection against it is filed or decided then (when objections suspend a record). A
record stored since the base run (its id above the base's watermark) did not count in the
base run at all. So for a subject whose facts nobody touched since the base run:

    points on d = stored points + the sum, over those few records, of
                  (points if it counts on d) - (points if it counted on lo and is not new)

which reads the day's changing records (`cp_drec`, found by the indexes on those dates and
the primary key) instead of every record of every subject in scope: at city scale the
scope is ~17,000 subjects and ~170,000 records read at random, the changing records ~20,000.

The subjects for whom that does not hold are recomputed from all their records as before
(`cp_exact`): those without a stored standing or stored points (new subjects, no consent),
those whose register row changed (consent), those with an objection stored since, and
those the audit trail names for any action but the few that change no record's points
(a new record is counted by its id; views; list entries, which do not count in points).
An action not in that list sends its subject to `cp_exact`: an unknown kind of change is
recomputed in full rather than trusted to the delta.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Integer, literal_column
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session

from app.models import Run
from app.rulebook import Rulebook
from app.services.locks import is_postgres
from app.services.standings.predicates import record_counts, tier_of
from app.services.standings.recompute.points import (
    POINTS_COLUMNS,
    R,
    points_select,
    relief_between,
    relief_sql,
)
from app.services.standings.recompute.sql import Sql, in_list, run

# Audited actions that change no points of a record stored before the base run: a new
# record (counted by its id above the watermark), looks at records, subjects and lists,
# list entries and their objections (lists raise flags and measures, never points),
# a subject's contact details and language. Any other action (a void, a repair, an
# objection filed or decided, consent, an update of the register, one added later)
# makes its subject's points be recomputed from all its records.
POINTS_UNCHANGED = ("record.create", "record.view", "subject.view", "objection.view",
                    "list.view", "list.enter", "list.remove", "list.import", "flags.view",
                    "measure.check", "export.csv", "subject.contact", "subject.language",
                    "entry_objection.file", "entry_objection.decide", "notices.letters.view")

DREC = "cp_drec"  # (id, subject_id): the records that may count differently on d than on lo


def changing_records(session: Session, rulebook: Rulebook, base: Run, as_of: date) -> None:
    """Fill temp table cp_drec (id, subject_id) with the records stored since the `base` run
    and those with a date in (base day, as_of] that makes them start or stop counting."""
    span = {"lo": base.as_of, "d": as_of}

    def between(column: str) -> str:
        return f"({column} > :lo AND {column} <= :d)"

    parts = ["SELECT id, subject_id FROM record WHERE id > :wr",
             f"SELECT id, subject_id FROM record WHERE {between('occurred_on')}",
             f"SELECT id, subject_id FROM record WHERE {between('ends_on')}",
             f"SELECT id, subject_id FROM record WHERE {between('repaired_on')}"]
    if rulebook.scheme.objections.suspend_record:
        parts.append("SELECT r.id, r.subject_id FROM objection o CROSS JOIN record r "
                     f"WHERE r.id = o.record_id AND ({between('o.filed_on')} "
                     f"OR {between('o.decided_on')})")
    run(session, f"DROP TABLE IF EXISTS {DREC}")
    run(session, f"CREATE TEMPORARY TABLE {DREC} (id INTEGER PRIMARY KEY, "
                 "subject_id VARCHAR(18) NOT NULL)")
    run(session, f"INSERT INTO {DREC} (id, subject_id) SELECT id, subject_id FROM ("
                 + " UNION ".join(parts) + ") x", wr=base.max_record_id, **span)
    if is_postgres(session):
        run(session, f"ANALYZE {DREC}")


def delta_points(session: Session, *, rulebook: Rulebook, base: Run, as_of: date,
                 since: BindParameter[datetime], table: str) -> int:
    """Fill temporary table `table` (as points_table does) with the points and tiers on
    `as_of` of the subjects in cp_scope, from their stored points and cp_drec
    (`changing_records`) where that is exact, else from all their records; return how many
    subjects were recomputed from all their records.

    `since`: the register's rows changed from then on are those of subjects to recompute
    in full (the scope's margin before the base run).
    """
    if relief_between(rulebook, base.as_of, as_of):  # base_run makes such a run full
        raise ValueError("a relief starts between the base run and this one: run in full")
    exact_sources = in_list("pu", POINTS_UNCHANGED)
    # The stored points and consent of each subject in scope, looked up once by subject (a
    # join had PostgreSQL scan the million rows of `standing` to meet 17,000 subjects, and
    # a lookup written into the SELECT below was run once for each use of the points).
    run(session, "DROP TABLE IF EXISTS cp_stored")
    run(session, "CREATE TEMPORARY TABLE cp_stored (subject_id VARCHAR(18) PRIMARY KEY, "
                 "points INTEGER, consent BOOLEAN)")
    run(session, "INSERT INTO cp_stored (subject_id, points, consent) SELECT c.subject_id, "
                 "(SELECT st.points FROM standing st WHERE st.subject_id = c.subject_id), "
                 "(SELECT s.consent FROM subject s WHERE s.subject_id = c.subject_id) "
                 "FROM cp_scope c")
    run(session, "DROP TABLE IF EXISTS cp_exact")
    run(session, "CREATE TEMPORARY TABLE cp_exact (subject_id VARCHAR(18) PRIMARY KEY)")
    run(session, f"""
        INSERT INTO cp_exact (subject_id)
        SELECT x.subject_id FROM (
            SELECT subject_id FROM cp_stored WHERE points IS NULL
            UNION SELECT subject_id FROM audit_event WHERE id > :wa
                AND subject_id IS NOT NULL AND action NOT IN {exact_sources}
            UNION SELECT subject_id FROM objection WHERE id > :wo
            UNION SELECT subject_id FROM subject WHERE updated_at >= :since
        ) x WHERE x.subject_id IN (SELECT subject_id FROM cp_scope)
    """, exact_sources, wa=base.max_audit_id or 0, wo=base.max_objection_id or 0,
        since=since)
    run(session, f"DROP TABLE IF EXISTS {table}")
    run(session, f"CREATE TEMPORARY TABLE {table} ({POINTS_COLUMNS})")
    exact = int(run(session, "SELECT COUNT(*) FROM cp_exact").scalar_one())
    if exact:
        if is_postgres(session):
            run(session, "ANALYZE cp_exact")
        select = points_select(session, rulebook=rulebook, day=as_of, restrict="cp_exact")
        run(session, f"INSERT INTO {table} (subject_id, points, tier) {select}", select)
    select = _delta_select(rulebook, base, as_of)
    run(session, f"INSERT INTO {table} (subject_id, points, tier) {select}", select)
    return exact


def _delta_select(rulebook: Rulebook, base: Run, as_of: date) -> Sql:
    """Select (subject_id, points, tier) on `as_of` of the subjects of cp_scope not in
    cp_exact: their stored points plus the change the records of cp_drec make."""
    suspend = rulebook.scheme.objections.suspend_record
    now = Sql.of(record_counts(R, as_of, suspend=suspend, name="d"))
    then = Sql.of(record_counts(R, base.as_of, suspend=suspend, name="lo"))
    # The same on both days: no relief starts in between (checked by the caller).
    counted = relief_sql(rulebook, as_of)
    expression = literal_column("q.stored", Integer) + literal_column(
        "COALESCE(q.delta, 0)", Integer)
    points, tier = Sql.of(expression), Sql.of(tier_of(rulebook, expression))
    if rulebook.scheme.requires_consent:
        points = Sql(f"CASE WHEN q.consent THEN {points} ELSE NULL END", points)
        tier = Sql(f"CASE WHEN q.consent THEN {tier} ELSE NULL END", tier)
    # From the few subjects in scope (cp_stored) and the few changing records.
    return Sql(f"""
        SELECT q.subject_id AS subject_id, {points} AS points, {tier} AS tier
        FROM (
            SELECT c.subject_id AS subject_id, c.points AS stored, a.delta AS delta,
                c.consent AS consent
            FROM cp_stored c
            LEFT JOIN (
                SELECT r.subject_id AS subject_id,
                    SUM(CASE WHEN {now} THEN {counted} ELSE 0 END)
                    - SUM(CASE WHEN r.id <= :dwr AND {then} THEN {counted} ELSE 0 END)
                    AS delta
                FROM {DREC} x CROSS JOIN record r
                WHERE r.id = x.id
                GROUP BY r.subject_id
            ) a ON a.subject_id = c.subject_id
            WHERE NOT EXISTS (SELECT 1 FROM cp_exact e WHERE e.subject_id = c.subject_id)
        ) q
    """, points, tier, now, then, counted, dwr=base.max_record_id)
