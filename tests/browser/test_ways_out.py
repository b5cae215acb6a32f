"""A resident's ways out, in Chinese on a 360-px phone: they apply for the repair of a record
and object to their entry on a list from their page; the recording department's recorder
grants the repair, a reviewer decides the objection; the resident reads both decisions in
their notices. Every page of the journey passes axe-core and has nothing past the screen's
edge (the checks of test_pages and test_phone_layout).
"""

from __future__ import annotations

from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.models import EntryObjection, RepairRequest
from tests.browser.conftest import PHONE
from tests.browser.test_pages import _check
from tests.browser.test_phone_layout import _assert_fits

pytestmark = pytest.mark.browser

ZH = "zh-CN"


def _checked(page, *, axe, screenshots, label: str) -> None:
    """The page the journey is on (loaded again): no serious axe finding, nothing reaching
    past 360 px, with its folded details closed and open."""
    parts = urlsplit(page.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    _check(page, path, axe=axe, label=f"zh-{label}", screenshots=screenshots, desktop=False)
    assert page.get_attribute("html", "lang") == "zh-Hans", path
    _assert_fits(page, path)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    _assert_fits(page, f"{path} (details open)")


def _on_screen(locator) -> None:
    """The action is drawn inside the 360-px screen, not past its edge."""
    box = locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def _one(server, query):
    with session_scope(server.app) as session:
        return session.execute(query).scalar_one()


def test_resident_asks_for_repair_and_objects_to_an_entry_and_reads_the_decisions(
        new_page, live_server, axe, screenshots):
    ways = live_server.ways_out
    token = uuid4().hex[:6]
    statement, objection_reason = f"罚款已全部缴清 {token}", f"该判决已履行完毕 {token}"
    repair_reason, entry_reason = f"已核实缴款凭证 {token}", f"法院确认名单记录无误 {token}"
    check = {"axe": axe, "screenshots": screenshots}

    # 1. The resident, on their page: apply for repair of the record ...
    resident = new_page("wayout", viewport=PHONE, locale=ZH)
    resident.goto("/me")
    _checked(resident, label="wayout", **check)
    repair = resident.locator("section[aria-labelledby='objections-heading']")
    assert repair.locator("h2").inner_text() == "如果记录有误"
    apply = repair.locator(f"a[href='/me/records/{ways.record_id}/repair']")
    assert apply.inner_text() == "申请信用修复"
    _on_screen(apply)
    apply.click()
    resident.wait_for_url(f"**/me/records/{ways.record_id}/repair")
    _checked(resident, label="wayout", **check)
    resident.fill("#statement", statement)
    resident.get_by_role("button", name="申请信用修复").click()
    resident.wait_for_url("**/me")
    application = _one(live_server, select(RepairRequest).where(
        RepairRequest.record_id == ways.record_id))
    assert application.status == "pending" and application.statement == statement
    assert resident.locator(".flash").count() == 1
    assert repair.locator(f"a[href='/me/records/{ways.record_id}/repair']").count() == 0

    # ... and object to the entry on the list.
    entries = resident.locator("section[aria-labelledby='lists-heading']")
    assert entries.locator("h2").inner_text() == "名单和标记"
    object_link = entries.locator(f"a[href='/me/entries/{ways.entry_id}/objection']")
    assert object_link.inner_text() == "提出异议"
    _on_screen(object_link)
    object_link.click()
    resident.wait_for_url(f"**/me/entries/{ways.entry_id}/objection")
    _checked(resident, label="wayout", **check)
    resident.fill("#reason", objection_reason)
    resident.get_by_role("button", name="提出异议").click()
    resident.wait_for_url("**/me")
    objection = _one(live_server, select(EntryObjection).where(
        EntryObjection.list_entry_id == ways.entry_id))
    assert objection.decided_on is None and objection.reason == objection_reason
    assert entries.locator(f"a[href='/me/entries/{ways.entry_id}/objection']").count() == 0
    _checked(resident, label="wayout", **check)  # /me with both pending

    # 2. A reviewer sees both in their queue and decides the objection: the entry stands.
    reviewer = new_page("reviewer", viewport=PHONE, locale=ZH)
    reviewer.goto("/officials/objections")
    _checked(reviewer, label="reviewer", **check)
    assert reviewer.locator(f"a[href='/officials/repairs/{application.id}']").count() == 1
    assert reviewer.get_by_role("heading", name="对名单记录的异议").count() == 1
    decide = reviewer.locator(f"a[href='/officials/entry-objections/{objection.id}']")
    assert decide.inner_text() == "作出决定"
    _on_screen(decide)
    decide.click()
    reviewer.wait_for_url(f"**/officials/entry-objections/{objection.id}")
    _checked(reviewer, label="reviewer", **check)
    assert objection_reason in reviewer.inner_text("main")
    reviewer.check("input[name='outcome'][value='upheld']")
    reviewer.fill("#reason", entry_reason)
    decide_button = reviewer.get_by_role("button", name="作出决定")
    _on_screen(decide_button)
    decide_button.click()
    reviewer.wait_for_url("**/officials/objections")
    assert reviewer.locator(".flash").count() == 1
    assert reviewer.locator(f"a[href='/officials/entry-objections/{objection.id}']").count() == 0

    # The recording department's recorder grants the repair from their queue.
    recorder = new_page("recorder", viewport=PHONE, locale=ZH)
    recorder.goto("/officials/repairs")
    _checked(recorder, label="recorder", **check)
    decide = recorder.locator(f"a[href='/officials/repairs/{application.id}']")
    assert decide.inner_text() == "作出决定"
    _on_screen(decide)
    decide.click()
    recorder.wait_for_url(f"**/officials/repairs/{application.id}")
    _checked(recorder, label="recorder", **check)
    assert statement in recorder.inner_text("main")
    recorder.check("input[name='decision'][value='grant']")
    recorder.fill("#reason", repair_reason)
    decide_button = recorder.get_by_role("button", name="作出决定")
    _on_screen(decide_button)
    decide_button.click()
    recorder.wait_for_url("**/officials/repairs")
    assert recorder.locator(".flash").count() == 1
    assert recorder.locator(f"a[href='/officials/repairs/{application.id}']").count() == 0

    decided = _one(live_server, select(RepairRequest).where(RepairRequest.id == application.id))
    assert decided.status == "granted" and decided.decision_reason == repair_reason
    ruled = _one(live_server, select(EntryObjection).where(EntryObjection.id == objection.id))
    assert ruled.outcome == "upheld" and ruled.decision_reason == entry_reason

    # 3. The resident reads both decisions in their notices, with the reasons given.
    resident.goto("/me")
    _checked(resident, label="wayout", **check)  # leaves every notice open
    notices = resident.locator("section[aria-labelledby='notices-heading'] details.notice-item")
    for reason in (repair_reason, entry_reason):
        assert notices.filter(has_text=reason).count() == 1, f"no notice gives {reason!r}"
    # The record is repaired: no application to make; the entry stands, the objection decided.
    assert resident.locator(f"a[href='/me/records/{ways.record_id}/repair']").count() == 0
    assert entry_reason in entries.inner_text()
