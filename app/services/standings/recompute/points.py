"""Points and tiers on a day, for every subject or a few, in one aggregate pass.

A record counts (app.services.standings.predicates) with its points, or with the points
of a later relief version of its rule when that favours it; the tier follows the points.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Integer, bindparam, func, literal_column
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from app.models import Record
from app.rulebook import Rulebook
from app.services.locks import is_postgres
from app.services.standings.predicates import record_counts, tier_of
from app.services.standings.recompute.sql import Sql, run
from app.standing.relief import relief_start

R = Record.__table__.alias("r")  # the recompute's records are `r`, whatever table they are in


def relief_between(rulebook: Rulebook, after: date, until: date) -> bool:
    """Return True if a relief version of some rule starts in (after, until]."""
    return any(v.relief and v.version > 1 and after < relief_start(v) <= until
               for code in rulebook.rule_codes for v in rulebook.versions(code))


def relief_sql(rulebook: Rulebook, day: date, key: str = "") -> Sql:
    """Return the points a record `r` counts with on `day`, relief applied.

    Per code, the latest relief version started by `day` applies to records of earlier
    versions, when it favours them (see app.standing.relief, the reference). Relief
    versions are few, so this is one CASE branch per code and no join. `key` prefixes the
    names of the bind parameters.
    """
    branches: list[str] = []
    values: dict[str, object] = {}
    for code in rulebook.rule_codes:
        started = [v for v in rulebook.versions(code)
                   if v.relief and v.version > 1 and relief_start(v) <= day]
        if started:
            i = len(branches)
            values.update({f"{key}rc{i}": code, f"{key}rv{i}": started[-1].version,
                           f"{key}rp{i}": started[-1].points})
            relieved = f"r.factor * :{key}rp{i}"
            branches.append(
                f"WHEN r.rule_code = :{key}rc{i} AND r.rule_version < :{key}rv{i} "
                f"AND {relieved} > r.points "
                "AND NOT (r.base_points > 0 AND r.points < r.factor * r.base_points) "
                f"THEN {relieved}")
    if not branches:
        return Sql("r.points")
    return Sql(f"CASE {' '.join(branches)} ELSE r.points END", **values)


def starting_plus(rulebook: Rulebook, delta: str) -> ColumnElement[Any]:
    """Return the scheme's starting points plus the column `delta` (none counts as 0)."""
    start = bindparam("start", rulebook.scheme.starting_points, type_=Integer)
    return start + func.coalesce(literal_column(delta, Integer), literal_column("0", Integer))


def points_table(session: Session, *, rulebook: Rulebook, day: date, table: str,
                 restrict: str | None = None) -> None:
    """Fill temporary table `table` (subject_id, points, tier) with the subjects' points and
    tiers on `day` (NULL for those not scored: no consent where the scheme requires it).

    `restrict`: a table of the subject_ids to compute (default: every subject).
    """
    select = points_select(session, rulebook=rulebook, day=day, restrict=restrict)
    run(session, f"DROP TABLE IF EXISTS {table}")
    run(session, f"CREATE TEMPORARY TABLE {table} ({POINTS_COLUMNS})")
    run(session, f"INSERT INTO {table} (subject_id, points, tier) {select}", select)


POINTS_COLUMNS = "subject_id VARCHAR(18) PRIMARY KEY, points INTEGER, tier VARCHAR(16)"


def points_select(session: Session, *, rulebook: Rulebook, day: date,
                  restrict: str | None = None, where: Sql | None = None) -> Sql:
    """Return the SELECT of (subject_id, points, tier) on `day` that `points_table` stores.

    `restrict`: a table of the subject_ids to compute (default: every subject). `where`: a
    condition on a subject_id written `{sid}` (a slice of the subjects; see `slices`),
    applied to the subjects and to the records before they are summed.
    """
    expression = starting_plus(rulebook, "a.delta")
    points, tier = Sql.of(expression), Sql.of(tier_of(rulebook, expression))
    if rulebook.scheme.requires_consent:
        points = Sql(f"CASE WHEN s.consent THEN {points} ELSE NULL END", points)
        tier = Sql(f"CASE WHEN s.consent THEN {tier} ELSE NULL END", tier)
    if restrict:
        # A few subjects: start from them (CROSS JOIN fixes that order on SQLite) and reach
        # their records by index, instead of scanning every subject and record.
        subjects = f"{restrict} c CROSS JOIN subject s"
        only = "WHERE s.subject_id = c.subject_id"
        records = f"{restrict} c2 CROSS JOIN record r"
        join_r = "r.subject_id = c2.subject_id AND "
    else:
        subjects, only, join_r = "subject s", "", ""
        # Without statistics SQLite walks the (subject_id, ...) index for the GROUP BY
        # and fetches all ten million records at random; the window index reads only the
        # entries live on the day. PostgreSQL's planner already takes that index.
        records = "record r" if is_postgres(session) else "record r INDEXED BY ix_record_window"
    parts = []
    if where:
        parts.append(where)
        only = f"{only} AND " if only else "WHERE "
        only += where.text.format(sid="s.subject_id")
        join_r += where.text.format(sid="r.subject_id") + " AND "
    deltas = _deltas(rulebook, day, records, join_r)
    return Sql(f"""
        SELECT s.subject_id AS subject_id, {points} AS points, {tier} AS tier
        FROM {subjects}
        LEFT JOIN ({deltas}) a ON a.subject_id = s.subject_id
        {only}
    """, points, tier, deltas, *parts)


def _deltas(rulebook: Rulebook, day: date, records: str, join_r: str) -> Sql:
    """Return the SELECT of (subject_id, delta) over `records` (text naming the records `r`):
    each subject's sum of the points its records count with on `day`, for the subjects that
    have a record that counts; `join_r`: further conditions on `r`, each followed by AND."""
    counts = Sql.of(record_counts(R, day, suspend=rulebook.scheme.objections.suspend_record,
                                  name="d"))
    counted = relief_sql(rulebook, day)
    return Sql(f"""
            SELECT r.subject_id AS subject_id, SUM({counted}) AS delta
            FROM {records}
            WHERE {join_r}{counts}
            GROUP BY r.subject_id
    """, counted, counts)


DELTAS_COLUMNS = "subject_id VARCHAR(18) PRIMARY KEY, delta INTEGER"


def deltas_select(session: Session, *, rulebook: Rulebook, day: date) -> Sql:
    """Return the SELECT of (subject_id, delta) that `deltas_table` stores: the points the
    records that count on `day` add to the starting points, for each subject that has one."""
    # As points_select: SQLite reads the records live on the day by the window index.
    records = "record r" if is_postgres(session) else "record r INDEXED BY ix_record_window"
    return _deltas(rulebook, day, records, "")


def deltas_table(session: Session, *, rulebook: Rulebook, day: date, table: str) -> None:
    """Fill temporary table `table` (subject_id, delta) with the sum of the points of the
    records that count on `day`, for each subject that has one; a subject without one is at
    the starting points (or unscored, without consent where the scheme requires it).

    SQLite's full run's aggregate: the floor's one pass over the live records, and a row
    written for each subject with records rather than for every subject (see
    writes.log_tier_changes_full, which puts the subjects and their stored standings beside
    it). PostgreSQL's full run measured cheaper with points_table (2026-12-08).
    """
    select = deltas_select(session, rulebook=rulebook, day=day)
    run(session, f"DROP TABLE IF EXISTS {table}")
    run(session, f"CREATE TEMPORARY TABLE {table} ({DELTAS_COLUMNS})")
    run(session, f"INSERT INTO {table} (subject_id, delta) {select}", select)
    if is_postgres(session):  # temporary tables get no statistics otherwise
        run(session, f"ANALYZE {table}")
