"""Typed drafts: one per fact that comes in (a record, a list entry, a subject).

The CSV and JSON-lines reader and the web forms read their text into drafts here, once;
the API builds them from the values its request models already typed. A value that cannot
be read (a date that is not one) is left as None, and why is kept in `unread`: the service
that checks the draft reports it together with every other problem of the row, in order.
A draft from a file carries its line, so each problem names the file and the line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Generic, TypeVar

from app.errors import Problem
from app.services.intake.rows import iter_rows, parse_iso_date, read_rows

Unread = tuple[tuple[str, str], ...]  # (field, why its text could not be read)


@dataclass(frozen=True, slots=True)
class RecordDraft:
    """One conduct to record for one subject."""

    subject_id: str
    rule_code: str
    occurred_on: date | None
    evidence: str = ""
    external_ref: str = ""  # empty: derived from the content (see intake.refs)
    line: int = 0  # the line of the file it was read from; 0 when it came from a form or a call
    unread: Unread = ()

    def why_unread(self, field: str) -> str | None:
        """Return why `field`'s text could not be read, or None."""
        return _why(self.unread, field)


@dataclass(frozen=True, slots=True)
class ListEntryDraft:
    """One subject to enter on one list."""

    subject_id: str
    list_code: str
    entered_on: date | None
    ends_on: date | None = None  # None: when the list's `lasts` ends it
    legal_basis: str = ""  # empty: the list's own
    decision_ref: str = ""
    external_ref: str = ""
    line: int = 0
    unread: Unread = ()

    def why_unread(self, field: str) -> str | None:
        """Return why `field`'s text could not be read, or None."""
        return _why(self.unread, field)


@dataclass(frozen=True, slots=True)
class SubjectDraft:
    """One subject of the population register, new or updated."""

    subject_id: str
    kind: str
    name: str
    district: str = ""
    village: str = ""
    legal_representative: str | None = None
    consent: bool | None = False  # None: unread
    line: int = 0
    unread: Unread = ()
    language: str = ""  # en or zh; empty: not given (a registered subject keeps theirs)

    def why_unread(self, field: str) -> str | None:
        """Return why `field`'s text could not be read, or None."""
        return _why(self.unread, field)


def _why(unread: Unread, field: str) -> str | None:
    return next((why for name, why in unread if name == field), None)


# ------------------------------------------------------------------------- reading text
@lru_cache(maxsize=4096)  # a file of a million rows names a few hundred days
def _date(text: str) -> tuple[date | None, str | None]:
    try:
        return parse_iso_date(text), None
    except ValueError as error:
        return None, str(error)


def read_record(values: Mapping[str, str], line: int = 0) -> RecordDraft:
    """Read a record from text (a file's row, a form)."""
    occurred_on, why = _date(values.get("occurred_on", "").strip())
    return RecordDraft(values.get("subject_id", ""), values.get("rule_code", ""), occurred_on,
                       values.get("evidence", ""), values.get("external_ref", ""), line,
                       (("occurred_on", why),) if why else ())


def read_list_entry(values: Mapping[str, str], line: int = 0) -> ListEntryDraft:
    """Read a list entry from text; an empty `ends_on` is none."""
    unread: list[tuple[str, str]] = []
    entered_on, why = _date(values.get("entered_on", "").strip())
    if why:
        unread.append(("entered_on", why))
    ends_on, raw_end = None, values.get("ends_on", "").strip()
    if raw_end:
        ends_on, why = _date(raw_end)
        if why:
            unread.append(("ends_on", why))
    return ListEntryDraft(values.get("subject_id", ""), values.get("list_code", ""), entered_on,
                          ends_on, values.get("legal_basis", ""), values.get("decision_ref", ""),
                          values.get("external_ref", ""), line, tuple(unread))


TRUE = frozenset({"true", "yes", "y", "1", "t"})
FALSE = frozenset({"false", "no", "n", "0", "f", ""})


def read_subject(values: Mapping[str, str], line: int = 0) -> SubjectDraft:
    """Read a subject from text; consent is yes or no (true, 1, y ... or empty for no)."""
    consent_text = values.get("consent", "").strip().lower()
    consent = True if consent_text in TRUE else False if consent_text in FALSE else None
    unread = () if consent is not None else (
        ("consent", f"{values.get('consent')!r} is not yes or no (write true or false)"),)
    return SubjectDraft(values.get("subject_id", ""), values.get("kind", ""),
                        values.get("name", ""), values.get("district", ""),
                        values.get("village", ""),
                        values.get("legal_representative", "").strip() or None, consent, line,
                        unread, (values.get("language") or "").strip().lower())


Draft = TypeVar("Draft", RecordDraft, ListEntryDraft, SubjectDraft)


@dataclass(frozen=True)
class FileKind(Generic[Draft]):
    """What a department file holds: its columns and how a row is read into a draft."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    read: Callable[[Mapping[str, str], int], Draft]


RECORD_FILE = FileKind(("subject_id", "rule_code", "occurred_on", "evidence", "external_ref"),
                       ("subject_id", "rule_code", "occurred_on"), read_record)
LIST_ENTRY_FILE = FileKind(("subject_id", "list_code", "entered_on", "ends_on", "legal_basis",
                            "decision_ref", "external_ref"),
                           ("subject_id", "list_code", "entered_on"), read_list_entry)
SUBJECT_FILE = FileKind(("subject_id", "kind", "name", "district", "village",
                         "legal_representative", "consent", "language"),
                        ("subject_id", "kind", "name"), read_subject)


def read_drafts(data: bytes | str, *, name: str, kind: FileKind[Draft]) -> list[Draft]:
    """Read a CSV (header row) or JSON-lines file into drafts, each with its line; raise
    InvalidInput naming each line that cannot be read as a row."""
    return read_rows(data, name=name, columns=kind.columns, required=kind.required,
                     make=kind.read)


def iter_drafts(data: bytes | str, *, name: str, kind: FileKind[Draft],
                problems: list[Problem]) -> Iterator[Draft]:
    """Yield a file's drafts one by one (see read_drafts), adding each line that cannot be
    read as a row to `problems` (app.services.intake.rows.raise_unread raises them)."""
    return iter_rows(data, name=name, columns=kind.columns, required=kind.required,
                     make=kind.read, problems=problems)
