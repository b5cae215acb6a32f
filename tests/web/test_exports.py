"""CSV downloads: every official table as `?format=csv`, with the page's rows and filters,
refused to the roles the page refuses; the format is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import AuditEvent
from app.services.due_process.objections import file_objection
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from app.services.standings.recompute import recompute
from app.web.exports import cell
from tests.conftest import csrf_token
from tests.web.conftest import PASSWORD, page_text

ROLES = ("anonymous", "resident", "recorder", "reviewer", "rule-author", "auditor", "admin")
OFFICIALS = {"recorder", "reviewer", "rule-author", "auditor", "admin"}
FILES = {"recorder", "reviewer", "auditor", "admin"}


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    assert response.headers["Content-Disposition"].endswith('.csv"')
    data = response.get_data()
    assert not data.startswith(b"\xef\xbb\xbf")  # UTF-8 without a BOM
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


@pytest.fixture
def world(app, db, make_account, new_subject, rulebook, today):
    """Accounts of every role; subjects with records, a list entry, an objection, a run."""
    mine = new_subject(name="Resident Self")
    zhang = new_subject(name="Zhang Export", village="Xishan")
    formula = new_subject(name="=HYPERLINK(\"http://evil\")", village="Dongshan")
    users = {"resident": make_account("resident", subject_id=mine),
             "recorder": make_account("recorder", department="traffic-police"),
             "reviewer": make_account("reviewer", department="court"),
             "rule-author": make_account("rule-author"),
             "auditor": make_account("auditor"), "admin": make_account("admin")}
    with db() as s:
        old = record_conduct(
            s, RecordDraft(subject_id=zhang, rule_code="TRAFFIC-TICKET",
                           occurred_on=today - timedelta(days=400)),
            rulebook=rulebook, department="traffic-police", recorded_by="t", today=today).record
        ticket = record_conduct(
            s, RecordDraft(subject_id=zhang, rule_code="TRAFFIC-TICKET",
                           occurred_on=today - timedelta(days=2)),
            rulebook=rulebook, department="traffic-police", recorded_by="t", today=today).record
        record_conduct(
            s, RecordDraft(subject_id=formula, rule_code="TRAFFIC-TICKET", occurred_on=today),
            rulebook=rulebook, department="traffic-police", recorded_by="t", today=today)
        enter(
            s, ListEntryDraft(subject_id=zhang, list_code="court-defaulters",
                              entered_on=today - timedelta(days=800), decision_ref="(2024) ended"),
            rulebook=rulebook, department="court", today=today, actor="t")
        enter(
            s, ListEntryDraft(subject_id=formula, list_code="court-defaulters", entered_on=today,
                              decision_ref="-1+1"),
            rulebook=rulebook, department="court", today=today, actor="t")
        for k in range(3):
            enter(
                s, ListEntryDraft(subject_id=zhang, list_code="priority-scrutiny",
                                  entered_on=today - timedelta(days=10 + k),
                                  decision_ref=f"PS-{k}"),
                rulebook=rulebook, department="court", today=today, actor="t")
        enter(
            s, ListEntryDraft(subject_id=mine, list_code="model-citizens",
                              entered_on=today - timedelta(days=350), decision_ref="(2025) red 1"),
            rulebook=rulebook, department="civil-affairs", today=today,
            actor="t")  # ends soon
        file_objection(s, rulebook=rulebook, subject_id=zhang, record_id=ticket.id,
                       reason="not me", today=today, actor="zhang")
        recompute(s, rulebook=rulebook, as_of=today)
    return {"users": users, "zhang": zhang, "formula": formula, "old": old, "ticket": ticket}


@pytest.fixture
def client_for(app, world):
    clients = {}

    def get(role):
        if role not in clients:
            client = app.test_client()
            if role != "anonymous":
                page = client.get("/login")
                done = client.post("/login", data={
                    "username": world["users"][role], "password": PASSWORD,
                    "csrf_token": csrf_token(page.get_data(as_text=True))})
                assert done.status_code == 302
            clients[role] = client
        return clients[role]

    return get


def _refused(response, role) -> bool:
    if role == "anonymous":
        return response.status_code == 302 and "/login" in response.headers["Location"]
    return response.status_code in (403, 404)


EXPORTS = [
    ("/officials?format=csv", OFFICIALS),
    ("/officials?format=csv&table=records-per-day", OFFICIALS),
    ("/officials?format=csv&table=objections", OFFICIALS),
    ("/officials?format=csv&table=ending", OFFICIALS),
    ("/officials?format=csv&table=recent", OFFICIALS),
    ("/officials/subjects?q=Zhang&format=csv", FILES),
    ("/officials/subjects/{zhang}?format=csv", FILES),
    ("/officials/subjects/{zhang}?format=csv&table=history", FILES),
    ("/officials/subjects/{zhang}?format=csv&table=due-process", FILES),
    ("/officials/objections?format=csv", {"reviewer", "auditor", "admin"}),
    ("/officials/letters?format=csv", {"admin"}),
    ("/officials/lists?format=csv", FILES),
    ("/officials/lists/court-defaulters?format=csv", FILES),
    ("/officials/flags?format=csv", FILES),
    ("/admin/accounts?format=csv", {"admin"}),
    ("/admin/tokens?format=csv", {"admin"}),
    ("/audit?format=csv", {"auditor", "admin"}),
    ("/authors?format=csv", {"rule-author", "admin"}),
    ("/officials/rankings?format=csv", OFFICIALS),
    ("/officials/rankings/villages?format=csv", OFFICIALS),
    ("/officials/rankings/departments?format=csv", OFFICIALS),
    ("/officials/rankings/departments?format=csv&table=objections", OFFICIALS),
]


def test_every_export_is_refused_to_the_roles_the_page_refuses(world, client_for):
    failures = []
    for url, allowed in EXPORTS:
        url = url.format(**world)
        for role in ROLES:
            response = client_for(role).get(url)
            if role in allowed:
                ok = response.status_code == 200 and response.mimetype == "text/csv"
            else:
                ok = _refused(response, role)
            if not ok:
                failures.append(f"{role:11} {url} -> {response.status_code}")
    assert not failures, "\n".join(failures)


def test_every_export_has_a_link_on_its_page(world, client_for):
    admin = client_for("admin")
    for url, allowed in EXPORTS:
        url = url.format(**world)
        page_url = re.sub(r"[?&]format=csv(&table=[a-z-]+)?", "", url)
        client = admin if "admin" in allowed else client_for(sorted(allowed)[0])
        if "table=recent" in url:  # a recorder's own department's records
            client = client_for("recorder")
        html = client.get(page_url).get_data(as_text=True)
        table = re.search(r"table=([a-z-]+)", url)
        assert "format=csv" in html, page_url
        if table:
            assert f"table={table.group(1)}" in html, url


def test_subject_search_csv_has_the_pages_rows(world, client_for):
    client = client_for("recorder")
    page = page_text(client.get("/officials/subjects?q=Zhang"))
    rows = rows_of(client.get("/officials/subjects?q=Zhang&format=csv"))
    assert [r["subject_id"] for r in rows] == [world["zhang"]]
    assert rows[0]["name"] == "Zhang Export" and "Zhang Export" in page
    assert rows_of(client.get("/officials/subjects?q=nobody-matches&format=csv")) == []


def test_subject_records_csv_follows_as_of(world, client_for, today):
    client = client_for("reviewer")
    base = f"/officials/subjects/{world['zhang']}"
    rows = rows_of(client.get(f"{base}?format=csv"))
    # The ticket under objection does not count (suspended); the old one has lapsed.
    assert rows == []
    past = (today - timedelta(days=300)).isoformat()
    rows = rows_of(client.get(f"{base}?as_of={past}&format=csv"))
    assert [int(r["record"]) for r in rows] == [world["old"].id]
    assert rows[0]["points"] == "-5" and rows[0]["rule_code"] == "TRAFFIC-TICKET"
    assert rows[0]["legal_basis"] == "Road Traffic Safety Law"
    page = page_text(client.get(f"{base}?as_of={past}"))
    assert "Traffic ticket" in page
    assert client.get(f"{base}?as_of=yesterday&format=csv").status_code == 400


def test_subject_history_and_due_process_csv(world, client_for, today):
    client = client_for("reviewer")
    base = f"/officials/subjects/{world['zhang']}"
    history = rows_of(client.get(f"{base}?format=csv&table=history"))
    assert history and list(history[0]) == ["from", "points", "tier"]
    assert history[-1]["from"] <= today.isoformat()
    due = rows_of(client.get(f"{base}?format=csv&table=due-process"))
    by_record = {int(r["record"]): r for r in due}
    assert set(by_record) >= {world["old"].id}
    assert by_record[world["old"].id]["rule_code"] == "TRAFFIC-TICKET"
    assert by_record[world["old"].id]["points"] == "-5"
    # the ticket under objection: disputed, and its objection pending
    disputed = [r for r in due if r["state"] == "disputed"]
    assert disputed and ":objection:pending:" in disputed[0]["objections"]
    page = page_text(client.get(base))
    assert "Download the records and their state as CSV" in page
    assert "Download the points over time as CSV" in page


def test_list_entries_csv_has_the_same_filter(world, client_for):
    client = client_for("auditor")
    now = rows_of(client.get("/officials/lists/court-defaulters?format=csv"))
    assert [r["subject_id"] for r in now] == [world["formula"]]
    every = rows_of(client.get("/officials/lists/court-defaulters?all=1&format=csv"))
    assert {r["subject_id"] for r in every} == {world["formula"], world["zhang"]}
    page = client.get("/officials/lists/court-defaulters?all=1").get_data(as_text=True)
    assert page.count('<tr id="entry-') == len(every)
    assert "all=1" in re.search(r'href="([^"]*format=csv[^"]*)"', page).group(1)
    # A text cell a spreadsheet would run is defused; a number stays a number.
    assert now[0]["decision_ref"] == "'-1+1"
    assert now[0]["name"].startswith("'=HYPERLINK")


def test_objections_flags_lists_accounts_tokens_audit(world, client_for, app):
    reviewer = client_for("reviewer")
    queue = rows_of(reviewer.get("/officials/objections?format=csv"))
    assert [(int(r["record"]), r["subject_id"], r["overdue"]) for r in queue] == \
        [(world["ticket"].id, world["zhang"], "no")]
    flags = rows_of(reviewer.get("/officials/flags?format=csv"))
    assert {r["subject_id"] for r in flags} == {world["zhang"]} and len(flags) == 3
    lists = {r["list_code"]: r for r in rows_of(reviewer.get("/officials/lists?format=csv"))}
    assert lists["court-defaulters"]["entries_today"] == "1"
    admin = client_for("admin")
    accounts = rows_of(admin.get("/admin/accounts?format=csv"))
    assert {r["username"] for r in accounts} >= set(world["users"].values())
    assert "password_hash" not in accounts[0]
    assert rows_of(admin.get("/admin/tokens?format=csv")) == []
    auditor = client_for("auditor")
    events = rows_of(auditor.get("/audit?format=csv&action=subject.view"))
    assert events == []  # nobody has opened a file yet
    reviewer.get(f"/officials/subjects/{world['zhang']}")
    events = rows_of(auditor.get(f"/audit?format=csv&action=subject.view"
                                 f"&subject_id={world['zhang']}"))
    assert [r["actor"] for r in events] == [world["users"]["reviewer"]]
    page = page_text(auditor.get(f"/audit?action=subject.view&subject_id={world['zhang']}"))
    assert world["users"]["reviewer"] in page


def test_a_download_is_audited(world, client_for, db):
    client_for("admin").get("/admin/accounts?format=csv")
    with db() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "export.csv")
                          .order_by(AuditEvent.id.desc())).scalars().first()
    assert event.actor == world["users"]["admin"] and event.target == "admin.accounts"
    assert '"rows": 6' in event.details


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("a=b", "a=b"),
    (-5, -5), (0, 0), (None, ""), (True, "yes"), (("a", "b"), "a b")])
def test_cells_are_defused(value, expected):
    assert cell(value) == expected


def test_rulebook_history_csv_has_the_pages_rows(world, client_for):
    client = client_for("rule-author")
    rows = rows_of(client.get("/authors?format=csv"))
    page = page_text(client.get("/authors"))
    assert rows and all(len(r["fingerprint"]) == 64 and r["at"] and r["how"] for r in rows)
    assert all(r["fingerprint"][:12] in page for r in rows)


@pytest.mark.parametrize("query", ["_method=POST", "_scheme=javascript&_external=1",
                                   "_external=1", "_anchor=x"])
def test_the_csv_link_takes_no_url_options_from_the_query(world, client_for, query):
    page = client_for("auditor").get(f"/audit?{query}")
    assert page.status_code == 200
    links = re.findall(r'href="([^"]*format=csv[^"]*)"', page.get_data(as_text=True))
    assert links and all(link.startswith("/audit?") and "_" not in link.split("?")[1]
                         and "#" not in link for link in links), links


def test_a_cut_download_says_so(world, client_for, monkeypatch, db):
    from app.web import exports

    monkeypatch.setattr(exports, "MAX_ROWS", 1)
    admin = client_for("admin")
    response = admin.get("/admin/accounts?format=csv")
    assert len(rows_of(response)) == 1
    assert response.headers["X-Citypoints-Truncated"] == "first 1 rows only"
    with db() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "export.csv")
                          .order_by(AuditEvent.id.desc())).scalars().first()
    assert '"truncated": true' in event.details
    monkeypatch.setattr(exports, "MAX_ROWS", 1000)
    assert "X-Citypoints-Truncated" not in admin.get("/admin/accounts?format=csv").headers
