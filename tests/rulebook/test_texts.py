"""Every text in two languages: descriptions, legal bases, and `languages` in the scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rulebook import check_rulebook
from app.rulebook.model import text_in
from tests.rulebook.test_loader import BASE, UTIL, write
from tests.rulebook.test_titles import BASE_FINGERPRINT

BILINGUAL_TEXTS = {
    "scheme.yaml": """
        scheme: test-city
        title: {en: Test city points, zh: 测试城市积分}
        description: {en: A test scheme., zh: 测试用的方案。}
        starting_points: 1000
        tiers:
          - {code: A, min: 1050, title: {en: Best, zh: 最好}, description: {en: Good., zh: 好。}}
          - {code: B, min: 960}
          - {code: C}
        """,
    "lists.yaml": BASE["lists.yaml"].replace(
        "kind: blacklist,",
        "kind: blacklist, legal_basis: {en: Court provisions, zh: 最高法规定},",
    ),
    "measures.yaml": BASE["measures.yaml"].replace(
        "legal_basis: Tendering and Bidding Law, art. 53",
        "legal_basis: {en: 'Tendering and Bidding Law, art. 53', zh: 招标投标法第五十三条}\n"
        "            description:\n"
        "              en: No tenders.\n"
        "              zh: 不得投标。",
    ),
    UTIL: BASE[UTIL].replace(
        "legal_basis: Volunteering regulation",
        "legal_basis: {en: Volunteering regulation, zh: 志愿服务条例}\n"
        "            description: {zh: 四小时志愿服务}",
    ).replace("title: Utilities", "title: Utilities\n        description: {en: Water, zh: 水}"),
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # problems name files as "rules/..."


def _check(tmp_path, files):
    write(tmp_path / "rules", {**BASE, **files})
    return check_rulebook("rules")


def test_plain_texts_keep_their_fingerprint(tmp_path):
    result = _check(tmp_path, {})
    assert result.rulebook.fingerprint == BASE_FINGERPRINT
    assert result.rulebook.scheme.texts == () and result.rulebook.scheme.languages == ()


def test_every_text_may_be_written_per_language(tmp_path):
    result = _check(tmp_path, BILINGUAL_TEXTS)
    assert result.ok, [str(p) for p in result.problems]
    book = result.rulebook
    assert book.fingerprint != BASE_FINGERPRINT
    scheme = book.scheme
    assert (scheme.description, text_in(scheme, "description", "zh")) == (
        "A test scheme.", "测试用的方案。")
    assert text_in(scheme.tiers[0], "description", "zh") == "好。"
    assert text_in(scheme.tiers[1], "description", "zh") == ""
    defaulters = book.list_def("court-defaulters")
    assert (defaulters.legal_basis, text_in(defaulters, "legal_basis", "zh")) == (
        "Court provisions", "最高法规定")
    ban = book.measure("TENDER-BAN")
    assert text_in(ban, "legal_basis", "zh") == "招标投标法第五十三条"
    assert (ban.description, text_in(ban, "description", "zh")) == ("No tenders.", "不得投标。")
    hours = book.versions("VOL-HOURS")[0]
    assert text_in(hours, "legal_basis", "en") == "Volunteering regulation"
    assert text_in(hours, "legal_basis", "zh") == "志愿服务条例"
    assert (hours.description, text_in(hours, "description", "en")) == ("四小时志愿服务",) * 2
    assert text_in(book.tables[0], "description", "zh") == "水"
    tamper = book.versions("UTIL-HEAT-TAMPER")[0]
    assert text_in(tamper, "legal_basis", "zh") == "Standard, annex 1"  # plain: every language
    assert text_in(tamper, "title", "zh") == "Tampering with the heating system"


def test_a_bad_text_mapping_is_a_problem_with_its_line(tmp_path):
    files = {"measures.yaml": BASE["measures.yaml"].replace(
        "legal_basis: Tendering and Bidding Law, art. 53", "legal_basis: {en: Law, fr: Loi}")}
    problems = [str(p) for p in _check(tmp_path, files).problems]
    assert ("rules/measures.yaml:6: measure TENDER-BAN: legal_basis has an unknown language "
            "'fr': the languages are en, zh") in problems


def test_languages_warn_on_each_text_missing_one(tmp_path):
    scheme = BILINGUAL_TEXTS["scheme.yaml"].replace(
        "starting_points: 1000", "starting_points: 1000\n        languages: [zh, en]")
    result = _check(tmp_path, {**BILINGUAL_TEXTS, "scheme.yaml": scheme})
    assert result.ok, [str(p) for p in result.problems]
    assert result.rulebook.scheme.languages == ("zh", "en")
    warnings = [str(w) for w in result.warnings if "the scheme's languages" in str(w)]
    assert "rules/departments.yaml:2: department court: title has no zh text (the scheme's " \
        "languages are zh, en); write it as {zh: ..., en: ...}" in warnings
    assert any(w.startswith("rules/conduct/utilities.yaml:7: rule UTIL-HEAT-TAMPER: title has "
                            "no zh text") for w in warnings), warnings
    assert any(w.startswith("rules/conduct/utilities.yaml:24: rule VOL-HOURS: description has "
                            "no en text") for w in warnings), warnings
    # Texts written in both languages are not mentioned.
    assert not any(": legal_basis has no" in w and "TENDER-BAN" in w for w in warnings)
    assert not any(w.startswith("rules/scheme.yaml") for w in warnings)


def test_without_languages_nothing_is_said_about_them(tmp_path):
    result = _check(tmp_path, BILINGUAL_TEXTS)
    assert not [w for w in result.warnings if "the scheme's languages" in str(w)]


def test_languages_must_be_known(tmp_path):
    scheme = BASE["scheme.yaml"].replace(
        "starting_points: 1000", "starting_points: 1000\n        languages: [zh, fr]")
    problems = [str(p) for p in _check(tmp_path, {"scheme.yaml": scheme}).problems]
    assert any(p.startswith("rules/scheme.yaml:4: languages may only hold en, zh")
               for p in problems), problems


def test_the_sample_rulebook_has_every_text_in_both_languages():
    result = check_rulebook(Path(__file__).parents[2] / "rules")
    assert result.ok
    book = result.rulebook
    assert book.scheme.languages == ("zh", "en")
    missing = [str(w) for w in result.warnings if "the scheme's languages" in str(w)]
    assert missing == []
    assert "积分" in text_in(book.scheme, "description", "zh")
    assert all(text_in(t, "description", "zh") for t in book.scheme.tiers)
    ban = book.measure("TENDER-BAN")
    assert text_in(ban, "legal_basis", "zh") != ban.legal_basis
