"""Every route of the app against every role: who is let in, who is refused.

The routes come from the URL map, so a new route without an entry in POLICY fails
this test. Ids in URLs belong to a subject other than the logged-in resident's, so a
resident guessing ids is refused too.
"""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from app import clock
from app.services.due_process.objections import file_objection
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"
ROLES = ("anonymous", "resident", "recorder", "reviewer", "rule-author", "auditor", "admin")
EVERYONE = set(ROLES)
OFFICIALS = {"recorder", "reviewer", "rule-author", "auditor", "admin"}
FILES = {"recorder", "reviewer", "auditor", "admin"}
REC = {"recorder"}
AUTH = {"rule-author", "admin"}
REVIEW = {"reviewer", "auditor", "admin"}
ADMIN = {"admin"}
AUDIT = {"auditor", "admin"}
RES = {"resident"}
API = "api"  # bearer token only: every cookie role gets 401
PUBLIC_API = "public-api"

POLICY: dict[str, object] = {
    "static": EVERYONE, "public.index": EVERYONE, "public.scheme": EVERYONE,
    "lists.public_lists": EVERYONE, "transparency.index": EVERYONE,
    "transparency.digests_text": EVERYONE, "auth.login": EVERYONE, "auth.logout": EVERYONE,
    "auth.password": EVERYONE - {"anonymous"},  # one's own password, whatever the role
    "i18n.choose": EVERYONE,  # the language switch: sets a cookie, redirects to a local path
    "residents.me": RES, "residents.change_consent": RES, "residents.change_contact": RES,
    "residents.change_language": RES,
    # Another subject's record or objection: a resident is refused (404: no such record of theirs).
    "residents.object_to_record": set(), "residents.ask_for_reconsideration": set(),
    "residents.apply_for_record_repair": set(), "residents.object_to_list_entry": set(),
    "residents.record_proof": set(),
    # Applications for repair: the recording department decides (and a reviewer or admin).
    "officials.repairs": FILES,
    "officials.repair_application": {"GET": FILES, "POST": {"recorder", "reviewer", "admin"}},
    "officials.entry_objection": {"GET": REVIEW, "POST": {"reviewer"}},
    "officials.home": OFFICIALS, "officials.subjects": FILES, "officials.subject_file": FILES,
    "officials.record": REC, "officials.import_records": REC,
    "officials.void": REC, "officials.repair": REC,
    "officials.objections": REVIEW,
    "officials.objection": {"GET": REVIEW, "POST": {"reviewer"}},  # only a reviewer decides
    "officials.letters": ADMIN, "officials.letters_posted": ADMIN,
    "intake.upload": REC, "intake.preview": REC, "intake.problems_csv": REC,
    "intake.confirm": REC, "intake.discard": REC,
    "lists.index": FILES, "lists.show": FILES, "lists.flags": FILES,
    # The recorder here is the traffic police's: it keeps no list, so it may not write to
    # the court's (a court recorder's writes are tested in test_lists.py).
    "lists.enter_entry": set(), "lists.remove_entry": set(),
    "authors.home": AUTH, "authors.reload": AUTH, "authors.cancel": AUTH, "authors.diff": AUTH,
    "authors.simulate_page": AUTH,
    "admin.accounts": ADMIN, "admin.create_account": ADMIN, "admin.deactivate_account": ADMIN,
    "admin.tokens": ADMIN, "admin.create_token": ADMIN, "admin.revoke_token": ADMIN,
    "admin.subject_consent": ADMIN,  # consent changed for a subject, with a reason
    "audit_pages.search": AUDIT,
    # A job's page is its owner's alone: anyone else (here: no job of theirs) gets 404.
    "jobs.show": set(),
    # Rankings are aggregates (no one's file): every official; the honour roll is public.
    "rankings.tiers": OFFICIALS, "rankings.villages": OFFICIALS,
    "rankings.departments": OFFICIALS, "rankings.honour_roll_page": EVERYONE,
    "api.get_rulebook": PUBLIC_API, "api.openapi": PUBLIC_API,
    "api.post_record": API, "api.get_standing": API, "api.check_measure": API,
    "api.post_list_entry": API, "api.post_list_removal": API, "api.post_subject": API,
    "api.put_subject": API,
}


@pytest.fixture
def world(app, db, make_account, new_subject, rulebook):
    """Accounts of every role, and another subject with a record, list entry and objection."""
    mine = new_subject(name="Resident Self")
    other = new_subject(name="Someone Else")
    users = {"resident": make_account("resident", subject_id=mine),
             "recorder": make_account("recorder", department="traffic-police"),
             "reviewer": make_account("reviewer", department="court"),
             "rule-author": make_account("rule-author"),
             "auditor": make_account("auditor"), "admin": make_account("admin")}
    today = clock.today()
    with db() as s:
        record = record_conduct(
            s, RecordDraft(subject_id=other, rule_code="TRAFFIC-TICKET", occurred_on=today),
            rulebook=rulebook, department="traffic-police", recorded_by="t", today=today).record
        entry = enter(
            s, ListEntryDraft(subject_id=other, list_code="court-defaulters", entered_on=today,
                              decision_ref="(2026) 1"),
            rulebook=rulebook, department="court", today=today, actor="t").entry
        objection = file_objection(s, rulebook=rulebook, subject_id=other, record_id=record.id,
                                   reason="not me", today=today, actor="other")
    values = {"subject_id": other, "record_id": record.id, "entry_id": entry.id,
              "objection_id": objection.id, "request_id": 1, "token": "0" * 32,
              "account_id": 1, "token_id": 1,
              "filename": "css/app.css", "job_id": 1}
    return users, values


def _url(rule, values) -> str:
    url = rule.rule
    for name in rule.arguments:
        value = values.get(name)
        if name == "code":
            value = "TENDER-BAN" if "measures" in url else "court-defaulters"
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), url)
    return url


def _client(app, role, users) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        page = client.get("/login")
        token = csrf_token(page.get_data(as_text=True))
        response = client.post("/login", data={"username": users[role], "password": PASSWORD,
                                                "csrf_token": token})
        assert response.status_code == 302, f"{role} could not log in"
    return client


def _token(client) -> str:
    body = client.get("/transparency").get_data(as_text=True)  # every page carries a token
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
    if match:
        return match.group(1)
    return csrf_token(client.get("/login").get_data(as_text=True))


def _login_redirect(response) -> bool:
    location = response.headers.get("Location", "")
    return response.status_code in (301, 302, 303) and "/login" in location


def test_every_route_has_a_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(POLICY))
    assert not missing, f"routes without an access rule in this test: {missing}"


def test_every_route_against_every_role(app, world):
    users, values = world
    checked = 0
    failures = []
    for role in ROLES:
        client = _client(app, role, users)
        token = _token(client)
        # Logging out last, so the rest of the walk is done logged in.
        rules = sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint == "auth.logout")
        for rule in rules:
            url = _url(rule, values)
            methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
            for method in methods:
                policy = POLICY[rule.endpoint]
                if isinstance(policy, dict):
                    policy = policy[method]
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.open(url, method=method, data={"csrf_token": token})
                checked += 1
                status = response.status_code
                if policy == PUBLIC_API:
                    ok = status not in (401, 403)
                elif policy == API:
                    ok = status == 401  # a cookie is never a credential for the API
                elif role in policy:
                    ok = status not in (401, 403) and not _login_redirect(response) and status < 500
                elif role == "anonymous":
                    ok = _login_redirect(response)
                else:
                    ok = status in (403, 404)
                if not ok:
                    failures.append(f"{role:11} {method:4} {url} -> {status}")
    print(f"\naccess matrix: {checked} route x method x role checks")
    assert not failures, "\n".join(failures)
