"""The recompute in slices (RECOMPUTE_SLICES) on PostgreSQL: the same standings as one
connection, and still all or nothing when a slice's server process is killed."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import create_engine, text
from sqlmodel import Session

from app.db import make_engine
from app.rulebook import load_rulebook
from app.services.standings.recompute import recompute, slices, standings_day, writes
from tests.benchmarks.city import build_city
from tests.conftest import SAMPLE_RULES, fresh_postgres
from tests.services import test_two_paths as two_paths

TODAY = date(2026, 11, 20)


@pytest.fixture
def city():
    """A small generated city (records, lists, objections) in the PostgreSQL test database."""
    url = fresh_postgres()
    rulebook = load_rulebook(SAMPLE_RULES)
    engine = make_engine(url)
    build_city(engine, subjects=600, records=6_000, seed=11, rulebook=rulebook, today=TODAY)
    yield engine, rulebook
    engine.dispose()


def _standings(session: Session, run_id: int | None = None) -> dict[str, list]:
    """Everything a run writes about the subjects, in a comparable form (the tier changes:
    those of run `run_id`, or all)."""
    return {
        "standing": session.execute(text(
            "SELECT subject_id, points, tier, as_of FROM standing ORDER BY 1")).all(),
        "flags": session.execute(text(
            "SELECT subject_id, flag_code FROM standing_flag ORDER BY 1, 2")).all(),
        "measures": session.execute(text(
            "SELECT subject_id, measure_code FROM standing_measure ORDER BY 1, 2")).all(),
        "tier changes": session.execute(text(
            "SELECT subject_id, on_date, from_tier, to_tier, from_points, to_points "
            "FROM tier_change WHERE run_id = :r OR :r IS NULL ORDER BY 1, 2"),
            {"r": run_id}).all(),
    }


def _staging_tables(session: Session) -> list[str]:
    return list(session.execute(text(
        "SELECT tablename FROM pg_tables WHERE tablename LIKE 'cp\\_slice\\_%'")).scalars())


def test_three_slices_store_what_one_connection_stores(city):
    engine, rulebook = city
    yesterday = TODAY - timedelta(days=30)
    with Session(engine) as session:
        # Every slice has subjects of its own, and the city has a spread of tiers.
        per_slice = dict(session.execute(text(
            "SELECT mod(abs(hashtext(subject_id)::bigint), 3), COUNT(*) FROM subject "
            "GROUP BY 1")).all())
        assert sorted(per_slice) == [0, 1, 2] and min(per_slice.values()) > 100

        # Each run of today starts from yesterday's standings (a full run of yesterday).
        recompute(session, rulebook=rulebook, as_of=yesterday)
        three = recompute(session, rulebook=rulebook, as_of=TODAY, slices=3)
        assert three.status == "ok" and three.scope == "full" and three.subjects == 600
        assert len(three.slice_seconds) == 3
        sliced = _standings(session, three.run_id)
        assert _staging_tables(session) == []

        recompute(session, rulebook=rulebook, as_of=yesterday)
        one = recompute(session, rulebook=rulebook, as_of=TODAY, slices=1)
        assert len(one.slice_seconds) == 1 and one.tier_changes == three.tier_changes
        assert _standings(session, one.run_id) == sliced
    assert len({row.tier for row in sliced["standing"]}) >= 3
    assert sliced["flags"] and sliced["measures"] and sliced["tier changes"]


def test_slices_are_ignored_where_they_cannot_run(session, make_subject, rulebook,
                                                  database_url, caplog):
    """SQLite (one writer) and an incremental run (few subjects) use one connection."""
    make_subject(session)
    with caplog.at_level("INFO", logger=slices.__name__):
        first = recompute(session, rulebook=rulebook, as_of=date(2026, 5, 1), slices=4)
        assert first.status == "ok" and first.subjects == 1
        second = recompute(session, rulebook=rulebook, as_of=date(2026, 5, 2), slices=4,
                           incremental=True)
    assert second.scope == "incremental" and len(second.slice_seconds) == 1
    messages = [r.getMessage() for r in caplog.records]
    if database_url.startswith("sqlite"):
        assert len(first.slice_seconds) == 1
        assert "RECOMPUTE_SLICES=4 ignored: SQLite computes on one connection" in messages
    else:
        assert len(first.slice_seconds) == 4
        assert ("RECOMPUTE_SLICES=4 ignored: an incremental run computes its few subjects "
                "on one connection") in messages


@pytest.mark.parametrize("bad", [0, -1, 65, "2", 1.5, True])
def test_a_number_of_slices_that_makes_no_sense_is_refused(bad):
    with pytest.raises(ValueError, match="RECOMPUTE_SLICES"):
        slices.check_slices(bad)


def _kill_slice(url: str, name: str, out: dict) -> None:
    """Terminate the server process of the slice whose application_name is `name`."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                pid = conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = :n "
                    "AND query LIKE '%pg_sleep%'"), {"n": name}).scalar()
                if pid is not None:
                    out["killed"] = conn.execute(text("SELECT pg_terminate_backend(:p)"),
                                                 {"p": pid}).scalar()
                    return
                time.sleep(0.05)
    finally:
        engine.dispose()


def test_a_killed_slice_leaves_yesterdays_standings_and_fails_the_run(city, monkeypatch):
    engine, rulebook = city
    yesterday = TODAY - timedelta(days=30)
    with Session(engine) as session:
        before = recompute(session, rulebook=rulebook, as_of=yesterday)
        kept = _standings(session)
        run_id = before.run_id + 1

        # Slice 2 of 3 dawdles before its work, so the test can find its server process
        # and kill it; the other slices finish (their staging tables committed) meanwhile.
        fill = slices.fill_slice

        def slow_second(conn, **kwargs):
            if kwargs["slice_"] == 1:  # in the slice's transaction, on its connection
                conn.execute(text("SET LOCAL application_name = 'slice under test'"))
                conn.execute(text("SELECT pg_sleep(20)"))
            return fill(conn, **kwargs)

        monkeypatch.setattr(slices, "fill_slice", slow_second)
        out: dict = {}
        killer = threading.Thread(target=_kill_slice,
                                  args=(engine.url.render_as_string(hide_password=False),
                                        "slice under test", out))
        killer.start()
        started = time.monotonic()
        with pytest.raises(slices.SliceFailed, match="slice 2 of 3 failed"):
            recompute(session, rulebook=rulebook, as_of=TODAY, slices=3)
        killer.join()
        assert out.get("killed") is True and time.monotonic() - started < 15

        status, error = session.execute(text("SELECT status, error FROM run WHERE id = :r"),
                                        {"r": run_id}).one()
        assert status == "failed" and "slice 2 of 3" in error
        assert _standings(session) == kept  # yesterday's, everywhere
        assert standings_day(session) == yesterday
        assert _staging_tables(session) == []  # the slices that finished left nothing

        # The next run (no slice killed) does the day's work.
        monkeypatch.setattr(slices, "fill_slice", fill)
        again = recompute(session, rulebook=rulebook, as_of=TODAY, slices=3)
        assert again.status == "ok" and standings_day(session) == TODAY
        assert _standings(session) != kept


def test_a_run_drops_the_staging_tables_a_dead_process_left(city):
    engine, rulebook = city
    with Session(engine) as session:
        session.execute(text("CREATE UNLOGGED TABLE cp_slice_999_0 (subject_id text)"))
        session.commit()
        assert _staging_tables(session) == ["cp_slice_999_0"]
        recompute(session, rulebook=rulebook, as_of=TODAY, slices=2)
        assert _staging_tables(session) == []


def test_a_run_that_fails_after_its_slices_leaves_nothing_behind(city, monkeypatch):
    """The slices committed their tables; the run's writes then fail: the run is failed,
    yesterday's standings stay, and the tables its rollback kept are dropped."""
    engine, rulebook = city
    with Session(engine) as session:
        recompute(session, rulebook=rulebook, as_of=TODAY - timedelta(days=30))
        kept = _standings(session)

        def broken(*args, **kwargs):
            raise RuntimeError("the disk is full")

        monkeypatch.setattr(writes, "write_full", broken)
        with pytest.raises(RuntimeError, match="the disk is full"):
            recompute(session, rulebook=rulebook, as_of=TODAY, slices=3)
        assert session.execute(text("SELECT status FROM run ORDER BY id DESC LIMIT 1")
                               ).scalar_one() == "failed"
        assert _standings(session) == kept
        assert _staging_tables(session) == []


def test_the_command_takes_the_number_of_slices_from_the_setting(session, make_subject,
                                                                  runner, app, database_url,
                                                                  caplog):
    make_subject(session)
    app.config["RECOMPUTE_SLICES"] = 2
    with caplog.at_level("INFO", logger=slices.__name__):
        result = runner.invoke(args=["recompute", "--as-of", "2026-05-01", "--full"])
    assert result.exit_code == 0, result.output
    messages = [r.getMessage() for r in caplog.records]
    if database_url.startswith("sqlite"):
        assert "RECOMPUTE_SLICES=2 ignored: SQLite computes on one connection" in messages
    else:
        assert any(m.startswith("recompute 1: points in 2 slices") for m in messages), messages


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=two_paths.worlds())
def test_slices_agree_with_the_evaluator(session, database_url, monkeypatch, world):
    """The two-paths worlds (random rulebooks: relief, consent, flags, measures with
    notice periods), recomputed in 3 slices (some of them empty), against the evaluator."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite ignores RECOMPUTE_SLICES (tested above)")
    runs: list[int] = []

    def in_slices(*args, **kwargs):
        summary = recompute(*args, slices=3, **kwargs)
        runs.append(len(summary.slice_seconds))
        return summary

    monkeypatch.setattr(two_paths, "recompute", in_slices)
    rulebook, subjects, organisations, records, entries, dates, disputes = world
    two_paths._clean(session)
    two_paths.store_subjects(session, subjects, organisations)
    session.commit()
    recompute(session, rulebook=rulebook, as_of=dates[0])  # stores the rulebook and department
    two_paths.store_facts(session, records, entries, disputes)
    for as_of in dates:
        two_paths._compare_on(session, rulebook, as_of)  # the run in 3 slices
    assert runs == [3] * len(dates)
