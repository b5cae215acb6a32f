"""Two languages: every main page renders in English and in Simplified Chinese.

The pages use the sample rulebook (rules/), whose titles carry both languages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po

from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from tests.web.conftest import PASSWORD, page_text

ROOT = Path(__file__).parents[2]
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RULES_DIR": str(ROOT / "rules")}


def _catalogue_words() -> set[str]:
    """Return the English words (4 letters or more) of the messages the pages use."""
    with open(ROOT / "app/translations/messages.pot", "rb") as fh:
        catalogue = read_po(fh)
    words: set[str] = set()
    for message in catalogue:
        for text in message.id if isinstance(message.id, tuple) else (message.id,):
            text = re.sub(r"%\(\w+\)[sd]|<[^>]+>", " ", text or "")
            words.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", text))
    return words


ENGLISH = _catalogue_words()


def headings(response, *, data: tuple[str, ...] = ()) -> list[str]:
    """Return the text of the page's h1 and h2 headings, without codes and the given data."""
    body = response.get_data(as_text=True)
    found = []
    for inner in re.findall(r"<h([12])\b[^>]*>(.*?)</h\1>", body, flags=re.S):
        text = re.sub(r"<(code|small)\b.*?</\1>", " ", inner[1], flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        for value in data:
            text = text.replace(value, " ")
        found.append(" ".join(text.split()))
    return found


def assert_chinese(response, *, data: tuple[str, ...] = ()) -> str:
    """Check a page is served in Chinese, its main headings translated; return its text."""
    assert response.status_code == 200, response.status_code
    body = response.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in body
    titles = headings(response, data=data)
    assert titles, "the page has no h1 or h2"
    for title in titles:
        english = [w for w in re.findall(r"[A-Za-z]{4,}", title) if w.lower() in ENGLISH]
        assert not english, f"untranslated English in the heading {title!r}: {english}"
        assert CJK.search(title) or not re.search(r"[A-Za-z]", title), title
    return page_text(response)


def _login(client, username: str):
    from tests.conftest import csrf_token

    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302


@pytest.fixture
def zh_client(app):
    """A client whose browser prefers Simplified Chinese."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ZH["Accept-Language"]
    return client


# -- choosing the language ------------------------------------------------------------------------


def test_english_is_the_default(client):
    page = client.get("/")
    body = page.get_data(as_text=True)
    assert '<html lang="en">' in body
    assert "Personal credit points (pilot)" in body and "Log in" in body
    assert 'hreflang="zh"' in body  # the switch offers the other language


def test_the_browsers_preference_picks_chinese(client):
    page = client.get("/", headers=ZH)
    text = assert_chinese(page)
    assert "个人信用积分（试点）" in text and "登录" in text and "等级" in text
    assert "诚信模范" in text  # a tier title from the rulebook, in Chinese
    assert "Personal credit points" not in text
    assert client.get("/", headers={"Accept-Language": "en-GB,en"}).get_data(
        as_text=True).count('<html lang="en">') == 1
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "fr"}).get_data(
        as_text=True)


def test_the_switch_sets_a_cookie_and_goes_back(client):
    response = client.get("/language/zh?next=/scheme%3Fx%3D1")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/scheme"
    assert urlsplit(response.headers["Location"]).query == "x=1"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=zh;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert '<html lang="zh-Hans">' in client.get("/scheme").get_data(as_text=True)
    # the pick beats the browser's preference, both ways
    assert '<html lang="zh-Hans">' in client.get(
        "/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    client.get("/language/en?next=/")
    assert '<html lang="en">' in client.get("/", headers=ZH).get_data(as_text=True)


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "evil.example", "/\r\nSet-Cookie: x=1", "http:/evil.example",
    "/\t/evil.example", "",
])
def test_the_switch_never_leaves_the_site(client, target):
    response = client.get("/language/zh", query_string={"next": target})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost") and location.path == "/"


def test_an_unknown_language_is_not_found(client):
    response = client.get("/language/fr?next=/")
    assert response.status_code == 404
    assert "Set-Cookie" not in response.headers or "lang=" not in response.headers["Set-Cookie"]
    # an unknown cookie value falls back to the browser's preference
    client.set_cookie("lang", "xx")
    assert '<html lang="zh-Hans">' in client.get("/", headers=ZH).get_data(as_text=True)


# -- the pages of each role -----------------------------------------------------------------------


def test_public_pages_in_both_languages(client, zh_client):
    english = page_text(client.get("/scheme"))
    assert "Tampering with the heating system" in english and "People's Court" in english
    assert "Deadlines" in english
    text = assert_chinese(zh_client.get("/scheme"))
    assert "破坏供热设施" in text and "人民法院" in text and "失信被执行人" in text
    assert "不得参与政府招标投标" in text and "期限" in text and "黑名单" in text
    assert "Tampering with the heating system" not in text
    assert "30天" in text  # durations too
    assert_chinese(zh_client.get("/lists"))
    text = assert_chinese(zh_client.get("/login"))
    assert "用户名" in text and "密码" in text  # form labels
    text = assert_chinese(zh_client.get("/transparency"))
    assert "审计摘要" in text


def test_every_rulebook_text_in_chinese(client, zh_client, make_account):
    text = assert_chinese(zh_client.get("/scheme"))
    assert "诚信模范" in text and "每个供暖季可减免一次300元取暖费" in text  # tier description
    assert "《招标投标法》第五十三条" in text  # a measure's legal basis
    assert "荣成市个人信用评价标准" in text  # rules' legal bases
    assert "由交警记录的交通违法行为。" in text  # a table's description
    assert "Tendering and Bidding Law" not in text and "Traffic offences recorded" not in text
    assert "以奖励为主" in page_text(zh_client.get("/"))  # the scheme's description
    english = page_text(client.get("/scheme"))
    assert "Tendering and Bidding Law, arts. 53, 54, 60" in english
    assert "《招标投标法》" not in english
    _login(zh_client, make_account("auditor"))
    text = assert_chinese(zh_client.get("/officials/rankings/departments"))
    assert "人民法院" in text and "交警大队" in text and "Traffic Police Brigade" not in text


def test_a_resident_reads_their_standing_in_chinese(app, db, zh_client, client, make_account,
                                                     new_subject, today):
    from app.services.rulebooks.registry import EXTENSION_KEY

    subject_id = new_subject(name="Wang Fang")
    with app.app_context():
        rules = app.extensions[EXTENSION_KEY].current()
    with db() as s:
        record_conduct(
            s, RecordDraft(subject_id=subject_id, rule_code="TRAFFIC-TICKET",
                           occurred_on=today - timedelta(days=3), evidence="ticket 0001"),
            rulebook=rules, department="traffic-police", recorded_by="test", today=today)
    username = make_account("resident", subject_id=subject_id)
    _login(zh_client, username)
    page = zh_client.get("/me")
    text = assert_chinese(page, data=("Wang Fang",))
    assert "我的信用状况" in text and "计入的记录" in text and "如果记录有误" in text
    assert "交通违法罚单" in text  # the rule's title from the rulebook, in Chinese
    assert f"{today.year}年{today.month}月{today.day}日" in text  # a date as people read it
    assert "Records that count" not in text and "If a record is wrong" not in text
    _login(client, username)
    english = page_text(client.get("/me"))
    assert "My standing" in english and "Traffic ticket" in english
    assert today.isoformat() in english  # English keeps ISO dates


def test_explanations_are_worded_per_language_from_data(app, db, zh_client, client,
                                                        make_account, new_subject, today,
                                                        monkeypatch):
    """The pages word the evaluator's reasons themselves: rewording the English does not
    reach the Chinese page (it used to fall back to English)."""
    from app.services.rulebooks.registry import EXTENSION_KEY
    from app.standing import because

    subject_id = new_subject(name="Zhao Lei")
    with app.app_context():
        rules = app.extensions[EXTENSION_KEY].current()
    with db() as s:
        for days, ref in ((3, "a"), (400, "b")):
            record_conduct(
                s, RecordDraft(subject_id=subject_id, rule_code="TRAFFIC-TICKET",
                               occurred_on=today - timedelta(days=days), evidence=ref,
                               external_ref=ref),
                rulebook=rules, department="traffic-police", recorded_by="test", today=today)
    for code in list(because._ENGLISH):
        monkeypatch.setitem(because._ENGLISH, code, lambda v, code=code: f"REWORDED {code}")
    username = make_account("resident", subject_id=subject_id)
    _login(zh_client, username)
    text = assert_chinese(zh_client.get("/me"), data=("Zhao Lei",))
    assert "REWORDED" not in text
    assert "目前已有的记录都不会改变您的等级" in text  # what changes next
    assert "条记录（TRAFFIC-TICKET）不再计入" in text  # the coming lapse
    assert "失效" in text or "不计入" in text  # the lapsed record, worded in Chinese
    _login(client, username)
    english = page_text(client.get("/me"))
    assert "REWORDED no_tier_change" in english  # English pages use the one English wording
    assert "REWORDED lapsed" in english


def test_officials_pages_in_chinese(app, zh_client, make_account, new_subject):
    subject_id = new_subject(name="Li Na")
    recorder = make_account("recorder", department="traffic-police")
    _login(zh_client, recorder)
    text = assert_chinese(zh_client.get("/officials"))
    assert "工作人员" in text
    text = assert_chinese(zh_client.get("/officials/record"))
    assert "记录行为" in text and "主体标识号" in text and "交通违法罚单" in text
    assert_chinese(zh_client.get(f"/officials/subjects/{subject_id}"), data=("Li Na",))
    assert_chinese(zh_client.get("/officials/subjects?q=Li"))
    assert_chinese(zh_client.get("/officials/lists"))
    assert_chinese(zh_client.get("/officials/lists/court-defaulters"))
    assert_chinese(zh_client.get("/officials/intake"))
    zh_client.post("/logout", data={"csrf_token": _token(zh_client)})
    reviewer = make_account("reviewer", department="court")
    _login(zh_client, reviewer)
    text = assert_chinese(zh_client.get("/officials/objections"))
    assert "待决定的异议" in text


def _token(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client.get("/transparency").get_data(as_text=True))


@pytest.mark.parametrize(("role", "pages"), [
    ("rule-author", ("/authors", "/authors/simulate")),
    ("admin", ("/admin/accounts", "/admin/tokens", "/officials/letters")),
    ("auditor", ("/audit",)),
])
def test_other_roles_pages_in_chinese(zh_client, make_account, role, pages):
    _login(zh_client, make_account(role))
    for url in pages:
        assert_chinese(zh_client.get(url))


def test_messages_and_error_pages_in_chinese(zh_client, make_account):
    page = zh_client.get("/no/such/page")
    assert page.status_code == 404
    body = page.get_data(as_text=True)
    assert "未找到" in body and "没有这个页面" in body
    response = zh_client.get("/me", follow_redirects=True)
    assert "请登录后查看该页面。" in page_text(response)
    from tests.conftest import csrf_token

    login = zh_client.get("/login")
    wrong = zh_client.post("/login", data={"username": "nobody", "password": "wrong password",
                                           "csrf_token": csrf_token(login.get_data(as_text=True))})
    assert "用户名或密码错误" in page_text(wrong)
    _login(zh_client, make_account("auditor"))
    bye = zh_client.post("/logout", data={"csrf_token": _token(zh_client)}, follow_redirects=True)
    assert "您已退出登录。" in page_text(bye)


def test_the_json_api_stays_english(zh_client):
    response = zh_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "there is no such page"
    content = zh_client.get("/api/v1/rulebook").get_json()["content"]
    utilities = next(t for t in content["tables"] if t["code"] == "utilities")
    rule = next(r for r in utilities["rules"] if r["code"] == "UTIL-HEAT-TAMPER")
    assert rule["title"] == "Tampering with the heating system"  # the contract: plain text
    assert rule["titles"] == {"en": "Tampering with the heating system", "zh": "破坏供热设施"}


def test_a_day_reads_in_the_pages_language_and_an_instant_as_the_citys_day(app):
    from datetime import date, datetime

    from app.web.i18n import local_day

    # 20:30 UTC on 3 December is already 4 December in Asia/Shanghai (the city's time).
    instant = datetime(2026, 12, 3, 20, 30)
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert local_day(date(2026, 1, 31)) == "2026-01-31"
        assert local_day(instant) == "2026-12-04"
        assert local_day(None) == "" and local_day("") == ""
    with app.test_request_context("/", headers=ZH):
        assert local_day(date(2026, 1, 31)) == "2026年1月31日"
        assert local_day(instant) == "2026年12月4日"
        assert local_day(date(2026, 1, 31)) == "2026年1月31日"  # the same, from the cache


def test_template_messages_follow_the_locale_a_block_forces(app):
    """The templates' gettext keeps the catalogue found for the request's locale: a
    force_locale block inside the request reads its own language, and the page's language
    comes back after it (the catalogue is remembered per locale, not per request)."""
    from flask import render_template_string
    from flask_babel import force_locale

    page = "{{ _('My standing') }} | {{ ngettext('%(num)s day', '%(num)s days', 3) }}"
    with app.test_request_context("/", headers=ZH):
        assert render_template_string(page) == "我的信用状况 | 3 天"
        with force_locale("en"):
            assert render_template_string(page) == "My standing | 3 days"
        assert render_template_string(page) == "我的信用状况 | 3 天"
    with app.test_request_context("/"):
        assert render_template_string(page) == "My standing | 3 days"
        with force_locale("zh"):
            assert render_template_string(page) == "我的信用状况 | 3 天"
        assert render_template_string(page) == "My standing | 3 days"
