"""What a resident, a recorder and a rule author do, in a real browser, in both languages."""

from __future__ import annotations

import json
import re
from uuid import uuid4

import pytest

from app import clock
from tests.browser.conftest import ACCOUNTS, DESKTOP, log_in

pytestmark = pytest.mark.browser


def test_resident_logs_in_and_reads_their_standing(new_page, live_server):
    page = new_page(viewport=DESKTOP)
    log_in(page, live_server, ACCOUNTS.resident)
    assert page.url.endswith("/me")
    assert page.inner_text("h1") == "My standing"

    # The page shows what `flask standing --json` computes: the same points and tier.
    result = live_server.app.test_cli_runner().invoke(
        args=["standing", live_server.resident_subject, "--json"])
    assert result.exit_code == 0, result.output
    expected = json.loads(result.output)
    assert page.inner_text(".score .big") == str(expected["points"])
    assert page.inner_text(".score .tier") == expected["tier"]
    assert f"Tier {expected['tier']}" in page.inner_text("section.summary")

    # Each record that counts explains itself: the rule, its legal basis, how the points came.
    rows = page.locator("table.records tbody tr")
    assert rows.count() == len(expected["records"]) > 0
    first = rows.first.inner_text()
    assert "Legal basis:" in first and "Recorded by" in first and "Points:" in first
    codes = {r["rule_code"] for r in expected["records"]}
    assert any(code in first for code in codes)


def test_recorder_records_conduct_and_sees_it_on_the_file(new_page, live_server):
    rules, today = live_server.rulebook(), clock.today()
    code = next(c for c in rules.codes_for_department(live_server.recorder_department, today)
                if "person" in rules.rule_on(c, today).subjects)
    evidence = f"browser suite ticket {uuid4().hex[:8]}"
    subject = live_server.resident_subject

    page = new_page("recorder", viewport=DESKTOP)
    page.goto("/officials")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Record conduct").click()
    assert page.inner_text("h1") == "Record conduct"
    page.get_by_label("Subject").fill(subject)
    page.select_option("#rule_code", code)
    page.get_by_label("Evidence").fill(evidence)
    page.get_by_role("button", name="Record").click()

    # The first press shows whom the record is about, with their tier; nothing is saved yet.
    page.wait_for_load_state()
    check = page.locator(".subject-check")
    assert subject in check.inner_text() and "tier" in check.inner_text()
    assert check.locator(".tier").count() == 1
    assert page.get_by_label("Evidence").input_value() == evidence
    page.get_by_role("button", name="Record").click()

    page.wait_for_url(re.compile(rf"/officials/subjects/{subject}$"))
    assert f"Recorded {code} on {today.isoformat()}" in page.inner_text(".flash")
    row = page.locator("table.records tbody tr", has_text=evidence)
    assert row.count() == 1
    assert code in row.inner_text()
    assert today.isoformat() in row.inner_text()


def test_rule_author_opens_the_rulebook_and_the_published_rules(new_page, live_server):
    page = new_page("author", viewport=DESKTOP)
    page.goto("/officials")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rulebook").click()
    assert page.url.endswith("/authors")
    fingerprint = live_server.rulebook().fingerprint
    assert fingerprint in page.inner_text("main")

    page.get_by_role("link", name="The published rules").click()
    assert page.url.endswith("/scheme")
    assert page.inner_text("h1").startswith("The rules of")
    assert fingerprint[:12] in page.inner_text("main")
    assert page.locator("#tiers").is_visible()
    assert page.locator("table.rules tbody tr").count() > 0


def test_both_languages_render_and_the_switch_is_remembered(new_page, live_server):
    page = new_page("resident", viewport=DESKTOP)
    page.goto("/me")
    assert page.get_attribute("html", "lang") == "en"
    languages = page.locator("nav.languages")
    assert languages.get_attribute("aria-label") == "Language"

    languages.get_by_role("link", name="简体中文").click()
    page.wait_for_load_state()
    assert page.url.endswith("/me")  # back on the page the language was picked on
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.locator("nav.languages").get_attribute("aria-label") == "语言"
    assert page.locator("nav.languages [aria-current]").inner_text() == "简体中文"

    page.goto("/scheme")  # the pick is remembered from page to page
    assert page.get_attribute("html", "lang") == "zh-Hans"

    page.locator("nav.languages").get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("nav.languages").get_attribute("aria-label") == "Language"


def test_the_browser_language_is_the_default(new_page):
    page = new_page(viewport=DESKTOP, locale="zh-CN")
    page.goto("/")
    assert page.get_attribute("html", "lang") == "zh-Hans"
