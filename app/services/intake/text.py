"""The one character policy for text that comes in, on every path (a form, a file, an API
call): no control characters. Free text (evidence, a legal basis) may hold tabs and line
breaks; every other field (identifiers, codes, names, references) is one line.

A NUL cannot be stored in PostgreSQL text, and control characters cannot be printed on a
notice or shown on a page; refusing them at the door keeps both databases alike. The API's
request models use the same patterns, so its document says what the services check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from functools import cache
from operator import attrgetter
from typing import Any

from app.errors import InvalidInput, Problem

# C0 controls but tab, line feed and carriage return; DEL; the C1 controls.
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
_FREE_TEXT_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ONE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FREE_TEXT_FIELDS = frozenset({"evidence", "legal_basis"})


def control_character(text: str, *, free: bool) -> str | None:
    """Return why `text` is refused (its first control character), or None."""
    found = (_FREE_TEXT_BAD if free else _ONE_LINE_BAD).search(text)
    if found is None:
        return None
    return (f"holds the control character U+{ord(found.group()):04X} at position "
            f"{found.start() + 1}; remove it"
            + ("" if free else " (this field is one line of text)"))


@cache
def _getters(cls: type) -> tuple[tuple[Callable[[object], tuple], Any], ...]:
    """Return (getter of some fields' values, the pattern they must not match) for a draft
    class: its one-line fields, and its free-text ones."""
    names = [f.name for f in fields(cls)]
    out = []
    for pattern, group in ((_ONE_LINE_BAD, [n for n in names if n not in FREE_TEXT_FIELDS]),
                           (_FREE_TEXT_BAD, [n for n in names if n in FREE_TEXT_FIELDS])):
        if group:  # two names at least, so that the getter gives a tuple
            out.append((attrgetter(*group, group[0]), pattern))
    return tuple(out)


def draft_text_problems(draft: object) -> Iterable[tuple[str, str]]:
    """Return (field, why) for each text field of a draft that breaks the policy.

    A draft's text is searched at once (a file of a million rows has nothing to refuse);
    only a draft that holds a control character is looked at field by field."""
    for values, bad in _getters(type(draft)):
        if bad.search("".join([v for v in values(draft) if isinstance(v, str)])):
            return _field_problems(draft)
    return ()


def _field_problems(draft: object) -> Iterator[tuple[str, str]]:
    for field in fields(draft):  # type: ignore[arg-type]
        value = getattr(draft, field.name)
        if isinstance(value, str) and value:
            why = control_character(value, free=field.name in FREE_TEXT_FIELDS)
            if why:
                yield field.name, why


def written_text(value: str | None, *, name: str, limit: int, required: str | None = None,
                 free: bool = True) -> str:
    """Strip one piece of written text that comes in (a reason, evidence, a statement, a
    reference) and check it: present when `required` (the message to give when it is empty),
    at most `limit` characters, and no control characters (`free` text may hold tabs and line
    breaks). Raise InvalidInput naming the field; return the stripped text."""
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(required, problems=[Problem(required, field=name)])
        return text
    why = (f"is longer than {limit} characters" if len(text) > limit
           else control_character(text, free=free))
    if why:
        raise InvalidInput(f"the {name.replace('_', ' ')} {why}",
                           problems=[Problem(why, field=name)])
    return text
