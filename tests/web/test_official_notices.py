"""The notices on an official's subject file read in the OFFICIAL's language (the page's),
from the content stored with them, by the renderer of the inbox, the email and the letter;
a notice made before notices kept content shows its stored English title, marked as such
on a page in another language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.models import Notice
from app.services.due_process.notices import SHARED
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import import_records_file, record_conduct
from app.services.subjects.consent import set_language
from tests.web.conftest import page_text
from tests.web.test_i18n import _login, zh_client  # noqa: F401

SINGLE_EN = "New record: Drunk driving (-200 points)"
SINGLE_ZH = "新记录：Drunk driving（-200 分）"  # the test rule has no Chinese title
OLD_EN = "New record: Traffic ticket (-5 points)"


@pytest.fixture
def subject_with_notices(db, rulebook, today, new_subject):
    """A Chinese-speaking subject with four record notices: one of a record recorded by
    form, two of imported records (the second's content a per-row part and a reference to
    the first's), and one stored before notices kept content (its English words only)."""
    subject_id = new_subject(name="Zhou Min")
    occurred = (today - timedelta(days=5)).isoformat()
    with db() as s:
        set_language(s, subject_id=subject_id, language="zh", actor="test")
        record_conduct(s, RecordDraft(subject_id=subject_id, rule_code="DRUNK-DRIVING",
                                      occurred_on=today - timedelta(days=5), evidence="form"),
                       rulebook=rulebook, department="traffic-police", recorded_by="officer",
                       today=today)
        data = (f"subject_id,rule_code,occurred_on,evidence,external_ref\n"
                f"{subject_id},DRUNK-DRIVING,{occurred},file TP-8,HOUSE-1\n"
                f"{subject_id},DRUNK-DRIVING,{occurred},file TP-9,HOUSE-2\n"
                f"{subject_id},TRAFFIC-TICKET,{occurred},file TP-10,HOUSE-3\n").encode()
        import_records_file(s, rulebook=rulebook, department="traffic-police", data=data,
                            name="t.csv", recorded_by="officer", today=today)
    with db() as s:
        notices = list(s.execute(select(Notice)).scalars())
        # The second imported drunk driving's notice keeps only its own values.
        assert [n.title for n in notices if n.content and SHARED in n.content] == [SINGLE_EN]
        # The traffic ticket's notice, as notices were stored before they kept content.
        assert s.execute(update(Notice).where(Notice.title == OLD_EN)
                         .values(content=None)).rowcount == 1
        s.commit()
    return subject_id


def _notices(page) -> str:
    text = page_text(page)
    assert page.status_code == 200
    return text


def test_the_notices_read_in_the_officials_language(client, zh_client,  # noqa: F811
                                                    make_account, subject_with_notices):
    recorder = make_account("recorder", department="traffic-police")
    url = f"/officials/subjects/{subject_with_notices}"

    _login(zh_client, recorder)
    chinese = _notices(zh_client.get(url))
    # The one by form and the imported ones read in Chinese, from their content.
    assert chinese.count(SINGLE_ZH) == 3
    assert SINGLE_EN not in chinese
    # The one stored before content existed shows its English title, and says so.
    assert f"{OLD_EN}（仅有英文版）" in chinese

    _login(client, recorder)
    english = _notices(client.get(url))
    # The subject reads Chinese, but the English official reads English.
    assert english.count(SINGLE_EN) == 3
    assert SINGLE_ZH not in english and "仅有英文版" not in english
    assert OLD_EN in english and "recorded in English" not in english
