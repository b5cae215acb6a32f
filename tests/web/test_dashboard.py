"""The officials' home page as a dashboard: the last run, records per day and department,
objections pending and overdue, list entries ending soon; charts with text and tables."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.models import Objection, Run
from app.services.due_process.objections import file_objection
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from app.services.standings.recompute import recompute
from tests.web.conftest import PASSWORD, page_text


@pytest.fixture
def busy(db, new_subject, rulebook, today):
    """Records today, an overdue objection, an entry ending in 15 days, a good then a failed run."""
    zhang = new_subject(name="Zhang Ending")
    li = new_subject(name="Li Objecting")
    with db() as s:
        recompute(s, rulebook=rulebook, as_of=today - timedelta(days=1))
        ticket = record_conduct(
            s, RecordDraft(subject_id=li, rule_code="TRAFFIC-TICKET", occurred_on=today),
            rulebook=rulebook, department="traffic-police", recorded_by="t", today=today).record
        record_conduct(
            s, RecordDraft(subject_id=zhang, rule_code="HEAT-TAMPER", occurred_on=today),
            rulebook=rulebook, department="heating-company", recorded_by="h", today=today)
        record_conduct(
            s, RecordDraft(subject_id=zhang, rule_code="DRUNK-DRIVING", occurred_on=today),
            rulebook=rulebook, department="traffic-police", recorded_by="t", today=today)
        file_objection(s, rulebook=rulebook, subject_id=li, record_id=ticket.id,
                       reason="not me", today=today, actor="li")
        s.execute(update(Objection).values(deadline=today - timedelta(days=2)))
        enter(
            s, ListEntryDraft(subject_id=zhang, list_code="model-citizens",
                              entered_on=today - timedelta(days=350), decision_ref="(2025) 9"),
            rulebook=rulebook, department="civil-affairs", today=today, actor="t")
        recompute(s, rulebook=rulebook, as_of=today)
        s.add(Run(as_of=today, status="failed", error="the disk is full", duration_ms=1200))
        s.commit()
    return {"zhang": zhang, "li": li}


def _login(client, login, make_account, role, department=None):
    login(make_account(role, department=department), PASSWORD)
    return client


def test_dashboard_shows_run_records_objections_and_endings(client, login, make_account,
                                                            busy, today):
    _login(client, login, make_account, "reviewer", "court")
    page = client.get("/officials")
    assert page.status_code == 200
    text = page_text(page)
    html = page.get_data(as_text=True)
    assert "Last nightly run" in text
    assert "1 run(s) failed since the last good one" in text and "the disk is full" in text
    assert "Tier changes" in text
    assert "Records entered in the last 30 days" in text
    # The per-day chart: one column per day, today's value written on it, a table beside.
    svg = re.search(r'<svg[^>]*>\s*<title id="per-day-chart-title">.*?</svg>', html, re.S)
    assert svg and svg.group(0).count("<rect") == 30
    assert re.search(r'class="value small"[^>]*>3</text>', svg.group(0))
    assert re.search(rf"<th scope=\"row\">{today}</th>(<td[^>]*>\d+</td>)+<td[^>]*>3</td>", html)
    # Departments by name, not by code: in the chart, the table's columns, each card's labels.
    assert "Heating Company" in text and "Traffic Police" in text
    assert "heating-company" not in text and "traffic-police" not in text
    assert '<td data-label="Traffic Police">' in html
    assert "1 pending, of which 1 overdue" in text
    assert f"The oldest missed deadline was {today - timedelta(days=2)}" in text
    assert "Zhang Ending" in text  # a reviewer may open files: entries ending are named
    assert f"{today + timedelta(days=15)}" in text


def test_a_rule_author_sees_counts_but_no_names(client, login, make_account, busy):
    _login(client, login, make_account, "rule-author")
    text = page_text(client.get("/officials"))
    assert "model-citizens : 1" in text or "model-citizens: 1" in text
    assert "Zhang Ending" not in text
    rows = list(csv.DictReader(io.StringIO(
        client.get("/officials?format=csv&table=ending").get_data(as_text=True))))
    assert rows == [{"list_code": "model-citizens", "entries_ending": "1"}]


def test_dashboard_tables_as_csv(client, login, make_account, busy, today):
    _login(client, login, make_account, "recorder", "traffic-police")
    def table(name):
        response = client.get(f"/officials?format=csv&table={name}")
        assert response.mimetype == "text/csv"
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    per_day = {(r["day"], r["department"]): r["records"] for r in table("records-per-day")}
    assert per_day[(today.isoformat(), "traffic-police")] == "2"
    assert per_day[(today.isoformat(), "heating-company")] == "1"
    assert len(per_day) == 30 * 2
    assert {r["objections"]: r["count"] for r in table("objections")} == \
        {"pending": "1", "overdue": "1", "due_soon": "0", "later": "0"}
    assert [r["subject_id"] for r in table("ending")] == [busy["zhang"]]
    runs = table("runs")
    assert [r["status"] for r in runs] == ["failed", "ok", "ok"]
    assert len(table("recent")) == 2  # the recorder's department's records


def test_an_empty_dashboard(client, login, make_account):
    _login(client, login, make_account, "admin")
    text = page_text(client.get("/officials"))
    assert "No run yet." in text
    assert "No record was entered in the last 30 days." in text
    assert "No objection is pending." in text
    assert "No list entry ends in the next 30 days." in text


def test_bar_labels_are_cut_to_the_width_they_have_in_either_script():
    from app.web.charts import fit_label

    assert fit_label("Traffic Police Brigade") == "Traffic Police Brigade"
    assert fit_label("x" * 40) == "x" * 26 + "…"
    # A Chinese character is two columns wide: 13 of them fill 26.
    long = "中国人民银行支行（代本市银行和保险机构报送）"
    assert fit_label(long) == long[:13] + "…"
    assert fit_label("人民法院") == "人民法院"
