"""Every kind of notice reads in its subject's language, in the inbox, the printed letter and
the email (through a real SMTP server on loopback), from the values stored with it: list
entry, measure pending, objection decision, repair decision, list-entry objection decision,
record lapsing, legal representative and rulebook change (the record, tier change, list end
and repaired notices are in test_notices_language.py).

Each test makes the notice for a Chinese and an English subject through the service that
makes it in production, with a rulebook whose texts are written in both languages.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine

from app.db import session_scope
from app.models import Notice
from app.rulebook import load_rulebook
from app.rulebook.diff import Change
from app.services.due_process.delivery import deliver_pending, pending_letters
from app.services.due_process.notice_render import render
from app.services.due_process.notices import inbox, send_nightly_notices
from app.services.due_process.objections import decide_objection, file_objection
from app.services.due_process.ways_out import (
    apply_for_repair,
    decide_entry_objection,
    decide_repair,
    object_to_entry,
)
from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from app.services.standings.recompute import recompute
from app.services.subjects.consent import set_contact_email, set_language
from app.services.subjects.register import import_subjects_file
from tests.conftest import new_organisation_id
from tests.rulebook.test_diff import WORDED
from tests.services.test_in_force import (  # noqa: F401
    CHANGE_PUT,
    FIRST_PUT,
    TICKET_DAY,
    _changed_rules,
    _reload,
    history,
)
from tests.services.test_notices import NOW, TODAY, Collect, smtp  # noqa: F401

ZH = {  # the rulebook's texts in Chinese, written beside the English ones
    "list": {"court-defaulters": "失信被执行人名单"},
    "measure": {"TENDER-BAN": "不得参加政府采购投标"},
    "department": {"court": "人民法院", "heating-company": "供热公司",
                   "finance-bureau": "财政局", "traffic-police": "交警支队"},
    "rule": {"TRAFFIC-TICKET": "交通违法罚单", "DRUNK-DRIVING": "醉酒驾驶"},
}
TENDER_BASIS_ZH = "招标投标法第五十三、五十四、六十条"


def _zh(item, title: str):
    return replace(item, titles=(*item.titles, ("zh", title)))


@pytest.fixture
def both(rulebook):
    """The test rulebook with Chinese titles (and a Chinese legal basis for the tender ban)."""
    def measure(m):
        if m.code not in ZH["measure"]:
            return m
        return replace(_zh(m, ZH["measure"][m.code]), texts=(
            ("legal_basis", (("en", m.legal_basis), ("zh", TENDER_BASIS_ZH))),))

    tables = tuple(replace(t, rules=tuple(_zh(r, ZH["rule"][r.code]) if r.code in ZH["rule"]
                                          else r for r in t.rules)) for t in rulebook.tables)
    return replace(
        rulebook, tables=tables, measures=tuple(measure(m) for m in rulebook.measures),
        lists=tuple(_zh(x, ZH["list"][x.code]) if x.code in ZH["list"] else x
                    for x in rulebook.lists),
        departments=tuple(_zh(d, ZH["department"][d.code]) if d.code in ZH["department"]
                          else d for d in rulebook.departments))


@pytest.fixture
def people(session, make_subject):
    """A Chinese and an English subject, each with an email address: {language: subject}."""
    out = {}
    for language in ("zh", "en"):
        subject = make_subject(session)
        set_language(session, subject_id=subject.subject_id, language=language, actor="test")
        set_contact_email(session, subject_id=subject.subject_id,
                          email=f"{language}-{subject.subject_id}@example.org", actor="test")
        out[language] = subject
    return out


def _read(app, session, people, *kinds: str, smtp) -> dict:  # noqa: F811
    """Return, per kind and language, the notice as the inbox, the letter and the email give
    it: {kind: {language: [notice, (title, body) of the inbox, of the letter, of the email]}}."""
    out: dict = {kind: {} for kind in kinds}
    with app.app_context():
        letters = {(letter.subject.subject_id, letter.notice.id): letter
                   for letter in pending_letters(session, email_enabled=False, limit=1000)}
        for kind in kinds:
            for language, subject in people.items():
                [item] = [i for i in inbox(session, subject_id=subject.subject_id)
                          if i.notice.kind == kind]
                letter = letters[(subject.subject_id, item.notice.id)]
                out[kind][language] = [item.notice, (item.title, item.body),
                                       (letter.title, letter.body)]
        server = Collect()
        assert deliver_pending(session, channel=smtp(server), now=NOW, limit=1000).failed == 0
    mails = {}
    for m in server.messages:
        mail = message_from_bytes(m.content)
        subject_line = " ".join(str(make_header(decode_header(mail["Subject"]))).split())
        mails[(m.rcpt_tos[0].lower(), subject_line)] = mail.get_payload(decode=True).decode()
    for kind in kinds:
        for language, subject in people.items():
            title = out[kind][language][1][0]
            body = mails[(f"{language}-{subject.subject_id}@example.org".lower(),
                          f"citypoints: {title}")]
            body = body.replace("\r\n", "\n").rsplit("\n\n", 1)[0]  # less the footer
            out[kind][language].append((title, body))
    return out[kinds[0]] if len(kinds) == 1 else out


def _check(read: dict, *, zh_title: str, zh_parts: tuple[str, ...], en_title: str,
           en_parts: tuple[str, ...]) -> None:
    """The Chinese subject reads Chinese everywhere; the English one reads the stored text."""
    notice, *seen = read["zh"]
    assert seen[0] == seen[1] == seen[2], "the inbox, the letter and the email differ"
    title, body = seen[0]
    assert title == zh_title
    for part in zh_parts:
        assert part in body, (part, body)
    # The stored English text is kept for readers that want it (exports, the API).
    assert notice.title.isascii() and (notice.title, notice.body) != (title, body)
    english, *seen = read["en"]
    assert seen[0] == seen[1] == seen[2] == (english.title, english.body)
    assert english.title == en_title
    for part in en_parts:
        assert part in english.body, (part, english.body)
    # The same stored notice renders the same words every time, from its content alone.
    assert render(notice.kind, notice.content, notice.title, notice.body, "en") == (
        notice.title, notice.body)


def _render_zh(app, notice: Notice, **changed) -> tuple[str, str]:
    """Render `notice` in Chinese with some of its content's values changed."""
    with app.app_context():
        return render(notice.kind, {**notice.content, **changed}, notice.title, notice.body,
                      "zh")


def _court_entry(session, rulebook, subject, entered_on):
    return enter(session, ListEntryDraft(subject_id=subject.subject_id,
                                         list_code="court-defaulters", entered_on=entered_on,
                                         decision_ref="(2026) Lu 1082 Zhi 7"),
                 rulebook=rulebook, department="court", today=entered_on, actor="judge-1").entry


def test_the_list_entry_and_measure_pending_notices(app, session, both, people, smtp):  # noqa: F811
    entered = TODAY - timedelta(days=2)
    for subject in people.values():
        _court_entry(session, both, subject, entered)
    recompute(session, rulebook=both, as_of=TODAY)
    send_nightly_notices(session, rulebook=both, as_of=TODAY)
    read = _read(app, session, people, "list_entry", "measure_pending", smtp=smtp)
    entry = read["list_entry"]
    _check(entry, zh_title="您已被列入黑名单“失信被执行人名单”",
           zh_parts=(f"人民法院 于 {entered} 将您列入黑名单“失信被执行人名单”"
                     "（代码 court-defaulters）。",
                     "决定书：(2026) Lu 1082 Zhi 7", "有效期至：2028-11-24",
                     "因此项列入，限制措施 TENDER-BAN（不得参加政府采购投标）"
                     "在本通知发出 7 天后适用。",
                     "该名单是公开的", "请在 2026-12-24 前（自列入起 30 天内）通过您的页面提出",
                     "审核人员在 15 天内作出决定", "致函 人民法院"),
           en_title="You were entered on the blacklist \"Dishonest judgment debtors\"",
           en_parts=("Court entered you on the blacklist", "Decision: (2026) Lu 1082 Zhi 7",
                     "Because of this entry, restriction TENDER-BAN"))
    notice = entry["zh"][0]
    assert notice.content["list_zh"] == "失信被执行人名单"
    # A list entry without a decision, an end or measures says so in Chinese too.
    _, body = _render_zh(app, notice, decision="", until=None, measures=[], public=False,
                         legal_basis="", legal_basis_zh="")
    assert "决定书：未提供编号" in body and "有效期至：未设定结束日期" in body
    assert "法律依据：未提供" in body and "TENDER-BAN" not in body and "公开" not in body

    pending = read["measure_pending"]
    effect = (entered + timedelta(days=7)).isoformat()
    _check(pending, zh_title=f"限制措施 TENDER-BAN 将于 {effect} 生效",
           zh_parts=("不得参加政府采购投标（限制措施 TENDER-BAN，由 财政局 决定）"
                     "如届时条件仍然成立，"
                     f"将自 {effect} 起对您适用。该条件自 {entered} 起成立",
                     f"- 自{entered}起列入失信被执行人名单。 决定书(2026) Lu 1082 Zhi 7。 "
                     "由人民法院列入。",
                     f"法律依据：{TENDER_BASIS_ZH}", "请在您的页面上对该记录提出异议"),
           en_title=f"Restriction TENDER-BAN takes effect on {effect}",
           en_parts=("May not bid for government tenders (restriction TENDER-BAN",
                     "- on list court-defaulters (Dishonest judgment debtors) since"))
    # The other reasons a measure holds for, as the evaluator gives them (code and values).
    notice = pending["zh"][0]
    [listed] = notice.content["reasons"]
    via = {**listed, "values": {**listed["values"], "via": "91371082000000010T",
                                "via_name": "Haiyang Fisheries"}}
    reasons = [{"code": "tier", "values": {"tier": "D", "points": 480}},
               {"code": "flag", "values": {"flag": "SCRUTINY", "list": "priority-scrutiny",
                                           "count": 3, "threshold": 3, "within": "1y",
                                           "entered_on": ["2026-01-02", "2026-05-06",
                                                          "2026-09-10"]}}, via]
    _, body = _render_zh(app, notice, reasons=reasons)
    assert "\n- 等级 D（480分）。\n" in body
    assert ("\n- 已加上标记 SCRUTINY：1 年内在priority-scrutiny上有3条记录（阈值3；列入日期为"
            "2026-01-02, 2026-05-06, 2026-09-10）。\n") in body
    assert (f"\n- 作为Haiyang Fisheries（91371082000000010T）的法定代表人：自{entered}起列入"
            "失信被执行人名单。 决定书(2026) Lu 1082 Zhi 7。 由人民法院列入。\n") in body


def test_the_objection_decision_notice(app, session, both, people, smtp):  # noqa: F811
    records = {}
    for language, subject in people.items():
        record = record_conduct(
            session, RecordDraft(subject_id=subject.subject_id, rule_code="DRUNK-DRIVING",
                                 occurred_on=TODAY - timedelta(days=6), evidence="test 0.9"),
            rulebook=both, department="traffic-police", recorded_by="officer",
            today=TODAY - timedelta(days=5)).record
        objection = file_objection(session, rulebook=both, subject_id=subject.subject_id,
                                   record_id=record.id, reason="I was not driving",
                                   actor="resident", today=TODAY)
        decide_objection(session, rulebook=both, objection_id=objection.id, outcome="upheld",
                         reason="the camera shows you driving", reviewer="reviewer-1",
                         today=TODAY)
        records[language] = record.id
    read = _read(app, session, people, "objection_decision", smtp=smtp)
    zh, en = records["zh"], records["en"]
    _check(read, zh_title=f"您的异议被驳回：记录 {zh} 予以维持",
           zh_parts=("审核人员已于 2026-11-26 对您的异议作出决定。",
                     f"记录 {zh}（DRUNK-DRIVING）予以维持，按原记录计分。",
                     "理由：the camera shows you driving",
                     "您可以在 2026-12-06 前通过您的页面申请一次由另一名审核人员进行的复核；"
                     "复核在 15 天内作出决定。"),
           en_title=f"Your objection was rejected: record {en} stands",
           en_parts=("Reasons: the camera shows you driving",
                     "You may ask once for reconsideration"))
    # The other outcomes and levels, from the same content.
    notice = read["zh"][0]
    annulled = {"outcome": "annulled", "reconsider_until": None}
    title, body = _render_zh(app, notice, **annulled)
    assert title == f"您的异议成立：记录 {zh} 已撤销"
    assert f"记录 {zh}（DRUNK-DRIVING）自 2026-11-26 起撤销：在任何日期均不再计分。" in body
    title, body = _render_zh(app, notice, **{**annulled, "level": 2, "outcome": "upheld"})
    assert title == f"您的复核申请被驳回：记录 {zh} 予以维持"
    assert "对您的复核申请作出决定" in body and body.endswith("本复核决定为最终决定。")


def test_the_repair_decision_notice(app, session, both, people, smtp):  # noqa: F811
    records = {}
    for language, subject in people.items():
        occurred = TODAY - timedelta(days=100)
        record = record_conduct(
            session, RecordDraft(subject_id=subject.subject_id, rule_code="HEAT-TAMPER",
                                 occurred_on=occurred, evidence="meter seal broken"),
            rulebook=both, department="heating-company", recorded_by="heat-1",
            today=occurred).record
        application = apply_for_repair(session, rulebook=both, subject_id=subject.subject_id,
                                       record_id=record.id, statement="paid", actor="r",
                                       today=TODAY)
        decide_repair(session, rulebook=both, request_id=application.id, grant=False,
                      reason="no receipt was shown", department=None, actor="reviewer-1",
                      today=TODAY)
        records[language] = record.id
    read = _read(app, session, people, "repair_decision", smtp=smtp)
    zh, en = records["zh"], records["en"]
    _check(read, zh_title=f"您对记录 {zh} 的信用修复申请已被驳回",
           zh_parts=(f"供热公司 于 2026-11-26 驳回了您将记录 {zh} 标记为已修复的申请。",
                     "理由：no receipt was shown", "在所要求的事项得到纠正后，您可以再次申请。"),
           en_title=f"Your application to repair record {en} was refused",
           en_parts=("Heating Company refused your application", "no receipt was shown"))


def test_the_list_entry_objection_decision_notice(app, session, both, people, smtp):  # noqa: F811
    for subject in people.values():
        entry = _court_entry(session, both, subject, TODAY - timedelta(days=3))
        objection = object_to_entry(session, rulebook=both, subject_id=subject.subject_id,
                                    entry_id=entry.id, reason="wrong person", actor="r",
                                    today=TODAY)
        decide_entry_objection(session, rulebook=both, objection_id=objection.id,
                               outcome="upheld", reason="the judgment names you",
                               reviewer="reviewer-1", today=TODAY)
    read = _read(app, session, people, "entry_objection_decision", smtp=smtp)
    _check(read, zh_title="您对“失信被执行人名单”名单记录的异议未被采纳",
           zh_parts=("审核人员已于 2026-11-26 决定维持您在“失信被执行人名单”上的名单记录。",
                     "理由：the judgment names you"),
           en_title="Your objection to your entry on \"Dishonest judgment debtors\" was not "
                    "accepted",
           en_parts=("decided that your entry on \"Dishonest judgment debtors\" stands",))
    notice = read["zh"][0]
    title, body = _render_zh(app, notice, outcome="ended")
    assert title == "您的异议已被采纳：您在“失信被执行人名单”上的名单记录已结束"
    assert "审核人员已于 2026-11-26 采纳您的异议" in body


def test_the_record_lapsing_notice(app, session, both, people, smtp):  # noqa: F811
    records = {}
    for language, subject in people.items():
        records[language] = record_conduct(
            session, RecordDraft(subject_id=subject.subject_id, rule_code="TRAFFIC-TICKET",
                                 occurred_on=date(2025, 12, 6), evidence="t-1"),
            rulebook=both, department="traffic-police", recorded_by="officer",
            today=date(2025, 12, 6)).record.id
    send_nightly_notices(session, rulebook=both, as_of=TODAY)
    read = _read(app, session, people, "record_lapsing", smtp=smtp)
    zh, en = records["zh"], records["en"]
    _check(read, zh_title=f"记录 {zh} 将于 2026-12-06 停止计分",
           zh_parts=(f"记录 {zh}，交通违法罚单（TRAFFIC-TICKET，-5 分），"
                     "将于 2026-12-06 停止计分。",
                     "2026-12-06，1条记录（TRAFFIC-TICKET）不再计入：积分 995 → 1000。"),
           en_title=f"Record {en} stops counting on 2026-12-06",
           en_parts=(f"Record {en}, Traffic ticket (TRAFFIC-TICKET, -5 points)",
                     "On 2026-12-06 1 record (TRAFFIC-TICKET) stops counting: points 995 → "
                     "1000."))
    notice = read["zh"][0]
    assert notice.content["rule_title_zh"] == "交通违法罚单"
    # A lapse that changes the tier says so; one with no effect says only when.
    effect = {**notice.content["effect"]}
    effect["values"] = {**effect["values"], "tier_before": "B", "tier": "A"}
    _, body = _render_zh(app, notice, effect=effect)
    assert body.endswith("不再计入：积分 995 → 1000，等级 B → A。")
    _, body = _render_zh(app, notice, effect=None)
    assert body.endswith("将于 2026-12-06 停止计分。")


def test_the_legal_representative_notice(app, session, both, people, smtp):  # noqa: F811
    organisations = {}
    for language, subject in people.items():
        organisations[language] = new_organisation_id()
        data = ("subject_id,kind,name,district,village,legal_representative,consent\n"
                f"{organisations[language]},organisation,Haiyang Fisheries,,,"
                f"{subject.subject_id},yes\n")
        import_subjects_file(session, data=data.encode(), name="register.csv", actor="test",
                             department=None, rulebook=both, today=TODAY)
    read = _read(app, session, people, "representative", smtp=smtp)
    zh = organisations["zh"]
    _check(read, zh_title="您已登记为 Haiyang Fisheries 的法定代表人",
           zh_parts=(f"自 2026-11-26 起，人口登记册登记您为 Haiyang Fisheries（{zh}）"
                     "的法定代表人。",
                     "不追溯至此前任何一日", "请告知管理登记册的部门。"),
           en_title="You are registered as the legal representative of Haiyang Fisheries",
           en_parts=(f"of Haiyang Fisheries ({organisations['en']}).",))
    notice = read["zh"][0]
    _, body = _render_zh(app, notice, before="Li Lei")
    assert f"Haiyang Fisheries（{zh}）的法定代表人，接替 Li Lei。" in body


def _more_changes(rules: Path) -> None:
    """Change a rule's points, the tender ban's notice and the court list's term as well."""
    conduct = rules / "conduct" / "main.yaml"
    text = conduct.read_text()
    assert text.count("points: -200") == 1
    conduct.write_text(text.replace("points: -200", "points: -250"))
    measures = rules / "measures.yaml"
    measures.write_text(measures.read_text().replace("notice: 7d", "notice: 14d"))
    lists = rules / "lists.yaml"
    lists.write_text(lists.read_text().replace(
        "departments: [court], lasts: 2y", "departments: [court], lasts: 3y"))


CODES = ("A", "B", "D", "DRUNK-DRIVING", "TENDER-BAN", "court-defaulters")


def test_the_rulebook_change_notice(app, history, tmp_path, make_subject, smtp):  # noqa: F811
    first, moved = history  # at 995 points from 10 January: tier A, B under the change
    with time_machine.travel(FIRST_PUT, tick=False), app.app_context(), \
            session_scope(app) as s:
        other = make_subject(s).subject_id
        record_conduct(s, RecordDraft(subject_id=other, rule_code="TRAFFIC-TICKET",
                                      occurred_on=TICKET_DAY),
                       rulebook=first, department="traffic-police", recorded_by="t",
                       today=TICKET_DAY)
        people = {}
        for language, subject_id in (("zh", moved), ("en", other)):
            set_language(s, subject_id=subject_id, language=language, actor="test")
            set_contact_email(s, subject_id=subject_id,
                              email=f"{language}-{subject_id}@example.org", actor="test")
            people[language] = SimpleNamespace(subject_id=subject_id)
    _changed_rules(tmp_path, in_force_from="2026-03-01")
    _more_changes(tmp_path / "rules")
    coming = load_rulebook(str(tmp_path / "rules"))
    assert not _reload(app, tmp_path / "rules", CHANGE_PUT).problems
    zh_changes = ("等级 A：最低分 960 → 1000",
                  "规则 DRUNK-DRIVING 第 1 版：分值 -200 → -250",
                  "措施 TENDER-BAN：适用条件 等级 D；名单 court-defaulters → 等级 B、D；名单 "
                  "court-defaulters",
                  "措施 TENDER-BAN：通知期 7 天 → 14 天",
                  "名单 court-defaulters：列入期限 2 年 → 3 年")
    with app.app_context(), session_scope(app) as s:
        read = _read(app, s, people, "rulebook_change", smtp=smtp)
        _check(read, zh_title="方案规则将于 2026-03-01 变更：您的信用状况将随之改变",
               zh_parts=(f"自 2026-03-01 起，新的规则集（{coming.fingerprint[:12]}）生效。"
                         "按您目前的记录判断，在该日：", "- 您的等级将由 A 变为 B",
                         "新规则集的变更：\n- 等级 A：最低分 960 → 1000\n",
                         *(f"\n- {line}\n" for line in zh_changes),
                         "在此之前，适用今天有效的规则。"),
               en_title="The scheme's rules change on 2026-03-01: your standing will change",
               en_parts=("- your tier moves from A to B",
                         "What the new rulebook changes:\n- tier A: min 960 → 1000\n",
                         "- rule DRUNK-DRIVING version 1: points -200 → -250\n",
                         "- measure TENDER-BAN: when tiers D; lists court-defaulters → tiers "
                         "B, D; lists court-defaulters\n",
                         "- measure TENDER-BAN: notice 7d → 14d\n",
                         "- list court-defaulters: lasts 2y → 3y\n"))
        notice = read["zh"][0]
        _, body = read["zh"][1]
        listed = body.split("新规则集的变更：\n", 1)[1].split("\n在此之前", 1)[0].splitlines()
        assert sorted(listed) == sorted(f"- {line}" for line in zh_changes)
        for line in listed:  # the rulebook's codes aside, not a word of English is left
            for code in sorted(CODES, key=len, reverse=True):
                line = line.replace(code, "")
            assert not re.search("[A-Za-z]", line), line
        assert "(as its rule files say it)" not in notice.body
        # The notice keeps the changes as codes and values, not as sentences.
        assert {c["code"] for c in notice.content["changes"]} == {
            "tier_min", "rule_points", "measure_when", "measure_notice", "list_lasts"}
        gained = [{"code": "TENDER-BAN", "title": "May not bid",
                   "title_zh": "不得参加政府采购投标"}]
        lost = [{"code": "HEATING-DISCOUNT", "title": "300 yuan off", "title_zh": ""}]
        _, body = _render_zh(app, notice, gained=gained, lost=lost, tier_after=None, more=3)
        assert "- TENDER-BAN（不得参加政府采购投标） 将对您适用" in body
        assert "- HEATING-DISCOUNT（300 yuan off） 将不再对您适用" in body
        assert "- 您的等级将由 A 变为 不计分" in body and "- 另有 3 项（见方案页面）" in body
        # A notice made when the changes were kept as English sentences still reads, and
        # says that its list is in the rule files' words.
        _, body = _render_zh(app, notice, changes=["tier A: min 960 → 1000"])
        assert "新规则集的变更（按规则文件的原文列出）：\n- tier A: min 960 → 1000\n" in body


WORDED_VALUES = {"year", "month", "benefit", "restriction", "blacklist", "redlist", "watchlist"}


def _codes_and_texts(value):
    """The values a change's Chinese wording may show as they are: less durations ("2y"),
    cap periods and kinds, which it words, and less booleans and nulls."""
    if isinstance(value, dict):
        return [_codes_and_texts(v) for v in value.values()]
    if isinstance(value, list):
        return [_codes_and_texts(v) for v in value]
    if isinstance(value, str) and not re.fullmatch(r"\d+[dmy]", value) and (
            value not in WORDED_VALUES):
        return value
    return ""


def test_every_rulebook_change_reads_in_chinese(app):
    """Each change code has its Chinese wording: the only Latin words left in it are the
    rulebook's own codes and texts (the values), never the English wording's."""
    wrong = []
    for code, values, sentence in WORDED:
        content = {"day": "2026-03-01", "fingerprint": "aa5b41644bde", "tier_before": "A",
                   "tier_after": "A", "gained": [], "lost": [], "more": 0,
                   "changes": [Change(code, values).to_json()]}
        with app.app_context():
            _, body = render("rulebook_change", content, "title", "body", "zh")
        [line] = [line for line in body.splitlines() if line.startswith("- ")]
        given = set(re.findall(r"[A-Za-z]+", json.dumps(_codes_and_texts(values))))
        if (not re.search(r"[\u4e00-\u9fff]", line) or line == f"- {sentence}"
                or not set(re.findall(r"[A-Za-z]+", line)) <= given):
            wrong.append(line)
    assert wrong == []
