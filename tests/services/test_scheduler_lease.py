"""The leader lease: one holder at a time, renewed by it, taken over once it runs out; each
job's due time is claimed once, and only by the holder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.services.scheduling.lease import (
    claim_due_time,
    claims,
    hold_lease,
    lease_holder,
    release_lease,
)

T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


def test_one_holder_at_a_time_and_a_standby_takes_over_when_it_runs_out(session):
    assert hold_lease(session, holder="a", seconds=30, now=T0)
    assert not hold_lease(session, holder="b", seconds=30, now=T0 + timedelta(seconds=5))
    assert hold_lease(session, holder="a", seconds=30, now=T0 + timedelta(seconds=20))  # renew
    assert not hold_lease(session, holder="b", seconds=30, now=T0 + timedelta(seconds=45))
    assert lease_holder(session, now=T0 + timedelta(seconds=45)) == "a"
    # a stops renewing (it died): its lease runs out 30 s after the last renewal.
    assert hold_lease(session, holder="b", seconds=30, now=T0 + timedelta(seconds=51))
    assert lease_holder(session, now=T0 + timedelta(seconds=51)) == "b"
    assert not hold_lease(session, holder="a", seconds=30, now=T0 + timedelta(seconds=52))


def test_an_orderly_stop_hands_the_lease_over_at_once(session):
    assert hold_lease(session, holder="a", seconds=30, now=T0)
    release_lease(session, holder="b")  # not b's to give
    assert lease_holder(session, now=T0) == "a"
    release_lease(session, holder="a")
    assert hold_lease(session, holder="b", seconds=30, now=T0 + timedelta(seconds=1))


def test_a_due_time_is_claimed_once_and_only_by_the_holder(session):
    assert not claim_due_time(session, job_id="nightly-recompute", due_at=DUE, holder="a",
                              now=T0)  # nobody holds the lease yet
    hold_lease(session, holder="a", seconds=30, now=T0)
    assert not claim_due_time(session, job_id="nightly-recompute", due_at=DUE, holder="b",
                              now=T0)
    assert claim_due_time(session, job_id="nightly-recompute", due_at=DUE, holder="a", now=T0)
    assert not claim_due_time(session, job_id="nightly-recompute", due_at=DUE, holder="a",
                              now=T0 + timedelta(seconds=1))
    # After a takeover, the new leader does not run that due time again either.
    hold_lease(session, holder="b", seconds=30, now=T0 + timedelta(minutes=5))
    assert not claim_due_time(session, job_id="nightly-recompute", due_at=DUE, holder="b",
                              now=T0 + timedelta(minutes=5))
    assert claim_due_time(session, job_id="deliver-notices", due_at=DUE, holder="b",
                          now=T0 + timedelta(minutes=5))
    assert claim_due_time(session, job_id="nightly-recompute", due_at=DUE + timedelta(days=1),
                          holder="b", now=T0 + timedelta(minutes=5))
    assert [c.holder for c in claims(session, "nightly-recompute")] == ["a", "b"]
