"""RFC 6962 Merkle hashing: the streaming frontier and the proofs agree with the RFC's
recursive definitions, and the verifiers accept exactly the right proofs."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from app.services.audit import merkle


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 section 2.1 writes it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 6962 section 2.1.1."""
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 6962 section 2.1.2."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


@given(st.integers(min_value=0, max_value=70))
def test_the_frontier_gives_the_root_of_every_prefix(n):
    leaves = _leaves(n)
    frontier = merkle.Frontier()
    assert frontier.root() == mth([])
    for i, leaf in enumerate(leaves, start=1):
        frontier.add(leaf)
        assert frontier.root() == mth(leaves[:i])


@given(st.integers(min_value=0, max_value=70), st.sampled_from([1, 2, 4, 8, 4096]))
def test_root_of_is_the_rfc_root_whatever_its_runs(n, run):
    leaves = _leaves(n)
    saved = merkle._RUN
    merkle._RUN = run  # runs of 1, 2, 4, 8 leaves exercise the frontier of runs on few leaves
    try:
        assert merkle.root_of(leaves) == merkle.root_of(iter(leaves)) == mth(leaves)
    finally:
        merkle._RUN = saved


def test_root_of_is_the_rfc_root_around_whole_runs():
    leaves = _leaves(3 * merkle._RUN + 1)
    for n in (merkle._RUN - 1, merkle._RUN, merkle._RUN + 1, 2 * merkle._RUN,
              3 * merkle._RUN, 3 * merkle._RUN + 1):
        assert merkle.root_of(leaves[:n]) == mth(leaves[:n]), n


@given(st.data())
def test_inclusion_proofs_match_the_rfc_and_verify(data):
    n = data.draw(st.integers(min_value=1, max_value=70))
    m = data.draw(st.integers(min_value=0, max_value=n - 1))
    leaves = _leaves(n)
    proof = [mth(leaves[a:b]) for a, b in merkle.path_ranges(m, n)]
    assert proof == path(m, leaves)
    root = mth(leaves)
    assert merkle.verify_inclusion(leaves[m], m, n, proof, root)
    assert not merkle.verify_inclusion(leaves[(m + 1) % n], m, n, proof, root) or n == 1
    if proof:
        forged = [proof[0][::-1], *proof[1:]]
        assert not merkle.verify_inclusion(leaves[m], m, n, forged, root)


@given(st.data())
def test_consistency_proofs_match_the_rfc_and_verify(data):
    n = data.draw(st.integers(min_value=1, max_value=70))
    m = data.draw(st.integers(min_value=1, max_value=n))
    leaves = _leaves(n)
    proof = [mth(leaves[a:b]) for a, b in merkle.consistency_ranges(m, n)]
    assert proof == subproof(m, leaves, True)
    assert merkle.verify_consistency(m, n, mth(leaves[:m]), mth(leaves), proof)
    if m < n:
        other = _leaves(m - 1) + [merkle.leaf_hash(b"rewritten")]
        assert not merkle.verify_consistency(m, n, mth(other), mth(leaves), proof)
