"""The walk of the seal log checks the log's root at every size a digest publishes, even
a size inside one event's run (a digest file may say anything), and only there."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.models import AuditEvent, FactSeal
from app.services.audit import chain, merkle
from tests.services.test_seals import build_city


def _digests(session, roots: dict[int, bytes]) -> list[chain.Digest]:
    last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
    return [chain.Digest(date(2026, 1, 1) + timedelta(days=n), last.id, last.hash, size,
                         root.hex()) for n, (size, root) in enumerate(sorted(roots.items()))]


def test_the_root_is_checked_at_every_published_size(app, session, rulebook):
    build_city(session, rulebook)
    leaves = [bytes.fromhex(h) for h in session.execute(
        select(FactSeal.leaf_hash).order_by(FactSeal.position)).scalars()]
    assert len(leaves) > 8
    every = {size: merkle.root_of(leaves[:size]) for size in range(1, len(leaves) + 1)}
    session.rollback()
    result = chain.verify(session, digests=_digests(session, every), facts=True)
    assert result.ok, (result.where(), result.reason)
    for wrong in (1, len(leaves) // 2, len(leaves) - 1, len(leaves)):
        forged = {**every, wrong: b"\x00" * 32}
        digests = _digests(session, forged)
        result = chain.verify(session, digests=digests, facts=True)
        day = next(d.day for d in digests if d.log_size == wrong)
        assert not result.ok and f"the log of {wrong} seals differs from the digest " \
            f"published on {day}" in result.reason, (wrong, result.reason)


def test_a_digest_beyond_the_log_says_seals_were_removed(app, session, rulebook):
    build_city(session, rulebook)
    size = session.execute(select(FactSeal.position).order_by(FactSeal.position.desc())
                           ).scalars().first() + 1
    session.rollback()
    result = chain.verify(session, digests=_digests(session, {size + 3: b"\x11" * 32}),
                          facts=True)
    assert not result.ok and "seals were removed" in result.reason
