"""Reads from a real PostgreSQL streaming standby, writes and the audit chain on the primary.

Each test watches which server every statement of a request goes to (by the port of the
engine that ran it), with the standby from the `pg_standby` fixture. Pausing the standby's
replay shows that a resident who has just written reads the primary until the standby has
caught up, and the replica afterwards.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlmodel import Session

from app import create_app
from app.db import LSN_COOKIE, LSN_KEY, get_engine, get_replica_engine, get_session
from app.models import AuditEvent, Objection
from app.services.accounts.tokens import create_token
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from tests.conftest import TEST_RULES, csrf_token, fresh_postgres
from tests.web.conftest import PASSWORD, page_text


@pytest.fixture
def database_url():
    return fresh_postgres()


@pytest.fixture
def app_config(database_url, pg_standby) -> dict:
    return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
            "DATABASE_REPLICA_URL": pg_standby.url_for(database_url),
            "RULES_DIR": str(TEST_RULES)}


@pytest.fixture
def standby_admin(pg_standby, database_url):
    engine = create_engine(pg_standby.url_for(database_url), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def wait_replayed(app, standby_admin):
    """Return a function that waits until the standby has replayed all the primary wrote."""

    def wait() -> None:
        with get_engine(app).connect() as conn:
            lsn = conn.execute(text("SELECT CAST(pg_current_wal_lsn() AS text)")).scalar_one()
        deadline = time.monotonic() + 30
        with standby_admin.connect() as conn:
            while not conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:l AS pg_lsn)"),
                                   {"l": lsn}).scalar():
                assert time.monotonic() < deadline, "the standby did not catch up in 30 s"
                time.sleep(0.05)

    return wait


@pytest.fixture
def paused_replay(standby_admin):
    """Return a context manager during which the standby replays nothing."""

    @contextmanager
    def paused():
        with standby_admin.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_pause()"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_wal_replay_resume()"))

    return paused


@pytest.fixture
def servers(app):
    """Return a function: servers(call) -> (response, {'primary': [...], 'replica': [...]})."""
    engines = {"primary": get_engine(app), "replica": get_replica_engine(app)}
    seen: dict[str, list[str]] = {"primary": [], "replica": []}

    def listener(name):
        def note(conn, cursor, statement, *args):
            seen[name].append(statement.split(None, 1)[0].upper())
        return note

    listeners = [(engine, listener(name)) for name, engine in engines.items()]
    for engine, fn in listeners:
        event.listen(engine, "before_cursor_execute", fn)

    def run(call):
        for statements in seen.values():
            statements.clear()
        response = call()
        return response, {name: list(statements) for name, statements in seen.items()}

    yield run
    for engine, fn in listeners:
        event.remove(engine, "before_cursor_execute", fn)


@pytest.fixture
def record(db, rulebook, today):
    def do(subject_id):
        with db() as s:
            return record_conduct(
                s, RecordDraft(subject_id=subject_id, rule_code="DRUNK-DRIVING",
                               occurred_on=today - timedelta(days=5), evidence="breath test"),
                rulebook=rulebook, department="traffic-police", recorded_by="officer",
                today=today).record

    return do


def _reads(statements):
    return [s for s in statements if s in ("SELECT", "WITH")]


def test_gets_read_the_replica_and_posts_use_the_primary(client, login, resident, record,
                                                         servers, wait_replayed):
    rec = record(resident.subject_id)
    login(resident.username, PASSWORD)
    wait_replayed()
    page, where = servers(lambda: client.get("/me"))
    assert page.status_code == 200 and "800 points" in page_text(page)
    assert _reads(where["replica"]) and not where["primary"], where
    form, where = servers(lambda: client.get(f"/me/records/{rec.id}/objection"))
    assert form.status_code == 200 and not where["primary"]
    done, where = servers(lambda: client.post(
        f"/me/records/{rec.id}/objection",
        data={"csrf_token": csrf_token(form.get_data(as_text=True)), "reason": "not me"}))
    assert done.status_code == 302
    assert "INSERT" in where["primary"] and not where["replica"], where


def test_the_api_reads_the_replica_and_audits_the_look_on_the_primary(
        app, client, db, rulebook, new_subject, record, servers, wait_replayed):
    sid = new_subject()
    record(sid)
    with db() as s:
        secret = create_token(s, rulebook=rulebook, department="traffic-police",
                              actor="test").secret
    wait_replayed()
    auth = {"Authorization": f"Bearer {secret}"}
    with db() as s:
        looks = s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    for url in (f"/api/v1/subjects/{sid}/standing",
                f"/api/v1/measures/TENDER-BAN/check?subject_id={sid}"):
        answer, where = servers(lambda url=url: client.get(url, headers=auth))
        assert answer.status_code == 200, answer.get_json()
        # The token, the subject and its facts come from the replica; the look is audited
        # on the primary, whose chain head is read there too, after the write lock.
        assert len(_reads(where["replica"])) >= 2, where
        assert "INSERT" in where["primary"] and "INSERT" not in where["replica"]
        assert LSN_COOKIE not in answer.headers.get("Set-Cookie", "")
    with db() as s:
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == looks + 2
    # A write by token leaves a cookie with the primary's WAL position.
    posted, where = servers(lambda: client.post("/api/v1/records", headers=auth, json={
        "subject_id": sid, "rule_code": "TRAFFIC-TICKET",
        "occurred_on": str(rulebook_day(app)), "evidence": "camera 7",
        "external_ref": "TP-1"}))
    assert posted.status_code == 201, posted.get_json()
    assert not where["replica"] and LSN_COOKIE in posted.headers["Set-Cookie"]


def rulebook_day(app):
    from app import clock

    with app.app_context():
        return clock.today() - timedelta(days=1)


def test_the_audit_page_and_the_nightly_run_use_the_primary(client, login, make_account,
                                                            runner, servers, wait_replayed):
    auditor = make_account("auditor")
    login(auditor, PASSWORD)
    wait_replayed()
    page, where = servers(lambda: client.get("/audit"))
    assert page.status_code == 200 and where["primary"] and not where["replica"], where
    run, where = servers(lambda: runner.invoke(args=["recompute", "--full"]))
    assert run.exit_code == 0, run.output
    assert where["primary"] and not where["replica"]


def test_a_resident_who_just_objected_sees_the_objection(client, login, resident, record, db,
                                                         servers, paused_replay, wait_replayed,
                                                         standby_admin):
    rec = record(resident.subject_id)
    login(resident.username, PASSWORD)
    wait_replayed()
    with paused_replay():
        form = client.get(f"/me/records/{rec.id}/objection")
        done = client.post(f"/me/records/{rec.id}/objection", data={
            "csrf_token": csrf_token(form.get_data(as_text=True)), "reason": "not me"})
        assert done.status_code == 302
        with client.session_transaction() as cookie_session:
            assert cookie_session[LSN_KEY]
        # The standby has not replayed the objection ...
        with standby_admin.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Objection)).scalar_one() == 0
        # ... so the resident's next page is read from the primary, and shows it.
        page, where = servers(lambda: client.get("/me"))
        text = page_text(page)
        assert "1000 points" in text and "suspended: objection pending since" in text
        assert _reads(where["primary"]), where
        assert not _reads(where["replica"][1:]), "only the replay position was asked"
    wait_replayed()
    page, where = servers(lambda: client.get("/me"))
    assert "suspended: objection pending since" in page_text(page)
    assert _reads(where["replica"]) and not where["primary"], where
    with client.session_transaction() as cookie_session:
        assert LSN_KEY not in cookie_session  # caught up: no more checks


def test_without_the_setting_nothing_changes(database_url):
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "DATABASE_URL": database_url, "RULES_DIR": str(TEST_RULES)})
    try:
        assert get_replica_engine(app) is None
        client = app.test_client()
        page = client.get("/login")
        refused = client.post("/login", data={
            "username": "nobody", "password": "wrong",
            "csrf_token": csrf_token(page.get_data(as_text=True))})
        assert refused.status_code in (200, 401, 422)
        with client.session_transaction() as cookie_session:
            assert LSN_KEY not in cookie_session
        assert LSN_COOKIE not in refused.headers.get("Set-Cookie", "")
        with app.test_request_context("/me"):
            assert type(get_session()) is Session
    finally:
        get_engine(app).dispose()


def test_a_job_queued_by_a_get_is_found_on_its_page(client, login, recorder, new_subject,
                                                    paused_replay, wait_replayed, servers):
    import io

    login(recorder.username, PASSWORD)
    page = client.get("/officials/intake")
    wait_replayed()
    with paused_replay():
        posted = client.post("/officials/intake", data={
            "csrf_token": csrf_token(page.get_data(as_text=True)), "kind": "records",
            "file": (io.BytesIO(b"subject_id,rule_code,occurred_on,evidence,external_ref\n"
                                + f"{new_subject()},TRAFFIC-TICKET,2026-01-05,t,T-1\n".encode()),
                     "traffic.csv")}, content_type="multipart/form-data")
        queued, where = servers(lambda: client.get(posted.headers["Location"]))
        assert queued.status_code == 303 and "INSERT" in where["primary"]
        job_page, where = servers(lambda: client.get(queued.headers["Location"]))
        assert job_page.status_code == 200, "the job's page must find the job it just queued"
        assert "Waiting for the job worker" in page_text(job_page)
        assert _reads(where["primary"])
