"""Merkle tree hashing of RFC 6962 (Certificate Transparency), pure and streaming.

A leaf's hash is SHA-256(0x00 || data), an inner node's SHA-256(0x01 || left || right);
the tree over n leaves splits at the largest power of two below n. `Frontier` takes leaf
hashes one by one and keeps only the O(log n) roots of the perfect subtrees seen so far,
which is enough for the root of every prefix: a log of millions of leaves is hashed in
bounded memory. The proofs are given as the leaf ranges whose subtree roots they list, so
a caller can hash each range by streaming its leaves (`path_ranges`,
`consistency_ranges`); `verify_inclusion` and `verify_consistency` check them (RFC 9162,
sections 2.1.3.2 and 2.1.4.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Return the hash of one leaf's data."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the hash of an inner node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The roots of the perfect subtrees of a growing log: its root at every size.

    The subtrees are those of the binary digits of the size, tallest first: adding a leaf
    merges one subtree per trailing 1 bit of the size before it.
    """

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # subtree roots, tallest first

    def add(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        stack, size, node = self._stack, self.size, leaf
        while size & 1:
            node = _sha256(b"\x01" + stack.pop() + node).digest()
            size >>= 1
        stack.append(node)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append leaf hashes in order (`add`, one loop)."""
        stack, size, sha256 = self._stack, self.size, _sha256
        for node in leaves:
            n = size
            while n & 1:
                node = sha256(b"\x01" + stack.pop() + node).digest()
                n >>= 1
            stack.append(node)
            size += 1
        self.size = size

    def root(self) -> bytes:
        """Return the root of the leaves added so far."""
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


_RUN = 1 << 12  # leaves hashed level by level at a time by root_of


def _level_root(leaves: list[bytes]) -> bytes:
    """Return the root of the tree over `leaves` (not empty), one level at a time: pairing
    neighbours and carrying an odd last node up unchanged is RFC 6962's split at the
    largest power of two."""
    sha = hashlib.sha256
    while len(leaves) > 1:
        paired = [sha(b"\x01" + leaves[i] + leaves[i + 1]).digest()
                  for i in range(0, len(leaves) - 1, 2)]
        if len(leaves) % 2:
            paired.append(leaves[-1])
        leaves = paired
    return leaves[0]


def root_of(leaves: Iterable[bytes]) -> bytes:
    """Return the root of the tree over `leaves` (leaf hashes, in order), in bounded memory:
    runs of _RUN leaves are perfect subtrees, hashed level by level and kept as a
    frontier; the leaves after the last full run make the last subtree."""
    stack: list[tuple[int, bytes]] = []  # (height, root) of perfect subtrees, tallest first
    height = _RUN.bit_length() - 1
    run: list[bytes] = []
    for leaf in leaves:
        run.append(leaf)
        if len(run) == _RUN:
            level, node = height, _level_root(run)
            while stack and stack[-1][0] == level:
                node = node_hash(stack.pop()[1], node)
                level += 1
            stack.append((level, node))
            run = []
    if run:
        node = _level_root(run)
    elif stack:
        node = stack.pop()[1]
    else:
        return EMPTY_ROOT
    for _height, left in reversed(stack):
        node = node_hash(left, node)
    return node


def _split(n: int) -> int:
    """Return the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges [start, end) whose roots make the inclusion proof of leaf
    `index` in the tree of `size` leaves, in the order of the proof."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    out: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    out.reverse()
    return out


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose roots make the consistency proof from the tree of
    `old` leaves to the tree of `new` leaves, in the order of the proof."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from {old} to {new} leaves")
    out: list[tuple[int, int]] = []
    start, end, m, complete = 0, new, old, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        out.append((start, end))
    out.reverse()
    return out


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes],
                     root: bytes) -> bool:
    """Return True when `path` proves leaf hash `leaf` at `index` in the tree `root`."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       proof: list[bytes]) -> bool:
    """Return True when `proof` shows the tree of `new` leaves extends that of `old`."""
    if old == new:
        return not proof and old_root == new_root
    if not 0 < old < new or not proof:
        return False
    if old & (old - 1) == 0:  # a power of two: the old root is the proof's first node
        proof = [old_root, *proof]
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
