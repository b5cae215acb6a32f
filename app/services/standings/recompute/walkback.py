"""The notice walk-back: the days a noticed measure's condition must have held.

A measure with a notice period is in force on `as_of` when its condition held on every day
of [as_of - notice, as_of]. The subjects it holds for on `as_of` are few (the candidates).
A condition can change only on a day when one of the candidate's facts starts or stops
counting (a record, an objection, a list entry, a watchlist entry entering or leaving a
flag's window) or a relief version starts; between two such days it holds or fails
throughout. So the candidates' points and conditions are computed, set-based, on those
days alone (rows of subject and day, never a column per day), and a candidate keeps a
measure when its condition held on each of them from the start of the notice period.
A notice period of any length the rulebook check accepts costs what the facts in it cost.

Each day is judged by the rulebook in force that day (the eras of the timeline within the
walk): its points (starting points, relief, consent, suspension), its tiers and the measure's
condition there; the first day of each era is a day of the walk, and a day whose rulebook
lacks the measure breaks every run through it.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Date, Integer, bindparam, literal_column, text
from sqlmodel import Session

from app.models import ListEntry, Subject
from app.rulebook import Duration, Measure, Rulebook, RulebookTimeline
from app.services.locks import is_postgres
from app.services.standings.predicates import (
    behind_flag,
    entry_counts,
    record_counts,
    record_may_count,
    record_stands,
    represents_on,
    tier_of,
)
from app.services.standings.recompute.conditions import holds_sql
from app.services.standings.recompute.points import R, relief_between, relief_sql
from app.services.standings.recompute.sql import Sql, in_list, run, union
from app.standing.relief import relief_start

# The candidates' records are read by the window index above this many candidates, by
# subject below (tens of thousands of index walks beat one window scan).
WALK_BY_WINDOW = 50_000

E = ListEntry.__table__.alias("e")
DAY = literal_column("w.day", Date)  # the day of a row of cp_wday (or cp_wd)
# The organisation o is represented by the candidate on the row's day (no bind parameters;
# an OR: parenthesise it where it is joined to other conditions).
REPRESENTS = Sql.of(represents_on(Subject.__table__.alias("o"), DAY))
# A piece of the walk judged by one rulebook: [low, high) and that rulebook.
Era = tuple[date, date, Rulebook]
TEMPS = ("cp_mcand", "cp_cand", "cp_crec", "cp_cent", "cp_wd", "cp_wday", "cp_since",
         "cp_fexit", "cp_lexit", "cp_lend", "cp_held")


def walk_back(session: Session, *, rulebook: Rulebook, as_of: date, noticed: list[Measure],
              points: str, table: str, only: str | None,
              timeline: RulebookTimeline | None = None) -> None:
    """Insert into `table` (subject_id, measure_code) the measures of `noticed` in force on
    `as_of`, the points on `as_of` being those of table `points` (see measures_table).

    Each earlier day is judged by the rulebook in force that day (`timeline`; `rulebook`
    alone without one), `rulebook` being the one in force on `as_of`."""
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
    run(session, "INSERT INTO cp_cand (subject_id) SELECT DISTINCT subject_id FROM cp_mcand")
    # A notice has run on as_of when its condition held from latest_start(as_of) on, where
    # latest_start + notice = as_of (PRODUCT.md: Jan 31 + 1m = Feb 28, clamped).
    starts = {m.code: m.notice.latest_start(as_of) for m in noticed if m.notice}
    first, last = min(starts.values(), default=as_of), as_of - timedelta(days=1)
    if first <= last and run(session, "SELECT 1 FROM cp_cand LIMIT 1").first():
        eras = _eras(timeline or RulebookTimeline.always(rulebook), rulebook, first, last)
        # From the points on as_of when every rulebook of the walk counts points as the one
        # of as_of does (a change of tiers or measures alone: the tiers are still each day's)
        # and no relief starts in it; otherwise each day's points from its records.
        changes = all(_same_points(book, rulebook) for _low, _high, book in eras) \
            and not relief_between(rulebook, first, as_of)
        _candidate_records(session, rulebook, first, last, as_of, changes)
        _walk_days(session, eras, sorted({s for s in starts.values() if s <= last}),
                   first, last, changes)
        _day_points(session, eras, first, last, as_of, points, changes)
        for measure in noticed:
            start = starts.get(measure.code, as_of)
            if start <= last:
                _drop_breaks(session, eras, measure, start)
    run(session, f"INSERT INTO {table} (subject_id, measure_code) "
                 "SELECT subject_id, measure_code FROM cp_mcand")
    for temp in TEMPS:
        run(session, f"DROP TABLE IF EXISTS {temp}")


def _eras(timeline: RulebookTimeline, rulebook: Rulebook, first: date, last: date) -> list[Era]:
    """Return the eras of `timeline` covering [first, last], as [low, high) with their
    rulebook; one era when every day's rulebook is `rulebook` (the one of as_of)."""
    eras = timeline.eras(first, last + timedelta(days=1))
    if all(book.fingerprint == rulebook.fingerprint for _low, _high, book in eras):
        return [(first, last + timedelta(days=1), rulebook)]
    return eras


def _same_points(one: Rulebook, other: Rulebook) -> bool:
    """Return True if `one` and `other` give every record the same points on every day, and
    every subject the same start: starting points, consent, suspension during objections and
    relief alike (what points_table takes from a rulebook besides its tiers)."""
    if one is other:
        return True
    a, b = one.scheme, other.scheme
    return (a.starting_points, a.requires_consent, a.objections.suspend_record) == (
        b.starting_points, b.requires_consent, b.objections.suspend_record) \
        and _reliefs(one) == _reliefs(other)


def _reliefs(rulebook: Rulebook) -> set[tuple[str, int, int, date]]:
    """Return the relief versions of `rulebook`: code, version, points and first day."""
    return {(code, v.version, v.points, relief_start(v)) for code in rulebook.rule_codes
            for v in rulebook.versions(code) if v.relief and v.version > 1}


def _era_on(eras: list[Era], day: date) -> Rulebook:
    """Return the rulebook of the era holding `day`."""
    return next(book for low, high, book in eras if low <= day < high)


def _relief_starts(eras: list[Era], first: date, last: date) -> set[date]:
    """Return the days in (first, last] on which a relief version of an era's rulebook starts
    within that era."""
    return {relief_start(v) for low, high, book in eras for code in book.rule_codes
            for v in book.versions(code)
            if v.relief and v.version > 1 and first < relief_start(v) <= last
            and low <= relief_start(v) < high}


def _candidate_records(session: Session, rulebook: Rulebook, first: date, last: date,
                       as_of: date, changes: bool) -> None:
    """Fill temp table cp_crec with the candidates' records the walk needs.

    With `changes` (no relief starts in (first, as_of]), only the few records that start or
    stop counting in (first, as_of]: every other record counts on all of the days or on
    none, as it does on as_of. Otherwise every record that can count on a day of the walk.
    """
    run(session, "DROP TABLE IF EXISTS cp_crec")
    if changes:
        # On PostgreSQL the records' parts keep only the candidates' (it otherwise read
        # every record of every candidate to meet the window's ids: 1.3 s against 0.08 s
        # at a million); SQLite would drive each part from the candidates' records instead
        # (9 s), and reads the window as it is. The outer filter meets the objections'.
        cand = "subject_id IN (SELECT subject_id FROM cp_cand)" if is_postgres(session) \
            else "1 = 1"
        changing = [f"SELECT id FROM record WHERE occurred_on > :first AND occurred_on <= :d "
                    f"AND {cand}",
                    f"SELECT id FROM record WHERE ends_on > :first AND ends_on <= :d AND {cand}",
                    f"SELECT id FROM record WHERE repaired_on > :first AND repaired_on <= :d "
                    f"AND {cand}"]
        if rulebook.scheme.objections.suspend_record:
            changing.append("SELECT record_id FROM objection WHERE (filed_on > :first AND "
                            "filed_on <= :d) OR (decided_on > :first AND decided_on <= :d)")
        stands = Sql.of(record_stands(R))
        run(session, "CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM record r WHERE r.id "
                     "IN (" + " UNION ".join(changing) + f") AND {stands} AND "
                     "r.subject_id IN (SELECT subject_id FROM cp_cand)",
            stands, first=first, d=as_of)
    else:
        # Read once: in one pass over the window index when the candidates are many (an
        # index walk per candidate is millions of random reads at city scale), by subject
        # when they are few.
        candidates = run(session, "SELECT COUNT(*) FROM cp_cand").scalar_one()
        live = Sql.of(record_may_count(R, first, last, names=("first", "last")))
        if candidates > WALK_BY_WINDOW:
            window = "" if is_postgres(session) else " INDEXED BY ix_record_window"
            run(session, f"CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM record r{window} "
                         f"WHERE {live} AND r.subject_id IN (SELECT subject_id FROM cp_cand)",
                live)
        else:
            run(session, "CREATE TEMPORARY TABLE cp_crec AS SELECT r.* FROM cp_cand c "
                         f"CROSS JOIN record r WHERE r.subject_id = c.subject_id AND {live}",
                live)
    run(session, "CREATE INDEX cp_crec_subject ON cp_crec (subject_id)")
    if is_postgres(session):  # temporary tables get no statistics otherwise
        run(session, "ANALYZE cp_crec")


def _walk_days(session: Session, eras: list[Era], starts: list[date], first: date,
               last: date, changes: bool) -> None:
    """Fill temp table cp_wd (subject_id, day): for each candidate, the days of [first,
    last] on which its condition may differ from the day before, the notice periods' first
    days and the eras' first days. Also fill cp_cent, the list entries that can reach each
    candidate (its own and those of the organisations it represents)."""
    # The organisations a candidate represents are reached from the candidates, by the
    # register's legal_representative index (CROSS JOIN fixes that order on SQLite, which
    # would otherwise scan the whole register: 0.6 s against 0.04 s at a million subjects).
    run(session, "DROP TABLE IF EXISTS cp_cent")
    run(session, "CREATE TEMPORARY TABLE cp_cent AS "
                 "SELECT c.subject_id AS cand, e.* FROM cp_cand c "
                 "JOIN list_entry e ON e.subject_id = c.subject_id "
                 "UNION ALL SELECT c.subject_id AS cand, e.* FROM cp_cand c "
                 "CROSS JOIN subject o CROSS JOIN list_entry e "
                 "WHERE o.legal_representative = c.subject_id AND o.kind = 'organisation' "
                 "AND e.subject_id = o.subject_id")
    _flag_exits(session, [book for _low, _high, book in eras], first, last)
    _lasts_exits(session, [book for _low, _high, book in eras], first, last)
    moments = ["SELECT subject_id, occurred_on AS day FROM cp_crec",
               "SELECT subject_id, ends_on FROM cp_crec",
               "SELECT subject_id, repaired_on FROM cp_crec",
               "SELECT cand, entered_on FROM cp_cent", "SELECT cand, ends_on FROM cp_cent",
               "SELECT cand, removed_on FROM cp_cent",
               "SELECT t.cand, x.exit_on FROM cp_cent t JOIN cp_fexit x "
               "ON x.list_code = t.list_code AND x.entered_on = t.entered_on",
               "SELECT t.cand, x.exit_on FROM cp_cent t JOIN cp_lexit x "
               "ON x.list_code = t.list_code AND x.entered_on = t.entered_on "
               "WHERE t.ends_on IS NULL",
               # the day the register named the candidate an organisation's representative
               "SELECT c.subject_id, o.legal_representative_since FROM cp_cand c "
               "CROSS JOIN subject o WHERE o.legal_representative = c.subject_id "
               "AND o.kind = 'organisation'"]
    if any(book.scheme.objections.suspend_record for _low, _high, book in eras):
        moments += ["SELECT r.subject_id, o.filed_on FROM cp_crec r "
                    "JOIN objection o ON o.record_id = r.id",
                    "SELECT r.subject_id, o.decided_on FROM cp_crec r "
                    "JOIN objection o ON o.record_id = r.id"]
    fixed = list(starts) + [low for low, _high, _book in eras]
    if not changes:  # relief starting on a day changes the points counted from that day
        fixed += _relief_starts(eras, first, last)
    days = {f"ws{i}": day for i, day in enumerate(sorted(set(fixed)))}
    moments += [f"SELECT subject_id, :{name} FROM cp_cand" for name in days]
    run(session, "DROP TABLE IF EXISTS cp_wd")
    run(session, "CREATE TEMPORARY TABLE cp_wd (subject_id VARCHAR(18), day DATE, "
                 "PRIMARY KEY (subject_id, day))")
    run(session, "INSERT INTO cp_wd (subject_id, day) SELECT subject_id, day FROM ("
                 + " UNION ".join(moments) + ") m "
                 "WHERE day >= :first AND day <= :last AND subject_id IS NOT NULL",
        first=first, last=last, **days)


def _flag_exits(session: Session, rulebooks: list[Rulebook], first: date, last: date) -> None:
    """Fill temp table cp_fexit (list_code, entered_on, exit_on): the day a watchlist entry
    of cp_cent leaves the window of a flag of one of `rulebooks`, where that is in (first,
    last]."""
    run(session, "DROP TABLE IF EXISTS cp_fexit")
    run(session, "CREATE TEMPORARY TABLE cp_fexit (list_code VARCHAR(64), entered_on DATE, "
                 "exit_on DATE)")
    rows = []
    windows = {(watchlist.code, flag.within) for rulebook in rulebooks
               for watchlist, flag in rulebook.flags()}
    for code, within in sorted(windows, key=repr):
        entered = run(session, "SELECT DISTINCT entered_on FROM cp_cent WHERE list_code = :l",
                      l=code).scalars()
        for day in map(_as_date, entered):
            leaves = _leaves_window(within, day, last)
            if leaves is not None and first < leaves <= last:
                rows.append({"l": code, "e": day, "x": leaves})
    if rows:
        session.execute(text("INSERT INTO cp_fexit (list_code, entered_on, exit_on) "
                             "VALUES (:l, :e, :x)").bindparams(
            bindparam("e", type_=Date), bindparam("x", type_=Date)), rows)


def _lasts_exits(session: Session, rulebooks: list[Rulebook], first: date, last: date) -> None:
    """Fill temp table cp_lexit (list_code, entered_on, exit_on): the day an entry of cp_cent
    stored without an end stops counting by its list's `lasts` in one of `rulebooks`, where
    that is in (first, last]."""
    run(session, "DROP TABLE IF EXISTS cp_lexit")
    run(session, "CREATE TEMPORARY TABLE cp_lexit (list_code VARCHAR(64), entered_on DATE, "
                 "exit_on DATE)")
    rows = []
    lasting = {(d.code, d.lasts) for rulebook in rulebooks for d in rulebook.lists
               if d.lasts is not None}
    for code, lasts in sorted(lasting, key=repr):
        entered = run(session, "SELECT DISTINCT entered_on FROM cp_cent WHERE list_code = :l "
                               "AND ends_on IS NULL", l=code).scalars()
        for day in map(_as_date, entered):
            ends = lasts.after(day)
            if first < ends <= last:
                rows.append({"l": code, "e": day, "x": ends})
    if rows:
        session.execute(text("INSERT INTO cp_lexit (list_code, entered_on, exit_on) "
                             "VALUES (:l, :e, :x)").bindparams(
            bindparam("e", type_=Date), bindparam("x", type_=Date)), rows)


def _lasts_ends(session: Session, rulebook: Rulebook, codes: tuple[str, ...]) -> None:
    """Fill temp table cp_lend (id, ends_on): the entries of cp_cent on lists `codes` stored
    without an end, with the day their list's `lasts` in `rulebook` ends them."""
    run(session, "DROP TABLE IF EXISTS cp_lend")
    run(session, "CREATE TEMPORARY TABLE cp_lend (id INTEGER PRIMARY KEY, ends_on DATE)")
    rows = []
    for code in codes:
        list_def = rulebook.list_def(code)
        if list_def is None or list_def.lasts is None:
            continue
        found = run(session, "SELECT DISTINCT id, entered_on FROM cp_cent WHERE list_code = :l "
                             "AND ends_on IS NULL", l=code).all()
        rows += [{"i": i, "x": list_def.lasts.after(_as_date(e))} for i, e in found]
    if rows:
        session.execute(text("INSERT INTO cp_lend (id, ends_on) VALUES (:i, :x)").bindparams(
            bindparam("x", type_=Date)), rows)


def _leaves_window(within: Duration, entered: date, last: date) -> date | None:
    """Return the first day whose window (`within` before it, up to it) no longer holds
    `entered`, or None if that is after `last`."""
    day = within.after(entered)  # within.before(day) <= entered still
    while day <= last:
        if within.before(day) > entered:
            return day
        day += timedelta(days=1)
    return None


def _as_date(value: object) -> date:
    """Return a DATE read back from a temporary table (SQLite gives its ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _day_points(session: Session, eras: list[Era], first: date, last: date, as_of: date,
                points: str, changes: bool) -> None:
    """Fill temp table cp_wday (subject_id, day, points, tier) for the rows of cp_wd, each
    day's under the rulebook of its era."""
    run(session, "DROP TABLE IF EXISTS cp_wday")
    run(session, "CREATE TEMPORARY TABLE cp_wday (subject_id VARCHAR(18), day DATE, "
                 "points INTEGER, tier VARCHAR(16), PRIMARY KEY (subject_id, day))")
    if changes:
        # Every era's rulebook counts points as the one of as_of does (_same_points).
        rulebook = eras[0][2]
        counts = Sql.of(record_counts(R, DAY, suspend=rulebook.scheme.objections.suspend_record))
        # The points on as_of, corrected by the records that count on the day but not on
        # as_of, or the other way round; relief is the same on every day of the walk.
        counts_now = Sql.of(record_counts(R, as_of, suspend=rulebook.scheme.objections
                                          .suspend_record, name="d"))
        counted = relief_sql(rulebook, as_of, key="wd")
        run(session, "INSERT INTO cp_wday (subject_id, day, points) SELECT w.subject_id, "
                     "w.day, CASE WHEN n.points IS NULL THEN NULL ELSE n.points + COALESCE("
                     f"SUM(CASE WHEN {counts} THEN {counted} ELSE 0 END - CASE WHEN "
                     f"{counts_now} THEN {counted} ELSE 0 END), 0) END FROM cp_wd w "
                     f"JOIN {points} n ON n.subject_id = w.subject_id "
                     "LEFT JOIN cp_crec r ON r.subject_id = w.subject_id "
                     "GROUP BY w.subject_id, w.day, n.points", counts, counted, counts_now)
    else:
        # The rulebook changes on the eras' first days and the relief counted on the days
        # relief versions start: one statement for each stretch between them.
        bounds = sorted(_relief_starts(eras, first, last)
                        | {low for low, _high, _book in eras if low > first})
        for low, high in zip([first, *bounds], [*bounds, last + timedelta(days=1)],
                             strict=True):
            rulebook = _era_on(eras, low)
            counts = Sql.of(record_counts(R, DAY,
                                          suspend=rulebook.scheme.objections.suspend_record))
            counted = relief_sql(rulebook, low, key="w")
            total = Sql(f":start + COALESCE(SUM(CASE WHEN {counts} THEN {counted} END), 0)",
                        counts, counted, start=rulebook.scheme.starting_points)
            if rulebook.scheme.requires_consent:
                total = Sql(f"CASE WHEN s.consent THEN {total} ELSE NULL END", total)
            run(session, "INSERT INTO cp_wday (subject_id, day, points) "
                         f"SELECT w.subject_id, w.day, {total} FROM cp_wd w "
                         "JOIN subject s ON s.subject_id = w.subject_id "
                         "LEFT JOIN cp_crec r ON r.subject_id = w.subject_id "
                         "WHERE w.day >= :low AND w.day < :high "
                         "GROUP BY w.subject_id, w.day, s.consent", total, low=low, high=high)
    for low, high, rulebook in eras:
        tier = Sql.of(tier_of(rulebook, literal_column("points", Integer)))
        run(session, f"UPDATE cp_wday SET tier = CASE WHEN points IS NULL THEN NULL ELSE "
                     f"{tier} END WHERE day >= :tlow AND day < :thigh", tier,
            tlow=low, thigh=high)
    _flag_windows(session, eras)


def _flag_windows(session: Session, eras: list[Era]) -> None:
    """Fill temp table cp_since (flag_code, day, since): the first day of the window of each
    flag of a day's rulebook on each day of cp_wday."""
    run(session, "DROP TABLE IF EXISTS cp_since")
    run(session, "CREATE TEMPORARY TABLE cp_since (flag_code VARCHAR(64), day DATE, "
                 "since DATE, PRIMARY KEY (flag_code, day))")
    if not any(book.flags() for _low, _high, book in eras):
        return
    days = [_as_date(d) for d in run(session, "SELECT DISTINCT day FROM cp_wday").scalars()]
    rows = [{"f": flag.code, "d": day, "s": flag.within.before(day)}
            for day in days for _watchlist, flag in _era_on(eras, day).flags()]
    if rows:
        session.execute(text("INSERT INTO cp_since (flag_code, day, since) VALUES "
                             "(:f, :d, :s)").bindparams(
            bindparam("d", type_=Date), bindparam("s", type_=Date)), rows)


def _drop_breaks(session: Session, eras: list[Era], measure: Measure, start: date) -> None:
    """Delete from cp_mcand the candidates of `measure` for whom its condition failed on
    some day of cp_wday from `start` on, each day judged by its era's rulebook (a day whose
    rulebook lacks the measure breaks every run)."""
    run(session, "DROP TABLE IF EXISTS cp_held")
    run(session, "CREATE TEMPORARY TABLE cp_held (subject_id VARCHAR(18), day DATE, "
                 "PRIMARY KEY (subject_id, day))")
    for low, high, rulebook in eras:
        if high <= start:
            continue
        then = rulebook.measure(measure.code)
        if then is None:  # every candidate has a day of the walk in this era
            run(session, "DELETE FROM cp_mcand WHERE measure_code = :code", code=measure.code)
            return
        _lasts_ends(session, rulebook, then.when.lists)
        held = _held_sql(rulebook, then)
        run(session, "INSERT INTO cp_held (subject_id, day) SELECT DISTINCT subject_id, day "
                     f"FROM ({held}) h WHERE day >= :hlow AND day < :hhigh", held,
            hlow=max(low, start), hhigh=high)
    run(session, "DELETE FROM cp_mcand WHERE measure_code = :code AND subject_id IN ("
                 "SELECT w.subject_id FROM cp_wday w WHERE w.day >= :start AND NOT EXISTS "
                 "(SELECT 1 FROM cp_held h WHERE h.subject_id = w.subject_id "
                 "AND h.day = w.day))", code=measure.code, start=start)


def _held_sql(rulebook: Rulebook, measure: Measure) -> Sql:
    """Select (subject_id, day) of the rows of cp_wday on which a `when` condition of
    `measure` holds (holds_sql, for many days at once)."""
    when = measure.when
    parts = []
    if when.tiers:
        tiers = in_list("ht", when.tiers)
        parts.append(Sql(f"SELECT subject_id, day FROM cp_wday WHERE tier IN {tiers}", tiers))
    reach = "legal_representative" in measure.reaches
    # Whose entries count: the subject's own, and an organisation's for its representative.
    owners = [("e.subject_id = w.subject_id", "", "")]
    if reach:
        owners.append(("e.subject_id = o.subject_id",
                       "JOIN subject p ON p.subject_id = w.subject_id AND p.kind = 'person' "
                       "JOIN subject o ON o.legal_representative = p.subject_id "
                       f"AND o.kind = 'organisation' AND ({REPRESENTS.text}) ", ", o.subject_id"))
    for k, (owner, joins, group) in enumerate(owners):
        if when.lists:
            codes = in_list(f"hl{k}_", when.lists)
            counts = Sql.of(entry_counts(E, DAY))
            # An entry stored without an end ends when its list's `lasts` says (cp_lend).
            parts.append(Sql(f"SELECT w.subject_id, w.day FROM cp_wday w {joins}"
                             f"JOIN list_entry e ON {owner} WHERE e.list_code IN {codes} "
                             f"AND {counts} AND NOT EXISTS (SELECT 1 FROM cp_lend x "
                             "WHERE x.id = e.id AND x.ends_on <= w.day)", codes, counts))
        for i, (watchlist, flag) in enumerate(rulebook.flags()):
            if flag.code not in when.flags:
                continue
            since = literal_column("f.since", Date)
            behind = Sql.of(behind_flag(E, watchlist.code, flag, DAY, name=f"hf{k}_{i}",
                                        since=since))
            parts.append(Sql(f"SELECT w.subject_id, w.day FROM cp_wday w {joins}"
                             f"JOIN cp_since f ON f.day = w.day AND f.flag_code = :hfc{k}_{i} "
                             f"JOIN list_entry e ON {owner} WHERE {behind} "
                             f"GROUP BY w.subject_id, w.day{group} "
                             f"HAVING COUNT(*) >= :hfn{k}_{i}", behind,
                             **{f"hfc{k}_{i}": flag.code, f"hfn{k}_{i}": flag.entries}))
    return union(parts) or Sql("SELECT subject_id, day FROM cp_wday WHERE 1 = 0")
