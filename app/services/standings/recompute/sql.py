"""SQL text with typed bind parameters: how the recompute writes and runs its statements.

The recompute's statements are written by hand (temporary tables, join orders the
planners need, INDEXED BY on SQLite), so they are text; a `Sql` fragment carries a piece
of that text and the bind parameters it names, each typed by SQLAlchemy, from its value
(a date binds as a Date, an int as an Integer, a str as a String) or as given. Core
expressions (the predicates of app.services.standings.predicates) become fragments with
`Sql.of`. A statement names every parameter it uses and no other: text() says so if not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Result, bindparam, text
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session


class Sql:
    """A piece of SQL text and the typed bind parameters it names."""

    __slots__ = ("text", "binds")

    def __init__(self, sql: str, *parts: Sql, **values: Any) -> None:
        """Make `sql`, naming the parameters of `parts` (fragments in its text) and `values`
        (plain values, bound with the type SQLAlchemy gives them, or bind parameters)."""
        self.text = sql
        self.binds: dict[str, BindParameter[Any]] = {}
        for part in parts:
            self._add(part.binds.values())
        self._add(value if isinstance(value, BindParameter) else bindparam(name, value)
                  for name, value in values.items())

    def _add(self, binds: Iterable[BindParameter[Any]]) -> None:
        for bind in binds:
            known = self.binds.setdefault(bind.key, bind)
            if known is not bind and (known.value != bind.value
                                      or type(known.type) is not type(bind.type)):
                raise ValueError(f"bind parameter {bind.key!r} is given two values: "
                                 f"{known.value!r} and {bind.value!r}")

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)

    @classmethod
    def of(cls, clause: ClauseElement) -> Sql:
        """Return the fragment of a Core expression whose bind parameters are all named."""
        # A run builds the same few shapes of expression with other values (a day, a code):
        # compiling each takes a run tens of milliseconds, so the text is kept per shape,
        # as SQLAlchemy keys its own statement cache (its dogpile caching example does too).
        key = clause._generate_cache_key()
        sql = _TEXTS.get(key.key) if key is not None else None
        if sql is None:
            compiled = clause.compile()
            sql, binds = str(compiled), list(compiled.binds.values())
            if key is not None:
                if len(_TEXTS) >= _TEXTS_KEPT:
                    _TEXTS.clear()
                _TEXTS[key.key] = sql
        else:
            binds = key.bindparams
        anonymous = [bind.key for bind in binds if bind.unique]
        if anonymous:
            raise ValueError(f"name the bind parameters of a fragment (anonymous: {anonymous})")
        return cls(sql, **{bind.key: bind for bind in binds})


_TEXTS: dict[object, str] = {}  # the text of each shape of expression made a fragment
_TEXTS_KEPT = 4096


def union(parts: Iterable[Sql]) -> Sql:
    """Return the UNION of the SELECT fragments `parts` (empty if there are none)."""
    parts = [p for p in parts if p]
    return Sql(" UNION ".join(p.text for p in parts), *parts)


def in_list(prefix: str, values: Iterable[Any]) -> Sql:
    """Return `(:prefix0, :prefix1, ...)`, binding `values`."""
    named = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return Sql("(" + ", ".join(f":{name}" for name in named) + ")", **named)


def among(column: str, only: str) -> str:
    """Return the condition that `column` is one of the subject_ids in table `only`."""
    return f"{column} IN (SELECT subject_id FROM {only})"


def run(session: Session, statement: str | Sql, *parts: Sql, **values: Any) -> Result[Any]:
    """Execute `statement` with the bind parameters of `parts` (the fragments in its text)
    and `values` (see Sql)."""
    if isinstance(statement, Sql):
        parts = (statement, *parts)
    sql = Sql(str(statement), *parts, **values)
    return session.execute(text(sql.text).bindparams(*sql.binds.values()))
