"""The `flask --app app ...` commands, through Flask's CLI runner."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import func, select, text

from app import clock
from app.models import AuditEvent, ConsentChange, Record, Subject
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


def _register(runner, tmp_path, rows: list[str], *options: str):
    path = tmp_path / "register.csv"
    path.write_text("subject_id,kind,name,district,village,legal_representative,consent\n"
                    + "\n".join(rows) + "\n")
    return runner.invoke(args=["subjects", "import", str(path), *options])


def test_subjects_import_adds_updates_and_refuses_bad_rows(runner, session, tmp_path):
    person, org = new_person_id(), new_organisation_id()
    result = _register(runner, tmp_path, [
        f"{person},person,Wang Wei,Yatou,Dongshan,,true",
        f"{org},organisation,Haiyang Fisheries,Yatou,Haiyang,{person},yes"])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    events = session.execute(select(AuditEvent).where(AuditEvent.action == "subject.register")
                             .order_by(AuditEvent.id)).scalars().all()
    assert [e.subject_id for e in events] == [person, org]  # one event each, in file order
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    result = _register(runner, tmp_path, [f"{person},person,Wang Wei,Yatou,Xishan,,true"])
    assert "1 updated" in result.output
    bad = person[:-1] + ("0" if person[-1] != "0" else "1")
    result = _register(runner, tmp_path, [f"{new_person_id()},person,Li Na,Yatou,,,true",
                                          f"{bad},person,Zhang San,Yatou,,,maybe"])
    assert result.exit_code == 1
    assert "register.csv:3: column subject_id:" in result.output
    assert "register.csv:3: column consent:" in result.output
    assert session.execute(select(func.count()).select_from(Subject)).scalar() == 2


def test_subjects_import_is_the_keepers_and_consent_the_subjects(runner, session, tmp_path):
    """Only a department that keeps the register imports it; a row that changes a registered
    subject's consent is refused (with its row and column) unless an admin says why."""
    person = new_person_id()
    row = f"{person},person,Wang Wei,Yatou,Dongshan,,true"
    refused = _register(runner, tmp_path, [row], "--department", "traffic-police")
    assert refused.exit_code == 1 and "does not keep the population register" in refused.output
    assert session.get(Subject, person) is None
    made = _register(runner, tmp_path, [row], "--department", "credit-centre")
    assert made.exit_code == 0 and "1 added" in made.output, made.output
    withdrawn = f"{person},person,Wang Wei,Yatou,Dongshan,,false"
    for options in ((), ("--department", "credit-centre"),
                    ("--department", "credit-centre", "--consent-reason", "asked")):
        refused = _register(runner, tmp_path, [withdrawn], *options)
        assert refused.exit_code == 1, refused.output
        assert "register.csv:2: column consent: consent is the subject's own" in refused.output
    session.rollback()  # a new read transaction sees what the commands committed
    assert session.get(Subject, person).consent is True
    done = _register(runner, tmp_path, [withdrawn], "--consent-reason",
                     "written withdrawal by post, letter 2026-17")
    assert done.exit_code == 0 and "1 updated" in done.output, done.output
    session.rollback()  # a new read transaction sees what the commands committed
    assert session.get(Subject, person).consent is False
    (change,) = session.execute(select(ConsentChange)).scalars()
    assert change.reason == "written withdrawal by post, letter 2026-17"
    (event,) = session.execute(select(AuditEvent).where(
        AuditEvent.action == "subject.update")).scalars()
    assert event.subject_id == person
    details = json.loads(event.details)
    assert details["before"]["consent"] is True and details["after"]["consent"] is False
    assert details["reason"] == change.reason and details["source"].endswith("register.csv")


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
    # The same reference with other evidence is a refused row, named by line and column.
    other = tmp_path / "tickets-again.csv"
    other.write_text("subject_id,rule_code,occurred_on,evidence,external_ref\n"
                     f"{subject.subject_id},TRAFFIC-TICKET,2026-01-05,other photo,TP-1\n")
    clash = runner.invoke(args=["records", "import", str(other), "--department",
                                "traffic-police"])
    assert clash.exit_code == 1
    assert "tickets-again.csv:2: column external_ref:" in clash.output
    assert "another evidence" in clash.output
    # A control character is refused, as on the web and in the API.
    nul = tmp_path / "tickets-nul.csv"
    nul.write_text("subject_id,rule_code,occurred_on,evidence,external_ref\n"
                   f"{subject.subject_id},TRAFFIC-TICKET,2026-01-06,photo\x00,TP-9\n")
    refused = runner.invoke(args=["records", "import", str(nul), "--department",
                                  "traffic-police"])
    assert refused.exit_code == 1
    assert "tickets-nul.csv:2: column evidence: holds the control character U+0000" in (
        refused.output)
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
    assert result.exit_code == 0 and "database at revision 0018 " in result.output


def test_recompute_refuses_a_far_date_unless_allowed(runner, session, make_subject):
    from datetime import timedelta

    from app import clock

    make_subject(session)
    for day, reason in (("9999-12-31", "more than a year after today"),
                        ("0001-01-01", "before the scheme's earliest rule (2016-01-01)"),
                        ("2015-12-31", "before the scheme's earliest rule")):
        refused = runner.invoke(args=["recompute", "--as-of", day])
        assert refused.exit_code == 1, refused.output
        assert reason in refused.output and "--allow-far-date" in refused.output
    ahead = (clock.today() + timedelta(days=400)).isoformat()
    assert runner.invoke(args=["recompute", "--as-of", ahead]).exit_code == 1
    allowed = runner.invoke(args=["recompute", "--as-of", ahead, "--allow-far-date"])
    assert allowed.exit_code == 0 and f"as of {ahead}" in allowed.output
    assert runner.invoke(args=["recompute", "--as-of", "2016-01-01"]).exit_code == 0
