"""Notices: made once per event (the nightly job may run twice), kept in the outbox, and
delivered through a real SMTP server on loopback (aiosmtpd), including servers that refuse,
drop or defer: the notice stays pending and is retried, or waits as a letter; never lost."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app import clock
from app import scheduler as sched
from app.models import AuditEvent, ListEntry, Notice, NoticeOutbox
from app.services.due_process.delivery import (
    SmtpChannel,
    backoff,
    channel_from_config,
    deliver_pending,
    mark_letters_posted,
    pending_letters,
)
from app.services.due_process.notices import send_nightly_notices
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import import_records_file, record_conduct
from app.services.standings.recompute import recompute
from app.services.subjects.consent import set_contact_email

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _record(session, rulebook, subject, code="DRUNK-DRIVING", occurred_on=None, today=TODAY):
    return record_conduct(
        session, RecordDraft(subject_id=subject.subject_id, rule_code=code,
                             occurred_on=occurred_on or today - timedelta(days=5),
                             evidence="file TP-7"),
        rulebook=rulebook, department="traffic-police", recorded_by="officer", today=today).record


def _count(session, model) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def _outbox(session, notice_id: int) -> NoticeOutbox:
    session.rollback()
    return session.execute(select(NoticeOutbox).where(NoticeOutbox.notice_id == notice_id)
                           ).scalar_one()


# --- making notices --------------------------------------------------------------------------
def test_a_record_makes_one_notice_with_rule_points_evidence_and_objection_deadline(
        session, rulebook, make_subject):
    record = _record(session, rulebook, make_subject(session))
    notice = session.execute(select(Notice)).scalar_one()
    assert (notice.kind, notice.dedupe_key, notice.record_id) == (
        "record", f"record:{record.id}", record.id)
    assert notice.title == "New record: Drunk driving (-200 points)"
    for part in ("Traffic Police recorded", "Points: -200", "Road Traffic Safety Law, art. 91",
                 "Evidence reference: file TP-7", f"Counts until: {record.ends_on.isoformat()}",
                 "you may object until 2026-12-26", "decides within 15 days",
                 "the record does not count"):
        assert part in notice.body
    assert _outbox(session, notice.id).state == "pending"


def test_an_import_notifies_each_new_record_once(session, rulebook, make_subject):
    a, b = make_subject(session), make_subject(session)
    data = (f"subject_id,rule_code,occurred_on,evidence,external_ref\n"
            f"{a.subject_id},TRAFFIC-TICKET,2026-11-01,t1,T-1\n"
            f"{b.subject_id},TRAFFIC-TICKET,2026-11-02,t2,T-2\n").encode()
    for _ in range(2):
        import_records_file(session, rulebook=rulebook, department="traffic-police", data=data,
                            name="t.csv", recorded_by="officer", today=TODAY)
    notices = session.execute(select(Notice).order_by(Notice.id)).scalars().all()
    assert sorted(n.subject_id for n in notices) == sorted([a.subject_id, b.subject_id])
    assert _count(session, NoticeOutbox) == 2


def test_the_nightly_notices_are_made_once_even_when_run_twice(session, rulebook, make_subject):
    tiered = make_subject(session)
    _record(session, rulebook, tiered)  # -200: A -> C
    listed, ended, lapsing = make_subject(session), make_subject(session), make_subject(session)
    session.add(ListEntry(list_code="court-defaulters", subject_id=listed.subject_id,
                          department_code="court", entered_on=TODAY - timedelta(days=2),
                          ends_on=TODAY + timedelta(days=728), decision_ref="(2026) Zhi 1"))
    session.add(ListEntry(list_code="model-citizens", subject_id=ended.subject_id,
                          department_code="civil-affairs", entered_on=date(2025, 11, 20),
                          ends_on=date(2026, 11, 20), created_by="t"))
    session.commit()
    ticket = _record(session, rulebook, lapsing, code="TRAFFIC-TICKET",
                     occurred_on=date(2025, 12, 6), today=date(2025, 12, 6))
    recompute(session, rulebook=rulebook, as_of=TODAY - timedelta(days=30))
    recompute(session, rulebook=rulebook, as_of=TODAY)
    first = send_nightly_notices(session, rulebook=rulebook, as_of=TODAY)
    assert first.counts == {"tier_change": 1, "list_entry": 1, "list_end": 1,
                            "measure_pending": 1, "record_lapsing": 1}
    total = _count(session, Notice)
    again = send_nightly_notices(session, rulebook=rulebook, as_of=TODAY)
    recompute(session, rulebook=rulebook, as_of=TODAY)
    third = send_nightly_notices(session, rulebook=rulebook, as_of=TODAY)
    assert again.total == third.total == 0
    assert _count(session, Notice) == total == _count(session, NoticeOutbox)

    def body(kind):
        return session.execute(select(Notice).where(Notice.kind == kind)).scalar_one()

    tier = body("tier_change")
    assert tier.subject_id == tiered.subject_id
    assert "your points are 800 (they were 1000), so your tier is C instead of A" in tier.body
    entry = body("list_entry")
    assert "(2026) Zhi 1" in entry.body and "TENDER-BAN" in entry.body
    pending = body("measure_pending")
    effect = TODAY - timedelta(days=2) + timedelta(days=7)
    assert pending.title == f"Restriction TENDER-BAN takes effect on {effect.isoformat()}"
    assert pending.subject_id == listed.subject_id
    assert body("list_end").subject_id == ended.subject_id
    lapse = body("record_lapsing")
    assert lapse.record_id == ticket.id
    assert "points 995 → 1000" in lapse.body
    events = session.execute(select(AuditEvent).where(AuditEvent.action == "notices.nightly")
                             ).scalars().all()
    assert len(events) == 1  # the runs that made nothing wrote nothing


def test_the_scheduler_job_run_twice_sends_no_notice_twice(app, session, rulebook,
                                                            make_subject):
    today = clock.today()
    subject = make_subject(session)
    recompute(session, rulebook=rulebook, as_of=today - timedelta(days=3))
    _record(session, rulebook, subject, occurred_on=today - timedelta(days=1), today=today)
    sched.nightly_recompute(app)
    sched.nightly_recompute(app)
    session.rollback()
    kinds = session.execute(select(Notice.kind).order_by(Notice.id)).scalars().all()
    assert kinds == ["record", "tier_change"]


# --- delivery --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collect:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


class Defer:
    async def handle_DATA(self, server, session, envelope):
        return "451 4.3.0 try again later"


class NoSuchUser:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such user"


class Dropper:
    """A loopback server that greets and then hangs up at the first command."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"220 dropper ready\r\n")
                conn.settimeout(2)
                try:
                    conn.recv(1024)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def smtp():
    """Return start(handler) -> SmtpChannel on a fresh aiosmtpd server on loopback."""
    controllers = []

    def start(handler):
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
        controller.start()
        controllers.append(controller)
        return SmtpChannel(host="127.0.0.1", port=controller.port,
                           sender="notices@city.example", timeout=5)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def emailed(session, rulebook, make_subject):
    """A subject with an email address and one record (so one pending notice)."""
    subject = make_subject(session)
    set_contact_email(session, subject_id=subject.subject_id, email="wang@example.org",
                      actor="test")
    _record(session, rulebook, subject)
    return session.execute(select(Notice)).scalar_one()


def test_a_pending_notice_is_sent_once_through_smtp(session, emailed, smtp):
    server = Collect()
    channel = smtp(server)
    result = deliver_pending(session, channel=channel, now=NOW)
    assert (result.sent, result.retrying, result.failed) == (1, 0, 0)
    assert deliver_pending(session, channel=channel, now=NOW + timedelta(hours=1)).attempted == 0
    assert len(server.messages) == 1
    envelope = server.messages[0]
    assert envelope.rcpt_tos == ["wang@example.org"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "citypoints: New record: Drunk driving (-200 points)"
    assert f"notice-{emailed.id}" in mail["Message-ID"]
    assert "you may object until" in mail.get_payload(decode=True).decode()
    row = _outbox(session, emailed.id)
    assert (row.state, row.channel, row.recipient, row.attempts) == (
        "sent", "email", "wang@example.org", 1)
    assert row.sent_at is not None


def test_a_refused_connection_keeps_the_notice_pending_and_it_is_retried(session, emailed,
                                                                         smtp):
    closed = SmtpChannel(host="127.0.0.1", port=_free_port(), timeout=2)
    result = deliver_pending(session, channel=closed, now=NOW)
    assert (result.sent, result.retrying, result.failed) == (0, 1, 0)
    row = _outbox(session, emailed.id)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in row.last_error
    # Not due again before its backoff, then delivered when the server is back.
    assert deliver_pending(session, channel=closed, now=NOW + timedelta(seconds=30)
                           ).attempted == 0
    server = Collect()
    done = deliver_pending(session, channel=smtp(server), now=NOW + backoff(1))
    assert done.sent == 1 and len(server.messages) == 1
    row = _outbox(session, emailed.id)
    assert (row.state, row.attempts) == ("sent", 2)


def test_a_dropped_connection_keeps_the_notice_pending(session, emailed):
    dropper = Dropper()
    try:
        channel = SmtpChannel(host="127.0.0.1", port=dropper.port, timeout=3)
        result = deliver_pending(session, channel=channel, now=NOW)
    finally:
        dropper.close()
    assert result.retrying == 1
    row = _outbox(session, emailed.id)
    assert row.state == "pending" and "SMTPServerDisconnected" in row.last_error


def test_a_deferral_retries_and_a_permanent_refusal_becomes_a_letter(session, rulebook,
                                                                     emailed, smtp):
    result = deliver_pending(session, channel=smtp(Defer()), now=NOW)
    assert result.retrying == 1
    row = _outbox(session, emailed.id)
    assert row.state == "pending" and "451" in row.last_error
    assert pending_letters(session, email_enabled=True) == []
    result = deliver_pending(session, channel=smtp(NoSuchUser()), now=NOW + timedelta(hours=1))
    assert result.failed == 1
    row = _outbox(session, emailed.id)
    assert row.state == "failed" and "550" in row.last_error
    letters = pending_letters(session, email_enabled=True)
    assert [letter.notice.id for letter in letters] == [emailed.id]


def test_too_many_attempts_turn_into_a_letter(session, emailed):
    closed = SmtpChannel(host="127.0.0.1", port=_free_port(), timeout=2)
    assert deliver_pending(session, channel=closed, now=NOW, max_attempts=1).failed == 1
    assert _outbox(session, emailed.id).state == "failed"
    assert len(pending_letters(session, email_enabled=True)) == 1


def test_a_failing_server_stops_the_batch_without_touching_the_rest(session, rulebook,
                                                                    emailed, make_subject):
    for _ in range(2):
        subject = make_subject(session)
        set_contact_email(session, subject_id=subject.subject_id, email="x@example.org",
                          actor="t")
        _record(session, rulebook, subject)
    closed = SmtpChannel(host="127.0.0.1", port=_free_port(), timeout=2)
    assert deliver_pending(session, channel=closed, now=NOW).attempted == 1
    session.rollback()
    attempts = session.execute(select(NoticeOutbox.attempts).order_by(NoticeOutbox.id)
                               ).scalars().all()
    assert attempts == [1, 0, 0]


def test_without_a_mail_server_notices_wait_as_letters_until_posted(session, rulebook,
                                                                    make_subject, emailed):
    assert channel_from_config({}) is None
    assert deliver_pending(session, channel=None).attempted == 0
    nobody = make_subject(session)
    _record(session, rulebook, nobody)
    letters = pending_letters(session, email_enabled=False)
    assert len(letters) == 2
    # With a mail server only the subject without an address gets a letter.
    only = pending_letters(session, email_enabled=True)
    assert [letter.subject.subject_id for letter in only] == [nobody.subject_id]
    ids = [letter.outbox.id for letter in letters]
    assert mark_letters_posted(session, outbox_ids=ids, email_enabled=False, actor="clerk") == 2
    assert mark_letters_posted(session, outbox_ids=ids, email_enabled=False, actor="clerk") == 0
    assert pending_letters(session, email_enabled=False) == []
    row = _outbox(session, letters[0].notice.id)
    assert (row.state, row.channel, row.sent_by) == ("sent", "letter", "clerk")


def test_the_deliver_command_uses_the_configured_server(app, runner, session, emailed, smtp):
    result = runner.invoke(args=["notices", "deliver"])
    assert result.exit_code == 0 and "no mail server configured" in result.output
    server = Collect()
    channel = smtp(server)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=channel.port,
                      MAIL_FROM="notices@city.example")
    result = runner.invoke(args=["notices", "deliver"])
    assert result.exit_code == 0, result.output
    assert "1 sent, 0 to retry later, 0 failed" in result.output
    assert len(server.messages) == 1
    assert server.messages[0].mail_from == "notices@city.example"


def test_the_nightly_command_is_safe_to_run_twice(runner, session, rulebook, make_subject):
    subject = make_subject(session)
    recompute(session, rulebook=rulebook, as_of=TODAY - timedelta(days=10))
    _record(session, rulebook, subject)
    recompute(session, rulebook=rulebook, as_of=TODAY)
    first = runner.invoke(args=["notices", "nightly", "--as-of", TODAY.isoformat()])
    assert first.exit_code == 0, first.output
    assert f"notices as of {TODAY}: 1 new (1 tier change," in first.output
    second = runner.invoke(args=["notices", "nightly", "--as-of", TODAY.isoformat()])
    assert f"notices as of {TODAY}: 0 new" in second.output
