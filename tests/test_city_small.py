"""The benchmark city generator stays alive: a 2,000-subject city on SQLite, recomputed.

The full-size benchmarks (tests/benchmarks/) are not part of the default run.
"""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import text
from sqlmodel import Session

from app.db import make_engine
from app.identifiers import validate_subject_id
from app.migrations import upgrade
from app.rulebook import load_rulebook
from app.services.standings.facts import standing_for
from app.services.standings.recompute import recompute
from tests.benchmarks.city import build_city
from tests.conftest import SAMPLE_RULES

TODAY = date(2026, 11, 20)
SUBJECTS, RECORDS = 2_000, 20_000


def _city(tmp_path, name: str, rulebook, seed: int = 5):
    """Build a city in a new SQLite file; return its engine and the generator's summary."""
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    summary = build_city(engine, subjects=SUBJECTS, records=RECORDS, seed=seed,
                         rulebook=rulebook, today=TODAY)
    return engine, summary


def _digest(engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, subject_id, rule_code, rule_version, department_code, occurred_on, "
            "ends_on, points, external_ref, voided_at, repaired_on, annulled_on "
            "FROM record ORDER BY id")).all()
        rows += conn.execute(text("SELECT * FROM subject ORDER BY subject_id")).all()
        rows += conn.execute(text("SELECT list_code, subject_id, entered_on, removed_on "
                                  "FROM list_entry ORDER BY id")).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_a_small_city_is_valid_reproducible_and_recomputes(tmp_path):
    rulebook = load_rulebook(SAMPLE_RULES)
    engine, summary = _city(tmp_path, "city.sqlite3", rulebook)
    assert summary["subjects"] == SUBJECTS and summary["records"] == RECORDS
    assert summary["list_entries"] > 0 and summary["objections"] > 0

    with engine.connect() as conn:
        kinds = dict(conn.execute(text("SELECT kind, COUNT(*) FROM subject GROUP BY kind")).all())
        assert kinds == {"person": 1_800, "organisation": 200}
        for sid, kind in conn.execute(text("SELECT subject_id, kind FROM subject "
                                           "WHERE rowid % 10 = 1")):
            assert validate_subject_id(sid) == (sid, kind)  # stdnum: about 0.5 ms each
        assert {row[0] for row in conn.execute(text("SELECT district FROM subject"))} == {
            "Yatou Subdistrict", "Chengshan Town", "Shidao Management Area", "Renhe Town",
            "Ningjin Subdistrict"}
        records = conn.execute(text(
            "SELECT r.rule_code, r.rule_version, r.department_code, r.occurred_on, r.ends_on, "
            "r.points, s.kind FROM record r JOIN subject s USING (subject_id)")).all()
        assert len(records) == RECORDS
        codes = set()
        for code, version, dept, occurred, ends, points, kind in records:
            rule = rulebook.rule_on(code, date.fromisoformat(occurred))
            assert rule is not None and rule.version == version, (code, occurred)
            assert dept in rule.departments and kind in rule.subjects
            assert ends == rule.ends_on(date.fromisoformat(occurred)).isoformat()
            assert points == rule.points and occurred < TODAY.isoformat()
            codes.add(code)
        assert codes == set(rulebook.rule_codes)  # every code of the sample rulebook
        lists = {row[0] for row in conn.execute(text("SELECT list_code FROM list_entry"))}
        assert lists == {lst.code for lst in rulebook.lists if lst.departments}
        assert conn.execute(text("SELECT COUNT(DISTINCT external_ref) FROM record")).scalar() \
            == RECORDS

    with Session(engine) as session:
        run = recompute(session, rulebook=rulebook, as_of=TODAY)
        assert run.status == "ok" and run.subjects == SUBJECTS
        standings = dict(session.execute(text("SELECT subject_id, points FROM standing")).all())
        assert len(standings) == SUBJECTS
        tiers = session.execute(text("SELECT COUNT(DISTINCT tier) FROM standing")).scalar()
        assert tiers >= 3  # a population, not everyone at the start
        # The set-based run and the pure evaluator agree on a few subjects.
        for sid in sorted(standings)[::400]:
            assert standing_for(session, rulebook=rulebook, subject_id=sid,
                                as_of=TODAY).points == standings[sid]

    again, _ = _city(tmp_path, "again.sqlite3", rulebook)
    assert _digest(again) == _digest(engine)  # the same seed, the same city
    for e in (engine, again):
        e.dispose()
