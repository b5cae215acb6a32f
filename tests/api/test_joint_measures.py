"""`reaches: [legal_representative]`: an organisation's list measure reaches the person who
is its legal representative, on both paths (the evaluator and the nightly tables)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.models import Notice, StandingMeasure
from app.services.standings.recompute import recompute
from tests.api.conftest import days_ago
from tests.conftest import TEST_RULES


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    rules = tmp_path / "rules"
    shutil.copytree(TEST_RULES, rules)
    measures = rules / "measures.yaml"
    text = measures.read_text()
    assert "    notice: 7d\n" in text
    measures.write_text(text.replace("    notice: 7d\n",
                                     "    notice: 7d\n    reaches: [legal_representative]\n", 1))
    return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
            "RULES_DIR": str(rules)}


def _stored_measures(db, rulebook, as_of) -> set[tuple[str, str]]:
    with db() as s:
        recompute(s, rulebook=rulebook, as_of=as_of)
        return {(m.subject_id, m.measure_code)
                for m in s.execute(select(StandingMeasure)).scalars()}


def test_a_listed_companys_measure_reaches_its_legal_representative(api, new_subject, db,
                                                                   rulebook):
    assert rulebook.measure("TENDER-BAN").reaches == ("legal_representative",)
    boss = new_subject(name="Zhang Wei")
    bystander = new_subject(name="Li Na")
    company = new_subject(kind="organisation", name="Haiyang Fisheries",
                          legal_representative=boss)
    made = api.post("/lists/court-defaulters/entries", department="court", json={
        "subject_id": company, "entered_on": days_ago(30), "decision_ref": "(2026) Zhi 9",
        "legal_basis": "Civil Procedure Law, art. 255", "external_ref": "CD-9"}).get_json()
    check = api.get(f"/measures/TENDER-BAN/check?subject_id={boss}").get_json()
    assert check["applies"] is True and check["since"] == days_ago(23)
    (reason,) = check["reasons"]
    assert reason["kind"] == "list" and reason["code"] == "court-defaulters"
    assert reason["via"] == {"subject_id": company, "name": "Haiyang Fisheries"}
    assert reason["detail"].startswith(
        f"as legal representative of Haiyang Fisheries ({company}), listed on court-defaulters")
    assert reason["legal_basis"] == "Civil Procedure Law, art. 255"
    because = reason["because"]
    assert because["code"] == "list" and because["values"]["via"] == company
    assert because["values"]["via_name"] == "Haiyang Fisheries"
    assert because["values"]["since"] == days_ago(30)
    assert because["values"]["decision"] == "(2026) Zhi 9"
    assert reason["list_entries"][0]["id"] == made["id"]
    standing = api.get(f"/subjects/{boss}/standing").get_json()
    assert [m["code"] for m in standing["measures"]] == ["TENDER-BAN"]
    assert standing["lists"] == []  # the person is not on the list; the measure reaches them
    assert any("as legal representative of Haiyang Fisheries" in line
               for line in standing["explanation"])
    assert api.get(f"/measures/TENDER-BAN/check?subject_id={bystander}").get_json()[
        "applies"] is False
    # The nightly tables agree.
    assert _stored_measures(db, rulebook, clock.today()) >= {(boss, "TENDER-BAN"),
                                                            (company, "TENDER-BAN")}
    assert (bystander, "TENDER-BAN") not in _stored_measures(db, rulebook, clock.today())
    # Within the notice period it is pending for both, on both paths.
    early = clock.today() - timedelta(days=27)
    pending = api.get(f"/measures/TENDER-BAN/check?subject_id={boss}&as_of={early}").get_json()
    assert pending["applies"] is False and pending["pending"]["takes_effect_on"] == days_ago(23)
    assert (boss, "TENDER-BAN") not in _stored_measures(db, rulebook, early)
    # The removal ends it at once, for the company and for its representative.
    api.post(f"/lists/court-defaulters/entries/{made['id']}/removal", department="court",
             json={"reason": "paid"})
    assert api.get(f"/measures/TENDER-BAN/check?subject_id={boss}").get_json()[
        "applies"] is False
    assert not {(boss, "TENDER-BAN"), (company, "TENDER-BAN")} & _stored_measures(
        db, rulebook, clock.today())


def test_a_measure_without_reaches_stays_with_the_company(api, new_subject):
    boss = new_subject()
    company = new_subject(kind="organisation", legal_representative=boss)
    api.post("/lists/court-defaulters/entries", department="court", json={
        "subject_id": company, "entered_on": days_ago(30), "decision_ref": "D-1"})
    # SCRUTINY (flag-switched, no reaches) and a tier measure never follow the company.
    for code in ("SCRUTINY", "HEATING-DISCOUNT"):
        assert api.get(f"/measures/{code}/check?subject_id={boss}").get_json()[
            "applies"] is False
    assert api.get(f"/measures/TENDER-BAN/check?subject_id={company}").get_json()[
        "applies"] is True


def test_a_new_representative_is_reached_only_from_the_day_named_and_after_notice(
        api, new_subject, db, rulebook, counts):
    """The register names a new legal representative today: a list entry of the company 30
    days old reaches them from today, after the measure's 7 days' notice, on both paths,
    and they get a notice; the former representative is no longer reached."""
    old_boss, new_boss = new_subject(name="Zhang Wei"), new_subject(name="Wang Fang")
    company = new_subject(kind="organisation", name="Haiyang Fisheries",
                          legal_representative=old_boss)
    api.post("/lists/court-defaulters/entries", department="court", json={
        "subject_id": company, "entered_on": days_ago(30), "decision_ref": "(2026) Zhi 10"})
    assert api.get(f"/measures/TENDER-BAN/check?subject_id={old_boss}").get_json()["applies"]
    # Only the register's keeper may name another representative.
    body = {"kind": "organisation", "name": "Haiyang Fisheries", "district": "Yatou",
            "village": "Dongshan", "legal_representative": new_boss, "consent": True}
    refused = api.put(f"/subjects/{company}", department="traffic-police", json=body)
    assert refused.status_code == 403
    named = api.put(f"/subjects/{company}", department="credit-centre", json=body)
    assert named.status_code == 200, named.get_json()
    today = clock.today()
    assert named.get_json()["legal_representative_since"] == today.isoformat()
    check = api.get(f"/measures/TENDER-BAN/check?subject_id={new_boss}").get_json()
    assert check["applies"] is False
    assert check["pending"]["holds_since"] == today.isoformat()
    assert check["pending"]["takes_effect_on"] == (today + timedelta(days=7)).isoformat()
    later = today + timedelta(days=7)
    assert api.get(f"/measures/TENDER-BAN/check?subject_id={new_boss}&as_of={later}"
                   ).get_json()["applies"] is True
    # Never for a day before it was named, even looking back.
    assert api.get(f"/measures/TENDER-BAN/check?subject_id={new_boss}&as_of={days_ago(1)}"
                   ).get_json()["applies"] is False
    assert api.get(f"/measures/TENDER-BAN/check?subject_id={old_boss}").get_json()[
        "applies"] is False
    stored = _stored_measures(db, rulebook, today)
    assert (new_boss, "TENDER-BAN") not in stored and (company, "TENDER-BAN") in stored
    assert (new_boss, "TENDER-BAN") in _stored_measures(db, rulebook, later)
    with db() as s:
        (notice,) = s.execute(select(Notice).where(Notice.subject_id == new_boss)).scalars()
        assert notice.kind == "representative" and today.isoformat() in notice.body
        assert company in notice.body
