"""Accounts: weak passwords are refused for every role; user names are normalised, visible,
and unique as people read them (case and compatibility forms do not make a new name)."""

from __future__ import annotations

import pytest

from app.errors import Conflict, InvalidInput
from app.services.accounts.users import authenticate, create_account

STRONG = "correct horse battery"


@pytest.mark.parametrize("password", [" " * 10, "1234567890", "password12", "qwertyuiop",
                                      "aaaaaaaaaaaa", "admin-admin-admin"])
@pytest.mark.parametrize("role", ["admin", "recorder"])
def test_weak_passwords_are_refused_for_every_role(session, password, role):
    department = "traffic-police" if role == "recorder" else None
    with pytest.raises(InvalidInput, match="too easy to guess|at least|user name"):
        create_account(session, username="admin-admin", password=password, role=role,
                       department=department)


def test_a_strong_password_is_taken(session):
    account = create_account(session, username="ana", password=STRONG, role="admin")
    assert account.id is not None


@pytest.mark.parametrize("name", ["ana\u200b", "a\u0000na", "ana\nx", "\u3164ana", "an\u202ea",
                                  "ana\u00ad", "\u2800"])
def test_names_with_control_or_invisible_characters_are_refused(session, name):
    with pytest.raises(InvalidInput, match="user name"):
        create_account(session, username=name, password=STRONG, role="admin")


@pytest.mark.parametrize("twin", ["ANA", "Ana", "\uff21na", " ana "])
def test_names_that_differ_only_by_case_or_form_are_the_same_name(session, twin):
    create_account(session, username="ana", password=STRONG, role="admin")
    with pytest.raises(Conflict, match="taken"):
        create_account(session, username=twin, password=STRONG, role="admin")


def test_a_name_is_stored_normalised_and_logs_in_whatever_its_case(session):
    account = create_account(session, username="\uff2c\uff49 Wei", password=STRONG,
                             role="admin")
    assert account.username == "Li Wei" and account.username_key == "li wei"
    assert authenticate(session, username="LI WEI", password=STRONG).id == account.id


def test_older_names_that_differ_only_by_case_each_still_log_in(session):
    from sqlalchemy import update

    from app.models import Account

    ana = create_account(session, username="Ana", password=STRONG, role="admin")
    other = create_account(session, username="ana-2", password="quiet lantern orchard 42",
                           role="admin")
    # As migration 0011 leaves a pair made before names were compared case-folded.
    session.execute(update(Account).where(Account.id == other.id)
                    .values(username="ana", username_key=f"ana#{other.id}"))
    session.commit()
    assert authenticate(session, username="ana", password="quiet lantern orchard 42").id \
        == other.id
    assert authenticate(session, username="Ana", password=STRONG).id == ana.id
    assert authenticate(session, username="ANA", password=STRONG).id == ana.id
