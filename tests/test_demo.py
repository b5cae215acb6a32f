"""The demo city looks like the city: Chinese names with pinyin, every tier, notices dated
on the day their records were made, a published digest and a court that keeps its list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import create_app
from app.db import get_engine, session_scope
from app.models import Account, AuditDigest, ListEntry, Notice, Record, Standing, Subject

SAMPLE_RULES = Path(__file__).resolve().parent.parent / "rules"
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def city(app_config):
    app = create_app({**app_config, "RULES_DIR": str(SAMPLE_RULES)})
    result = app.test_cli_runner().invoke(args=["demo", "--subjects", "60"])
    assert result.exit_code == 0, result.output
    with session_scope(app) as session:
        yield session
    get_engine(app).dispose()


def test_the_demo_city_has_chinese_names_with_pinyin(city):
    for name, district, village in city.execute(
            select(Subject.name, Subject.district, Subject.village)):
        assert HAN.search(name) and re.search(r"\([A-Z][A-Za-z' .,]+\)$", name), name
        assert HAN.search(district) and HAN.search(village), (district, village)


def test_the_demo_city_has_someone_in_every_tier(city):
    tiers = set(city.execute(select(Standing.tier).distinct()).scalars())
    assert {"AAA", "AA", "A", "B", "C", "D"} <= tiers


def test_a_records_notice_is_dated_the_day_the_record_was_made(city):
    pairs = city.execute(select(Notice.notified_on, Record.occurred_on)
                         .join(Record, Record.id == Notice.record_id)
                         .where(Notice.kind == "record")).all()
    assert pairs and all(notified == occurred for notified, occurred in pairs)
    days = {notified for notified, _ in pairs}
    assert len(days) > 10, days  # spread over the demo's years, not all made today


def test_the_demo_publishes_a_digest_and_the_court_keeps_its_list(city):
    assert city.execute(select(func.count()).select_from(AuditDigest)).scalar() >= 1
    court = city.execute(select(Account).where(Account.username == "court")).scalar_one()
    assert court.department_code == "court"
    entries = city.execute(select(ListEntry).where(ListEntry.list_code == "court-defaulters")
                           ).scalars().all()
    assert entries and all(e.department_code == "court" and e.created_by == "court"
                           for e in entries)
