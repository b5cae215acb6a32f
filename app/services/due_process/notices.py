"""Notices: made by the service that causes the event, inside its transaction, kept in the
subject's inbox and queued (pending) in the outbox for delivery (see services.delivery).

Every notice has a dedupe key that names its event ("record:17", "list_end:4", ...), unique
in the database, so the same event never makes two notices: the nightly job may run twice,
or be re-run after a failure, and adds only what is missing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, exists, insert, or_, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.models import (
    ListEntry,
    Notice,
    NoticeOutbox,
    Record,
    Standing,
    StandingFlag,
    StandingMeasure,
    Subject,
    TierChange,
    utcnow,
)
from app.rulebook import Rulebook
from app.rulebook.model import text_in
from app.services.audit import chain as audit
from app.services.due_process import notice_render, notice_texts
from app.services.due_process.notice_content import (
    OTHER_LANGUAGES,
    because_content,
    department_texts,
    in_other_languages,
    list_entry_content,
)
from app.services.due_process.notice_content import duration_code as _duration
from app.services.locks import begin_write
from app.services.standings.predicates import entry_counts, record_counts
from app.services.transaction import transaction

CHUNK = 500
LOOKBACK = timedelta(days=30)  # the nightly job catches up on events this far back
LAPSE_AHEAD = timedelta(days=30)  # a record's lapse is announced this long before


@dataclass(frozen=True)
class NewNotice:
    subject_id: str
    kind: str
    dedupe_key: str
    title: str
    body: str
    record_id: int | None = None
    list_entry_id: int | None = None
    objection_id: int | None = None
    content: dict | None = None  # the values of the words, by kind (see notice_render)


def add_notices(session: Session, notices: Iterable[NewNotice], *, today: date) -> int:
    """Store each notice whose dedupe key is new, with a pending outbox row; return how many.

    Runs inside the caller's transaction (the caller commits).
    """
    unique: dict[str, NewNotice] = {}
    for notice in notices:
        unique.setdefault(notice.dedupe_key, notice)
    if len(unique) == 1:
        return _add_one(session, next(iter(unique.values())), today=today)
    keys = list(unique)
    added = 0
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i:i + CHUNK]
        known = set(session.execute(
            select(Notice.dedupe_key).where(Notice.dedupe_key.in_(chunk))).scalars())
        fresh = [k for k in chunk if k not in known]
        if not fresh:
            continue
        now = utcnow()
        session.execute(insert(Notice), [
            {"subject_id": unique[k].subject_id, "kind": unique[k].kind, "dedupe_key": k,
             "title": unique[k].title[:300], "body": unique[k].body,
             "record_id": unique[k].record_id, "list_entry_id": unique[k].list_entry_id,
             "objection_id": unique[k].objection_id, "content": unique[k].content,
             "notified_on": today, "created_at": now}
            for k in fresh])
        ids = session.execute(select(Notice.id).where(Notice.dedupe_key.in_(fresh))).scalars()
        session.execute(insert(NoticeOutbox), [
            {"notice_id": nid, "state": "pending", "attempts": 0, "created_at": now}
            for nid in ids])
        added += len(fresh)
    return added


def _add_one(session: Session, notice: NewNotice, *, today: date) -> int:
    """Store one notice unless its dedupe key is known, and its outbox row: two statements
    (a recording's notice), not the four of a batch, built once and sent as Core (no ORM
    bulk machinery for one row)."""
    now = utcnow()  # session.execute, not its connection: a write goes to the primary
    notice_id = session.execute(_ONE_NOTICE[session.get_bind().dialect.name == "postgresql"], {
        "subject_id": notice.subject_id, "kind": notice.kind, "dedupe_key": notice.dedupe_key,
        "title": notice.title[:300], "body": notice.body, "record_id": notice.record_id,
        "list_entry_id": notice.list_entry_id, "objection_id": notice.objection_id,
        "content": notice.content, "notified_on": today, "created_at": now}).scalar()
    if notice_id is None:
        return 0
    session.execute(_ONE_OUTBOX, {"notice_id": notice_id, "state": "pending", "attempts": 0,
                                  "created_at": now})
    return 1


_ONE_NOTICE = {postgres: insert_of(Notice.__table__).on_conflict_do_nothing(
    index_elements=["dedupe_key"]).returning(Notice.__table__.c.id)
    for postgres, insert_of in ((True, postgresql_insert), (False, sqlite_insert))}
_ONE_OUTBOX = insert(NoticeOutbox.__table__)


# --- records ---------------------------------------------------------------------------------
def record_notice(rulebook: Rulebook, record, *, today: date) -> NewNotice:
    """Return the notice of a new record (rule, points, evidence, how and until when to object)."""
    rule = rulebook.rule_version(record.rule_code, record.rule_version)
    object_until = rulebook.scheme.objections.window.after(today)
    title, body = notice_texts.record_notice(
        rulebook=rulebook, rule=rule, record_id=record.id, rule_code=record.rule_code,
        department=record.department_code, occurred_on=record.occurred_on, points=record.points,
        note=record.note, evidence=record.evidence, ends_on=record.ends_on, notified_on=today,
        object_until=object_until)
    content = {  # the same keys and values record_notice_sql stores
        **_record_constants(rulebook, department=record.department_code, today=today),
        "record": record.id, "rule": record.rule_code,
        "rule_title": rule.title if rule is not None else record.rule_code,
        "legal_basis": (rule.legal_basis if rule is not None else "") or "",
        **_rule_texts(rule),
        "repair_after": _duration(rule.repairable_after) if rule is not None else None,
        "occurred_on": record.occurred_on.isoformat(), "points": record.points,
        "note": record.note, "evidence": record.evidence, "ends_on": record.ends_on.isoformat()}
    return NewNotice(record.subject_id, "record", f"record:{record.id}", title, body,
                     record_id=record.id, content=content)


def _rule_texts(rule) -> dict:
    """A rule's title and legal basis in each language other than English ("" if unwritten:
    the English one is read then)."""
    out = {}
    for language in OTHER_LANGUAGES:
        out[f"rule_title_{language}"] = (dict(rule.titles).get(language, "")
                                         if rule is not None else "")
        out[f"legal_basis_{language}"] = (text_in(rule, "legal_basis", language)
                                          if rule is not None and rule.legal_basis else "")
    return out


def _record_constants(rulebook: Rulebook, *, department: str, today: date) -> dict:
    """The values of a record notice that are the same for every record of an import."""
    objections = rulebook.scheme.objections
    owner = rulebook.department(department)
    return {"department": notice_texts.department_title(rulebook, department),
            **{f"department_{language}": dict(owner.titles).get(language, "") if owner else ""
               for language in OTHER_LANGUAGES},
            "notified_on": today.isoformat(),
            "object_until": objections.window.after(today).isoformat(),
            "decide_within": _duration(objections.decide_within),
            "suspend": 1 if objections.suspend_record else 0}


def notify_record(session: Session, *, rulebook: Rulebook, record: Record, today: date) -> None:
    """Queue the notice of one new record (inside the caller's transaction)."""
    add_notices(session, [record_notice(rulebook, record, today=today)], today=today)


def notify_imported(session: Session, *, rulebook: Rulebook, department: str,
                    external_refs: Sequence[str], today: date) -> int:
    """Queue the notices of the records an import just stored (by their external refs)."""
    made = 0
    for i in range(0, len(external_refs), CHUNK):
        records = session.execute(  # plain rows, not ORM objects: imports can be large
            select(Record.id, Record.subject_id, Record.rule_code, Record.rule_version,
                   Record.department_code, Record.occurred_on, Record.points, Record.note,
                   Record.evidence, Record.ends_on)
            .where(Record.department_code == department,
                   Record.external_ref.in_(external_refs[i:i + CHUNK]))).all()
        made += add_notices(session, [record_notice(rulebook, r, today=today) for r in records],
                            today=today)
    return made


# An imported record's notice stores only its own values (PER_RECORD) and, under SHARED, the
# dedupe key of the first notice of the same import and rule version, whose content holds
# the rest (department, dates, deadlines, the rule's texts): a million rows do not store
# the same rule texts a million times. `full_contents` puts the two back together.
SHARED = "shared"
PER_RECORD = ("record", "occurred_on", "points", "note", "evidence", "ends_on")


def full_contents(session: Session, contents: Sequence[dict | None]) -> list[dict | None]:
    """Return each notice content whole: one that refers to a shared part (SHARED) gets the
    values of that part it does not hold itself (None if that part is missing: the notice
    then reads as stored)."""
    keys = sorted({c[SHARED] for c in contents if c and SHARED in c})
    shared: dict[str, dict] = {}
    for i in range(0, len(keys), CHUNK):
        shared.update((key, content) for key, content in session.execute(
            select(Notice.dedupe_key, Notice.content).where(
                Notice.dedupe_key.in_(keys[i:i + CHUNK]))))
    out: list[dict | None] = []
    for content in contents:
        if content and SHARED in content:
            part = shared.get(content[SHARED])
            content = ({**part, **{k: v for k, v in content.items() if k != SHARED}}
                       if part else None)
        out.append(content)
    return out


@dataclass(frozen=True)
class NoticeSQL:
    """The record notices of many records, made by the database: `rules` is a CTE of the rule
    texts (`rt`), `heads` one of the first record of each rule version (`hd`), `columns`
    the notice's columns selected from records `r` joined to both (`joins`)."""

    rules: str
    columns: str
    params: dict
    heads: str
    joins: str = ("JOIN rt ON rt.code = r.rule_code AND rt.version = r.rule_version "
                  "JOIN hd ON hd.code = r.rule_code AND hd.version = r.rule_version")


def record_notice_sql(rulebook: Rulebook, *, department: str, today: date, dialect: str,
                      versions: Iterable[tuple[str, int]], records: str) -> NoticeSQL:
    """Return SQL that writes, for each record `r`, the title and body record_notice writes,
    and its content: whole for the first record of each rule version among `records` (a
    relation of the import's records: id, rule_code, rule_version), and for the others
    their own values and a reference to that first one (SHARED).

    The fixed words come from notice_texts (how_to_object is cut at the record id); the
    per-record values are concatenated by the database, so an import of a million records
    makes its notices in one INSERT ... SELECT. tests/services/test_import_bulk.py holds
    the two to the same text and content.
    """
    marker = "\x00"
    before_id, after_id = notice_texts.how_to_object(
        rulebook.scheme, record_id=marker,  # type: ignore[arg-type]
        until=rulebook.scheme.objections.window.after(today)).split(marker)
    params = {
        "nt_head": (f"{notice_texts.department_title(rulebook, department)} recorded the "
                    f"conduct below for you on {today.isoformat()}.\n\nRecord: "),
        "nt_object": "\n\n" + before_id, "nt_object_end": after_id,
        "nt_plain": " (the rule's points; no repeat or cap applied)",
    }
    values = []
    for i, (code, version) in enumerate(sorted(set(versions))):
        rule = rulebook.rule_version(code, version)
        repair = ""
        if rule is not None and rule.repairable_after is not None:
            repair = (f"\nRepair: it may be marked repaired "
                      f"{notice_texts.duration_words(rule.repairable_after)} after the "
                      "conduct, once you show that you put it right.")
        legal = (rule.legal_basis if rule is not None else "") or ""
        params.update({f"nt_c{i}": code, f"nt_v{i}": version,
                       f"nt_t{i}": rule.title if rule is not None else code,
                       f"nt_l{i}": legal or "none given", f"nt_r{i}": repair,
                       f"nt_b{i}": legal,
                       f"nt_a{i}": _duration(rule.repairable_after) if rule is not None else None})
        texts = _rule_texts(rule)
        params.update({f"nt_{key}_{i}": value for key, value in texts.items()})
        values.append(f"(CAST(:nt_c{i} AS TEXT), CAST(:nt_v{i} AS INTEGER), "
                      f"CAST(:nt_t{i} AS TEXT), CAST(:nt_l{i} AS TEXT), CAST(:nt_r{i} AS TEXT), "
                      f"CAST(:nt_b{i} AS TEXT), CAST(:nt_a{i} AS TEXT)"
                      + "".join(f", CAST(:nt_{key}_{i} AS TEXT)" for key in texts) + ")")
    text_keys = list(_rule_texts(None))
    if not values:
        values.append("(" + ", ".join(["NULL"] * (7 + len(text_keys))) + ")")
    pg = dialect == "postgresql"

    def day(column: str) -> str:
        return f"to_char({column}, 'YYYY-MM-DD')" if pg else column  # SQLite stores ISO text

    rid = "CAST(r.id AS TEXT)"
    signed = "CASE WHEN r.points >= 0 THEN '+' ELSE '' END || CAST(r.points AS TEXT)"
    title = f"SUBSTR('New record: ' || rt.title || ' (' || {signed} || ' points)', 1, 300)"
    body = (f"CAST(:nt_head AS TEXT) || {rid} || '\nConduct: ' || rt.title || ' (rule ' || "
            f"r.rule_code || ')\nOn: ' || {day('r.occurred_on')} || '\nPoints: ' || {signed}"
            " || CASE WHEN r.note <> '' THEN ' (' || r.note || ')' "
            "ELSE CAST(:nt_plain AS TEXT) END"
            " || '\nLegal basis: ' || rt.legal || '\nEvidence reference: ' || "
            "CASE WHEN r.evidence <> '' THEN r.evidence ELSE 'none given' END"
            f" || '\nCounts until: ' || {day('r.ends_on')} || ' (from that day on it no "
            "longer counts)' || rt.repair || CAST(:nt_object AS TEXT) || "
            f"{rid} || CAST(:nt_object_end AS TEXT)")
    # SQLite would read CAST(... AS DATE) as a number: it gets the ISO text it stores.
    when = ("CAST(:nt_today AS DATE), CAST(:nt_now AS TIMESTAMP)" if pg
            else ":nt_today, :nt_now")
    constants = _record_constants(rulebook, department=department, today=today)
    pairs = [f"'{key}', CAST(:nt_k_{key} AS {'INTEGER' if key == 'suspend' else 'TEXT'})"
             for key in constants]
    params.update({f"nt_k_{key}": value for key, value in constants.items()})
    pairs += ["'record', r.id", "'rule', r.rule_code", "'rule_title', rt.title",
              "'legal_basis', rt.legal_basis", "'repair_after', rt.repair_after",
              *[f"'{key}', rt.{key}" for key in text_keys],
              f"'occurred_on', {day('r.occurred_on')}", "'points', r.points",
              "'note', r.note", "'evidence', r.evidence", f"'ends_on', {day('r.ends_on')}"]
    json_object = "json_build_object" if pg else "json_object"
    own = dict(zip(PER_RECORD, ("r.id", day("r.occurred_on"), "r.points", "r.note",
                                "r.evidence", day("r.ends_on")), strict=True))
    small = ", ".join([f"'{SHARED}', 'record:' || CAST(hd.head AS TEXT)",
                       *(f"'{key}', {value}" for key, value in own.items())])
    content = (f"CASE WHEN r.id = hd.head THEN {json_object}({', '.join(pairs)}) "
               f"ELSE {json_object}({small}) END")
    columns = (f"r.subject_id, 'record', 'record:' || {rid}, {title}, {body}, r.id, {when}, "
               f"{content}")
    params["nt_today"] = today if pg else today.isoformat()
    now = utcnow()
    params["nt_now"] = (now.replace(tzinfo=None) if pg
                        else now.strftime("%Y-%m-%d %H:%M:%S.%f"))
    return NoticeSQL(rules="rt(code, version, title, legal, repair, legal_basis, repair_after"
                           + "".join(f", {key}" for key in text_keys) + ") AS (VALUES "
                           + ", ".join(values) + ")", columns=columns, params=params,
                     heads=(f"hd(code, version, head) AS (SELECT rule_code, rule_version, "
                            f"MIN(id) FROM {records} GROUP BY rule_code, rule_version)"))


NOTICE_INSERT = ("INSERT INTO notice (subject_id, kind, dedupe_key, title, body, record_id, "
                 "notified_on, created_at, content)")
OUTBOX_INSERT = "INSERT INTO notice_outbox (notice_id, state, attempts, created_at)"


def notify_imported_after(session: Session, *, rulebook: Rulebook, department: str,
                          today: date, after_record: int, after_notice: int,
                          versions: Iterable[tuple[str, int]]) -> None:
    """Queue the notices of the records with an id above `after_record` (SQLite, inside the
    import's transaction, which holds the database's write lock: those are the import's)."""
    sql = record_notice_sql(rulebook, department=department, today=today, dialect="sqlite",
                            versions=versions, records="record WHERE id > :after")
    session.execute(text(
        f"WITH {sql.rules}, {sql.heads} {NOTICE_INSERT} SELECT {sql.columns} "
        f"FROM record r {sql.joins} WHERE r.id > :after ORDER BY r.id"),
        {**sql.params, "after": after_record})
    session.execute(text(
        f"{OUTBOX_INSERT} SELECT n.id, 'pending', 0, n.created_at FROM notice n "
        "WHERE n.id > :after ORDER BY n.id"), {"after": after_notice})


def check_record_notice(session: Session, *, rulebook: Rulebook, record_id: int,
                        today: date) -> None:
    """Raise RuntimeError unless the stored notice of a record is the one record_notice writes.

    A guard on record_notice_sql, run on one record of each import: should the words of
    notice_texts change without it, the import fails loudly instead of storing other words.
    """
    row = session.execute(
        select(Record.id, Record.subject_id, Record.rule_code, Record.rule_version,
               Record.department_code, Record.occurred_on, Record.points, Record.note,
               Record.evidence, Record.ends_on).where(Record.id == record_id)).one()
    want = record_notice(rulebook, row, today=today)
    got = session.execute(
        select(Notice.title, Notice.body, Notice.subject_id, Notice.content).where(
            Notice.dedupe_key == want.dedupe_key)).one_or_none()
    if got is not None:
        got = (*got[:3], *full_contents(session, [got[3]]))
    if got is None or tuple(got) != (want.title[:300], want.body, want.subject_id,
                                     want.content):
        raise RuntimeError(f"the notice of imported record {record_id} is not the one "
                           "notice_texts.record_notice writes: fix notices.record_notice_sql")


# --- the nightly notices ---------------------------------------------------------------------
@dataclass
class NightlyNotices:
    as_of: date
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _no_notice(kind: str, column):
    return ~exists().where(Notice.kind == kind, column)


def _tier_changes(session: Session, rulebook: Rulebook, as_of: date) -> list[NewNotice]:
    rows = session.execute(
        select(TierChange).where(TierChange.on_date > as_of - LOOKBACK,
                                 TierChange.on_date <= as_of).order_by(TierChange.id)).scalars()
    out = []
    for change in rows:
        title, body = notice_texts.tier_change_notice(
            scheme=rulebook.scheme, on=change.on_date, from_tier=change.from_tier,
            to_tier=change.to_tier, from_points=change.from_points, to_points=change.to_points)
        key = (f"tier_change:{change.subject_id}:{change.on_date.isoformat()}:"
               f"{change.from_tier or '-'}>{change.to_tier or '-'}")
        tier = next((t for t in rulebook.scheme.tiers if t.code == change.to_tier), None)
        content = {"on": change.on_date.isoformat(), "from_tier": change.from_tier,
                   "to_tier": change.to_tier, "from_points": change.from_points,
                   "to_points": change.to_points,
                   "tier_title": tier.title if tier is not None else "",
                   "tier_description": tier.description if tier is not None else ""}
        for language in OTHER_LANGUAGES:
            content[f"tier_title_{language}"] = (dict(tier.titles).get(language, "")
                                                 if tier is not None else "")
            content[f"tier_description_{language}"] = (
                text_in(tier, "description", language) if tier is not None
                and tier.description else "")
        out.append(NewNotice(change.subject_id, "tier_change", key, title, body,
                             content=content))
    return out


def entry_end(entry: ListEntry, list_def) -> date | None:
    """Return the first day a list entry no longer counts (its end or removal), or None."""
    from app.services.standings.facts import list_entry_fact
    from app.standing.spans import list_entry_end

    return list_entry_end(list_entry_fact(entry), list_def)


def _list_entries(session: Session, rulebook: Rulebook, as_of: date) -> list[NewNotice]:
    rows = session.execute(
        select(ListEntry).where(entry_counts(ListEntry, as_of, rulebook=rulebook),
                                _no_notice("list_entry", Notice.list_entry_id == ListEntry.id))
        .order_by(ListEntry.id)).scalars()
    out = []
    for entry in rows:
        list_def = rulebook.list_def(entry.list_code)
        title, body = notice_texts.list_entry_notice(
            rulebook=rulebook, list_def=list_def, list_code=entry.list_code,
            department=entry.department_code, entered_on=entry.entered_on,
            until=entry_end(entry, list_def), decision_ref=entry.decision_ref,
            legal_basis=entry.legal_basis)
        out.append(NewNotice(entry.subject_id, "list_entry", f"list_entry:{entry.id}", title,
                             body, list_entry_id=entry.id,
                             content=list_entry_content(rulebook, entry, list_def,
                                                        until=entry_end(entry, list_def))))
    return out


def _list_ends(session: Session, rulebook: Rulebook, as_of: date) -> list[NewNotice]:
    since = as_of - LOOKBACK
    rows = session.execute(
        select(ListEntry).where(
            or_(and_(ListEntry.ends_on > since, ListEntry.ends_on <= as_of),
                and_(ListEntry.removed_on > since, ListEntry.removed_on <= as_of)),
            _no_notice("list_end", Notice.list_entry_id == ListEntry.id))
        .order_by(ListEntry.id)).scalars()
    out = []
    for entry in rows:
        list_def = rulebook.list_def(entry.list_code)
        end = entry_end(entry, list_def)
        if end is None or not (since < end <= as_of) or end <= entry.entered_on:
            continue
        removed = entry.removed_reason if entry.removed_on == end else None
        title, body = notice_texts.list_end_notice(
            rulebook=rulebook, list_def=list_def, list_code=entry.list_code,
            department=entry.department_code, ended_on=end, removed_reason=removed)
        owner = rulebook.department(entry.department_code)
        content = {"list": (list_def.title if list_def is not None and list_def.title
                            else entry.list_code),
                   "code": entry.list_code,
                   "department": notice_texts.department_title(rulebook, entry.department_code),
                   "ended_on": end.isoformat(), "removed_reason": removed or ""}
        for language in OTHER_LANGUAGES:
            content[f"list_{language}"] = (dict(list_def.titles).get(language, "")
                                           if list_def is not None else "")
            content[f"department_{language}"] = (dict(owner.titles).get(language, "")
                                                 if owner is not None else "")
        out.append(NewNotice(entry.subject_id, "list_end", f"list_end:{entry.id}", title, body,
                             list_entry_id=entry.id, content=content))
    return out


def _pending_candidates(session: Session, rulebook: Rulebook, as_of: date) -> set[str]:
    """Subjects for whom a measure with a notice period holds on `as_of` but is not in force
    yet (from the standings the recompute just wrote)."""
    noticed = [m for m in rulebook.measures if m.notice is not None]
    tiers = sorted({t for m in noticed for t in m.when.tiers})
    lists = sorted({c for m in noticed for c in m.when.lists})
    flags = sorted({f for m in noticed for f in m.when.flags})
    found: set[str] = set()
    if tiers:
        found.update(session.execute(select(Standing.subject_id).where(
            Standing.tier.in_(tiers))).scalars())
    listed: set[str] = set()
    if lists:
        listed.update(session.execute(select(ListEntry.subject_id).where(
            ListEntry.list_code.in_(lists),
            entry_counts(ListEntry, as_of, rulebook=rulebook))).scalars())
    if flags:
        listed.update(session.execute(select(StandingFlag.subject_id).where(
            StandingFlag.flag_code.in_(flags))).scalars())
    found |= listed
    if listed and any(m.reaches for m in noticed):
        ids = sorted(listed)
        for i in range(0, len(ids), CHUNK):
            found.update(r for r in session.execute(
                select(Subject.legal_representative).where(
                    Subject.subject_id.in_(ids[i:i + CHUNK]),
                    Subject.legal_representative.is_not(None))).scalars() if r)
    in_force = {(s, c) for s, c in session.execute(
        select(StandingMeasure.subject_id, StandingMeasure.measure_code))}
    codes = {m.code for m in noticed}
    return {s for s in found if any((s, c) not in in_force for c in codes)}


def _measures_pending(session: Session, rulebook: Rulebook, as_of: date) -> list[NewNotice]:
    from app.services.standings.facts import standing_for

    out = []
    for subject_id in sorted(_pending_candidates(session, rulebook, as_of)):
        if session.get(Subject, subject_id) is None:
            continue  # a legal representative named, not registered
        standing = standing_for(session, rulebook=rulebook, subject_id=subject_id, as_of=as_of)
        for pending in standing.pending_measures:
            m = pending.measure
            title, body = notice_texts.measure_pending_notice(
                rulebook=rulebook, code=m.code, title=m.title, kind=m.kind, owner=m.owner,
                legal_basis=m.legal_basis, holds_since=pending.holds_since,
                takes_effect_on=pending.takes_effect_on,
                reasons=[r.detail for r in pending.reasons])
            key = f"measure_pending:{subject_id}:{m.code}:{pending.holds_since.isoformat()}"
            content = {"code": m.code, "kind": m.kind, "title": m.title,
                       **in_other_languages(m, "title"),
                       **department_texts(rulebook, m.owner, "owner"),
                       "legal_basis": m.legal_basis or "",
                       **in_other_languages(m, "legal_basis"),
                       "holds_since": pending.holds_since.isoformat(),
                       "takes_effect_on": pending.takes_effect_on.isoformat(),
                       "reasons": [because_content(rulebook, r.because)
                                   for r in pending.reasons]}
            out.append(NewNotice(subject_id, "measure_pending", key, title, body,
                                 content=content))
    return out


def _records_lapsing(session: Session, rulebook: Rulebook, as_of: date) -> list[NewNotice]:
    from app.services.standings.facts import get_subject, load_facts, subject_fact
    from app.standing import next_changes

    rows = session.execute(
        select(Record).where(
            record_counts(Record, as_of), Record.ends_on <= as_of + LAPSE_AHEAD,
            Record.repaired_on.is_(None),  # nor repaired since `as_of`: it will not lapse
            _no_notice("record_lapsing", Notice.record_id == Record.id))
        .order_by(Record.subject_id, Record.id)).scalars().all()
    by_subject: dict[str, list[Record]] = defaultdict(list)
    for record in rows:
        by_subject[record.subject_id].append(record)
    out = []
    for subject_id, records in by_subject.items():
        subject = get_subject(session, subject_id)
        facts, _entries = load_facts(session, subject)
        changes = {c.on: c for c in next_changes(
            subject=subject_fact(subject), records=facts, rulebook=rulebook, as_of=as_of,
            until=as_of + LAPSE_AHEAD)}
        for record in records:
            rule = rulebook.rule_version(record.rule_code, record.rule_version)
            change = changes.get(record.ends_on)
            effect = change.describe() if change is not None else ""
            title, body = notice_texts.lapsing_notice(
                record_id=record.id, rule_code=record.rule_code,
                rule_title=rule.title if rule is not None else record.rule_code,
                points=record.points, ends_on=record.ends_on, effect=effect)
            content = {"record": record.id, "rule": record.rule_code,
                       "rule_title": rule.title if rule is not None else record.rule_code,
                       **in_other_languages(rule, "title", "rule_title"),
                       "points": record.points, "ends_on": record.ends_on.isoformat(),
                       "effect": (because_content(rulebook, change.because)
                                  if change is not None else None)}
            out.append(NewNotice(subject_id, "record_lapsing", f"record_lapsing:{record.id}",
                                 title, body, record_id=record.id, content=content))
    return out


def send_nightly_notices(session: Session, *, rulebook: Rulebook, as_of: date,
                         actor: str = "scheduler") -> NightlyNotices:
    """Make the notices the nightly recompute's results call for; safe to run twice.

    Tier changes and list entries or ends of the last 30 days, measures that will take
    effect after their notice period, and records that stop counting within 30 days; each
    only once (by its dedupe key). Run it after the recompute of `as_of`.
    """
    from app.services.rulebooks.in_force import in_force_on

    rulebook = in_force_on(session, rulebook, as_of).rulebook  # the rulebook of `as_of`
    result = NightlyNotices(as_of=as_of)
    with transaction(session):
        begin_write(session, "notices")
        for kind, make in (("tier_change", _tier_changes), ("list_entry", _list_entries),
                           ("list_end", _list_ends), ("measure_pending", _measures_pending),
                           ("record_lapsing", _records_lapsing)):
            result.counts[kind] = add_notices(session, make(session, rulebook, as_of),
                                              today=as_of)
        if result.total:
            audit.append(session, actor=actor, action="notices.nightly", target="notices",
                         details={"as_of": as_of, **result.counts})
    return result


# --- reading ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboxItem:
    notice: Notice
    delivery: NoticeOutbox | None
    title: str = ""  # the notice in the subject's language (see notice_render)
    body: str = ""


def inbox(session: Session, *, subject_id: str, limit: int = 100,
          default_language: str = "en", reader_language: str | None = None) -> list[InboxItem]:
    """Return the subject's notices, newest first, with their delivery state, each read in
    the subject's language (`default_language`, the scheme's first, if they have none), or
    in `reader_language` when another reads them (an official, in their page's language)."""
    language = notice_render.notice_language(
        reader_language or session.execute(
            select(Subject.language).where(Subject.subject_id == subject_id))
        .scalar_one_or_none(), default_language)
    rows = session.execute(
        select(Notice, NoticeOutbox).outerjoin(NoticeOutbox, NoticeOutbox.notice_id == Notice.id)
        .where(Notice.subject_id == subject_id)
        .order_by(Notice.notified_on.desc(), Notice.id.desc()).limit(limit)).all()
    contents = full_contents(session, [n.content for n, _o in rows])
    return [InboxItem(n, o, *notice_render.read(n.kind, c, n.title, n.body, language))
            for (n, o), c in zip(rows, contents, strict=True)]


def record_notice_dates(session: Session, record_ids: Sequence[int]) -> dict[int, date]:
    """Return, per record id, the day its record notice was made (where it has one)."""
    out: dict[int, date] = {}
    for i in range(0, len(record_ids), CHUNK):
        out.update(session.execute(
            select(Notice.record_id, Notice.notified_on).where(
                Notice.kind == "record", Notice.record_id.in_(record_ids[i:i + CHUNK]))).all())
    return out
