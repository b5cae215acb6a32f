"""On a 360-px phone, in both languages: the pages residents, recorders and reviewers use fit
the screen with everything on them, scrollers included (a table that scrolls sideways hides
its last columns just as a page that does), the chart sits near the top of the resident's
page and is drawn at the width of the screen, no word breaks inside itself, and the resident's
page for a typical demo resident is about four screens long.

The measurement is the browser's own layout: every element's box (getBoundingClientRect) must
lie within the viewport, whatever box it is in.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.models import Objection
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser

LANGUAGES = {"en": "en-GB", "zh": "zh-CN"}
SCREENS = 4.5  # "about four screens"

# Every element that shows and reaches past the viewport's edges, scrollers or not. Text
# clipped away for screen readers only (.visually-hidden, a card table's header row) shows
# nothing and is left out.
WIDE_JS = """(width) => {
  const clipped = (el) => {
    for (let p = el; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.position === 'absolute' && s.clip && s.clip !== 'auto') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right <= width + 0.5 && r.left >= -0.5) continue;
    if (clipped(el)) continue;
    const cls = typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    const text = (el.innerText || el.textContent || '').trim().slice(0, 30);
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + cls +
             ' [' + Math.round(r.left) + ', ' + Math.round(r.right) + '] ' + JSON.stringify(text));
  }
  return out;
}"""

# Words broken inside themselves: a computed word-break that breaks anywhere.
BREAK_ALL_JS = """() => [...document.querySelectorAll('body *')]
  .filter(el => getComputedStyle(el).wordBreak === 'break-all')
  .map(el => el.tagName.toLowerCase()).slice(0, 5)"""


def _pending_objection(server) -> int:
    with session_scope(server.app) as session:
        return session.execute(select(Objection.id).where(Objection.decided_on.is_(None))
                               .order_by(Objection.id).limit(1)).scalar_one()


def _paths(server, role: str) -> list[str]:
    subject = server.resident_subject
    return {
        "resident": ["/me"],
        "typical": ["/me"],
        "recorder": ["/officials", "/officials/record", f"/officials/record?subject_id={subject}",
                     f"/officials/subjects?q={subject[:6]}",
                     f"/officials/subjects/{subject}", "/officials/lists",
                     *(f"/officials/lists/{lst.code}" for lst in server.rulebook().lists),
                     "/officials/flags", "/officials/import", "/officials/intake",
                     "/officials/rankings", "/officials/rankings/villages",
                     "/officials/rankings/departments"],
        "reviewer": ["/officials", "/officials/objections",
                     f"/officials/objections/{_pending_objection(server)}",
                     f"/officials/subjects/{subject}"],
    }[role]


def _assert_fits(page, path: str) -> None:
    wide = page.evaluate(WIDE_JS, PHONE["width"])
    assert not wide, f"{path}: {len(wide)} element(s) reach past 360 px: {wide[:10]}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    broken = page.evaluate(BREAK_ALL_JS)
    assert not broken, f"{path}: words may break mid-letter in {broken}"


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("role", ["resident", "typical", "recorder", "reviewer"])
def test_pages_fit_a_phone_with_nothing_past_the_edge(role, language, new_page, live_server,
                                                      subtests):
    page = new_page(role, viewport=PHONE, locale=LANGUAGES[language])
    paths = _paths(live_server, role)
    for path in paths:
        with subtests.test(msg=path):
            response = page.goto(path)
            assert response.status == 200, f"{path} answered {response.status}"
            _assert_fits(page, path)
            # The forms a page leads to: an objection to a record or a list entry and an
            # application for repair (resident), a void (recorder). Not a record's proof: it
            # is a download, not a page.
            for link in ("main a[href^='/me/records/'][href$='/objection']",
                         "main a[href^='/me/entries/'][href$='/objection']",
                         "main a[href^='/me/records/'][href$='/repair']",
                         "main a[href$='/void']"):
                href = page.eval_on_selector_all(
                    link, "a => a.length ? a[0].getAttribute('href') : ''")
                if href and href not in paths:
                    paths.append(href)
            # The details a page folds away fit too when opened.
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            _assert_fits(page, f"{path} (details open)")


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_actions_stay_on_screen(language, new_page, live_server):
    """The resident's "Object", the reviewer's "Decide": inside the screen, not past its edge."""
    page = new_page("reviewer", viewport=PHONE, locale=LANGUAGES[language])
    page.goto("/officials/objections")
    decide = page.locator("table.queue tbody tr a").first
    box = decide.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    decide.click()
    page.wait_for_load_state()
    assert "/officials/objections/" in page.url


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("role", ["resident", "typical"])
def test_the_residents_page_is_short_with_the_chart_near_the_top(role, language, new_page,
                                                                 live_server):
    page = new_page(role, viewport=PHONE, locale=LANGUAGES[language])
    page.goto("/me")
    screen = PHONE["height"]
    height = page.evaluate("document.documentElement.scrollHeight")
    chart = page.locator("svg.points-chart").bounding_box()
    content = page.locator("main").bounding_box()
    print(f"/me as {role} in {language}: {height} px = {height / screen:.1f} screens; "
          f"chart at {chart['y']:.0f} px, {chart['width']:.0f} px wide")
    assert chart["y"] < 1.5 * screen, f"the chart starts {chart['y']:.0f} px down the page"
    assert chart["width"] >= 0.9 * content["width"] - 40, "the chart is not screen-wide"
    if role == "typical":
        assert height <= SCREENS * screen, (
            f"/me is {height} px at 360 px: {height / screen:.1f} screens")
