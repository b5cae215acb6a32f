"""External references of imported facts: the department's own, or derived from content."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

# A fact's reference as sent (maybe empty) and the key its derived reference is made from:
# the subject_id (upper-cased) and the other key values as text, as a file writes them.
RefKey = Callable[[Any], tuple[str, tuple[str, ...]]]


class FileRefs:
    """The references of one file's facts, in file order.

    A fact without an `external_ref` gets one derived from its key and how many identical
    facts came before it in the file, so two identical rows stay two facts while importing
    the same file again adds nothing.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, ...], int] = defaultdict(int)
        self._first_line: dict[str, int] = {}

    def ref_of(self, external_ref: str, key: tuple[str, ...]) -> str:
        """Return the fact's external_ref (stripped), or the one derived from `key`."""
        ref = external_ref.strip()
        if ref:
            return ref
        self._counts[key] += 1
        raw = "\x1f".join([*key, str(self._counts[key])])
        return "auto:" + hashlib.sha256(raw.encode()).hexdigest()[:40]

    def used_before(self, ref: str, line: int) -> int | None:
        """Return the line that used `ref` earlier in the file, or note `line` and None."""
        if ref in self._first_line:
            return self._first_line[ref]
        self._first_line[ref] = line
        return None

    def peek_refs(self, drafts: Iterable[Any], key_of: RefKey) -> list[str]:
        """Return every reference `drafts` will have when they follow the facts already
        given to ref_of (counting identical facts on from there), without counting them."""
        counts: dict[tuple[str, ...], int] = defaultdict(int)
        found = set()
        for draft in drafts:
            ref = draft.external_ref.strip()
            if not ref:  # the key only where it is needed (the rest give their own)
                _, key = key_of(draft)
                counts[key] += 1
                raw = "\x1f".join([*key, str(self._counts.get(key, 0) + counts[key])])
                ref = "auto:" + hashlib.sha256(raw.encode()).hexdigest()[:40]
            found.add(ref)
        return sorted(found)

    def forget_lines(self) -> None:
        """Forget the references noted so far (their facts are written, and found again by
        a lookup of the stored ones); derived references still count from them."""
        self._first_line.clear()

    @classmethod
    def all_refs(cls, drafts: Iterable[Any], key_of: RefKey) -> list[str]:
        """Return every reference of `drafts` (to look up those already stored)."""
        refs = cls()
        return sorted({refs.ref_of(*key_of(d)) for d in drafts})


def differing(fields: Iterable[tuple[str, Any, Any]]) -> list[str]:
    """Return the names of the (name, stored, sent) fields whose values differ: a replay of
    an external reference must send the same fact, field for field."""
    return [name for name, stored, sent in fields if stored != sent]
