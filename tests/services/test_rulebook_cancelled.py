"""A scheduled rulebook that is cancelled: the subjects who were told it would move them are
told it will not, once each, in their own language (inbox, email, letter)."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.header import decode_header, make_header

import time_machine
from flask_babel import force_locale
from sqlalchemy import select

from app.db import session_scope
from app.models import AuditEvent, Notice
from app.services.due_process.delivery import deliver_pending, pending_letters
from app.services.due_process.notice_render import _WRITERS, render
from app.services.due_process.notices import inbox
from app.services.rulebooks.announce import notify_cancelled
from app.services.rulebooks.in_force import IN_FORCE, cancel
from app.services.subjects.consent import set_contact_email, set_language
from tests.services import test_in_force, test_notices
from tests.services.test_in_force import CHANGE_DAY, CHANGE_PUT, _changed_rules, _reload
from tests.services.test_notices import NOW, Collect

history = test_in_force.history  # the fixture: a subject at 995 points, tier A
smtp = test_notices.smtp  # the fixture: a loopback SMTP server

ZH_TITLE = "原定于 2026-03-01 生效的规则变更已取消"


def _schedule_and_cancel(app, tmp_path, make_subject, *, language: str | None = None):
    """Schedule the changed rulebook from 1 March (it moves the history's subject from A to
    B), then cancel it the same day; return (subject, untouched, coming, cancelled event)."""
    with app.app_context(), session_scope(app) as s:
        untouched = make_subject(s).subject_id  # at 1000 points: tier A before and after
    coming = _changed_rules(tmp_path, in_force_from="2026-03-01")
    assert not _reload(app, tmp_path / "rules", CHANGE_PUT).problems
    with time_machine.travel(CHANGE_PUT, tick=False), app.app_context(), \
            session_scope(app, write=True) as s:
        event = cancel(s, fingerprint=coming.fingerprint[:12], actor="author", today=CHANGE_DAY)
    return untouched, coming, event


def test_the_subjects_told_of_a_change_are_told_once_that_it_is_cancelled(
        app, history, tmp_path, make_subject):
    _, subject = history
    untouched, coming, event = _schedule_and_cancel(app, tmp_path, make_subject)
    with app.app_context(), session_scope(app) as s:
        notices = s.execute(select(Notice).where(Notice.kind == "rulebook_cancelled")
                            ).scalars().all()
        audited = s.execute(select(AuditEvent.details)
                            .where(AuditEvent.action == "rulebook.cancel")).scalars().all()
    assert [n.subject_id for n in notices] == [subject]  # only who was told of the change
    assert untouched not in {n.subject_id for n in notices}
    notice = notices[0]
    assert notice.dedupe_key == f"rulebook_cancelled:{event.id}:{subject}"
    assert notice.notified_on == CHANGE_DAY
    assert notice.title == "The rule change of 2026-03-01 is cancelled"
    assert f"The new rulebook ({coming.fingerprint[:12]}) that was to come into force on " \
           "2026-03-01" in notice.body and "was cancelled on 2026-02-02" in notice.body
    assert notice.content == {"fingerprint": coming.fingerprint[:12],
                              "in_force_from": "2026-03-01", "cancelled_on": "2026-02-02"}
    assert [json.loads(d)["notified"] for d in audited] == [1]
    with app.app_context(), session_scope(app, write=True) as s:  # once: a second call adds none
        assert notify_cancelled(s, event_id=event.id, fingerprint=coming.fingerprint,
                                day=CHANGE_DAY, today=CHANGE_DAY) == 0
        s.commit()
        assert len(s.execute(select(Notice.id).where(Notice.kind == "rulebook_cancelled"))
                   .all()) == 1


def test_a_rescheduled_and_cancelled_again_change_is_told_again(app, history, tmp_path,
                                                                make_subject):
    _, subject = history
    _, coming, first = _schedule_and_cancel(app, tmp_path, make_subject)
    assert not _reload(app, tmp_path / "rules", CHANGE_PUT).problems  # scheduled again
    with time_machine.travel(CHANGE_PUT, tick=False), app.app_context(), \
            session_scope(app, write=True) as s:
        second = cancel(s, fingerprint=coming.fingerprint[:12], actor="author",
                        today=CHANGE_DAY)
    assert second.id != first.id and second.action == IN_FORCE
    with app.app_context(), session_scope(app) as s:
        keys = s.execute(select(Notice.kind, Notice.dedupe_key).where(
            Notice.subject_id == subject, Notice.kind.like("rulebook_%"))
            .order_by(Notice.id)).all()
    assert keys == [("rulebook_change", f"rulebook:{first.id}:{subject}"),
                    ("rulebook_cancelled", f"rulebook_cancelled:{first.id}:{subject}"),
                    ("rulebook_change", f"rulebook:{second.id}:{subject}"),
                    ("rulebook_cancelled", f"rulebook_cancelled:{second.id}:{subject}")]


def test_the_cancellation_reads_in_the_subjects_language(app, history, tmp_path,
                                                         make_subject):
    _, subject = history
    with app.app_context(), session_scope(app, write=True) as s:
        set_language(s, subject_id=subject, language="zh", actor="test")
    _, coming, _ = _schedule_and_cancel(app, tmp_path, make_subject)
    with app.app_context(), session_scope(app) as s:
        items = {i.notice.kind: i for i in inbox(s, subject_id=subject)}
        cancelled = items["rulebook_cancelled"]
        assert cancelled.title == ZH_TITLE
        assert cancelled.body == (
            f"此前已通知您、原定于 2026-03-01 生效的新规则（{coming.fingerprint[:12]}）已于 "
            "2026-02-02 取消，不会生效：现行规则继续适用，该变更不会改变您的信用状况。")
        notice = cancelled.notice
        # English readers get the stored words, which are the catalogue's English words.
        assert render(notice.kind, notice.content, notice.title, notice.body, "en") == (
            notice.title, notice.body)
        with force_locale("en"):
            assert _WRITERS["rulebook_cancelled"](notice.content, "en") == (notice.title,
                                                                            notice.body)
        letters = {letter.notice.kind: letter for letter in
                   pending_letters(s, email_enabled=False) if letter.subject.subject_id ==
                   subject}
        assert letters["rulebook_cancelled"].title == ZH_TITLE


def test_the_cancellation_is_emailed_in_the_subjects_language(app, history, tmp_path,
                                                              make_subject, smtp):
    _, subject = history
    with app.app_context(), session_scope(app, write=True) as s:
        set_language(s, subject_id=subject, language="zh", actor="test")
        set_contact_email(s, subject_id=subject, email="s@example.org", actor="test")
    _schedule_and_cancel(app, tmp_path, make_subject)
    server = Collect()
    with app.app_context(), session_scope(app, write=True) as s:
        # the ticket's record notice, the change's and its cancellation's
        assert deliver_pending(s, channel=smtp(server), now=NOW).sent == 3
    subjects = {str(make_header(decode_header(str(message_from_bytes(m.content)["Subject"]))))
                for m in server.messages}
    assert f"citypoints: {ZH_TITLE}" in subjects
