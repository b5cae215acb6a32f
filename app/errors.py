"""Errors a user can cause: each with a stable code, a message a person can act on and
details (where: file and line, row and column, field). Mapped once to HTTP and CLI."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, and where."""

    message: str
    where: str = ""  # e.g. "records.csv:12", "occurred_on"
    field: str = ""
    row: int | None = None

    def __str__(self) -> str:
        place = self.where
        if self.field and self.field not in place:
            place = f"{place}: column {self.field}" if place else self.field
        return f"{place}: {self.message}" if place else self.message

    def as_dict(self) -> dict:
        out = {"message": self.message}
        if self.where:
            out["where"] = self.where
        if self.field:
            out["field"] = self.field
        if self.row is not None:
            out["row"] = self.row
        return out


class CitypointsError(Exception):
    """Base of the errors a user can cause; `status` is the HTTP status it maps to."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, problems: list[Problem] | None = None, details=None):
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])
        self.details = details

    def as_dict(self) -> dict:
        details = self.details
        if details is None and self.problems:
            details = [p.as_dict() for p in self.problems]
        return {"error": {"code": self.code, "message": self.message, "details": details}}


class InvalidInput(CitypointsError):
    code = "invalid"
    status = 422


class NotFound(CitypointsError):
    code = "not_found"
    status = 404


class Forbidden(CitypointsError):
    code = "forbidden"
    status = 403


class Conflict(CitypointsError):
    code = "conflict"
    status = 409


class RulebookUnavailable(CitypointsError):
    code = "rulebook_unavailable"
    status = 503


@dataclass
class Problems:
    """A collector of problems for all-or-nothing validation."""

    items: list[Problem] = field(default_factory=list)

    def add(self, message: str, *, where: str = "", field: str = "", row: int | None = None):
        self.items.append(Problem(message, where=where, field=field, row=row))

    def __bool__(self) -> bool:
        return bool(self.items)


class ExternalRefConflict(InvalidInput):
    """A department's external_ref already names a different record or list entry."""

    code = "conflict"
    status = 409
