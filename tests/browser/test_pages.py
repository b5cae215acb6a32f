"""Every main page, per role: no sideways scrolling at 360 px, no serious or critical axe-core
violation, and a screenshot at 360 px and on a desktop.

Pages are the ones named here plus every link of the main navigation each role sees, so a
page added to the navigation is checked without touching this file. Every violation axe-core
finds (minor and moderate too) is written to `axe-report.txt` beside the screenshots.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")
MAX_SHOT_HEIGHT = 3000
# Elements wider than the viewport, leaving out those inside a box that scrolls by itself
# (a wide table in .table-wrap scrolls inside the page, the page does not).
OVERFLOW_JS = """(width) => {
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right <= width + 0.5 || r.width === 0) continue;
    let p = el.parentElement, inside = false;
    while (p && p !== document.body) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') { inside = true; break; }
      p = p.parentElement;
    }
    if (inside) continue;
    const cls = typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + cls +
             ' right=' + Math.round(r.right));
  }
  return out.slice(0, 8);
}"""

def _pages(server, role: str) -> list[str]:
    subject = server.resident_subject
    lists = server.rulebook().lists
    return {
        "anonymous": ["/", "/scheme", "/lists", "/login", "/transparency", "/no-such-page"],
        "resident": ["/me"],
        "recorder": ["/officials", f"/officials/subjects?q={subject[:6]}",
                     f"/officials/subjects/{subject}", "/officials/record", "/officials/import",
                     "/officials/intake", "/officials/lists",
                     *(f"/officials/lists/{lst.code}" for lst in lists[:1]), "/officials/flags"],
        "author": ["/authors", "/authors/simulate"],
        "admin": ["/officials", "/officials/objections"],
    }[role]


def _nav_links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("header nav[aria-label='Main'] a[href]",
                                      "links => links.map(a => a.href)")
    paths = []
    for href in hrefs:
        parts = urlsplit(href)
        if href.startswith(base) and not parts.path.startswith("/language/"):
            paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def _slug(role: str, path: str) -> str:
    return f"{role}--" + (re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "home")


def _axe_report(results: dict) -> list[str]:
    lines = []
    for v in results["violations"]:
        targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:4])
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} element(s): "
                     f"{targets})")
    return lines


def _screenshot(page, path) -> None:
    """Save the page from its top, at most MAX_SHOT_HEIGHT px of it (long lists get slow)."""
    width, height = page.evaluate(
        "[document.documentElement.clientWidth, document.documentElement.scrollHeight]")
    page.screenshot(path=path, full_page=True, animations="disabled", clip={
        "x": 0, "y": 0, "width": width, "height": min(height, MAX_SHOT_HEIGHT)})


def _check(page, path: str, *, axe, label: str, screenshots, desktop: bool = True) -> None:
    """Open `path` at 360 px: no sideways scroll, no serious axe finding; screenshot it (and
    on a desktop)."""
    started = time.perf_counter()
    page.set_viewport_size(PHONE)
    response = page.goto(path)
    expected = 404 if path == "/no-such-page" else 200
    assert response.status == expected, f"{path} answered {response.status}"

    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(OVERFLOW_JS, PHONE["width"]) if width > PHONE["width"] else []
    results = axe.run(page).response
    lines = _axe_report(results)

    slug = _slug(label, path)
    _screenshot(page, screenshots / f"{slug}--360.png")
    if desktop:
        page.set_viewport_size(DESKTOP)
        _screenshot(page, screenshots / f"{slug}--desktop.png")

    with (screenshots / "axe-report.txt").open("a", encoding="utf-8") as out:
        out.write(f"{label} {path}: {len(results['violations'])} violation(s) "
                  f"({time.perf_counter() - started:.1f} s)\n")
        out.writelines(line + "\n" for line in lines)
    blocking = [line for line in lines if any(f"[{i}]" in line for i in BLOCKING)]
    assert width <= PHONE["width"] and not blocking, (
        f"{path} as {label}:\n"
        + (f"  scrolls sideways at 360 px (scrollWidth {width}): {wide}\n"
           if width > PHONE["width"] else "")
        + "\n".join(blocking))


@pytest.mark.parametrize("role", ["anonymous", "resident", "recorder", "author", "admin"])
def test_main_pages_fit_a_phone_and_pass_axe(role, new_page, live_server, axe, screenshots,
                                             subtests):
    page = new_page(role, viewport=PHONE)
    page.goto("/")
    paths = list(dict.fromkeys(_pages(live_server, role) + _nav_links(page, live_server.url)))
    if role != "anonymous":  # the public pages differ only in their navigation: check them once
        public = set(_pages(live_server, "anonymous"))
        paths = [p for p in paths if p not in public]
    for path in paths:
        with subtests.test(msg=path):
            _check(page, path, axe=axe, label=role, screenshots=screenshots)


# The pages residents and recorders use most, once more in Chinese (the browser asks for it)
# and once in a dark colour scheme (its colours have their own contrast to keep).
VARIANTS = {"zh": {"locale": "zh-CN"}, "dark": {"color_scheme": "dark"}}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("role", ["anonymous", "resident", "recorder"])
def test_most_used_pages_in_chinese_and_dark(variant, role, new_page, live_server, axe,
                                             screenshots, subtests):
    subject = live_server.resident_subject
    paths = {"anonymous": ["/", "/scheme", "/login"], "resident": ["/me"],
             "recorder": ["/officials", "/officials/record", f"/officials/subjects/{subject}"]}
    page = new_page(role, viewport=PHONE, **VARIANTS[variant])
    for path in paths[role]:
        with subtests.test(msg=path):
            _check(page, path, axe=axe, label=f"{variant}-{role}", screenshots=screenshots,
                   desktop=variant == "zh")
            if variant == "zh":
                assert page.get_attribute("html", "lang") == "zh-Hans"
