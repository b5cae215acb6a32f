"""The subjects a flag or a measure's `when` condition holds for on a day, as SELECTs.

Each returns a fragment selecting subject_id, possibly more than once; `only` (a table of
subject_ids) restricts the answer to those subjects, and `prefix` keeps the names of its
bind parameters apart from the others' in the same statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import bindparam, select, text

from app.models import ListEntry, Subject
from app.rulebook import Measure, Rulebook
from app.services.standings.predicates import entry_counts, flagged, represents_on
from app.services.standings.recompute.sql import Sql, among, in_list, union

LIST_ENTRY = ListEntry.__table__
ORGANISATION = Subject.__table__.alias("o")


def listed_sql(codes: Iterable[str], day: date, prefix: str, *, day_name: str,
               only: str | None = None, rulebook: Rulebook | None = None) -> Sql:
    """Select the subjects with an entry on any of lists `codes` that counts on `day` (under
    `rulebook`, the one in force on `day`: its lists' `lasts`)."""
    e = LIST_ENTRY.c
    query = select(e.subject_id).where(
        e.list_code.in_([bindparam(f"{prefix}{i}", code) for i, code in enumerate(codes)]),
        entry_counts(LIST_ENTRY, day, name=day_name, rulebook=rulebook))
    if only:
        query = query.where(text(among("list_entry.subject_id", only)))
    return Sql.of(query)


def flagged_sql(rulebook: Rulebook, codes: Iterable[str], day: date, prefix: str,
                only: str | None = None) -> Sql:
    """Select the subjects with any of flags `codes` raised on `day` (empty if none)."""
    parts = []
    for i, (watchlist, flag) in enumerate(rulebook.flags()):
        if flag.code not in codes:
            continue
        query = flagged(LIST_ENTRY, watchlist.code, flag, day, name=f"{prefix}f{i}")
        if only:
            query = query.where(text(among("list_entry.subject_id", only)))
        parts.append(Sql.of(query))
    return union(parts)


def holds_sql(rulebook: Rulebook, measure: Measure, points_table: str, day: date,
              prefix: str, only: str | None = None) -> Sql:
    """Select the subjects for whom a `when` condition of `measure` holds on `day`.

    The tiers are those in `points_table`, taken as it is. If the measure reaches legal
    representatives, an organisation's lists and flags count for its representative.
    """
    when = measure.when
    parts = []
    if when.tiers:
        tiers = in_list(prefix + "t", when.tiers)
        parts.append(Sql(f"SELECT subject_id FROM {points_table} WHERE tier IN {tiers}", tiers))
    day_name = f"{prefix}day"
    if when.lists:
        parts.append(listed_sql(when.lists, day, prefix + "l", day_name=day_name, only=only,
                                rulebook=rulebook))
    if when.flags:
        parts.append(flagged_sql(rulebook, when.flags, day, prefix, only))
    if "legal_representative" in measure.reaches:
        # The organisation's lists and flags reach the person who is its legal representative.
        reached = []
        if when.lists:
            reached.append(listed_sql(when.lists, day, prefix + "rl", day_name=day_name,
                                      rulebook=rulebook))
        reached.append(flagged_sql(rulebook, when.flags, day, prefix + "r"))
        inner = union(reached)
        if inner:
            since = Sql.of(represents_on(ORGANISATION, day, name=day_name))
            parts.append(Sql("SELECT p.subject_id FROM subject o JOIN subject p "
                             "ON p.subject_id = o.legal_representative "
                             "WHERE o.kind = 'organisation' AND p.kind = 'person' "
                             f"AND ({since}) AND o.subject_id IN ({inner})"
                             + (f" AND {among('p.subject_id', only)}" if only else ""),
                             since, inner))
    return union(parts) or Sql("SELECT subject_id FROM subject WHERE 1 = 0")
