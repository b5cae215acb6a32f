"""The rule author's pages: the rulebook in force, reloads, history and diffs, simulation."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import clock
from app.models import AuditEvent, ListEntry, Notice
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from app.services.rulebooks.registry import EXTENSION_KEY
from tests.conftest import SAMPLE_RULES, csrf_token
from tests.web.conftest import PASSWORD, page_text


@pytest.fixture
def app_config(database_url, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(SAMPLE_RULES, rules)
    candidates = tmp_path / "candidates"
    candidates.mkdir()
    return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
            "RULES_DIR": str(rules), "RULEBOOK_SYNC_SECONDS": None,
            "RULES_CANDIDATES_DIR": str(candidates)}


@pytest.fixture
def author(client, login, make_account):
    name = make_account("rule-author", display_name="Li Author")
    login(name, PASSWORD)
    return name


@pytest.fixture
def untested(client, login, make_account):
    """An admin, who alone may put in force a rules directory whose rule tests were set aside."""
    name = make_account("admin")
    login(name, PASSWORD)
    return name


UNTESTED = {"without_tests": "y"}


def edit(path, old: str, new: str) -> None:
    text = Path(path).read_text()
    assert old in text
    Path(path).write_text(text.replace(old, new, 1))


def token(client, path="/authors") -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


@pytest.mark.parametrize("role,department", [("recorder", "traffic-police"),
                                             ("reviewer", "credit-centre"),
                                             ("auditor", None), ("resident", None)])
def test_only_rule_authors_and_admins_may_open_the_pages(client, login, make_account,
                                                         new_subject, role, department):
    subject = new_subject() if role == "resident" else None
    login(make_account(role, department=department, subject_id=subject), PASSWORD)
    for path in ("/authors", "/authors/simulate", "/authors/diff?from=a&to=b"):
        assert client.get(path).status_code == 403
    assert client.post("/authors/reload").status_code in (400, 403)


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/authors")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_may_open_it(client, login, make_account, rulebook):
    login(make_account("admin"), PASSWORD)
    page = page_text(client.get("/authors"))
    assert rulebook.fingerprint in page


def test_home_shows_the_rulebook_in_force_and_its_tests(client, author, rulebook):
    page = page_text(client.get("/authors"))
    assert f"Fingerprint {rulebook.fingerprint}" in page
    assert "by system" in page
    assert "Its rule tests: 3 files, 16 cases, 45 checks: 45 passed, 0 failed." in page
    assert "Reload the rules directory now" in page
    assert "Rulebook" in page_text(client.get("/officials"))  # the nav link


def test_reload_refused_then_accepted_and_the_diff(client, author, app_config, rulebook):
    rules = app_config["RULES_DIR"]
    assert client.post("/authors/reload", data={}).status_code == 400  # no CSRF token
    edit(f"{rules}/conduct/traffic.yaml", "    points: -3\n", "    points: -2\n")
    page = page_text(client.post("/authors/reload", data={"csrf_token": token(client)},
                                 follow_redirects=True))
    assert "The reload was refused with 6 problem(s)" in page
    assert "Last refused reload" in page
    assert f"{rules}/tests/points.yaml:57: rule test failed: case 'A ticket under version 1 " \
           "counts -5 until version 2 grants relief, then -3' on 2024-01-10: points: expected " \
           "997, got 998" in page
    assert f"Fingerprint {rulebook.fingerprint}" in page  # the last good one stays
    edit(f"{rules}/conduct/traffic.yaml", "    points: -2\n", "    points: -3\n")
    edit(f"{rules}/conduct/traffic.yaml", "(drunk driving); Road Traffic Safety Law, art. 91",
         "(drunk driving); Road Traffic Safety Law, art. 91 (as amended)")
    page = confirm_reload(client)
    assert "is in force" in page and "Last refused reload" not in page, page
    with client.application.app_context():
        new = client.application.extensions[EXTENSION_KEY].current()
    assert new.fingerprint != rulebook.fingerprint
    assert f"by {author}" in page
    diff = page_text(client.get(f"/authors/diff?from={rulebook.fingerprint[:8]}"
                                f"&to={new.fingerprint[:8]}"))
    assert "rule TRAFFIC-DRUNK version 1: legal basis" in diff and "(as amended)" in diff
    assert "--- a/conduct/traffic.yaml" in diff and "+++ b/conduct/traffic.yaml" in diff
    bad = client.get("/authors/diff?from=zz&to=" + new.fingerprint)
    assert bad.status_code == 422 and "is not a fingerprint" in page_text(bad)
    missing = client.get("/authors/diff?from=abcdef12&to=" + new.fingerprint)
    assert missing.status_code == 404


def confirm_reload(client, expect: str = "Put it in force now", **extra: str) -> str:
    """Press "Reload", check the simulation asks for confirmation, confirm; return the page."""
    shown = client.post("/authors/reload", data={"csrf_token": token(client), **extra})
    assert shown.status_code == 200 and expect in page_text(shown), page_text(shown)
    fingerprint = re.search(r'name="confirm" value="([0-9a-f]+)"',
                            shown.get_data(as_text=True)).group(1)
    return page_text(client.post("/authors/reload",
                                 data={"csrf_token": csrf_token(shown.get_data(as_text=True)),
                                       "confirm": fingerprint, **extra}, follow_redirects=True))


def _zip(directory: Path, top: str = "rules") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(directory).as_posix()}")
        archive.writestr("__MACOSX/._scheme.yaml", b"\x00\x01junk")
    return buffer.getvalue()


@pytest.fixture
def city(db, rulebook, make_subject):
    """Two subjects: one at 950 (B) with a late fee that relief would soften, one listed."""
    with db() as s:
        x = make_subject(s, subject_id="370633198305100820", name="Zhao X").subject_id
        z = make_subject(s, subject_id="372133197708251738", name="Zhou Z").subject_id
        for department, code in (("heating-company", "UTIL-LATE-FEES"),
                                 ("court", "FIN-DEBT-LIABLE")):
            record_conduct(
                s, RecordDraft(subject_id=x, rule_code=code, occurred_on=date(2024, 6, 1)),
                rulebook=rulebook, department=department, recorded_by="t", today=clock.today())
        s.add(ListEntry(list_code="court-defaulters", subject_id=z, department_code="court",
                        entered_on=date(2025, 1, 1), legal_basis="SPC", decision_ref="1"))
        s.commit()
    return x, z


@pytest.fixture
def candidate(tmp_path, app_config) -> Path:
    path = tmp_path / "candidate"
    shutil.copytree(app_config["RULES_DIR"], path)
    utilities = path / "conduct/utilities.yaml"
    body = utilities.read_text()
    start = body.index("  - code: UTIL-LATE-FEES")
    row = body[start:].rstrip("\n")
    utilities.write_text(body[:start] + row + "\n    effective: {until: 2024-12-31}\n\n"
                         + row.replace("points: -20", "points: -10")
                         + "\n    effective: {from: 2025-01-01}\n    relief: true\n")
    return path


def test_simulate_an_uploaded_zip(client, author, city, candidate, run_jobs):
    x, _z = city
    page = client.get("/authors/simulate")
    assert page.status_code == 200
    queued = client.post("/authors/simulate", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "as_of": "2025-03-01",
        "upload": (io.BytesIO(_zip(candidate)), "candidate.zip")},
        content_type="multipart/form-data")
    assert queued.status_code == 303 and queued.headers["Location"].startswith("/jobs/")
    assert run_jobs() == 1
    response = client.get(queued.headers["Location"])
    text = page_text(response)
    assert response.status_code == 200, text
    assert "upload candidate.zip: 2 subjects compared" in text
    assert "Its rule tests: 3 files, 16 cases, 45 checks: 45 passed, 0 failed." in text
    assert "rule UTIL-LATE-FEES version 2 added: -10, from 2025-01-01, relief" in text
    assert "1 move up, 0 move down" in text
    assert "B → A: 1 (up)" in text
    assert f"{x} Zhao X: 950 B → 960 A" in text
    assert "-20 → -10 (relief under version 2 from 2025-01-01: -20 → -10)" in text
    assert "LOAN-TERMS" in text and "CREDIT-WARNING" in text
    with client.application.app_context():
        from app.db import session_scope
        from app.services.rulebooks.history import rulebook_status

        with session_scope() as s:
            assert rulebook_status(s).simulations[0]["by"] == author
    assert "1 up, 0 down of 2 subjects" in page_text(client.get("/authors"))


def test_simulate_a_directory_on_the_server(client, author, city, candidate, app_config,
                                            run_jobs):
    shutil.copytree(candidate, Path(app_config["RULES_CANDIDATES_DIR"]) / "late-fees-2025")
    page = client.get("/authors/simulate")
    assert "late-fees-2025" in page.get_data(as_text=True)
    response = client.post("/authors/simulate", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "as_of": "2025-03-01",
        "directory": "late-fees-2025"}, content_type="multipart/form-data",
        follow_redirects=True)
    assert response.status_code == 200
    run_jobs()
    response = client.get(response.request.path)
    assert "1 move up" in page_text(response)
    outside = client.post("/authors/simulate", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "directory": "../rules"},
        content_type="multipart/form-data")
    assert outside.status_code == 404


def test_a_broken_candidate_is_refused_with_its_problems(client, author, candidate):
    edit(candidate / "conduct/traffic.yaml", "points: -200", "points: lots")
    page = client.get("/authors/simulate")
    token_ = csrf_token(page.get_data(as_text=True))
    response = client.post("/authors/simulate", data={
        "csrf_token": token_, "upload": (io.BytesIO(_zip(candidate)), "candidate.zip")},
        content_type="multipart/form-data")
    text = page_text(response)
    assert response.status_code == 422
    assert "fails the check with 1 problem; nothing was simulated" in text
    assert "candidate/conduct/traffic.yaml:50: rule TRAFFIC-DRUNK: points must be a whole " \
           "number, got 'lots'" in text
    junk = client.post("/authors/simulate", data={
        "csrf_token": token_, "upload": (io.BytesIO(b"not a zip"), "candidate.zip")},
        content_type="multipart/form-data")
    assert junk.status_code == 422 and "is not a zip file" in page_text(junk)
    nothing = client.post("/authors/simulate", data={"csrf_token": token_},
                          content_type="multipart/form-data")
    assert nothing.status_code == 422 and "upload a zip" in page_text(nothing)
    bad_date = client.post("/authors/simulate", data={
        "csrf_token": token_, "as_of": "2025-02-30",
        "upload": (io.BytesIO(_zip(candidate)), "candidate.zip")},
        content_type="multipart/form-data")
    assert bad_date.status_code == 422 and "compare on:" in page_text(bad_date)
    edit(candidate / "conduct/traffic.yaml", "points: lots", "points: -200")
    for far in ("0001-01-01", "9999-12-31"):
        far_date = client.post("/authors/simulate", data={
            "csrf_token": token_, "as_of": far,
            "upload": (io.BytesIO(_zip(candidate)), "candidate.zip")},
            content_type="multipart/form-data")
        assert far_date.status_code == 422 and "--allow-far-date" in page_text(far_date)


def test_a_rules_directory_without_tests_needs_an_admins_word(client, login, make_account,
                                                              app_config, rulebook):
    rules = app_config["RULES_DIR"]
    shutil.rmtree(f"{rules}/tests")
    edit(f"{rules}/lists.yaml", "lasts: 3y", "lasts: 4y")
    login(make_account("rule-author"), PASSWORD)
    assert "even if it has no rule tests" not in page_text(client.get("/authors"))
    page = page_text(client.post("/authors/reload", data={"csrf_token": token(client)},
                                 follow_redirects=True))
    assert "The reload was refused with 1 problem(s)" in page and "no rule tests" in page
    assert f"Fingerprint {rulebook.fingerprint}" in page
    forbidden = client.post("/authors/reload", data={"csrf_token": token(client),
                                                     "without_tests": "y"})
    assert forbidden.status_code == 403
    client.post("/logout", data={"csrf_token": token(client)})
    admin = make_account("admin")
    login(admin, PASSWORD)
    assert "even if it has no rule tests" in page_text(client.get("/authors"))
    shown = client.post("/authors/reload", data={"csrf_token": token(client),
                                                 "without_tests": "y"})
    assert shown.status_code == 200  # the simulation first, then the admin confirms
    fingerprint = re.search(r'name="confirm" value="([0-9a-f]+)"',
                            shown.get_data(as_text=True)).group(1)
    assert 'name="without_tests" value="y"' in shown.get_data(as_text=True)
    page = page_text(client.post("/authors/reload", data={
        "csrf_token": csrf_token(shown.get_data(as_text=True)), "confirm": fingerprint,
        "without_tests": "y"}, follow_redirects=True))
    assert "is in force (no rule tests)" in page
    with client.application.app_context():
        new = client.application.extensions[EXTENSION_KEY].current()
    assert new.fingerprint != rulebook.fingerprint
    from sqlalchemy import select

    from app.db import session_scope
    from app.models import AuditEvent
    with session_scope(client.application) as session:
        events = session.execute(select(AuditEvent).where(
            AuditEvent.action == "rulebook.without_tests")).scalars().all()
    assert [(e.actor, e.target) for e in events] == [(admin, new.fingerprint)]


def _stored_zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(directory.rglob("*.yaml")):
            archive.write(path, f"rules/{path.relative_to(directory).as_posix()}")
    return buffer.getvalue()


def _patch_headers(blob: bytes, *, method: int | None = None, flags: int = 0) -> bytes:
    """Set the compression method and OR the flags of every entry, in both headers."""
    data = bytearray(blob)
    for signature, at_method, at_flags in ((b"PK\x03\x04", 8, 6), (b"PK\x01\x02", 10, 8)):
        start = data.find(signature)
        while start >= 0:
            if method is not None:
                data[start + at_method:start + at_method + 2] = method.to_bytes(2, "little")
            old = int.from_bytes(data[start + at_flags:start + at_flags + 2], "little")
            data[start + at_flags:start + at_flags + 2] = (old | flags).to_bytes(2, "little")
            start = data.find(signature, start + 4)
    return bytes(data)


def _upload(client, blob: bytes):
    token_ = csrf_token(client.get("/authors/simulate").get_data(as_text=True))
    return client.post("/authors/simulate", data={
        "csrf_token": token_, "upload": (io.BytesIO(blob), "candidate.zip")},
        content_type="multipart/form-data")


def test_an_unreadable_zip_is_refused(client, author, candidate):
    blob = _stored_zip(candidate)
    accepted = _upload(client, blob)  # a readable zip: its simulation is queued as a job
    assert accepted.status_code == 303 and "/jobs/" in accepted.headers["Location"]
    marker = b"starting_points: 1000"
    assert marker in blob
    bad_crc = blob.replace(marker, b"starting_points: 1001", 1)
    for broken in (bad_crc, _patch_headers(blob, method=9),  # deflate64
                   _patch_headers(blob, flags=0x1)):  # encrypted
        response = _upload(client, broken)
        assert response.status_code == 422, page_text(response)
        assert "the upload is not a readable zip" in page_text(response)


def test_a_small_zip_of_many_megabytes_of_yaml_is_refused_unread(client, author, candidate):
    rows = "".join(f"  - code: X{i}\n    title: row {i}\n    points: -1\n"
                   f"    legal_basis: law\n    expires_after: 1y\n" for i in range(80_000))
    big = f"table: big\ndepartments: [court]\nrules:\n{rows}"
    assert len(big) > 5 * 1024 * 1024
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(candidate.rglob("*.yaml")):
            archive.write(path, f"rules/{path.relative_to(candidate).as_posix()}")
        archive.writestr("rules/conduct/big.yaml", big)
    assert len(buffer.getvalue()) < 1024 * 1024
    response = _upload(client, buffer.getvalue())
    assert response.status_code == 422
    text = page_text(response)
    assert "rules/conduct/big.yaml: this file is 7.3 MB; a rule file may be at most 1.0 MB " \
           "(setting RULES_MAX_FILE_BYTES)" in text


def _schedule(client, rules: str, days: int = 30):
    """Put the rules directory in force with tier A from 940 points, from `days` later (its
    rule tests, written for 960, are set aside)."""
    first = clock.today() + timedelta(days=days)
    shutil.rmtree(f"{rules}/tests")
    edit(f"{rules}/scheme.yaml", "    min: 960\n", "    min: 940\n")
    Path(f"{rules}/scheme.yaml").write_text(Path(f"{rules}/scheme.yaml").read_text()
                                            + f"\nin_force_from: {first.isoformat()}\n")
    with client.application.app_context():
        state = client.application.extensions[EXTENSION_KEY].reload(loaded_by="li",
                                                                     without_tests=True)
    assert not state.problems, state.problems
    return state.rulebook, first


def test_a_scheduled_rulebook_is_shown_and_cancelled_from_the_authors_page(
        client, author, app_config, rulebook, db):
    coming, first = _schedule(client, app_config["RULES_DIR"])
    page = page_text(client.get("/authors"))
    assert f"From {first.isoformat()}: rulebook {coming.fingerprint[:12]}" in page
    assert "tier A: min 960 → 940" in page
    assert f"Until its first day, rulebook {rulebook.fingerprint} stays in force." in page
    public = page_text(client.get("/scheme"))
    assert "Coming changes" in public and "tier A: min 960 → 940" in public
    assert f"rulebook {rulebook.fingerprint[:12]}" not in public.split("Coming changes")[1][:80]
    assert client.post("/authors/cancel", data={"fingerprint": coming.fingerprint}
                       ).status_code == 400  # no CSRF token
    done = page_text(client.post("/authors/cancel",
                                 data={"fingerprint": coming.fingerprint,
                                       "csrf_token": token(client)}, follow_redirects=True))
    assert f"Rulebook {coming.fingerprint[:12]} will not come into force" in done
    assert "tier A: min 960 → 940" not in done
    assert "Coming changes" not in page_text(client.get("/scheme"))
    again = client.post("/authors/cancel", data={"fingerprint": coming.fingerprint,
                                                 "csrf_token": token(client)})
    assert again.status_code == 404
    with client.application.app_context():
        assert client.application.extensions[EXTENSION_KEY].in_force_today().fingerprint == \
            rulebook.fingerprint  # the cancelled one is not in force, today or later
    with db() as s:
        actions = s.execute(select(AuditEvent.action, AuditEvent.actor)
                            .where(AuditEvent.action.like("rulebook.%"))).all()
    assert ("rulebook.schedule", "li") in actions and ("rulebook.cancel", author) in actions


def test_a_cancelled_schedule_may_be_put_in_force_again(client, author, app_config, rulebook):
    coming, first = _schedule(client, app_config["RULES_DIR"])
    with client.application.app_context():
        registry = client.application.extensions[EXTENSION_KEY]
        from app.db import session_scope
        from app.services.rulebooks.in_force import cancel, scheduled
        with session_scope(client.application, write=True) as s:
            cancel(s, fingerprint=coming.fingerprint, actor="li", today=clock.today())
        assert not registry.reload(loaded_by="li").problems
        with session_scope(client.application) as s:
            assert [e.first_day for _, e in scheduled(s, today=clock.today())] == [first]


def test_reload_first_shows_the_simulation_and_asks_for_confirmation(client, untested, city,
                                                                      app_config, rulebook, db):
    rules = app_config["RULES_DIR"]
    shutil.rmtree(f"{rules}/tests")  # written for tier A from 960: an admin sets them aside
    edit(f"{rules}/scheme.yaml", "    min: 960\n", "    min: 1020\n")
    shown = client.post("/authors/reload", data={"csrf_token": token(client), **UNTESTED})
    page = page_text(shown)
    assert shown.status_code == 200 and "Confirm the reload" in page
    assert f"against {rulebook.fingerprint[:12]} on {clock.today().isoformat()}" in page
    assert "A → B: 2 (down)" in page, page  # both at 1000 points or below
    assert "Put it in force now" in page and "Nothing has changed yet." in page
    with client.application.app_context():
        registry = client.application.extensions[EXTENSION_KEY]
        assert registry.current().fingerprint == rulebook.fingerprint  # not yet
    stale = page_text(client.post("/authors/reload", data={
        "csrf_token": csrf_token(shown.get_data(as_text=True)), "confirm": "0" * 64, **UNTESTED}))
    assert "The rules directory changed since its simulation" in stale
    assert "Confirm the reload" in stale
    with client.application.app_context():
        assert registry.current().fingerprint == rulebook.fingerprint  # still not
    done = confirm_reload(client, **UNTESTED)
    assert "is in force" in done
    with client.application.app_context():
        assert registry.in_force_today().fingerprint != rulebook.fingerprint
    with db() as s:
        assert s.execute(select(AuditEvent.actor).where(
            AuditEvent.action == "rulebook.in_force")).scalars().all()[-1] == untested


def test_reload_of_a_later_first_day_simulates_that_day_and_schedules(client, untested, city,
                                                                       app_config, rulebook,
                                                                       db):
    rules = app_config["RULES_DIR"]
    shutil.rmtree(f"{rules}/tests")
    edit(f"{rules}/scheme.yaml", "    min: 960\n", "    min: 1020\n")
    first = clock.today() + timedelta(days=20)
    Path(f"{rules}/scheme.yaml").write_text(Path(f"{rules}/scheme.yaml").read_text()
                                            + f"\nin_force_from: {first.isoformat()}\n")
    page = page_text(client.post("/authors/reload", data={"csrf_token": token(client), **UNTESTED}))
    assert f"on {first.isoformat()}" in page and "A → B: 2 (down)" in page
    done = confirm_reload(client, expect=f"Schedule it from {first.isoformat()}",
                          **UNTESTED)
    assert f"is scheduled from {first.isoformat()}" in done
    assert f"From {first.isoformat()}: rulebook" in done
    with client.application.app_context():
        assert client.application.extensions[EXTENSION_KEY].in_force_today().fingerprint == \
            rulebook.fingerprint
    with db() as s:
        told = s.execute(select(Notice.subject_id, Notice.body)
                         .where(Notice.kind == "rulebook_change")).all()
    assert sorted(subject for subject, _ in told) == sorted(city)
    assert "- your tier moves from A to B" in told[0][1]
