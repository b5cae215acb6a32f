"""The `flask --app app ...` commands, through Flask's CLI runner."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import func, select, text

from app import clock
from app.models import Record, Subject
from tests.conftest import TEST_RULES, new_organisation_id, new_person_id


def test_rules_check_accepts_the_sample_and_test_rulebooks(runner):
    for directory in ("rules", str(TEST_RULES)):
        result = runner.invoke(args=["rules", "check", directory])
        assert result.exit_code == 0, result.output
        assert "ok:" in result.output


def test_rules_check_prints_file_line_message_and_exits_1(runner, tmp_path):
    broken = tmp_path / "rules"
    shutil.copytree(TEST_RULES, broken)
    main = broken / "conduct" / "main.yaml"
    main.write_text(main.read_text().replace("points: -5", "points: -5.5"))
    result = runner.invoke(args=["rules", "check", str(broken)])
    assert result.exit_code == 1
    line = next(n for n, text_ in enumerate(main.read_text().splitlines(), 1) if "-5.5" in text_)
    assert f"conduct/main.yaml:{line}:" in result.output
    assert "whole number" in result.output or "integer" in result.output


def _register(runner, tmp_path, rows: list[str]):
    path = tmp_path / "register.csv"
    path.write_text("subject_id,kind,name,district,village,legal_representative,consent\n"
                    + "\n".join(rows) + "\n")
    return runner.invoke(args=["subjects", "import", str(path)])


def test_subjects_import_adds_updates_and_refuses_bad_rows(runner, session, tmp_path):
    person, org = new_person_id(), new_organisation_id()
    result = _register(runner, tmp_path, [
        f"{person},person,Wang Wei,Yatou,Dongshan,,true",
        f"{org},organisation,Haiyang Fisheries,Yatou,Haiyang,{person},yes"])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    result = _register(runner, tmp_path, [f"{person},person,Wang Wei,Yatou,Xishan,,true"])
    assert "1 updated" in result.output
    bad = person[:-1] + ("0" if person[-1] != "0" else "1")
    result = _register(runner, tmp_path, [f"{new_person_id()},person,Li Na,Yatou,,,true",
                                          f"{bad},person,Zhang San,Yatou,,,maybe"])
    assert result.exit_code == 1
    assert "register.csv:3: column subject_id:" in result.output
    assert "register.csv:3: column consent:" in result.output
    assert session.execute(select(func.count()).select_from(Subject)).scalar() == 2


def test_records_import_then_standing_json_has_the_api_shape(runner, session, make_subject,
                                                             tmp_path):
    subject = make_subject(session)
    path = tmp_path / "tickets.csv"
    path.write_text("subject_id,rule_code,occurred_on,evidence,external_ref\n"
                    f"{subject.subject_id},TRAFFIC-TICKET,2026-01-05,photo,TP-1\n")
    result = runner.invoke(args=["records", "import", str(path), "--department", "traffic-police"])
    assert result.exit_code == 0, result.output
    assert "1 records added" in result.output
    again = runner.invoke(args=["records", "import", str(path), "--department", "traffic-police"])
    assert "0 records added" in again.output
    assert session.execute(select(func.count()).select_from(Record)).scalar() == 1
    result = runner.invoke(args=["standing", subject.subject_id, "--as-of", "2026-06-01", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert {"subject_id", "as_of", "points", "tier", "lists", "flags", "measures",
            "records"} <= set(body)
    assert (body["points"], body["tier"], body["as_of"]) == (995, "A", "2026-06-01")
    assert body["records"][0]["rule_code"] == "TRAFFIC-TICKET"
    text_ = runner.invoke(args=["standing", subject.subject_id, "--as-of", "2026-06-01"]).output
    assert "995" in text_ and "TRAFFIC-TICKET" in text_


def test_records_import_reports_each_bad_row(runner, session, make_subject, tmp_path):
    subject = make_subject(session)
    path = tmp_path / "tickets.csv"
    path.write_text("subject_id,rule_code,occurred_on,evidence,external_ref\n"
                    f"{subject.subject_id},TRAFFIC-TICKET,2026-01-05,photo,TP-1\n"
                    f"{subject.subject_id},TRAFFIC-TICKET,yesterday,photo,TP-2\n")
    result = runner.invoke(args=["records", "import", str(path), "--department", "traffic-police"])
    assert result.exit_code == 1
    assert "tickets.csv:3: column occurred_on:" in result.output
    assert "nothing was recorded" in result.output


def test_standing_of_an_unknown_or_invalid_subject(runner):
    result = runner.invoke(args=["standing", new_person_id()])
    assert result.exit_code == 1 and "population register" in result.output
    result = runner.invoke(args=["standing", "123"])
    assert result.exit_code == 1 and "not a valid" in result.output


def test_recompute_prints_what_it_did(runner, session, make_subject):
    make_subject(session)
    result = runner.invoke(args=["recompute", "--as-of", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "1 subjects" in result.output and "tier changes" in result.output
    bad = runner.invoke(args=["recompute", "--as-of", "01/01/2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_audit_verify_catches_an_edited_row(runner, session, make_subject):
    subject = make_subject(session)
    runner.invoke(args=["users", "create", "ana", "--role", "resident", "--subject",
                        subject.subject_id, "--password", "correct horse battery"])
    runner.invoke(args=["users", "create", "bo", "--role", "admin",
                        "--password", "correct horse battery"])
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    session.execute(text("UPDATE audit_event SET actor = 'someone else' WHERE id = 1"))
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "audit event 1" in result.output


def test_users_create_refuses_a_short_password_and_unknown_role(runner):
    result = runner.invoke(args=["users", "create", "x", "--role", "admin", "--password", "short"])
    assert result.exit_code == 1 and "at least" in result.output
    result = runner.invoke(args=["users", "create", "x", "--role", "king",
                                 "--password", "long enough password"])
    assert result.exit_code == 1 and "unknown role" in result.output


def test_demo_is_safe_to_run_twice(runner, session):
    first = runner.invoke(args=["demo", "--subjects", "40"])
    assert first.exit_code == 0, first.output
    assert "resident" in first.output and "recorder" in first.output
    count = session.execute(select(func.count()).select_from(Record)).scalar()
    second = runner.invoke(args=["demo", "--subjects", "40"])
    assert second.exit_code == 0 and "already loaded" in second.output
    assert session.execute(select(func.count()).select_from(Record)).scalar() == count
    assert clock.today().isoformat()  # the demo city is built around today


def test_db_upgrade_is_idempotent(runner):
    result = runner.invoke(args=["db", "upgrade"])
    # The feature areas' branches (0002, 0004, ...) are merged into one head.
    assert result.exit_code == 0 and "database at revision 0014 " in result.output
