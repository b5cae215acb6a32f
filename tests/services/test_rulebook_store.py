"""Storing a rulebook inside a use case: it joins the use case's transaction, and two
processes storing the same new rulebook at once take turns instead of failing."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.models import RulebookVersion
from app.rulebook import load_rulebook_from_texts
from app.services.rulebooks.registry import store_rulebook
from app.services.transaction import transaction


def _another(rulebook):
    """The same rules with another title: a rulebook with a new fingerprint."""
    files = dict(rulebook.files)
    scheme = next(name for name in files if name.endswith("scheme.yaml"))
    files[scheme] = files[scheme].replace("title:", "title: Amended", 1)
    other = load_rulebook_from_texts(files)
    assert other.fingerprint != rulebook.fingerprint
    return other


def _stored(session, fingerprint: str) -> int:
    session.rollback()  # see what is committed now
    return session.execute(select(func.count()).select_from(RulebookVersion)
                           .where(RulebookVersion.fingerprint == fingerprint)).scalar()


def test_the_rulebook_is_stored_with_the_use_case_or_not_at_all(session, rulebook):
    new = _another(rulebook)
    with pytest.raises(RuntimeError), transaction(session):
        assert store_rulebook(session, new, loaded_by="t", source="test") is True
        raise RuntimeError("the use case fails after storing the rulebook")
    assert _stored(session, new.fingerprint) == 0  # it did not commit for its caller
    with transaction(session):
        assert store_rulebook(session, new, loaded_by="t", source="test") is True
        assert session.in_transaction()
    assert _stored(session, new.fingerprint) == 1
    assert store_rulebook(session, new, loaded_by="t", source="test") is False


def test_two_processes_storing_the_same_new_rulebook_take_turns(app, session, rulebook):
    new = _another(rulebook)
    session.close()
    first_stored = threading.Event()
    outcome: dict[str, object] = {}

    def second() -> None:
        first_stored.wait(30)
        try:
            with app.app_context(), session_scope(app) as other, transaction(other):
                outcome["second"] = store_rulebook(other, new, loaded_by="b", source="test")
                outcome["second_done"] = time.monotonic()
        except BaseException as error:  # reported below, in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=second)
    thread.start()
    with app.app_context(), session_scope(app) as first:
        with transaction(first):
            outcome["first"] = store_rulebook(first, new, loaded_by="a", source="test")
            first_stored.set()
            time.sleep(1.0)  # the second process tries meanwhile
            outcome["first_commits"] = time.monotonic()
    thread.join(60)
    assert not thread.is_alive() and "error" not in outcome, outcome.get("error")
    assert (outcome["first"], outcome["second"]) == (True, False)
    assert outcome["second_done"] > outcome["first_commits"]  # it waited for the first
    with app.app_context(), session_scope(app) as check:
        assert _stored(check, new.fingerprint) == 1
