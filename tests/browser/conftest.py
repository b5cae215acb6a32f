"""Browser suite: Playwright drives Debian's Chromium against the real app on 127.0.0.1.

The app is served from a background thread (werkzeug) with a fresh SQLite database, migrated
and loaded with the demo city by the same commands the README gives (`db upgrade`, `demo`),
plus one known account per role made here. Chromium is the system's (`chromium` package, or
CITYPOINTS_CHROMIUM): nothing is downloaded. Without it the suite is skipped and the terminal
summary says so, unless CITYPOINTS_REQUIRE_BROWSER is set (as CI does): then it fails.

Screenshots go to CITYPOINTS_SCREENSHOTS, by default `<pytest basetemp>/screenshots`; the
summary prints the folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import traceback
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import clock, create_app
from app.db import get_engine, session_scope
from app.models import ListEntry, Record, Subject
from app.services.accounts.users import create_account
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from app.services.rulebooks.registry import EXTENSION_KEY
from tests.conftest import STRONG_KEY

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_BROWSER = os.environ.get("CITYPOINTS_REQUIRE_BROWSER", "") not in ("", "0", "false")
PASSWORD = "browser-suite-pass"
DEMO_SUBJECTS = 60
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}

_state: dict = {}


@dataclass(frozen=True)
class Accounts:
    resident: str = "bt-resident"
    recorder: str = "bt-recorder"
    author: str = "bt-author"
    admin: str = "bt-admin"
    reviewer: str = "bt-reviewer"
    typical: str = "bt-typical"
    wayout: str = "bt-wayout"  # the resident of the ways-out journey (repair, list objection)


ACCOUNTS = Accounts()


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Chromium against the served app "
                                       "(deselect with -m 'not browser')")


def pytest_terminal_summary(terminalreporter):
    if "skipped" in _state:
        terminalreporter.write_line(
            f"Browser suite SKIPPED: {_state['skipped']}. CI sets CITYPOINTS_REQUIRE_BROWSER=1, "
            "which turns this skip into a failure.", yellow=True)
    if "screenshots" in _state:
        terminalreporter.write_line(f"Browser screenshots: {_state['screenshots']}")


def find_chromium() -> str | None:
    """Return the Chromium to drive: CITYPOINTS_CHROMIUM, `chromium` on PATH, /usr/bin/chromium."""
    for candidate in (os.environ.get("CITYPOINTS_CHROMIUM"), shutil.which("chromium"),
                      "/usr/bin/chromium"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _unavailable(reason: str):
    if REQUIRE_BROWSER:
        pytest.fail(f"the browser suite is required (CITYPOINTS_REQUIRE_BROWSER) but {reason}",
                    pytrace=False)
    _state["skipped"] = reason
    pytest.skip("browser suite skipped (the summary says why)")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if "skipped" in _state:
        pytest.skip("browser suite skipped (the summary says why)")
    path = find_chromium()
    if path is None:
        _unavailable("no Chromium found (CITYPOINTS_CHROMIUM, `chromium` on PATH, "
                     "/usr/bin/chromium); install Debian's package: apt-get install chromium")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the whole run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                              args=args)
    except Exception as error:
        playwright.stop()
        _unavailable(f"{chromium_path} does not start: {str(error).splitlines()[0]}")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(scope="session")
def axe(browser):
    """axe-core (bundled by axe-playwright-python: no download), run on a page."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _unavailable("the axe-playwright-python package is not installed "
                     "(pip install -e '.[test]')")
    return Axe()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """The folder the screenshots go to (printed in the terminal summary)."""
    folder = Path(os.environ.get("CITYPOINTS_SCREENSHOTS")
                  or tmp_path_factory.getbasetemp() / "screenshots").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "axe-report.txt").unlink(missing_ok=True)  # this run's findings only
    _state["screenshots"] = folder
    return folder


@dataclass(frozen=True)
class WaysOut:
    """What the ways-out journey starts from: a resident's record that may be repaired today
    (made by the recorder's department) and their entry on a list (made by another official)."""

    subject: str
    record_id: int
    entry_id: int
    list_code: str


@dataclass
class LiveServer:
    url: str
    app: object
    resident_subject: str
    recorder_department: str
    typical_subject: str = ""
    ways_out: WaysOut | None = None

    def rulebook(self):
        with self.app.app_context():
            return self.app.extensions[EXTENSION_KEY].current()


@pytest.fixture(scope="session")
def live_server(browser, tmp_path_factory) -> LiveServer:
    """Serve the app on 127.0.0.1 (a free port) with the demo city and the suite's accounts."""
    from werkzeug.serving import make_server

    folder = tmp_path_factory.mktemp("live")
    app = create_app({
        "SECRET_KEY": STRONG_KEY, "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "RULES_DIR": str(ROOT / "rules"), "SECURE_COOKIES": False, "RELOAD_ON_SIGHUP": False,
    })
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["demo", "--subjects", str(DEMO_SUBJECTS)]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            detail = "".join(traceback.format_exception(result.exception)) \
                if result.exception and not isinstance(result.exception, SystemExit) else ""
            pytest.fail(f"flask {' '.join(args)} failed:\n{result.output}{detail}")
    with session_scope(app, write=True) as session:
        # The resident is the person with the most records of the last year (records that
        # still count): a standing with something to read.
        subject = session.execute(
            select(Record.subject_id).join(Subject, Subject.subject_id == Record.subject_id)
            .where(Subject.kind == "person", Subject.consent.is_(True),
                   Record.occurred_on >= clock.today() - timedelta(days=365))
            .group_by(Record.subject_id)
            .order_by(func.count().desc(), Record.subject_id).limit(1)).scalar_one()
        # A typical resident: the median consenting person by records of the last year, of
        # those on no list (the demo puts a handful of its 300 people on lists and flags them:
        # their pages are longer by right, and the other pages of the suite cover them).
        listed = select(ListEntry.subject_id)
        counts = session.execute(
            select(Record.subject_id, func.count())
            .join(Subject, Subject.subject_id == Record.subject_id)
            .where(Subject.kind == "person", Subject.consent.is_(True),
                   Record.subject_id.not_in(listed),
                   Record.occurred_on >= clock.today() - timedelta(days=365))
            .group_by(Record.subject_id).order_by(func.count(), Record.subject_id)).all()
        typical = counts[len(counts) // 2][0]
        department = "traffic-police"
        for username, role, extra in (
            (ACCOUNTS.resident, "resident", {"subject_id": subject}),
            (ACCOUNTS.typical, "resident", {"subject_id": typical}),
            (ACCOUNTS.reviewer, "reviewer", {"department": "credit-centre"}),
            (ACCOUNTS.recorder, "recorder", {"department": department}),
            (ACCOUNTS.author, "rule-author", {}),
            (ACCOUNTS.admin, "admin", {}),
        ):
            create_account(session, username=username, password=PASSWORD, role=role,
                           actor="browser-suite", **extra)
        session.commit()
        ways_out = _ways_out_data(app, session, department, exclude=(subject, typical))
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app,
                     resident_subject=subject, recorder_department=department,
                     typical_subject=typical, ways_out=ways_out)
    server.shutdown()
    thread.join(timeout=5)
    werkzeug_log.setLevel(level)
    get_engine(app).dispose()


def _ways_out_data(app, session, department: str, *, exclude: tuple[str, ...]) -> WaysOut:
    """Give the journey's resident (a consenting person on no list, other than the suite's
    other residents) a record of the recorder's department whose rule allows repair, made
    long enough ago to be repairable today and still counting, and an entry on a list whose
    department is not the recorder's, made today by an official of that department (not a
    reviewer: the official who made an entry may not decide the objection to it)."""
    rules, today = app.extensions[EXTENSION_KEY].current(), clock.today()
    subject = session.execute(
        select(Subject.subject_id)
        .where(Subject.kind == "person", Subject.consent.is_(True),
               Subject.subject_id.not_in(exclude),
               Subject.subject_id.not_in(select(ListEntry.subject_id)))
        .order_by(Subject.subject_id).limit(1)).scalar_one()
    create_account(session, username=ACCOUNTS.wayout, password=PASSWORD, role="resident",
                   actor="browser-suite", subject_id=subject)
    occurred = today - timedelta(days=400)
    code = next(
        c for c in sorted(rules.codes_for_department(department, occurred))
        if (rule := rules.rule_on(c, occurred)) is not None and "person" in rule.subjects
        and rule.repairable_after is not None
        and rule.repairable_on(occurred) <= today < rule.ends_on(occurred))
    record = record_conduct(
        session, RecordDraft(subject, code, occurred, evidence="browser suite: ways out"),
        rulebook=rules, department=department, recorded_by="browser-suite", today=today).record
    # A public list with deadlines of its own (the court's list in the sample rulebook).
    listed = next(lst for lst in rules.lists
                  if lst.public and lst.objections and department not in lst.departments)
    entry = enter(session, ListEntryDraft(subject, listed.code, today,
                                          decision_ref="browser suite decision 1"),
                  rulebook=rules, department=listed.departments[0], today=today,
                  actor="bt-lister").entry
    session.commit()
    return WaysOut(subject=subject, record_id=record.id, entry_id=entry.id,
                   list_code=listed.code)


def log_in(page, server: LiveServer, username: str) -> None:
    """Log in through the real form and wait for the page after it."""
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"login as {username} failed: {page.inner_text('main')}"


@pytest.fixture(scope="session")
def storage_states(browser, live_server) -> dict:
    """Log each account in once; tests open contexts from the saved cookies."""
    states = {"anonymous": None}
    for role, username in (("resident", ACCOUNTS.resident), ("recorder", ACCOUNTS.recorder),
                           ("author", ACCOUNTS.author), ("admin", ACCOUNTS.admin),
                           ("reviewer", ACCOUNTS.reviewer), ("typical", ACCOUNTS.typical),
                           ("wayout", ACCOUNTS.wayout)):
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        log_in(page, live_server, username)
        states[role] = context.storage_state()
        context.close()
    return states


@pytest.fixture
def new_page(browser, live_server, storage_states):
    """Return a factory: new_page(role='anonymous', viewport=PHONE) -> a page in its own context."""
    contexts = []

    def make(role: str = "anonymous", viewport: dict = PHONE, **options):
        options.setdefault("locale", "en-GB")
        context = browser.new_context(base_url=live_server.url, viewport=viewport,
                                      storage_state=storage_states[role], **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
