"""Reading department files (CSV with a header, or JSON lines) into numbered rows of text,
or into whatever `make` builds from each row (the typed drafts of app.services.intake.drafts)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.errors import InvalidInput, Problem

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Row:
    line: int  # the line in the file where the row starts (the header is line 1)
    values: dict[str, str]


def parse_iso_date(text) -> date:
    """Parse a strict ISO date (YYYY-MM-DD); raise ValueError with a readable message."""
    if isinstance(text, date):
        return text
    value = str(text or "").strip()
    if not _ISO_DATE.match(value):
        raise ValueError(f"{value!r} is not a date: write it as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date on the calendar") from None


def read_rows(
    data: bytes | str, *, name: str, columns: tuple[str, ...], required: tuple[str, ...],
    make: Callable[[Mapping[str, str], int], Any] | None = None,
) -> list:
    """Parse a CSV (header row) or JSON-lines file; raise InvalidInput naming each problem.

    Return a Row per row, or `make(values, line)` for each row when `make` is given.
    """
    problems: list[Problem] = []
    rows = list(iter_rows(data, name=name, columns=columns, required=required, make=make,
                          problems=problems))
    raise_unread(name, problems)
    return rows


def iter_rows(
    data: bytes | str, *, name: str, columns: tuple[str, ...], required: tuple[str, ...],
    make: Callable[[Mapping[str, str], int], Any] | None, problems: list[Problem],
) -> Iterator:
    """Yield the rows of a CSV or JSON-lines file one by one, as read_rows makes them, and
    add to `problems` each row that cannot be read (the caller raises them with
    raise_unread once the file is read). A file that is not UTF-8, is empty or whose
    header is wrong raises InvalidInput at once, before any row is yielded.

    A CSV file is decoded as it is read: a file of a million rows is never held as text
    (io.StringIO holds text as 4 bytes a character)."""
    if isinstance(data, bytes):
        _check_utf8(data, name)
        # what the file starts with (a file of only white space is read whole: it is empty)
        text = data[:_HEAD].decode("utf-8-sig", "ignore")
        if not text.strip() or len(data) <= _HEAD:
            text = data.decode("utf-8-sig")
    else:
        text = data.lstrip("\ufeff")
    if not text.strip():
        raise InvalidInput(f"{name} is empty", problems=[Problem("the file is empty", where=name)])
    build = make or _row
    if text.lstrip()[:1] == "{":
        if isinstance(data, bytes):
            text = data.decode("utf-8-sig")
        return _json_lines(text, name=name, columns=columns, required=required, make=build,
                           problems=problems)
    source: io.TextIOBase
    if isinstance(data, bytes):
        del text  # the rows are decoded as they are parsed
        source = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    else:
        source = io.StringIO(text, newline="")
    return _csv_rows(source, name=name, columns=columns, required=required, make=build,
                     problems=problems)


_HEAD = 1 << 16
_STEP = 1 << 20


def _check_utf8(data: bytes, name: str) -> None:
    """Raise InvalidInput if `data` is not UTF-8, naming the byte and line; a megabyte at a
    time (decoding a file whole to check it held the whole file as text too)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for i in range(0, len(data), _STEP):
            decoder.decode(view[i:i + _STEP])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        try:
            data.decode("utf-8-sig")  # a bad file only: where exactly
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise InvalidInput(
                f"{name} is not UTF-8 text",
                problems=[Problem(f"bytes that are not UTF-8 at byte {error.start}",
                                  where=f"{name}:{line}")],
            ) from None


def raise_unread(name: str, problems: list[Problem]) -> None:
    """Raise the problems iter_rows found reading a file's rows, if any."""
    if not problems:
        return
    is_json = not any(p.message.startswith(_CSV_UNREAD) for p in problems)
    raise InvalidInput(f"{name} has {'lines' if is_json else 'rows'} that cannot be read",
                       problems=problems)


def _row(values: dict[str, str], line: int) -> Row:
    return Row(line, values)


def _check_columns(found, *, name, columns, required, line) -> None:
    problems = []
    unknown = [c for c in found if c not in columns]
    missing = [c for c in required if c not in found]
    if unknown:
        problems.append(Problem(
            f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are "
            f"{','.join(columns)}", where=f"{name}:{line}"))
    if missing:
        problems.append(Problem(
            f"missing column(s) {', '.join(map(repr, missing))}", where=f"{name}:{line}"))
    if problems:
        raise InvalidInput(f"{name}: the columns are not right", problems=problems)


_CSV_UNREAD = ("has ", "not valid CSV")  # what a CSV row's problems start with (not JSON's)


def _csv_rows(source, *, name, columns, required, make, problems) -> Iterator:
    reader = csv.reader(source)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as error:
        raise InvalidInput(f"{name} is not a CSV file",
                           problems=[Problem(str(error), where=f"{name}:1")]) from None
    _check_columns(header, name=name, columns=columns, required=required, line=1)
    return _csv_body(reader, header, name=name, make=make, problems=problems)


def _csv_body(reader, header, *, name, make, problems) -> Iterator:
    line = reader.line_num + 1
    try:
        strip, width = str.strip, len(header)
        for cells in reader:
            cells = list(map(strip, cells))
            if not any(cells):
                line = reader.line_num + 1
                continue
            if len(cells) != width:
                problems.append(Problem(f"has {len(cells)} cells, the header has {width}",
                                        where=f"{name}:{line}"))
            else:
                yield make(dict(zip(header, cells, strict=True)), line)
            line = reader.line_num + 1
    except csv.Error as error:
        problems.append(Problem(f"not valid CSV: {error}", where=f"{name}:{line}"))


def _json_lines(text: str, *, name, columns, required, make, problems) -> Iterator:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as error:
            problems.append(Problem(f"not valid JSON: {error.msg} (column {error.colno})",
                                    where=f"{name}:{number}"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem("each line must be a JSON object", where=f"{name}:{number}"))
            continue
        try:
            _check_columns(list(obj), name=name, columns=columns, required=required, line=number)
        except InvalidInput as error:
            problems.extend(error.problems)
            continue
        yield make({k: _cell(v) for k, v in obj.items()}, number)


def _cell(value) -> str:
    """Return a JSON value as the text a CSV cell would hold (true, 12, '')."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else json.dumps(value)
