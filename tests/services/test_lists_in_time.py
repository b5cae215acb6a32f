"""The lists pages, the list notices, the honour roll and the dashboard count a list entry on
day D under the rulebook in force on D: a later rulebook that gives a list a `lasts` ends the
entries stored without an end from its first day on, and never before."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.models import ListEntry, Notice
from app.rulebook import load_rulebook
from app.services.due_process.notices import _pending_candidates, send_nightly_notices
from app.services.lists.queries import count_counting, entries_on, public_entries
from app.services.reports.dashboard import ending_per_list, entries_ending
from app.services.reports.rankings import honour_roll
from app.services.transaction import transaction
from tests.conftest import TEST_RULES
from tests.services.test_in_force import _put_in_force

FIRST_PUT = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
ENTERED = date(2026, 1, 10)
CHANGE_PUT = datetime(2026, 2, 1, 20, 30, tzinfo=UTC)  # 2 February in the city
CHANGE_DAY = date(2026, 2, 2)
BEFORE = CHANGE_DAY - timedelta(days=1)
ENDS = ENTERED + timedelta(days=30)  # under the second rulebook's `lasts: 30d`
AFTER = ENDS + timedelta(days=5)


def _rules(tmp_path: Path, name: str, court: str, redlist: str):
    rules = tmp_path / name
    shutil.copytree(TEST_RULES, rules)
    lists = rules / "lists.yaml"
    text = lists.read_text()
    for old, new in (("departments: [court], lasts: 2y,", f"departments: [court]{court},"),
                     ("departments: [civil-affairs], lasts: 1y,",
                      f"departments: [civil-affairs]{redlist},")):
        assert text.count(old) == 1
        text = text.replace(old, new)
    lists.write_text(text)
    return load_rulebook(str(rules))


@pytest.fixture
def history(app, tmp_path, make_subject):
    """A court-defaulters entry and a model-citizens entry stored without an end under a first
    rulebook whose lists last for ever; a second rulebook, in force from CHANGE_DAY, gives both
    lists `lasts: 30d`. Returns (first, second, debtor, citizen, entry ids)."""
    first = _rules(tmp_path, "first", "", "")
    second = _rules(tmp_path, "second", ", lasts: 30d", ", lasts: 30d")
    _put_in_force(app, first, FIRST_PUT)
    with app.app_context(), session_scope(app) as s:
        debtor = make_subject(s, name="Listed Debtor", consent=True).subject_id
        citizen = make_subject(s, name="Model Citizen", consent=True).subject_id
        with transaction(s):
            entries = [ListEntry(subject_id=sid, list_code=code, department_code=dept,
                                 entered_on=ENTERED, ends_on=None, decision_ref="(2026) 1",
                                 created_by="clerk")
                       for sid, code, dept in ((debtor, "court-defaulters", "court"),
                                               (citizen, "model-citizens", "civil-affairs"))]
            s.add_all(entries)
            s.flush()
            ids = [e.id for e in entries]
    _put_in_force(app, second, CHANGE_PUT)
    return first, second, debtor, citizen, ids


@pytest.mark.parametrize("given", ["first", "second"])
def test_list_pages_count_an_entry_under_the_rulebook_of_the_day(app, history, given):
    first, second, _, _, (court, _) = history
    rulebook = first if given == "first" else second  # whichever is loaded: the day decides
    with app.app_context(), session_scope(app) as s:
        page, total = public_entries(s, rulebook=rulebook, today=BEFORE)
        assert total == 2 and {e.until for e in page} == {None}
        page, total = public_entries(s, rulebook=rulebook, today=CHANGE_DAY)
        assert total == 2 and {e.until for e in page} == {ENDS}  # now it ends, by `lasts`
        assert public_entries(s, rulebook=rulebook, today=AFTER) == ([], 0)
        assert [e.id for e, _ in entries_on(s, rulebook=rulebook, list_code="court-defaulters",
                                            today=BEFORE)] == [court]
        assert entries_on(s, rulebook=rulebook, list_code="court-defaulters", today=AFTER) == []
        assert [e.id for e, _ in entries_on(s, rulebook=rulebook, list_code="court-defaulters",
                                            today=AFTER, include_ended=True)] == [court]
        assert count_counting(s, rulebook=rulebook, today=BEFORE) == {
            "court-defaulters": 1, "model-citizens": 1}
        assert count_counting(s, rulebook=rulebook, today=AFTER) == {}


def test_the_honour_roll_drops_a_redlist_entry_its_lists_lasts_ended(app, history):
    _, second, _, _, _ = history
    with app.app_context(), session_scope(app) as s:
        entries, total = honour_roll(s, rulebook=second, today=BEFORE)
        assert total == 1 and entries[0].name == "Model Citizen"
        assert entries[0].reasons == ("model-citizens",)
        assert honour_roll(s, rulebook=second, today=AFTER) == ([], 0)


def test_the_dashboard_shows_entries_a_later_lasts_ends_soon(app, history):
    first, second, _, _, ids = history
    with app.app_context(), session_scope(app) as s:
        assert entries_ending(s, rulebook=second, today=BEFORE) == []  # no end yet that day
        assert ending_per_list(s, rulebook=second, today=BEFORE) == []
        ending = entries_ending(s, rulebook=first, today=CHANGE_DAY)
        assert sorted(e.entry.id for e in ending) == sorted(ids)
        assert {e.ends_on for e in ending} == {ENDS}
        assert ending_per_list(s, rulebook=first, today=CHANGE_DAY) == [
            ("court-defaulters", 1), ("model-citizens", 1)]
        assert entries_ending(s, rulebook=second, today=AFTER) == []  # ended already


def test_list_notices_follow_the_rulebook_of_their_day(app, history):
    _, second, debtor, _, (court, _) = history
    with app.app_context(), session_scope(app) as s:
        # The debtor is listed on BEFORE (the public-hiring ban waits its notice period)...
        assert debtor in _pending_candidates(s, _on(s, second, BEFORE), BEFORE)
        # ...and not once the second rulebook's `lasts` has ended the entry.
        assert debtor not in _pending_candidates(s, _on(s, second, AFTER), AFTER)
        send_nightly_notices(s, rulebook=second, as_of=AFTER, actor="t")
        made = s.execute(select(Notice.kind).where(Notice.list_entry_id == court)).scalars()
        assert "list_entry" not in set(made)
        send_nightly_notices(s, rulebook=second, as_of=CHANGE_DAY, actor="t")
        made = s.execute(select(Notice.kind).where(Notice.list_entry_id == court)).scalars()
        assert "list_entry" in set(made)


def _on(session, rulebook, day):
    from app.services.rulebooks.in_force import in_force_on

    return in_force_on(session, rulebook, day).rulebook
