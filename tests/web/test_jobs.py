"""Long work off the request: an intake preview and import queued as jobs, run by the
scheduler's job worker, shown with progress on a page that can be reloaded from any browser,
and refused while an identical job is under way."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.db import session_scope
from app.jobs import JobWorker
from app.models import Job
from tests.conftest import csrf_token
from tests.web.conftest import PASSWORD, page_text

HEADER = "subject_id,rule_code,occurred_on,evidence,external_ref\n"


def _upload(client, text: str):
    page = client.get("/officials/intake")
    return client.post("/officials/intake", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "kind": "records",
        "file": (io.BytesIO(text.encode()), "traffic.csv")}, content_type="multipart/form-data",
        follow_redirects=True)


def _job(app, job_id: int) -> Job:
    with app.app_context(), session_scope(app) as s:
        return s.get(Job, job_id)


def test_a_preview_is_a_job_that_outlives_the_browser(app, client, login, recorder, new_subject,
                                                      count_records):
    login(recorder.username, PASSWORD)
    day = (clock.today() - timedelta(days=2)).isoformat()
    rows = "".join(f"{new_subject()},TRAFFIC-TICKET,{day},ticket {n},T-{n}\n" for n in range(3))
    queued = _upload(client, HEADER + rows)
    job_id = int(re.fullmatch(r"/jobs/(\d+)", queued.request.path).group(1))
    html = queued.get_data(as_text=True)
    assert "Waiting for the job worker" in page_text(queued)
    assert '<meta http-equiv="refresh" content="2">' in html and "<progress" in html
    # The browser goes away; a new one, logged in as the same recorder, finds the job.
    other = app.test_client()
    login_other = other.get("/login")
    other.post("/login", data={"username": recorder.username, "password": PASSWORD,
                               "csrf_token": csrf_token(login_other.get_data(as_text=True))})
    worker = JobWorker(app)  # what the scheduler process starts
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while _job(app, job_id).state in ("queued", "running"):
            assert time.monotonic() < deadline, "the worker did not finish the job"
            time.sleep(0.1)
    finally:
        worker.stop()
        worker.join(30)
    job = _job(app, job_id)
    assert job.state == "done" and job.total >= 3 and job.done == job.total, job
    for _ in range(2):  # the result page can be reloaded
        shown = other.get(f"/jobs/{job_id}")
        assert shown.status_code == 200
        assert "Every row is valid" in page_text(shown) and "3 would be added" in page_text(shown)
        assert "refresh" not in shown.get_data(as_text=True).split("</head>")[0]
    assert count_records() == 0


def test_an_identical_job_is_refused_while_one_runs(app, client, login, recorder, new_subject,
                                                    make_account, run_jobs):
    login(recorder.username, PASSWORD)
    day = (clock.today() - timedelta(days=2)).isoformat()
    preview = _upload(client, HEADER + f"{new_subject()},TRAFFIC-TICKET,{day},t,T-1\n")
    assert run_jobs() == 1
    preview = client.get(preview.request.path)
    html = preview.get_data(as_text=True)
    action = re.search(r'action="(/officials/intake/[^"]+/confirm)"', html).group(1)
    first = client.post(action, data={"csrf_token": csrf_token(html)})
    assert first.status_code == 303
    second = client.post(action, data={"csrf_token": csrf_token(html)}, follow_redirects=True)
    assert second.request.path == first.headers["Location"]  # the same job, not a new one
    assert "the same work is already queued as job" in page_text(second)
    assert "wait for it to finish" in page_text(second)
    with app.app_context(), session_scope(app) as s:
        assert s.execute(select(func.count()).select_from(Job)
                         .where(Job.kind == "intake-confirm")).scalar_one() == 1
    # Someone else cannot open it.
    client.post("/logout", data={"csrf_token": csrf_token(html)})
    login(make_account("recorder", department="traffic-police"), PASSWORD)
    assert client.get(first.headers["Location"]).status_code == 404
    assert run_jobs() == 1
