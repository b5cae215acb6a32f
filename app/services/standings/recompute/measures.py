"""Flags and measures on a day, into temporary tables, from a table of points."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from app.rulebook import Measure, Rulebook, RulebookTimeline
from app.services.standings.recompute.conditions import flagged_sql, holds_sql
from app.services.standings.recompute.sql import in_list, run
from app.services.standings.recompute.walkback import walk_back


def pairs_table(session: Session, table: str, column: str) -> None:
    """(Re)create temporary table `table` (subject_id, `column`), one row per pair."""
    run(session, f"DROP TABLE IF EXISTS {table}")
    run(session, f"CREATE TEMPORARY TABLE {table} (subject_id VARCHAR(18), "
                 f"{column} VARCHAR(64), PRIMARY KEY (subject_id, {column}))")


def flags_table(session: Session, *, rulebook: Rulebook, day: date, table: str,
                only: str | None = None) -> None:
    """Fill temporary table `table` (subject_id, flag_code) with the flags raised on `day`.

    `only`: a table of subject_ids; the flags of those subjects alone.
    """
    pairs_table(session, table, "flag_code")
    for _watchlist, flag in rulebook.flags():
        flagged = flagged_sql(rulebook, (flag.code,), day, "g", only)
        run(session, f"INSERT INTO {table} (subject_id, flag_code) "
                     f"SELECT DISTINCT subject_id, :fcode FROM ({flagged}) x",
            flagged, fcode=flag.code)


def tier_only_measures(rulebook: Rulebook) -> tuple[Measure, ...]:
    """Return the measures that hold by the tier alone (no lists, flags or notice)."""
    return tuple(m for m in rulebook.measures
                 if m.notice is None and m.when.tiers and not (m.when.lists or m.when.flags))


def measures_table(session: Session, *, rulebook: Rulebook, day: date, points: str,
                   table: str, only: str | None = None,
                   timeline: RulebookTimeline | None = None,
                   skip: tuple[str, ...] = ()) -> None:
    """Fill temporary table `table` (subject_id, measure_code) with the measures in force on
    `day`, the tiers being those in table `points` (subject_id, points, tier).

    `only`: a table of subject_ids; the measures of those subjects alone (`points` holds
    just them). `timeline`: the rulebooks in force before `rulebook` (its rulebook on `day`);
    a notice period counts a day only when the condition held under the rulebook of that day.
    `skip`: codes of measures left out.
    """
    pairs_table(session, table, "measure_code")
    noticed = []
    for measure in rulebook.measures:
        when = measure.when
        if measure.code in skip:
            continue
        if measure.notice is not None:
            noticed.append(measure)
        elif when.tiers and not (when.lists or when.flags):
            # Tiers alone: straight from the points table, one row per subject already.
            tiers = in_list("mt", when.tiers)
            run(session, f"INSERT INTO {table} (subject_id, measure_code) "
                         f"SELECT subject_id, :code FROM {points} WHERE tier IN {tiers}",
                tiers, code=measure.code)
        else:
            holds = holds_sql(rulebook, measure, points, day, "m", only)
            run(session, f"INSERT INTO {table} (subject_id, measure_code) "
                         f"SELECT DISTINCT subject_id, :code FROM ({holds}) h",
                holds, code=measure.code)
    if noticed:
        walk_back(session, rulebook=rulebook, as_of=day, noticed=noticed, points=points,
                  table=table, only=only, timeline=timeline)
