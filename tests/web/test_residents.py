"""A resident's page: their own standing only, explained record by record."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from app.services.intake.drafts import ListEntryDraft, RecordDraft
from app.services.lists.entries import enter
from app.services.records.conduct import record_conduct
from tests.conftest import TEST_RULES
from tests.web.conftest import PASSWORD, page_text


@pytest.fixture
def record(db, rulebook, today):
    """Return a function that records conduct directly through the service."""

    def do(subject_id: str, code: str, *, days_ago: int, evidence: str = "",
           department: str = "traffic-police"):
        with db() as s:
            return record_conduct(
                s, RecordDraft(subject_id=subject_id, rule_code=code,
                               occurred_on=today - timedelta(days=days_ago), evidence=evidence),
                rulebook=rulebook, department=department, recorded_by="test", today=today).record

    return do


def test_resident_sees_own_points_tier_and_records(client, login, resident, record, today):
    first = record(resident.subject_id, "TRAFFIC-TICKET", days_ago=40, evidence="ticket 0001")
    second = record(resident.subject_id, "TRAFFIC-TICKET", days_ago=10, evidence="ticket 0002")
    login(resident.username, PASSWORD)
    page = client.get("/me")
    assert page.status_code == 200
    text = page_text(page)
    assert "985 points" in text  # 1000 - 5 - 10 (the second ticket is doubled)
    assert "Tier A" in text and "960 points and above" in text
    assert "Starting points 1000 -5 -10 = 985" in text
    assert "Traffic ticket" in text and "Road Traffic Safety Law" in text
    assert "ticket 0001" in text and "ticket 0002" in text
    assert second.note and second.note in text  # how the points were fixed
    assert first.ends_on.isoformat() in text  # the day it stops counting
    assert (today - timedelta(days=40)).isoformat() in text
    assert f"On {first.ends_on.isoformat()} 1 record (TRAFFIC-TICKET) stops counting" in text


def test_resident_never_sees_another_subjects_file(client, login, resident, new_subject, record):
    other = new_subject(name="Li Na")
    record(other, "DRUNK-DRIVING", days_ago=5, evidence="someone else's file")
    login(resident.username, PASSWORD)
    for url in ("/me", f"/me?subject_id={other}", f"/me?as_of=2020-01-01&subject_id={other}"):
        text = page_text(client.get(url))
        assert resident.subject_id in text
        assert other not in text and "someone else's file" not in text and "Li Na" not in text
    assert client.get(f"/officials/subjects/{other}").status_code == 403
    assert client.get(f"/officials/subjects/{resident.subject_id}").status_code == 403


def test_resident_gets_403_on_every_officials_page(client, login, resident):
    login(resident.username, PASSWORD)
    for url in ("/officials", "/officials/subjects?q=Wang", "/officials/record",
                "/officials/import", f"/officials/subjects/{resident.subject_id}"):
        page = client.get(url)
        assert page.status_code == 403, url
        assert "you may not open this page" in page.get_data(as_text=True).lower()


def test_as_of_shows_the_standing_on_that_date(client, login, resident, record, today):
    record(resident.subject_id, "DRUNK-DRIVING", days_ago=3, evidence="breath test 0.9")
    login(resident.username, PASSWORD)
    now = page_text(client.get("/me"))
    assert "800 points" in now and "Tier C" in now
    before = today - timedelta(days=30)
    then = page_text(client.get(f"/me?as_of={before.isoformat()}"))
    assert f"Points and tier on {before.isoformat()}" in then
    assert "1000 points" in then and "Tier A" in then
    assert "breath test" not in then


@pytest.mark.parametrize("bad", ["yesterday", "2024-02-30", "2024-1-5", "'><script>"])
def test_bad_as_of_is_a_400_with_a_clear_message(client, login, resident, bad):
    login(resident.username, PASSWORD)
    page = client.get("/me", query_string={"as_of": bad})
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "As_of:" in text or "as_of" in text
    assert "YYYY-MM-DD" in text or "not a date on the calendar" in text
    assert "<script>" not in text


def test_measures_show_why_with_legal_basis_and_pending_date(client, login, resident, db,
                                                             rulebook, today):
    with db() as s:
        enter(
            s, ListEntryDraft(subject_id=resident.subject_id, list_code="court-defaulters",
                              entered_on=today - timedelta(days=2),
                              decision_ref="(2024) Lu 1082 Zhi 77"),
            rulebook=rulebook, department="court", today=today, actor="test")
    login(resident.username, PASSWORD)
    text = page_text(client.get("/me"))
    assert "Dishonest judgment debtors" in text and "(2024) Lu 1082 Zhi 77" in text
    effect = today - timedelta(days=2) + timedelta(days=7)
    assert f"Takes effect on {effect.isoformat()}" in text
    assert "May not bid for government tenders" in text
    assert "Tendering and Bidding Law, arts. 53, 54, 60" in text
    later = page_text(client.get(f"/me?as_of={(effect + timedelta(days=1)).isoformat()}"))
    assert f"Applies since {effect.isoformat()}" in later
    assert "court-defaulters" in later


def test_excluded_records_say_why(client, login, resident, record, db):
    from app.models import Record, utcnow

    rec = record(resident.subject_id, "TRAFFIC-TICKET", days_ago=3, evidence="wrong plate")
    with db() as s:  # a void, as the void service will do it
        row = s.get(Record, rec.id)
        row.voided_at, row.voided_by, row.void_reason = utcnow(), "test", "entered in error"
        s.commit()
    login(resident.username, PASSWORD)
    text = page_text(client.get("/me"))
    assert "Records that do not count" in text
    assert "1000 points" in text


def test_anonymous_and_officials_cannot_open_me(client, login, recorder):
    assert client.get("/me").status_code == 302
    login(recorder.username, PASSWORD)
    assert client.get("/me").status_code == 403


class TestConsentRequired:
    """With `requires_consent: true`, a subject without consent is shown as not scored."""

    @pytest.fixture
    def app_config(self, database_url, tmp_path):
        rules = tmp_path / "rules"
        shutil.copytree(TEST_RULES, rules)
        scheme = rules / "scheme.yaml"
        scheme.write_text(scheme.read_text().replace("requires_consent: false",
                                                     "requires_consent: true"))
        return {"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
                "RULES_DIR": str(rules)}

    def test_not_scored_note(self, client, login, make_account, new_subject, record):
        subject = new_subject(consent=False)
        record(subject, "TRAFFIC-TICKET", days_ago=2, evidence="kept anyway")
        login(make_account("resident", subject_id=subject), PASSWORD)
        text = page_text(client.get("/me"))
        assert "Not scored." in text and "you have not" in text
        assert "kept anyway" in text
        assert 'class="big"' not in client.get("/me").get_data(as_text=True)
        assert "Records kept" in text


def test_each_record_says_in_which_digest_it_is_sealed_with_its_proof(
        client, login, resident, new_subject, record, db, today):
    from app.services.audit.chain import publish_digest
    from app.services.audit.merkle import leaf_hash, verify_inclusion

    mine = record(resident.subject_id, "TRAFFIC-TICKET", days_ago=10, evidence="ticket 0003")
    theirs = record(new_subject(name="Li Na"), "TRAFFIC-TICKET", days_ago=5)
    login(resident.username, PASSWORD)
    assert f"Record {mine.id}: sealed, to be published in the next digest." in page_text(
        client.get("/me"))
    assert client.get(f"/me/records/{mine.id}/proof").status_code == 404  # no digest yet
    with db() as s:
        publish_digest(s, day=today)
    text = page_text(client.get("/me"))
    assert f"Record {mine.id}: sealed in the digest of {today.isoformat()}." in text
    proof = client.get(f"/me/records/{mine.id}/proof").get_json()
    assert proof["id"] == mine.id and "ticket 0003" in proof["leaf"]
    assert leaf_hash(proof["leaf"].encode()).hex() == proof["leaf_hash"]
    assert verify_inclusion(bytes.fromhex(proof["leaf_hash"]), proof["index"], proof["tree_size"],
                            [bytes.fromhex(h) for h in proof["path"]], bytes.fromhex(proof["root"]))
    assert client.get(f"/me/records/{theirs.id}/proof").status_code == 404
