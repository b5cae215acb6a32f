"""The scope of an incremental run: the subjects whose standing can differ from the base run's."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta

from sqlalchemy import DateTime, bindparam
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session

from app.models import Run
from app.rulebook import Rulebook
from app.services.locks import is_postgres
from app.services.standings.recompute import slices
from app.services.standings.recompute.conditions import holds_sql
from app.services.standings.recompute.delta import DREC, changing_records, delta_points
from app.services.standings.recompute.slices import SlicedPoints
from app.services.standings.recompute.sql import Sql, in_list, run, union

# RECOMPUTE_SLICES is the slices' setting: what ignores it says so in their log.
log = logging.getLogger(slices.__name__)

# The register's updated_at is the app's clock, taken before its write waits for the run's
# lock: subjects changed this long before the last run started are looked at again.
SUBJECT_CHANGE_MARGIN = timedelta(hours=1)


def changes_since(base: Run) -> BindParameter[datetime]:
    """Return the time from which a change of the register's row puts a subject in scope."""
    return bindparam("since", base.started_at - SUBJECT_CHANGE_MARGIN,
                     type_=DateTime(timezone=True))


def scope_table(session: Session, rulebook: Rulebook, base: Run, as_of: date) -> int:
    """Fill temp table cp_scope with the subjects whose standing can differ from `base`'s;
    return how many they are.

    Those with facts stored or changed since the base run (ids above its watermarks; the
    audit trail names the subject of every void, repair, objection, decision, list entry
    and removal, consent change; the register's updated_at), those with a fact that
    starts or stops counting in (base day, as_of], those with a noticed measure whose
    condition held on the base day but had not yet taken effect (its notice may mature),
    and the legal representatives of the organisations among all these.
    """
    since = changes_since(base)
    # The records stored since the base run or starting or stopping to count in between
    # (cp_drec): the incremental points are summed from them (see `delta`).
    changing_records(session, rulebook, base, as_of)
    span = {"lo": base.as_of, "d": as_of}

    def between(column: str) -> str:
        return f"({column} > :lo AND {column} <= :d)"

    parts = [
        Sql(f"SELECT subject_id FROM {DREC}"),
        Sql("SELECT subject_id FROM list_entry WHERE id > :wl", wl=base.max_list_entry_id or 0),
        Sql("SELECT subject_id FROM objection WHERE id > :wo", wo=base.max_objection_id or 0),
        # The audit trail's subject_id is no foreign key: keep those of the register.
        Sql("SELECT a.subject_id FROM audit_event a WHERE a.id > :wa AND EXISTS (SELECT 1 "
            "FROM subject s WHERE s.subject_id = a.subject_id)", wa=base.max_audit_id or 0),
        Sql("SELECT subject_id FROM subject WHERE updated_at >= :since", since=since),
        Sql(f"SELECT subject_id FROM list_entry WHERE {between('entered_on')} OR "
            f"{between('ends_on')} OR {between('removed_on')}", **span),
    ]
    if rulebook.scheme.objections.suspend_record:
        parts.append(Sql(f"SELECT subject_id FROM objection WHERE {between('filed_on')} "
                         f"OR {between('decided_on')}", **span))
    for i, (watchlist, flag) in enumerate(rulebook.flags()):
        # An entry leaves the flag's window on the first day d with `within` before d past it.
        parts.append(Sql(f"SELECT subject_id FROM list_entry WHERE list_code = :watch{i} "
                         f"AND entered_on >= :wfrom{i} AND entered_on < :wto{i}",
                         **{f"watch{i}": watchlist.code,
                            f"wfrom{i}": flag.within.before(base.as_of),
                            f"wto{i}": flag.within.before(as_of)}))
    for i, measure in enumerate(m for m in rulebook.measures if m.notice):
        # Held on the base day without having taken effect: the notice may have matured.
        held = holds_sql(rulebook, measure, "standing", base.as_of, f"p{i}")
        parts.append(Sql(f"SELECT h.subject_id FROM ({held}) h WHERE NOT EXISTS (SELECT 1 "
                         "FROM standing_measure sm WHERE sm.subject_id = h.subject_id "
                         f"AND sm.measure_code = :pc{i})", held, **{f"pc{i}": measure.code}))
    changed = union(parts)
    run(session, "DROP TABLE IF EXISTS cp_scope")
    run(session, "CREATE TEMPORARY TABLE cp_scope (subject_id VARCHAR(18) PRIMARY KEY)")
    # Every part names registered subjects (foreign keys, or checked as above): joining the
    # union with the register made PostgreSQL scan all of it (0.8-1.3 s at a million).
    run(session, f"INSERT INTO cp_scope (subject_id) SELECT DISTINCT x.subject_id FROM "
                 f"({changed}) x", changed)
    # An organisation's lists and flags reach its legal representative; a changed
    # organisation may have changed representative, so the former one (unknown now) is
    # among those holding a measure that reaches representatives.
    reaching = [m.code for m in rulebook.measures if "legal_representative" in m.reaches]
    # From the few subjects in scope (CROSS JOIN fixes that order on SQLite, which would
    # otherwise scan the whole register: 1.8 s against 0.2 s at a million subjects).
    extra = [Sql("SELECT p.subject_id FROM cp_scope c CROSS JOIN subject o "
                 "CROSS JOIN subject p WHERE o.subject_id = c.subject_id "
                 "AND p.subject_id = o.legal_representative "
                 "AND o.kind = 'organisation' AND p.kind = 'person'")]
    if reaching and run(session, "SELECT 1 FROM subject WHERE updated_at >= :since "
                                 "AND kind = 'organisation' LIMIT 1", since=since).first():
        codes = in_list("rm", reaching)
        extra.append(Sql("SELECT sm.subject_id FROM standing_measure sm "
                         f"WHERE sm.measure_code IN {codes}", codes))
    represented = union(extra)
    run(session, "DROP TABLE IF EXISTS cp_scope_rep")
    run(session, "CREATE TEMPORARY TABLE cp_scope_rep (subject_id VARCHAR(18) PRIMARY KEY)")
    run(session, "INSERT INTO cp_scope_rep (subject_id) SELECT DISTINCT subject_id FROM ("
                 f"{represented}) x", represented)
    run(session, "INSERT INTO cp_scope (subject_id) SELECT subject_id FROM cp_scope_rep r "
                 "WHERE NOT EXISTS (SELECT 1 FROM cp_scope c WHERE c.subject_id = r.subject_id)")
    run(session, "DROP TABLE cp_scope_rep")
    if is_postgres(session):
        run(session, "ANALYZE cp_scope")
    return int(run(session, "SELECT COUNT(*) FROM cp_scope").scalar_one())


def incremental_points(session: Session, *, rulebook: Rulebook, base: Run, as_of: date,
                       table: str, n_slices: int = 1) -> SlicedPoints:
    """Fill temporary table `table` with the points and tiers on `as_of` of the subjects in
    cp_scope (after `scope_table`), from the stored ones where that is exact (`delta`)."""
    if n_slices > 1:
        log.info("RECOMPUTE_SLICES=%d ignored: an incremental run computes its few subjects "
                 "on one connection", n_slices)
    started = time.perf_counter()
    delta_points(session, rulebook=rulebook, base=base, as_of=as_of,
                 since=changes_since(base), table=table)
    return SlicedPoints(1, [time.perf_counter() - started])


def drop_scope(session: Session) -> None:
    """Drop the incremental run's temporary tables."""
    for temp in ("cp_scope", DREC, "cp_exact", "cp_stored"):
        run(session, f"DROP TABLE IF EXISTS {temp}")
