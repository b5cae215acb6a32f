"""Typed reading of one YAML mapping, turning every wrong value into a readable problem."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from app.rulebook.model import TEXT_LANGUAGES, Duration
from app.rulebook.problems import Sink
from app.rulebook.yamlio import LineDict, LineList

MAX_INT = 1_000_000_000
# Longest accepted duration per unit, so that adding it to any date stays in range.
MAX_DURATION = {"d": 36_600, "m": 1_200, "y": 100}

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_INT_TEXT_RE = re.compile(r"^[-+]?[0-9]+$")


def show(value: Any) -> str:
    """Return a short, readable rendering of a YAML value for a message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"'{value}'"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bytes):
        return "binary data"
    return f"a {type(value).__name__}"


def key_name(key: Any) -> str:
    """Return `key` quoted for a message, whatever YAML made of it."""
    return repr(key) if isinstance(key, str) else repr(str(key))


def suggest(word: Any, choices: Iterable[str]) -> str | None:
    """Return the choice closest to `word`, if one is close enough to be a likely typo."""
    if not isinstance(word, str):
        return None
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


class Reader:
    """Reads the keys of one mapping (a rule, a tier, a measure...), recording problems.

    `name` names the thing in messages ("rule UTIL-HEAT-TAMPER"), `path` is the prefix of
    nested keys ("cap."), and unknown or missing keys are reported on construction.
    """

    def __init__(
        self,
        sink: Sink,
        file: str,
        data: LineDict,
        *,
        name: str | None,
        keys: Iterable[str],
        required: Iterable[str] = (),
        path: str = "",
        quiet: Iterable[str] = (),
    ) -> None:
        self.sink, self.file, self.data = sink, file, data
        self.name, self.path = name, path
        allowed = tuple(keys)
        place = self._place()
        for key in data:
            if key not in allowed and key not in quiet:  # `quiet` keys are reported elsewhere
                hint = suggest(key, allowed)
                message = f"unknown key {key_name(key)}" + (f" in {place}" if place else "")
                if hint:
                    message += f" (did you mean {hint!r}?)"
                else:
                    message += f" (allowed keys are {', '.join(allowed)})"
                self.sink.error(file, self.line(key), message)
        for key in required:
            if key not in data:
                message = f"missing key {key!r}" + (f" in {place}" if place else "")
                self.sink.error(file, self.line(), message)

    @classmethod
    def open(
        cls,
        sink: Sink,
        file: str,
        value: Any,
        line: int,
        *,
        label: str,
        like: str,
        **kwargs: Any,
    ) -> Reader | None:
        """Return a Reader for `value`, or record that it is not a mapping and return None."""
        if isinstance(value, dict):
            if not isinstance(value, LineDict):  # e.g. built by an unusual YAML tag
                value = LineDict(value)
                value.line = line
            return cls(sink, file, value, **kwargs)
        sink.error(
            file,
            line,
            f"{label} must be a mapping of keys to values (like {like}), got {show(value)}",
        )
        return None

    def _place(self) -> str:
        inner = self.path.rstrip(".")
        if inner and self.name:
            return f"{inner} of {self.name}"
        return inner or (self.name or "")

    def line(self, key: Any = None) -> int:
        """Return the line of `key`, or of this mapping."""
        return self.data.line_of(key) if key is not None else self.data.line

    @property
    def prefix(self) -> str:
        """Return the start of a message about this thing ("rule X: "), or ""."""
        return f"{self.name}: " if self.name else ""

    def label(self, key: str) -> str:
        """Return how the value of `key` is named in a message."""
        return f"{self.prefix}{self.path}{key}"

    def fail(self, key: str, message: str) -> None:
        """Record `message` about the value of `key`, at the line of `key`."""
        self.sink.error(self.file, self.line(key), f"{self.label(key)} {message}")

    def raw(self, key: str, *, required: bool = False) -> Any:
        """Return the value of `key` (None if absent); a required empty value is a problem."""
        value = self.data.get(key)
        if required and key in self.data and (value is None or value == ""):
            self.fail(key, "is empty")
        return value

    def text(self, key: str, *, required: bool = False) -> str:
        """Return the text of `key` ("" when absent or wrong)."""
        value = self.raw(key, required=required)
        if value is None:
            return ""
        if not isinstance(value, str):
            hint = " (put it in quotes)" if isinstance(value, bool | int | float) else ""
            self.fail(key, f"must be text, got {show(value)}{hint}")
            return ""
        return value.strip()

    def title(
        self, key: str = "title", *, required: bool = False
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Return a title and its translations (see `localized`)."""
        return self.localized(key, required=required)

    def localized(
        self, key: str, *, required: bool = False
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Return a text and its translations: text, or a mapping like {en: ..., zh: ...}.

        The plain text is the English one (or the only one written); the translations are
        (language, text) pairs, empty when the text is plain. Every text read is noted in
        the sink with the languages it is written in, for the check of `languages`.
        """
        value = self.raw(key, required=required)
        if not isinstance(value, dict):
            text = self.text(key, required=required)
            if text:
                self.sink.text(self.file, self.line(key), self.label(key), (TEXT_LANGUAGES[0],))
            return text, ()
        if not value:
            self.fail(key, f"must name at least one language ({', '.join(TEXT_LANGUAGES)})")
            return "", ()
        found: dict[str, str] = {}
        lines = value.line_of if isinstance(value, LineDict) else (lambda _k: self.line(key))
        for language, text in value.items():
            where = f"{self.label(key)}.{language}" if isinstance(language, str) else None
            if language not in TEXT_LANGUAGES:
                hint = suggest(language, TEXT_LANGUAGES)
                extra = f" (did you mean {hint!r}?)" if hint else ""
                self.sink.error(
                    self.file,
                    lines(language),
                    f"{self.label(key)} has an unknown language {key_name(language)}: "
                    f"the languages are {', '.join(TEXT_LANGUAGES)}{extra}",
                )
            elif text is None or isinstance(text, str) and not text.strip():
                self.sink.error(self.file, lines(language), f"{where} is empty")
            elif not isinstance(text, str):
                hint = " (put it in quotes)" if isinstance(text, bool | int | float) else ""
                self.sink.error(
                    self.file, lines(language), f"{where} must be text, got {show(text)}{hint}"
                )
            else:
                found[language] = text.strip()
        if not found:
            return "", ()
        self.sink.text(self.file, self.line(key), self.label(key), tuple(sorted(found)))
        plain = found.get(TEXT_LANGUAGES[0]) or next(iter(found.values()))
        return plain, tuple(sorted(found.items()))

    def code(self, key: str = "code", *, slug: bool = False, required: bool = True) -> str | None:
        """Return the code in `key`, or None when absent or malformed."""
        value = self.raw(key, required=required)
        if value is None or value == "":
            return None
        return check_code(self, key, value, slug=slug)

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = None,
    ) -> int | None:
        """Return the whole number in `key` (`default` when absent), or None when wrong."""
        value = self.raw(key, required=required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and _INT_TEXT_RE.match(value.strip()):
                self.fail(
                    key, f"must be a whole number, got the text {show(value)} (remove the quotes)"
                )
            else:
                self.fail(key, f"must be a whole number, got {show(value)}")
            return None
        if minimum is not None and value < minimum:
            self.fail(key, f"must be at least {minimum}, got {value}")
            return None
        if abs(value) > MAX_INT:
            self.fail(key, f"is too large (at most {MAX_INT} in absolute value)")
            return None
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        """Return the true/false value of `key` (`default` when absent or wrong)."""
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {show(value)}")
            return default
        return value

    def duration(
        self, key: str, *, required: bool = False, default: Duration | None = None
    ) -> Duration | None:
        """Return the duration in `key` (`default` when absent), or None when wrong."""
        value = self.raw(key, required=required)
        if value is None:
            return default
        return parse_duration(self, key, value)

    def day(self, key: str) -> date | None:
        """Return the ISO date in `key`, or None when absent or wrong."""
        value = self.raw(key)
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else None
        if text is None or not _DATE_RE.match(text):
            self.fail(
                key, f"{show(value)} is not a date: write it as YYYY-MM-DD (for example 2016-01-01)"
            )
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.fail(key, f"{show(value)} is not a date: there is no such day")
            return None

    def choice(
        self,
        key: str,
        choices: tuple[str, ...],
        *,
        required: bool = False,
        default: str | None = None,
    ) -> str | None:
        """Return the value of `key` if it is one of `choices`, else record a problem."""
        value = self.raw(key, required=required)
        if value is None or value == "":
            return default
        if not isinstance(value, str) or value not in choices:
            hint = suggest(value, choices)
            extra = f" (did you mean {hint!r}?)" if hint else ""
            self.fail(key, f"must be one of {', '.join(choices)}, got {show(value)}{extra}")
            return None
        return value

    def sub(
        self, key: str, *, like: str, keys: Iterable[str], required: Iterable[str] = ()
    ) -> Reader | None:
        """Return a Reader for the mapping in `key`, or None when absent or not a mapping."""
        value = self.raw(key)
        if value is None:
            return None
        return Reader.open(
            self.sink,
            self.file,
            value,
            self.line(key),
            label=self.label(key),
            like=like,
            name=self.name,
            keys=keys,
            required=required,
            path=f"{self.path}{key}.",
        )

    def items(self, key: str, *, required: bool = False) -> list[tuple[Any, int]] | None:
        """Return the items of the list in `key` with their lines, or None when absent or wrong."""
        value = self.raw(key, required=required)
        if value is None:
            return None
        return list_items(self, key, value)

    def codes(
        self, key: str, *, slug: bool = True, choices: tuple[str, ...] | None = None
    ) -> list[tuple[str, int]] | None:
        """Return the codes listed in `key` with their lines (None when absent); skip bad ones."""
        items = self.items(key)
        if items is None:
            return None
        found: list[tuple[str, int]] = []
        seen: set[str] = set()
        for value, line in items:
            if choices is not None:
                if not isinstance(value, str) or value not in choices:
                    self.sink.error(
                        self.file,
                        line,
                        f"{self.label(key)} may only hold {', '.join(choices)}, got {show(value)}",
                    )
                    continue
                code = value
            else:
                checked = check_code(self, key, value, slug=slug, line=line)
                if checked is None:
                    continue
                code = checked
            if code in seen:
                self.sink.error(self.file, line, f"{self.label(key)} lists {code!r} twice")
                continue
            seen.add(code)
            found.append((code, line))
        return found


def list_items(reader: Reader, key: str, value: Any) -> list[tuple[Any, int]] | None:
    """Return the items of `value` with their lines, or record that it is not a list."""
    if not isinstance(value, list):
        hint = f" (write [{value}])" if isinstance(value, str) and value else ""
        reader.fail(key, f"must be a list, got {show(value)}{hint}")
        return None
    lines = value.lines if isinstance(value, LineList) else []
    default = reader.line(key)
    return [(item, lines[i] if i < len(lines) else default) for i, item in enumerate(value)]


def check_code(
    reader: Reader, key: str, value: Any, *, slug: bool, line: int | None = None
) -> str | None:
    """Return `value` if it is a well-formed code, else record a problem and return None."""
    if isinstance(value, str) and (SLUG_RE if slug else CODE_RE).match(value):
        return value
    if slug:
        rule = "lower-case letters, digits, '-' and '_' (like court-defaulters)"
    else:
        rule = "letters, digits, '-', '_' and '.' (like UTIL-HEAT-TAMPER)"
    hint = " (put it in quotes)" if isinstance(value, bool) else ""
    if line is None:
        message = f"{reader.label(key)} must be a code of {rule}, got {show(value)}{hint}"
    else:
        message = f"{reader.label(key)} may only hold codes of {rule}, got {show(value)}{hint}"
    reader.sink.error(reader.file, reader.line(key) if line is None else line, message)
    return None


def parse_duration(reader: Reader, key: str, value: Any) -> Duration | None:
    """Return `value` as a Duration of at least 1 unit, or record why it is not one."""
    if isinstance(value, str):
        try:
            duration = Duration.parse(value)
        except ValueError:
            duration = None
    else:
        duration = None
    if duration is None:
        reader.fail(
            key,
            f"{show(value)} is not a duration: write a whole number followed by "
            "d, m or y (for example 30d, 3m, 2y)",
        )
        return None
    if duration.count < 1:
        reader.fail(key, f"must be at least 1 day, month or year, got {show(value)}")
        return None
    if duration.count > MAX_DURATION[duration.unit]:
        reader.fail(key, f"{show(value)} is too long (at most 100 years)")
        return None
    return duration
