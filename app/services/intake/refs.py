"""External references of imported rows: the department's own, or derived from content."""

from __future__ import annotations

import hashlib
from collections import defaultdict


class FileRefs:
    """The references of one file's rows, in file order.

    A row without an `external_ref` gets one derived from its key columns and how many
    identical rows came before it in the file, so two identical rows stay two facts while
    importing the same file again adds nothing.
    """

    def __init__(self, key_columns: tuple[str, ...], *, verbatim: tuple[str, ...] = ()):
        self.key_columns = key_columns  # the first is the subject_id (compared upper-cased)
        self.verbatim = verbatim  # key columns compared as sent, spaces included
        self._counts: dict[tuple, int] = defaultdict(int)
        self._first_line: dict[str, int] = {}

    def ref_of(self, values: dict[str, str]) -> str:
        """Return the row's external_ref, or the one derived from its content."""
        ref = values.get("external_ref", "").strip()
        if ref:
            return ref
        first, *rest = self.key_columns
        key = (values.get(first, "").strip().upper(),
               *(values.get(c, "") if c in self.verbatim else values.get(c, "").strip()
                 for c in rest))
        self._counts[key] += 1
        raw = "\x1f".join([*key, str(self._counts[key])])
        return "auto:" + hashlib.sha256(raw.encode()).hexdigest()[:40]

    def used_before(self, ref: str, line: int) -> int | None:
        """Return the line that used `ref` earlier in the file, or note `line` and None."""
        if ref in self._first_line:
            return self._first_line[ref]
        self._first_line[ref] = line
        return None

    @classmethod
    def all_refs(cls, rows, key_columns: tuple[str, ...], *,
                 verbatim: tuple[str, ...] = ()) -> list[str]:
        """Return every reference of `rows` (to look up those already stored)."""
        refs = cls(key_columns, verbatim=verbatim)
        return sorted({refs.ref_of(r.values) for r in rows})
