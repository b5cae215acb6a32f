"""A notice made before its kind kept content reads as its stored English words; a reader of
another language is told so, in their language, in the inbox, the email and the letter,
instead of being given the English as if it were the notice in their language."""

from __future__ import annotations

from email import message_from_bytes
from email.header import decode_header, make_header

from sqlalchemy import update

from app.models import Notice
from app.services.due_process.delivery import deliver_pending, pending_letters
from app.services.due_process.notice_render import in_english_only, read, render
from app.services.due_process.notices import inbox
from app.services.subjects.consent import set_contact_email, set_language
from tests.services.test_notices import NOW, Collect, _record, smtp  # noqa: F401
from tests.services.test_notices_language import ZH_TITLE, chinese  # noqa: F401

STORED = "New record: Drunk driving (-200 points)"
MARKED = f"{STORED}（仅有英文版）"


def _before_content(session) -> None:
    """Make the subject's notices as they were stored before notices kept content."""
    session.execute(update(Notice).values(content=None))
    session.commit()


def test_a_notice_without_content_is_marked_in_the_chinese_inbox(app, session, rulebook,
                                                                 chinese):  # noqa: F811
    _record(session, rulebook, chinese)
    _before_content(session)
    with app.app_context():
        [item] = inbox(session, subject_id=chinese.subject_id)
    assert item.title == MARKED
    assert item.body == item.notice.body  # the stored English words, unchanged
    assert item.notice.title == STORED


def test_a_notice_with_content_and_an_english_reader_are_not_marked(app, session, rulebook,
                                                                    chinese,  # noqa: F811
                                                                    make_subject):
    _record(session, rulebook, chinese)
    english = make_subject(session)
    set_language(session, subject_id=english.subject_id, language="en", actor="test")
    _record(session, rulebook, english)
    with app.app_context():
        assert inbox(session, subject_id=chinese.subject_id)[0].title == ZH_TITLE
        _before_content(session)
        assert inbox(session, subject_id=english.subject_id)[0].title == STORED


def test_the_marker_says_why(app):
    content = {"record": 1}
    assert in_english_only("record", None, "zh")
    assert in_english_only("record", {}, "zh")
    assert in_english_only("a kind not written in Chinese", content, "zh")
    assert not in_english_only("record", None, "en")
    assert not in_english_only("record", content, "zh")
    with app.app_context():
        assert read("record", None, "Title", "Body", "en") == ("Title", "Body")
        assert read("record", None, "Title", "Body", "zh") == ("Title（仅有英文版）", "Body")
        # render itself is unchanged: the stored words, unmarked.
        assert render("record", None, "Title", "Body", "zh") == ("Title", "Body")


def test_the_email_and_the_letter_say_it_was_recorded_in_english(
        app, session, rulebook, chinese, make_subject, smtp):  # noqa: F811
    set_contact_email(session, subject_id=chinese.subject_id, email="wang@example.org",
                      actor="test")
    _record(session, rulebook, chinese)
    by_post = make_subject(session)
    set_language(session, subject_id=by_post.subject_id, language="zh", actor="test")
    _record(session, rulebook, by_post)
    _before_content(session)
    server = Collect()
    with app.app_context():
        assert deliver_pending(session, channel=smtp(server), now=NOW).sent == 1
        [letter] = pending_letters(session, email_enabled=True)
    mail = message_from_bytes(server.messages[0].content)
    assert str(make_header(decode_header(str(mail["Subject"])))) == f"citypoints: {MARKED}"
    assert "you may object until" in mail.get_payload(decode=True).decode()
    assert letter.subject.subject_id == by_post.subject_id
    assert letter.title == MARKED and "you may object until" in letter.body
