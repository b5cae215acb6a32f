"""The notice walk-back reaches a representative through their own organisations only.

The walk-back's join of an organisation to its representative once read
`... AND o.kind = 'organisation' AND since IS NULL OR since <= day`: without parentheses the
OR joined every organisation whose representative had a date to every candidate, so a
person's notice period was served by an unrelated organisation's entry (and the nightly run
joined the whole register to every candidate on every day of the walk).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import insert

from app.models import ListEntry, Subject
from app.rulebook.model import Duration, ListDef, Measure, When
from app.services.standings import recompute as rc
from tests.conftest import new_organisation_id, new_person_id
from tests.services.test_recompute_incremental import (
    REGISTERED,
    _evaluated,
    _one_rule_rulebook,
    _stored,
)

DAY = date(2026, 3, 1)


def test_a_persons_notice_is_not_served_by_another_persons_organisation(session):
    rulebook = _one_rule_rulebook(
        (Measure("BAN", "restriction", "ban", "dept", When(lists=("black",)), legal_basis="l",
                 notice=Duration(7, "d"), reaches=("legal_representative",)),),
        (ListDef("black", "blacklist", departments=("dept",)),), fingerprint="reps-walk")
    organisation, representative, newcomer = new_organisation_id(), new_person_id(), \
        new_person_id()
    people = [{"subject_id": sid, "kind": "person", "name": sid, "registered_at": REGISTERED,
               "updated_at": REGISTERED} for sid in (representative, newcomer)]
    session.execute(insert(Subject), [*people, {
        "subject_id": organisation, "kind": "organisation", "name": organisation,
        "legal_representative": representative,
        "legal_representative_since": DAY - timedelta(days=100),
        "registered_at": REGISTERED, "updated_at": REGISTERED}])
    session.commit()
    rc.recompute(session, rulebook=rulebook, as_of=DAY)  # stores the rulebook and department
    entry = {"department_code": "dept", "legal_basis": "", "decision_ref": "",
             "list_code": "black"}
    session.execute(insert(ListEntry), [
        {**entry, "subject_id": organisation, "entered_on": DAY - timedelta(days=60)},
        {**entry, "subject_id": newcomer, "entered_on": DAY - timedelta(days=2)}])
    session.commit()
    rc.recompute(session, rulebook=rulebook, as_of=DAY)
    # The organisation and its representative have been under the ban's condition for 60
    # days; the newcomer for 2, so their ban still waits for its notice period.
    assert _stored(session)[2] == {(organisation, "BAN"), (representative, "BAN")}
    assert _stored(session) == _evaluated(session, rulebook, DAY)
