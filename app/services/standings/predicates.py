"""What counts on a day, said once: the SQL predicates every query of the facts shares.

A record counts on a day; a list entry counts on a day; a watchlist entry is behind a flag
on a day, and a subject is flagged; the tier a number of points falls in. These are the
rules of PRODUCT.md that the pure evaluator (app.standing) applies to one subject's facts,
written here as SQLAlchemy Core expressions for the queries that ask the database about
many subjects: the nightly recompute, the simulation, the lists, the reports and the
nightly notices.

Each predicate takes the table it tests (an ORM class, a table, or an alias of one) and a
day. The day is a bind parameter typed Date: anonymous by default, or named `name` when a
hand-written statement around the expression names its parameters (the recompute's). A
column of dates may stand for the day (the notice walk-back asks about many days at once).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.sql import ColumnElement, FromClause, Select
from sqlalchemy.sql.elements import BindParameter

from app.models import Objection
from app.rulebook import Rulebook
from app.rulebook.model import Flag

OBJECTION = Objection.__table__.alias("o")

Day = date | ColumnElement[date]  # a day, or a column of days


def _columns(source: Any) -> Any:
    """Return the columns of `source`: a table's or an alias's `.c`, an ORM class itself."""
    return source.c if isinstance(source, FromClause) else source


def day_param(day: Day, name: str | None = None) -> ColumnElement[date]:
    """Return `day` as a bind parameter typed Date, named `name` (anonymous without one);
    a column of days as it is."""
    if not isinstance(day, date):
        return day
    return bindparam(name, day, type_=Date, unique=name is None)


def record_stands(record: Any) -> ColumnElement[bool]:
    """The record stands: it was not voided, nor annulled after an objection."""
    r = _columns(record)
    return and_(r.voided_at.is_(None), r.annulled_on.is_(None))


def record_counts(record: Any, day: Day, *, suspend: bool = False,
                  name: str | None = None) -> ColumnElement[bool]:
    """The record counts on `day`: it stands, occurred by then, has not ended (`ends_on` is
    the first day it no longer counts) and was not repaired by then.

    With `suspend` (the scheme's objections.suspend_record) it does not count on the days an
    objection against it is pending: filed on or before `day`, not decided by then.
    """
    r, d = _columns(record), day_param(day, name)
    condition = and_(record_stands(r), r.occurred_on <= d, r.ends_on > d,
                     or_(r.repaired_on.is_(None), r.repaired_on > d))
    if suspend:
        o = OBJECTION.c
        pending = and_(o.filed_on <= d, or_(o.decided_on.is_(None), o.decided_on > d))
        if isinstance(day, date):
            # Uncorrelated: the few pending objections are read once, not once per record.
            condition = and_(condition, r.id.not_in(select(o.record_id).where(pending)))
        else:
            # A column of days: the list would be read again for every row of days (every
            # objection each time); a record's own objections are one index probe away.
            # The record's id is named as text: a fragment compiled on its own would put
            # the record's table in the subquery's FROM, uncorrelated.
            record_id = literal_column(f"{r.id.expression.table.name}.id", Integer)
            condition = and_(condition, ~exists().where(o.record_id == record_id, pending))
    return condition


def record_may_count(record: Any, first: date, last: date, *,
                     names: tuple[str, str] | None = None) -> ColumnElement[bool]:
    """The record can count on some day of [first, last]: it stands, occurred by `last` and
    ends after `first` (repairs and objections are for `record_counts` to weigh, day by day).

    `names`: the names of the bind parameters of `first` and `last`."""
    r = _columns(record)
    low, high = (day_param(first, names[0]), day_param(last, names[1])) if names else (
        day_param(first), day_param(last))
    return and_(r.occurred_on <= high, r.ends_on > low, record_stands(r))


def entry_counts(entry: Any, day: Day, *, name: str | None = None,
                 rulebook: Rulebook | None = None) -> ColumnElement[bool]:
    """The list entry counts on `day`: entered by then, and neither ended (`ends_on` is the
    first day it no longer counts) nor removed by then.

    With `rulebook` (the one in force on `day`, a day and not a column), an entry stored
    without an end ends when its list's `lasts` there says (app.standing.spans.list_entry_end):
    it counts while entered after the latest start of `lasts` run by `day`.
    """
    e, d = _columns(entry), day_param(day, name)
    counts = and_(e.entered_on <= d, or_(e.ends_on.is_(None), e.ends_on > d),
                  or_(e.removed_on.is_(None), e.removed_on > d))
    if rulebook is None or not isinstance(day, date):
        return counts
    for i, list_def in enumerate(rulebook.lists):
        if list_def.lasts is None:
            continue
        start = list_def.lasts.latest_start(day)
        code = bindparam(f"{name}lc{i}" if name else None, list_def.code, unique=not name)
        since = bindparam(f"{name}ls{i}" if name else None, start, type_=Date, unique=not name)
        counts = and_(counts, or_(e.ends_on.is_not(None), e.list_code != code,
                                  e.entered_on > since))
    return counts


def behind_flag(entry: Any, watchlist: str, flag: Flag, day: Day, *,
                name: str | None = None,
                since: ColumnElement[date] | None = None) -> ColumnElement[bool]:
    """The entry is one of those behind `flag` (raised by list `watchlist`) on `day`: on the
    watchlist, entered within the flag's window (`within` before `day`, up to `day`) and not
    removed by then. An entry that ended still counts toward the flag: the window says how
    long it does.

    With `name`, the bind parameters are `{name}l` (the list), `{name}from` and `{name}d`.
    When `day` is a column, `since` is the column of the first day of each day's window
    (`flag.within.before(day)`).
    """
    e = _columns(entry)
    code = bindparam(f"{name}l" if name else None, watchlist, unique=name is None)
    if since is None:
        if not isinstance(day, date):
            raise TypeError("a column of days needs the column of their windows' first days")
        since = day_param(flag.within.before(day), f"{name}from" if name else None)
    d = day_param(day, f"{name}d" if name else None)
    return and_(e.list_code == code, e.entered_on >= since, e.entered_on <= d,
                or_(e.removed_on.is_(None), e.removed_on > d))


def flagged(entry: Any, watchlist: str, flag: Flag, day: date, *,
            name: str | None = None) -> Select[Any]:
    """Select the subject_id of each subject flagged with `flag` on `day`: with at least
    `flag.entries` entries behind it. `name` as for `behind_flag` (the count: `{name}n`)."""
    e = _columns(entry)
    least = bindparam(f"{name}n" if name else None, flag.entries, unique=name is None)
    return (select(e.subject_id).where(behind_flag(e, watchlist, flag, day, name=name))
            .group_by(e.subject_id).having(func.count() >= least))


def tier_of(rulebook: Rulebook, points: ColumnElement[Any], *,
            prefix: str = "") -> ColumnElement[Any]:
    """Return the tier code of `points` under `rulebook`: the first tier (highest first)
    whose minimum it reaches, else the lowest (which has none). The bind parameters are
    `{prefix}tmin{i}` and `{prefix}tier{i}`, for the rulebook's i-th tier."""
    whens: list[tuple[ColumnElement[bool], BindParameter[str]]] = []
    lowest: BindParameter[str] | None = None
    for i, tier in enumerate(rulebook.scheme.tiers):
        code = bindparam(f"{prefix}tier{i}", tier.code)
        if tier.min is None:
            lowest = code
        else:
            whens.append((points >= bindparam(f"{prefix}tmin{i}", tier.min), code))
    if not whens:
        return lowest if lowest is not None else null()
    return case(*whens, else_=lowest)


def represents_on(organisation: Any, day: date, *, name: str | None = None) -> ColumnElement[bool]:
    """The organisation's registered legal representative represents it on `day`: the
    register names a representative from its own date (`legal_representative_since`),
    never earlier; a representative named before the register kept dates has none."""
    o = _columns(organisation)
    return or_(o.legal_representative_since.is_(None),
               o.legal_representative_since <= day_param(day, name))
