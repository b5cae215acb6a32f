"""The rankings pages (every official; aggregates only) and the public honour roll."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.models import Standing
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from app.services.standings.recompute import recompute
from tests.web.conftest import PASSWORD, page_text


@pytest.fixture
def town(db, new_subject, rulebook, today):
    """Two villages; a run 40 days ago (all A) and one today after some conduct."""
    ids = {name: new_subject(name=name, district="Yatou", village=village)
           for name, village in (("Li One", "Dongshan"), ("Li Two", "Dongshan"),
                                 ("Wu One", "Xishan"), ("Wu Two", "Xishan"))}
    ids["Shy Top"] = new_subject(name="Shy Top", village="Xishan", consent=False)
    with db() as s:
        recompute(s, rulebook=rulebook, as_of=today - timedelta(days=40))
        record_conduct(
            s, RecordDraft(subject_id=ids["Li One"], rule_code="DRUNK-DRIVING",
                           occurred_on=today - timedelta(days=3)),
            rulebook=rulebook, department="traffic-police", recorded_by="t", today=today)
        recompute(s, rulebook=rulebook, as_of=today)
    return ids


@pytest.fixture
def official(client, login, make_account):
    login(make_account("rule-author"), PASSWORD)
    return client


def test_tier_distribution_with_the_change_in_a_month(official, town, today):
    page = official.get("/officials/rankings")
    assert page.status_code == 200
    text = page_text(page)
    assert f"as of the last nightly run, {today}" in text
    assert f"change since the run of {today - timedelta(days=40)}" in text
    html = page.get_data(as_text=True)
    # The chart writes each tier and its number as text (readable without colour).
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg
    assert re.search(r'class="label"[^>]*>A</text>', svg)
    assert re.search(r'class="value"[^>]*>4</text>', svg)
    row = re.search(r'<th scope="row">C</th><td>1</td>\s*<td>0</td>\s*<td>\+1</td>', html)
    assert row, "tier C: 1 now, 0 a month ago, +1"
    assert "Dongshan" in text and "Xishan" in text


def test_tier_distribution_csv_and_district_filter(official, town):
    response = official.get("/officials/rankings?format=csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    city = {r["tier"]: r for r in rows if r["level"] == "city"}
    assert (city["A"]["subjects"], city["A"]["month_ago"], city["A"]["change"]) == ("4", "5", "-1")
    assert (city["C"]["subjects"], city["C"]["change"]) == ("1", "1")
    villages = {(r["village"], r["tier"]): r["subjects"] for r in rows if r["level"] == "village"}
    assert villages[("Dongshan", "C")] == "1" and villages[("Xishan", "A")] == "3"
    narrowed = official.get("/officials/rankings?district=Nowhere&format=csv")
    assert all(r["level"] != "village" for r in csv.DictReader(io.StringIO(
        narrowed.get_data(as_text=True))))
    assert "No village matches" in page_text(official.get("/officials/rankings?district=Nowhere"))


def test_villages_ranked_by_share_of_a_and_above(official, town):
    text = page_text(official.get("/officials/rankings/villages"))
    assert "tiers AAA, AA, A" in text
    assert text.index("Xishan") < text.index("Dongshan")
    rows = list(csv.DictReader(io.StringIO(
        official.get("/officials/rankings/villages?format=csv").get_data(as_text=True))))
    assert [(r["rank"], r["village"], r["share_percent"], r["share_month_ago_percent"])
            for r in rows] == [("1", "Xishan", "100.0", "100.0"),
                               ("2", "Dongshan", "50.0", "100.0")]


def test_departments_ranked(official, town, today):
    page = official.get("/officials/rankings/departments")
    text = page_text(page)
    assert page.status_code == 200
    assert text.index("Traffic Police") < text.index("Heating Company")
    rows = list(csv.DictReader(io.StringIO(
        official.get("/officials/rankings/departments?format=csv").get_data(as_text=True))))
    assert (rows[0]["department"], rows[0]["records_entered"]) == ("traffic-police", "1")
    later = (today + timedelta(days=1)).isoformat()
    assert official.get(f"/officials/rankings/departments?since={later}&until={today}") \
        .status_code == 400
    assert official.get("/officials/rankings/departments?since=soon").status_code == 400


def test_rankings_refused_to_residents_and_strangers(client, login, resident, town):
    assert client.get("/officials/rankings").status_code == 302
    login(resident.username, resident.password)
    for url in ("/officials/rankings", "/officials/rankings/villages",
                "/officials/rankings/departments", "/officials/rankings?format=csv"):
        assert client.get(url).status_code == 403, url


def test_honour_roll_is_public_and_names_only_who_consented(client, db, town, rulebook,
                                                            today):
    with db() as s:
        s.execute(update(Standing).where(Standing.subject_id.in_(
            [town["Wu One"], town["Shy Top"]])).values(tier="AAA", points=1060))
        s.commit()
        enter(
            s, ListEntryDraft(subject_id=town["Li Two"], list_code="model-citizens",
                              entered_on=today, decision_ref="(2026) 3"),
            rulebook=rulebook, department="civil-affairs", today=today, actor="t")
    page = client.get("/honour-roll")
    assert page.status_code == 200
    text = page_text(page)
    assert "Wu One" in text and "Li Two" in text
    assert "Shy Top" not in text  # top tier, but no consent
    assert "Li One" not in text and "Wu Two" not in text
    assert town["Wu One"] not in text  # no identity numbers on a public page
    assert "2 names" in text
