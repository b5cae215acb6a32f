"""An incremental recompute gives exactly what a full run gives.

Random histories (the two-paths test's worlds) are recomputed in full on a day D; then
the facts change the ways they change in the app (new records, voids, repairs,
annulments, objections filed and decided, list entries added and removed, consent given
or withdrawn, an organisation's legal representative replaced, a new subject), and the
days pass (records, list entries and watchlist windows lapse or start, notices mature).
An incremental run on D' must then store the same standings, flags, measures and tier
changes as the evaluator (the first round) and as a full run of the same day (a second,
chained incremental round).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update

from app.errors import CitypointsError
from app.models import (
    ConsentChange,
    ListEntry,
    Objection,
    Record,
    Run,
    Standing,
    StandingFlag,
    StandingMeasure,
    Subject,
    TierChange,
    utcnow,
)
from app.rulebook.model import (
    ConductTable,
    Department,
    Duration,
    Flag,
    ListDef,
    Measure,
    Objections,
    Rule,
    Rulebook,
    Scheme,
    Tier,
    When,
)
from app.services.audit import chain as audit
from app.services.lists.entries import remove_from_list
from app.services.records.corrections import void_record
from app.services.standings import recompute as rc
from app.services.standings.facts import standing_for
from app.services.standings.recompute import bookkeeping, walkback
from app.services.standings.recompute.points import relief_between
from app.services.subjects.consent import set_consent
from app.standing.spans import window_exit
from tests.conftest import new_organisation_id, new_person_id
from tests.services.test_two_paths import START, VOIDED_AT, store_facts, worlds
from tests.services.test_two_paths import _clean as _clean_facts

REGISTERED = datetime(2020, 1, 1, tzinfo=UTC)


def _when(draw, around: date, before: int = 60, after: int = 60) -> date:
    return around + timedelta(days=draw(st.integers(-before, after)))


@st.composite
def changes(draw, world, day: date, next_day: date):
    """Changes to the facts between the runs of `day` and `next_day`, as plain data."""
    rulebook, subjects, _orgs, records, entries, _dates, _disputes = world
    ids = [sid for sid, _ in subjects]
    out = {"records": [], "voids": [], "repairs": [], "annuls": [], "objections": [],
           "decisions": [], "removals": [], "entries": [], "consent": [], "represent": [],
           "new_subject": draw(st.booleans())}
    # Few changes, so that most subjects are left to what the days alone do to them.
    for _ in range(draw(st.integers(0, 2))):
        occurred = _when(draw, next_day, 300, 5)
        rule = rulebook.rule_on(draw(st.sampled_from(rulebook.rule_codes)), occurred)
        out["records"].append({
            "subject_id": draw(st.sampled_from(ids)), "rule_code": rule.code,
            "rule_version": rule.version, "rulebook_fingerprint": rulebook.fingerprint,
            "department_code": "dept", "occurred_on": occurred, "ends_on": rule.ends_on(occurred),
            "base_points": rule.points, "points": draw(st.integers(-150, 80)), "factor": 1,
            "evidence": "", "note": ""})
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["voids", "repairs", "annuls", "objections", "decisions",
                                     "removals", "entries", "consent", "represent"]))
        if kind in ("voids", "annuls", "objections", "decisions", "removals"):
            out[kind].append((draw(st.integers(0, 10**6)), _when(draw, day, 40, 40),
                              draw(st.none() | st.integers(0, 40))))
        elif kind == "repairs":
            out[kind].append((draw(st.integers(0, 10**6)), _when(draw, next_day, 60, 10)))
        elif kind == "entries":
            list_def = draw(st.sampled_from(rulebook.lists))
            entered = _when(draw, next_day, 120, 3)
            removed = draw(st.none() | st.integers(0, 100))
            out[kind].append({
                "list_code": list_def.code, "subject_id": draw(st.sampled_from(ids)),
                "department_code": "dept", "entered_on": entered,
                "ends_on": list_def.lasts.after(entered) if list_def.lasts else None,
                "removed_on": None if removed is None else entered + timedelta(days=removed),
                "legal_basis": "", "decision_ref": ""})
        elif kind == "consent":
            out[kind].append((draw(st.sampled_from(ids)), _when(draw, day, 5, 5)))
        else:  # a representative named counts from the day the register names them
            out[kind].append((draw(st.integers(0, 10**6)), draw(st.sampled_from([*ids, None])),
                              day + timedelta(days=draw(st.integers(
                                  0, max(0, (next_day - day).days))))))
    del records, entries
    return out


def _edges(world) -> list[date]:
    """Return the days on which a fact of `world` starts or stops counting, or a notice matures."""
    rulebook, _subjects, _orgs, records, entries, dates, disputes = world
    edges = [d for r in records for d in (r["occurred_on"], r["ends_on"], r["repaired_on"]) if d]
    edges += [d for e in entries for d in (e["entered_on"], e["ends_on"], e["removed_on"]) if d]
    edges += [d for _i, _l, filed, decided in disputes for d in (filed, decided) if d]
    flag = rulebook.lists[1].flag
    edges += [window_exit(e["entered_on"], flag.within) for e in entries
              if e["list_code"] == "watch"]
    edges += [m.notice.after(d) for m in rulebook.measures if m.notice for d in list(edges)]
    edges += [r.effective.start for r in rulebook.tables[0].rules if r.relief]
    return sorted({d for d in edges + dates if d > START + timedelta(days=1)}) or [dates[0]]


def _pick(rows: list, n: int):
    return rows[n % len(rows)] if rows else None


def _apply(session, rulebook, change: dict) -> None:
    """Make the changes as the services make them: the same columns, the same audit events."""
    session.commit()
    if change["records"]:
        session.execute(insert(Record), change["records"])
    if change["entries"]:
        session.execute(insert(ListEntry), change["entries"])
    session.commit()
    records = session.execute(select(Record).order_by(Record.id)).scalars().all()
    for n, _on, _ in change["voids"]:
        record = _pick(records, n)
        try:
            void_record(session, record_id=record.id, department="dept", reason="error",
                        actor="t")
        except (CitypointsError, AttributeError):
            session.rollback()
    for n, on in change["repairs"]:  # corrections.repair_record's write
        record = _pick(records, n)
        if record is not None and record.repaired_on is None:
            session.execute(update(Record).where(Record.id == record.id)
                            .values(repaired_on=on, repaired_by="t", repair_evidence="e"))
            audit.append(session, actor="t", action="record.repair",
                         subject_id=record.subject_id, target=f"record:{record.id}")
            session.commit()
    for n, on, _ in change["annuls"]:  # objections.decide_objection's write, annulled
        record = _pick(records, n)
        if record is not None and record.annulled_on is None:
            session.execute(update(Record).where(Record.id == record.id).values(annulled_on=on))
            audit.append(session, actor="t", action="objection.decide",
                         subject_id=record.subject_id, target=f"record:{record.id}")
            session.commit()
    for n, on, decided in change["objections"]:  # objections.file_objection's row
        record = _pick(records, n)
        if record is not None:
            level = 1 + len(session.execute(select(Objection.id).where(
                Objection.record_id == record.id)).all())
            session.execute(insert(Objection), [{
                "record_id": record.id, "subject_id": record.subject_id, "level": level,
                "filed_on": on, "filed_at": VOIDED_AT, "filed_by": "s", "reason": "r",
                "deadline": on + timedelta(days=15),
                "decided_on": None if decided is None else on + timedelta(days=decided),
                "outcome": None if decided is None else "upheld"}])
            session.commit()
    pending = session.execute(select(Objection).where(Objection.decided_on.is_(None))
                              .order_by(Objection.id)).scalars().all()
    for n, on, _ in change["decisions"]:  # objections.decide_objection's write, upheld
        objection = _pick(pending, n)
        if objection is not None and objection.decided_on is None:
            session.execute(update(Objection).where(Objection.id == objection.id)
                            .values(decided_on=max(on, objection.filed_on), outcome="upheld",
                                    decided_by="r", decided_at=utcnow()))
            audit.append(session, actor="r", action="objection.decide",
                         subject_id=objection.subject_id, target=f"objection:{objection.id}")
            session.commit()
    entries = session.execute(select(ListEntry).order_by(ListEntry.id)).scalars().all()
    for n, on, _ in change["removals"]:
        entry = _pick(entries, n)
        try:
            remove_from_list(session, rulebook=rulebook, entry_id=entry.id, department="dept",
                             reason="ended", actor="t", today=on)
        except (CitypointsError, AttributeError):
            session.rollback()
    for sid, on in change["consent"]:
        subject = session.get(Subject, sid)
        set_consent(session, subject_id=sid, consent=not subject.consent, actor="t", today=on)
    organisations = session.execute(select(Subject).where(Subject.kind == "organisation")
                                    .order_by(Subject.subject_id)).scalars().all()
    for n, representative, since in change["represent"]:  # subjects.import_subjects's write
        org = _pick(organisations, n)
        if org is not None:
            session.execute(update(Subject).where(Subject.subject_id == org.subject_id)
                            .values(legal_representative=representative,
                                    legal_representative_since=since if representative
                                    else None, updated_at=utcnow()))
            session.commit()
    if change["new_subject"]:
        session.execute(insert(Subject), [{"subject_id": new_person_id(), "kind": "person",
                                           "name": "new", "consent": True}])
    session.commit()


def _clean(session) -> None:
    session.rollback()
    session.execute(delete(ConsentChange))
    session.commit()
    _clean_facts(session)


def _stored(session) -> tuple[dict, set, set]:
    standings = {s.subject_id: (s.points, s.tier)
                 for s in session.execute(select(Standing)).scalars()}
    flags = {(f.subject_id, f.flag_code) for f in session.execute(select(StandingFlag)).scalars()}
    measures = {(m.subject_id, m.measure_code)
                for m in session.execute(select(StandingMeasure)).scalars()}
    return standings, flags, measures


def _evaluated(session, rulebook, as_of: date) -> tuple[dict, set, set]:
    standings, flags, measures = {}, set(), set()
    for sid in session.execute(select(Subject.subject_id)).scalars().all():
        s = standing_for(session, rulebook=rulebook, subject_id=sid, as_of=as_of)
        standings[sid] = (s.points, s.tier.code if s.tier else None)
        flags |= {(sid, f.code) for f in s.flags}
        measures |= {(sid, m.measure.code) for m in s.measures}
    return standings, flags, measures


def _incremental(session, rulebook, as_of: date):
    before = {s.subject_id: s.tier for s in session.execute(select(Standing)).scalars()}
    base = rc.standings_day(session)
    summary = rc.recompute(session, rulebook=rulebook, as_of=as_of, incremental=True)
    # A relief version that starts in between changes many records' points: a full run.
    assert summary.scope == ("full" if relief_between(rulebook, base, as_of)
                             else "incremental")
    run = session.get(Run, summary.run_id)
    assert run.scope == summary.scope and run.recomputed == summary.recomputed
    after = _stored(session)
    # The tier changes a full run would log: every subject whose tier differs from before.
    logged = {(c.subject_id, c.from_tier, c.to_tier) for c in session.execute(
        select(TierChange).where(TierChange.run_id == summary.run_id)).scalars()}
    assert logged == {(sid, before[sid], tier) for sid, (_p, tier) in after[0].items()
                      if sid in before and before[sid] != tier}
    assert all(s.as_of <= as_of for s in session.execute(select(Standing)).scalars())
    assert rc.standings_day(session) == as_of
    return after


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_an_incremental_run_stores_what_a_full_run_stores(session, data, monkeypatch):
    # Longer gaps test the lapse conditions harder.
    monkeypatch.setattr(bookkeeping, "MAX_GAP_DAYS", 60)
    # Both ways the notice walk-back reads its candidates' records.
    monkeypatch.setattr(walkback, "WALK_BY_WINDOW", data.draw(st.sampled_from([0, 50_000])))
    world = data.draw(worlds())
    rulebook, subjects, organisations, records, entries, dates, disputes = world
    _clean(session)
    session.execute(insert(Subject), [
        {"subject_id": sid, "kind": "organisation" if sid in organisations else "person",
         "name": sid, "consent": consent,
         "legal_representative": organisations.get(sid, (None, None))[0],
         "legal_representative_since": organisations.get(sid, (None, None))[1],
         "registered_at": REGISTERED, "updated_at": REGISTERED}  # long before the runs
        for sid, consent in subjects])
    session.commit()
    # The days of the runs straddle the facts' edges: where something starts or stops.
    edges = _edges(world)
    first = data.draw(st.sampled_from(edges)) + timedelta(days=data.draw(st.integers(0, 1)))
    gap = data.draw(st.sampled_from([1, 1, 2, 7, 8, 30, 60]))
    day = first - timedelta(days=gap)
    rc.recompute(session, rulebook=rulebook, as_of=START)  # stores the rulebook, department
    store_facts(session, records, entries, disputes)
    assert rc.recompute(session, rulebook=rulebook, as_of=day).scope == "full"

    # Round 1: changes, days pass; the incremental run against the evaluator.
    _apply(session, rulebook, data.draw(changes(world, day, first)))
    assert _incremental(session, rulebook, first) == _evaluated(session, rulebook, first)

    # Round 2, chained on the incremental run: against a full run of the same day.
    later = [d for d in edges if first < d <= first + timedelta(days=40)]
    second = data.draw(st.sampled_from(later)) if later and data.draw(st.booleans()) else (
        first + timedelta(days=data.draw(st.sampled_from([1, 3, 9, 40]))))
    _apply(session, rulebook, data.draw(changes(world, first, second)))
    incremental = _incremental(session, rulebook, second)
    full = rc.recompute(session, rulebook=rulebook, as_of=second)
    assert full.scope == "full" and full.tier_changes == 0
    assert _stored(session) == incremental


@pytest.mark.parametrize("case", ["rulebook", "gap", "first", "asked"])
def test_a_run_is_full_when_it_must_be(session, make_subject, rulebook, case, monkeypatch):
    from dataclasses import replace

    make_subject(session)
    day = date(2026, 5, 1)
    if case != "first":
        rc.recompute(session, rulebook=rulebook, as_of=day)
    changed = replace(rulebook, fingerprint="another") if case == "rulebook" else rulebook
    later = day + timedelta(days=2 if case == "gap" else 1)
    summary = rc.recompute(session, rulebook=changed, as_of=later,
                           incremental=case != "asked")
    assert summary.scope == "full"
    assert session.get(Run, summary.run_id).scope == "full"
    again = rc.recompute(session, rulebook=changed, as_of=later + timedelta(days=1),
                         incremental=True)
    assert again.scope == "incremental" and again.subjects == 1


def _one_rule_rulebook(measures, lists, *, fingerprint: str) -> Rulebook:
    """A rulebook of one -100 rule lasting a year, tiers HIGH (1000) and LOW, and these
    measures and lists: for the fixed examples below."""
    rule = Rule(code="R", title="r", points=-100, table="t", departments=("dept",),
                expires_after=Duration(1, "y"))
    return Rulebook(
        Scheme("s", "S", 1000, False, (Tier("HIGH", 1000), Tier("LOW", None)),
               objections=Objections()),
        (Department("dept", "Dept"),), (ConductTable("t", "T", ("dept",), (rule,)),),
        measures, lists, fingerprint=fingerprint)


def test_an_incremental_run_sees_the_days_alone_change_things(session):
    """No new fact at all: a removal, an end, a watchlist window and a record's expiry
    reached on the day."""
    rulebook = _one_rule_rulebook(
        (Measure("BAN", "restriction", "ban", "dept", When(lists=("black",)), legal_basis="l"),
         Measure("CHECK", "restriction", "check", "dept", When(flags=("watched",)),
                 legal_basis="l")),
        (ListDef("black", "blacklist", departments=("dept",)),
         ListDef("watch", "watchlist", departments=("dept",),
                 flag=Flag("watched", 1, Duration(10, "d")))),
        fingerprint="days-alone")
    day = date(2026, 3, 1)
    ids = [new_person_id() for _ in range(5)]
    session.execute(insert(Subject), [{"subject_id": sid, "kind": "person", "name": sid,
                                       "registered_at": REGISTERED, "updated_at": REGISTERED}
                                      for sid in ids])
    session.commit()
    rc.recompute(session, rulebook=rulebook, as_of=day)  # stores the rulebook and department
    entry = {"department_code": "dept", "legal_basis": "", "decision_ref": ""}
    session.execute(insert(ListEntry), [
        {**entry, "list_code": "black", "subject_id": ids[0], "entered_on": day,
         "removed_on": day + timedelta(days=1)},  # a removal decided ahead
        {**entry, "list_code": "black", "subject_id": ids[1], "entered_on": day,
         "ends_on": day + timedelta(days=1)},
        {**entry, "list_code": "watch", "subject_id": ids[2],
         "entered_on": day - timedelta(days=10)},  # leaves the 10-day window tomorrow
        {**entry, "list_code": "black", "subject_id": ids[3],
         "entered_on": day + timedelta(days=1)}])
    session.execute(insert(Record), [{  # lapses tomorrow: back to HIGH
        "subject_id": ids[4], "rule_code": "R", "rule_version": 1,
        "rulebook_fingerprint": "days-alone", "department_code": "dept",
        "occurred_on": day - timedelta(days=364), "ends_on": day + timedelta(days=1),
        "base_points": -100, "points": -100, "evidence": "", "note": ""}])
    session.commit()
    rc.recompute(session, rulebook=rulebook, as_of=day)
    assert _stored(session)[2] == {(ids[0], "BAN"), (ids[1], "BAN"), (ids[2], "CHECK")}
    assert _stored(session)[0][ids[4]] == (900, "LOW")
    summary = rc.recompute(session, rulebook=rulebook, as_of=day + timedelta(days=1),
                           incremental=True)
    assert summary.scope == "incremental" and summary.recomputed == 5
    assert _stored(session)[1:] == (set(), {(ids[3], "BAN")})
    assert _stored(session)[0][ids[4]] == (1000, "HIGH") and summary.tier_changes == 1


def test_a_representative_follows_the_organisation_into_an_incremental_run(session):
    """An organisation's blacklist entry ends on the day, and another changes its legal
    representative: the measures that reached the representatives must go with them."""
    rulebook = _one_rule_rulebook(
        (Measure("BAN", "restriction", "ban", "dept", When(lists=("black",)), legal_basis="l",
                 reaches=("legal_representative",)),),
        (ListDef("black", "blacklist", departments=("dept",)),), fingerprint="reps")
    day = date(2026, 3, 1)
    ending, changing = new_organisation_id(), new_organisation_id()
    p_ending, p_old, p_new = (new_person_id() for _ in range(3))
    people = [{"subject_id": sid, "kind": "person", "name": sid, "registered_at": REGISTERED,
               "updated_at": REGISTERED} for sid in (p_ending, p_old, p_new)]
    orgs = [{"subject_id": org, "kind": "organisation", "name": org,
             "legal_representative": rep, "registered_at": REGISTERED,
             "updated_at": REGISTERED} for org, rep in ((ending, p_ending), (changing, p_old))]
    session.execute(insert(Subject), people + orgs)
    session.commit()
    rc.recompute(session, rulebook=rulebook, as_of=day)  # stores the rulebook and department
    entry = {"department_code": "dept", "legal_basis": "", "decision_ref": "",
             "list_code": "black", "entered_on": day - timedelta(days=5)}
    session.execute(insert(ListEntry), [
        {**entry, "subject_id": ending, "ends_on": day + timedelta(days=1)},
        {**entry, "subject_id": changing}])
    session.commit()
    rc.recompute(session, rulebook=rulebook, as_of=day)
    assert _stored(session)[2] == {(ending, "BAN"), (p_ending, "BAN"), (changing, "BAN"),
                                   (p_old, "BAN")}
    # The register changes the second organisation's representative (as subjects import does).
    session.execute(update(Subject).where(Subject.subject_id == changing)
                    .values(legal_representative=p_new, updated_at=datetime.now(UTC)))
    session.commit()
    summary = rc.recompute(session, rulebook=rulebook, as_of=day + timedelta(days=1),
                           incremental=True)
    assert summary.scope == "incremental"
    assert _stored(session)[2] == {(changing, "BAN"), (p_new, "BAN")}
    assert _stored(session) == _evaluated(session, rulebook, day + timedelta(days=1))


def test_the_day_s_changes_are_added_to_the_stored_points(session, monkeypatch):
    """The points of subjects nobody touched since the base run are the stored ones plus
    the records that start or stop counting (a lapse, a new record dated back); a void
    makes its subject's points be summed again from all its records."""
    from app.services.standings.recompute import scope

    rulebook = _one_rule_rulebook((), (), fingerprint="delta")
    day = date(2026, 3, 1)
    lapsing, dated_back, voided, quiet = (new_person_id() for _ in range(4))
    session.execute(insert(Subject), [{"subject_id": sid, "kind": "person", "name": sid,
                                       "registered_at": REGISTERED, "updated_at": REGISTERED}
                                      for sid in (lapsing, dated_back, voided, quiet)])
    session.commit()
    rc.recompute(session, rulebook=rulebook, as_of=day)  # stores the rulebook and department
    record = {"rule_code": "R", "rule_version": 1, "rulebook_fingerprint": "delta",
              "department_code": "dept", "base_points": -100, "points": -100, "evidence": "",
              "note": ""}
    session.execute(insert(Record), [
        {**record, "subject_id": lapsing, "occurred_on": day - timedelta(days=364),
         "ends_on": day + timedelta(days=1)},
        {**record, "subject_id": voided, "occurred_on": day - timedelta(days=30),
         "ends_on": day + timedelta(days=335)},
        {**record, "subject_id": quiet, "occurred_on": day - timedelta(days=30),
         "ends_on": day + timedelta(days=335)}])
    session.commit()
    rc.recompute(session, rulebook=rulebook, as_of=day)
    assert {sid: p for sid, (p, _t) in _stored(session)[0].items()} == {
        lapsing: 900, dated_back: 1000, voided: 900, quiet: 900}
    # After the run: a record dated back ten days (as records.conduct stores one, audited)
    # and a void.
    session.execute(insert(Record), [{**record, "subject_id": dated_back,
                                      "occurred_on": day - timedelta(days=10),
                                      "ends_on": day + timedelta(days=355)}])
    new_id = session.execute(select(Record.id).where(Record.subject_id == dated_back)).scalar()
    audit.append(session, actor="t", action="record.create", subject_id=dated_back,
                 target=f"record:{new_id}")
    session.commit()
    void_record(session, record_id=session.execute(select(Record.id).where(
        Record.subject_id == voided)).scalar(), department="dept", reason="error", actor="t")
    exact = []
    delta_points = scope.delta_points
    monkeypatch.setattr(scope, "delta_points",
                        lambda *a, **k: exact.append(delta_points(*a, **k)) or exact[-1])
    summary = rc.recompute(session, rulebook=rulebook, as_of=day + timedelta(days=1),
                           incremental=True)
    assert summary.scope == "incremental" and summary.recomputed == 3
    assert exact == [1]  # the voided record's subject; the others by their changes
    assert {sid: p for sid, (p, _t) in _stored(session)[0].items()} == {
        lapsing: 1000, dated_back: 900, voided: 1000, quiet: 900}
    assert _stored(session) == _evaluated(session, rulebook, day + timedelta(days=1))
