"""Notices read in their subject's language: the inbox, the email (through a real SMTP server
on loopback) and the printed letter; the same stored notice always reads the same."""

from __future__ import annotations

from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from sqlalchemy import select

from app.models import Notice
from app.services.due_process.delivery import deliver_pending, pending_letters
from app.services.due_process.notice_render import render
from app.services.due_process.notices import inbox
from app.services.records.conduct import import_records_file
from app.services.subjects.consent import set_contact_email, set_language
from tests.services.test_notices import NOW, TODAY, Collect, _record, smtp  # noqa: F401

ZH_TITLE = "新记录：Drunk driving（-200 分）"  # the test rule has no Chinese title


@pytest.fixture
def chinese(session, make_subject):
    subject = make_subject(session)
    set_language(session, subject_id=subject.subject_id, language="zh", actor="test")
    return subject


def test_a_chinese_subjects_record_notice_reads_in_chinese_in_the_inbox(app, session,
                                                                       rulebook, chinese):
    record = _record(session, rulebook, chinese)
    with app.app_context():
        [item] = inbox(session, subject_id=chinese.subject_id)
    assert item.title == ZH_TITLE
    for part in ("于 2026-11-26 为您记录了以下行为", f"记录：{record.id}",
                 "行为：Drunk driving（规则 DRUNK-DRIVING）", "分数：-200", "证据编号：file TP-7",
                 f"计分截止：{record.ends_on.isoformat()}", "2026-12-26 前提出异议",
                 "15 天内作出决定", "异议待决期间，该记录不计分"):
        assert part in item.body, part
    # The stored English text is kept for readers that want it.
    assert item.notice.title == "New record: Drunk driving (-200 points)"


def test_an_english_subjects_notice_reads_as_stored(app, session, rulebook, make_subject):
    subject = make_subject(session)
    set_language(session, subject_id=subject.subject_id, language="en", actor="test")
    _record(session, rulebook, subject)
    with app.app_context():
        [item] = inbox(session, subject_id=subject.subject_id, default_language="zh")
    assert (item.title, item.body) == (item.notice.title, item.notice.body)
    assert item.title == "New record: Drunk driving (-200 points)"


def test_a_subject_without_a_language_reads_the_schemes_first(app, session, rulebook,
                                                             make_subject):
    subject = make_subject(session)
    _record(session, rulebook, subject)
    with app.app_context():
        assert inbox(session, subject_id=subject.subject_id, default_language="zh"
                     )[0].title == ZH_TITLE
        assert inbox(session, subject_id=subject.subject_id)[0].title.startswith("New record")


def test_the_same_notice_reads_the_same_every_time(app, session, rulebook, chinese):
    _record(session, rulebook, chinese)
    notice = session.execute(select(Notice)).scalar_one()
    with app.app_context():
        first = render(notice.kind, notice.content, notice.title, notice.body, "zh")
        session.expire_all()
        again = session.execute(select(Notice)).scalar_one()
        assert render(again.kind, again.content, again.title, again.body, "zh") == first
        assert inbox(session, subject_id=chinese.subject_id)[0].body == first[1]
    # English readers get the stored words, unchanged.
    assert render(notice.kind, notice.content, notice.title, notice.body, "en") == (
        notice.title, notice.body)


def test_an_imported_records_notice_reads_in_chinese_like_a_single_one(app, session,
                                                                       rulebook, chinese,
                                                                       make_subject):
    other = make_subject(session)
    set_language(session, subject_id=other.subject_id, language="zh", actor="test")
    single = _record(session, rulebook, other)
    data = (f"subject_id,rule_code,occurred_on,evidence,external_ref\n"
            f"{chinese.subject_id},DRUNK-DRIVING,{single.occurred_on.isoformat()},"
            "file TP-7,T-1\n").encode()
    import_records_file(session, rulebook=rulebook, department="traffic-police", data=data,
                        name="t.csv", recorded_by="officer", today=TODAY)
    with app.app_context():
        [imported] = inbox(session, subject_id=chinese.subject_id)
        [one] = inbox(session, subject_id=other.subject_id)
    assert imported.title == ZH_TITLE
    a, b = imported.notice.record_id, one.notice.record_id
    assert imported.body == (one.body.replace(f"记录：{b}\n", f"记录：{a}\n")
                             .replace(f"记录 {b} 旁", f"记录 {a} 旁"))


def test_a_chinese_subjects_email_is_in_chinese(app, session, rulebook, chinese, smtp):  # noqa: F811
    set_contact_email(session, subject_id=chinese.subject_id, email="wang@example.org",
                      actor="test")
    _record(session, rulebook, chinese)
    server = Collect()
    with app.app_context():
        assert deliver_pending(session, channel=smtp(server), now=NOW).sent == 1
    mail = message_from_bytes(server.messages[0].content)
    subject_line = str(mail["Subject"])
    assert str(make_header(decode_header(subject_line))) == f"citypoints: {ZH_TITLE}"
    text = mail.get_payload(decode=True).decode()
    assert "行为：Drunk driving" in text and "本通知也在您页面上的收件箱中。" in text
    assert "you may object" not in text


def test_letters_read_in_each_subjects_language(app, session, rulebook, chinese,
                                                make_subject):
    english = make_subject(session)
    set_language(session, subject_id=english.subject_id, language="en", actor="test")
    _record(session, rulebook, chinese)
    _record(session, rulebook, english)
    with app.app_context():
        letters = {letter.subject.subject_id: letter
                   for letter in pending_letters(session, email_enabled=False)}
    assert letters[chinese.subject_id].title == ZH_TITLE
    assert "提出异议" in letters[chinese.subject_id].body
    assert letters[english.subject_id].title == "New record: Drunk driving (-200 points)"
    assert "you may object until" in letters[english.subject_id].body


def test_the_rules_chinese_title_and_legal_basis_are_read_when_written(app, session, rulebook,
                                                                      chinese):
    _record(session, rulebook, chinese)
    notice = session.execute(select(Notice)).scalar_one()
    content = {**notice.content, "rule_title_zh": "醉酒驾驶",
               "legal_basis_zh": "道路交通安全法第九十一条", "department_zh": "交警"}
    with app.app_context():
        title, body = render("record", content, notice.title, notice.body, "zh")
    assert title == "新记录：醉酒驾驶（-200 分）"
    assert "交警 于 2026-11-26" in body and "法律依据：道路交通安全法第九十一条" in body


def test_the_nightly_tier_change_and_list_end_read_in_chinese(app, session, rulebook,
                                                              chinese, make_subject):
    from datetime import date, timedelta

    from app.models import ListEntry
    from app.services.due_process.notices import send_nightly_notices
    from app.services.standings.recompute import recompute

    _record(session, rulebook, chinese)  # -200: A -> C
    session.add(ListEntry(list_code="model-citizens", subject_id=chinese.subject_id,
                          department_code="civil-affairs", entered_on=date(2025, 11, 20),
                          ends_on=date(2026, 11, 20), created_by="t"))
    session.commit()
    recompute(session, rulebook=rulebook, as_of=TODAY - timedelta(days=30))
    recompute(session, rulebook=rulebook, as_of=TODAY)
    send_nightly_notices(session, rulebook=rulebook, as_of=TODAY)
    with app.app_context():
        items = {i.notice.kind: i for i in inbox(session, subject_id=chinese.subject_id)}
        tier, ended = items["tier_change"], items["list_end"]
        assert tier.title == "您现在的等级为 C（原为 A）"
        assert "您的分数为 800（原为 1000），因此您的等级由 A 变为 C。" in tier.body
        assert ended.title.startswith("您在“") and "2026-11-20 起不再计算" in ended.body
        assert render(tier.notice.kind, tier.notice.content, tier.notice.title,
                      tier.notice.body, "zh") == (tier.title, tier.body)
    # The stored English text is unchanged.
    assert "so your tier is C instead of A" in tier.notice.body
    assert ended.notice.title.startswith("Your entry on")


def test_the_repaired_notice_reads_in_chinese(app, session, rulebook, chinese):
    from datetime import timedelta

    from app.services.intake.drafts import RecordDraft
    from app.services.records.conduct import record_conduct
    from app.services.records.corrections import repair_record

    record = record_conduct(
        session, RecordDraft(subject_id=chinese.subject_id, rule_code="HEAT-TAMPER",
                             occurred_on=TODAY - timedelta(days=100), evidence="m-1"),
        rulebook=rulebook, department="heating-company", recorded_by="officer",
        today=TODAY - timedelta(days=100)).record
    repair_record(session, rulebook=rulebook, record_id=record.id,
                  department="heating-company", evidence="meter seal restored",
                  actor="heating-officer", today=TODAY)
    with app.app_context():
        items = {i.notice.kind: i for i in inbox(session, subject_id=chinese.subject_id)}
    repaired = items["record_repaired"]
    assert repaired.title == f"记录 {record.id} 已修复"
    assert "已于 2026-11-26 标记为已修复" in repaired.body
    assert "修复证据：meter seal restored" in repaired.body
    assert repaired.notice.title == f"Record {record.id} is repaired"
