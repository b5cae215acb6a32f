"""`flask tokens create/revoke/list`: a token is printed once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.errors import InvalidInput
from app.models import ApiToken, AuditEvent
from app.services.accounts.tokens import authenticate, create_token, parse_expiry


def _secret(output: str) -> str:
    match = re.search(r"^(cpt_\S+)$", output, re.M)
    assert match, output
    return match.group(1)


def test_create_prints_the_token_once_and_stores_only_its_hash(runner, db, api):
    result = runner.invoke(args=["tokens", "create", "--department", "court", "--name",
                                 "court case system", "--expires-in", "30d"])
    assert result.exit_code == 0, result.output
    secret = _secret(result.output)
    assert "shown only this once" in result.output
    with db() as s:
        token = s.execute(select(ApiToken)).scalar_one()
        assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in (token.prefix, token.name, token.token_hash)
        assert secret.startswith(token.prefix) and len(token.prefix) < len(secret) // 2
        assert token.department_code == "court" and token.created_by == "cli"
        assert (token.expires_at.date() - token.created_at.date()).days == 30
        assert s.execute(select(AuditEvent.action)).scalars().all()[-1] == "token.create"
    listing = runner.invoke(args=["tokens", "list"])
    assert token.prefix in listing.output and "active" in listing.output
    assert secret not in listing.output
    response = api.get("/measures/TENDER-BAN/check?subject_id=371082199001010017", token=secret)
    assert response.status_code == 404  # authenticated: the subject just is not registered


def test_revoke_stops_the_token_at_once(runner, db, api):
    secret = _secret(runner.invoke(args=["tokens", "create", "--department", "court"]).output)
    assert api.get("/rulebook", token=secret).status_code == 200
    with db() as s:
        token_id = s.execute(select(ApiToken.id)).scalar_one()
    result = runner.invoke(args=["tokens", "revoke", str(token_id)])
    assert result.exit_code == 0 and "revoked" in result.output
    response = api.get("/subjects/371082199001010017/standing", token=secret)
    assert response.status_code == 401 and "revoked" in response.get_json()["error"]["message"]
    again = runner.invoke(args=["tokens", "revoke", str(token_id)])
    assert again.exit_code == 1 and "already revoked" in again.output
    assert runner.invoke(args=["tokens", "revoke", "999"]).exit_code == 1
    assert "revoked" in runner.invoke(args=["tokens", "list", "--department", "court"]).output


def test_create_refuses_unknown_departments_and_bad_expiry(runner):
    result = runner.invoke(args=["tokens", "create", "--department", "no-such-dept"])
    assert result.exit_code == 1 and "unknown department" in result.output
    result = runner.invoke(args=["tokens", "create", "--department", "court",
                                 "--expires-in", "soon"])
    assert result.exit_code == 1 and "not a duration" in result.output
    assert "no API tokens" in runner.invoke(args=["tokens", "list"]).output


def test_never_expiring_token_and_expiry_parsing(session, rulebook):
    now = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    assert parse_expiry("never", now=now) is None
    assert parse_expiry("1m", now=now) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        parse_expiry("-1d", now=now)
    created = create_token(session, rulebook=rulebook, department="court", expires_in="never",
                           actor="t")
    assert created.token.expires_at is None
    assert authenticate(session, authorization=f"bearer {created.secret}",
                        now=now).id == created.token.id


def test_a_zero_expiry_is_refused_and_the_life_is_capped(session, rulebook, runner):
    now = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    for zero in ("0", "0d", "0m", "0y"):
        with pytest.raises(InvalidInput, match="at least 1 day"):
            parse_expiry(zero, now=now)
    for too_long in ("1000y", "3y", "25m", "732d"):
        with pytest.raises(InvalidInput, match="at most 2 years"):
            parse_expiry(too_long, now=now)
    assert parse_expiry("2y", now=now) == datetime(2028, 1, 31, 12, 0, tzinfo=UTC)
    assert parse_expiry("730d", now=now) is not None
    result = runner.invoke(args=["tokens", "create", "--department", "court",
                                 "--expires-in", "0d"])
    assert result.exit_code == 1 and "at least 1 day" in result.output
