"""Bulk intake from the web: upload, preview with every row's problems by row and column,
confirm; nothing is written before the confirmation or while any row is invalid."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import clock
from app.models import ListEntry
from tests.conftest import csrf_token, new_person_id
from tests.web.conftest import PASSWORD, page_text

HEADER = "subject_id,rule_code,occurred_on,evidence,external_ref\n"


@pytest.fixture
def finish(client, run_jobs):
    """Return finish(response): run the job a page queued and open its page again."""

    def done(response):
        if response.request.path.startswith("/jobs/"):
            assert "Waiting for the job worker" in page_text(response)
            assert run_jobs() == 1
            response = client.get(response.request.path, follow_redirects=True)
        return response

    return done


@pytest.fixture
def intake(client, login, recorder, finish):
    """Log the recorder in; return upload(text, kind=...) -> the preview response."""
    login(recorder.username, PASSWORD)

    def upload(text: str | bytes, *, kind: str = "records", name: str = "traffic.csv"):
        page = client.get("/officials/intake")
        data = text.encode() if isinstance(text, str) else text
        return finish(client.post("/officials/intake", data={
            "csrf_token": csrf_token(page.get_data(as_text=True)), "kind": kind,
            "file": (io.BytesIO(data), name)}, content_type="multipart/form-data",
            follow_redirects=True))

    return upload


def _confirm(client, preview):
    html = preview.get_data(as_text=True)
    action = re.search(r'action="(/officials/intake/[^"]+/confirm)"', html).group(1)
    return client.post(action, data={"csrf_token": csrf_token(html)}, follow_redirects=True)


def _day(n: int) -> str:
    return (clock.today() - timedelta(days=n)).isoformat()


def test_preview_marks_every_bad_row_and_column_and_writes_nothing(
        client, intake, new_subject, count_records, finish):
    good = new_subject()
    bad_digit = good[:-1] + ("0" if good[-1] != "0" else "1")
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    text = (HEADER + f"{good},TRAFFIC-TICKET,{_day(3)},ticket 1,T-1\n"
            f"{bad_digit},TRAFFIC-TICKET,{_day(3)},ticket 2,T-2\n"
            f"{good},HEAT-TAMPER,{_day(2)},seal,T-3\n"
            f"{good},NO-SUCH,{tomorrow},x,T-4\n")
    preview = intake(text)
    assert preview.status_code == 422
    html = preview.get_data(as_text=True)
    marks = set(re.findall(r'class="field-error" data-row="(\d+)" data-column="(\w+)"', html))
    assert marks == {("3", "subject_id"), ("4", "rule_code"), ("5", "rule_code"),
                     ("5", "occurred_on")}
    text_ = page_text(preview)
    assert "row 3, column subject_id:" in text_ and "check digit" in text_
    assert "row 4, column rule_code: department traffic-police may not record" in text_
    assert "row 5, column occurred_on:" in text_ and "in the future" in text_
    assert "row 5, column rule_code: unknown rule code 'NO-SUCH'" in text_
    assert "Confirm" not in text_
    assert count_records() == 0
    report = client.get(re.search(r'href="(/officials/intake/[^"]+/problems.csv)"', html)
                        .group(1))
    assert report.status_code == 200 and report.mimetype == "text/csv"
    lines = report.get_data(as_text=True).splitlines()
    assert lines[0] == "row,column,message" and len(lines) == 5
    # Confirming anyway writes nothing.
    token = re.search(r"/officials/intake/([^/]+)/problems.csv", html).group(1)
    forced = finish(client.post(f"/officials/intake/{token}/confirm",
                                data={"csrf_token": csrf_token(html)}, follow_redirects=True))
    assert "Nothing was written" in page_text(forced)
    assert count_records() == 0


def test_confirm_writes_every_row_and_the_same_file_twice_adds_nothing(
        client, intake, new_subject, count_records, finish):
    a, b = new_subject(), new_subject()
    text = (HEADER + f"{a},TRAFFIC-TICKET,{_day(5)},ticket 1,T-1\n"
            f"{a},TRAFFIC-TICKET,{_day(4)},ticket 2,T-2\n"
            f"{b},DRUNK-DRIVING,{_day(3)},breath test,\n")
    preview = intake(text)
    assert preview.status_code == 200
    shown = page_text(preview)
    assert "Every row is valid" in shown and "3 would be added" in shown
    assert "-10" in shown  # the points the second ticket would get (repeat), shown before
    assert count_records() == 0  # the preview wrote nothing
    # "Confirm" and "Discard" do not look alike: a filled button and a red outline.
    html = preview.get_data(as_text=True)
    assert re.search(r'<button type="submit" class="confirm">Confirm: add 3</button>', html)
    assert re.search(r'<button type="submit" class="discard">Discard this upload</button>', html)
    css = (Path(__file__).resolve().parents[2] / "app/static/css/app.css").read_text()
    assert re.search(r"button\.discard \{ background: none; color: #c62828;", css)
    done = finish(_confirm(client, preview))
    assert "3 rows; 3 added, 0 were already there" in page_text(done)
    assert count_records() == 3
    again = intake(text)
    assert "0 would be added, 3 are already there" in page_text(again)
    assert "Nothing to add" in page_text(again)
    assert "0 added, 3 were already there" in page_text(finish(_confirm(client, again)))
    assert count_records() == 3


def test_list_entries_are_taken_in_too(client, login, make_account, new_subject, db, finish):
    court = make_account("recorder", department="court")
    login(court, PASSWORD)
    subject = new_subject()
    page = client.get("/officials/intake")
    text = ("subject_id,list_code,entered_on,decision_ref,external_ref\n"
            f"{subject},court-defaulters,{_day(10)},(2026) Zhi 5,CD-5\n"
            f"{subject},model-citizens,{_day(10)},honour,MC-1\n")
    preview = finish(client.post("/officials/intake", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "kind": "list-entries",
        "file": (io.BytesIO(text.encode()), "court.csv")}, follow_redirects=True,
        content_type="multipart/form-data"))
    assert preview.status_code == 422
    assert "may not write to list model-citizens" in page_text(preview)
    good = finish(client.post("/officials/intake", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "kind": "list-entries",
        "file": (io.BytesIO(text.splitlines(True)[0].encode() + text.splitlines(True)[1]
                            .encode()), "court.csv")}, follow_redirects=True,
        content_type="multipart/form-data"))
    assert "1 would be added" in page_text(good)
    finish(_confirm(client, good))
    with db() as s:
        assert s.execute(select(func.count()).select_from(ListEntry)).scalar_one() == 1


def test_uploads_belong_to_who_sent_them(client, intake, login, make_account, new_subject):
    preview = intake(HEADER + f"{new_subject()},TRAFFIC-TICKET,{_day(1)},x,T-1\n")
    path = preview.request.path  # the preview job's page
    upload_path = re.search(r'action="(/officials/intake/[^"/]+)/confirm"',
                            preview.get_data(as_text=True)).group(1)
    client.post("/logout", data={"csrf_token": csrf_token(preview.get_data(as_text=True))})
    login(make_account("recorder", department="traffic-police"), PASSWORD)
    assert client.get(path).status_code == 404
    assert client.get(upload_path).status_code == 404


def test_unreadable_files_and_oversized_uploads(app, client, intake, count_records):
    wrong = intake("who,what\n1,2\n")
    assert wrong.status_code == 422 and "unknown column" in page_text(wrong)
    binary = intake(b"\xff\xfe\x00garbage")
    assert binary.status_code == 422 and "not UTF-8" in page_text(binary)
    app.config["INTAKE_MAX_BYTES"] = 1000
    huge = intake(HEADER + "x" * 5000)
    assert huge.status_code == 413
    assert count_records() == 0


def test_only_recorders_take_files_in(client, login, make_account):
    login(make_account("reviewer", department="court"), PASSWORD)
    assert client.get("/officials/intake").status_code == 403


def test_records_dry_run_fixes_points_and_writes_nothing(session, rulebook, make_subject):
    from app.services.intake.drafts import read_record
    from app.services.records.conduct import import_records

    subject = make_subject(session).subject_id
    rows = [read_record({"subject_id": subject, "rule_code": "TRAFFIC-TICKET",
                         "occurred_on": _day(9), "evidence": "", "external_ref": "A"}, 2),
            read_record({"subject_id": subject, "rule_code": "TRAFFIC-TICKET",
                         "occurred_on": _day(8), "evidence": "", "external_ref": "B"}, 3)]
    plan = import_records(session, rows, rulebook=rulebook, department="traffic-police",
                          recorded_by="t", today=clock.today(), dry_run=True)
    assert [r["points"] for r in plan.planned] == [-5, -10] and plan.added == 2
    from app.models import Record
    assert session.execute(select(func.count()).select_from(Record)).scalar_one() == 0
    assert new_person_id()  # (the factory keeps identifiers unique across tests)


def test_control_characters_are_refused_in_the_web_intake(client, intake, new_subject,
                                                          count_records, finish):
    """A NUL (or any control character) in a row is a problem of that row and column, as it
    is in the API and the command-line import: one policy on every path."""
    subject = new_subject()
    text = (HEADER + f"{subject},TRAFFIC-TICKET,{_day(3)},photo\x00hidden,T-1\n"
            f"{subject},TRAFFIC-TICKET,{_day(2)},\"two\nlines\",T-2\n"
            f"{subject},TRAFFIC-TICKET,{_day(1)},bell,T-\x07\n")
    preview = intake(text)
    assert preview.status_code == 422
    shown = page_text(preview)
    assert "row 2, column evidence: holds the control character U+0000" in shown
    # (the row with a line break in its evidence, allowed in free text, takes lines 3 and 4)
    assert "row 5, column external_ref: holds the control character U+0007" in shown
    assert "row 3" not in shown and "2 problems in all" in shown
    token = re.search(r"/officials/intake/([^/]+)/problems.csv",
                      preview.get_data(as_text=True)).group(1)
    forced = finish(client.post(f"/officials/intake/{token}/confirm",
                                data={"csrf_token": csrf_token(preview.get_data(as_text=True))},
                                follow_redirects=True))
    assert "Nothing was written" in page_text(forced)
    assert count_records() == 0


def test_an_accounts_waiting_uploads_have_a_quota(app, client, intake, new_subject, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    app.config["INTAKE_QUOTA_BYTES"] = 1000
    row = f"{new_subject()},TRAFFIC-TICKET,{_day(3)},{'x' * 300},T-1\n"
    assert intake(HEADER + row).status_code == 200
    assert intake(HEADER + row.replace("T-1", "T-2")).status_code == 200
    full = intake(HEADER + row.replace("T-1", "T-3"))
    assert full.status_code == 413
    assert "Your uploads waiting for confirmation take" in page_text(full)
    assert len(list((tmp_path / "uploads").glob("*.data"))) == 2  # the third was not kept
