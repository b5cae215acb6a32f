"""CSV downloads of the tables officials see: `?format=csv` on a table's page gives the same
rows, with the same filters, under the same access check (the page's own view answers it).

Column names are stable identifiers (like the import columns), not translated, so scripts
can rely on them. Text cells that a spreadsheet would run as a formula (starting with = + -
@, a tab or a carriage return) get a leading apostrophe; numbers are written as numbers.
Every download is written to the audit trail.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from flask import Flask, Response, request, url_for
from flask_login import current_user

from app import clock
from app.db import get_session
from app.services.audit.downloads import record_download

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 100_000
Column = tuple[str, Callable[[object], object] | str]


def wants_csv() -> bool:
    """Return True when the page is asked for as CSV (`?format=csv`)."""
    return request.args.get("format") == "csv"


def cell(value) -> str | int | float:
    """Return `value` as a CSV cell, defused against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _get(row, getter):
    if callable(getter):
        return getter(row)
    value = row
    for part in getter.split("."):
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    return value


def _filename(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "table"
    return f"{safe[:80]}.csv"


def csv_response(rows: Iterable, columns: Sequence[Column], *, name: str,
                 audited: bool = True) -> Response:
    """Return `rows` as a streamed CSV download named after `name` (and today's date).

    `columns` are (header, getter) pairs: a getter is an attribute path ("subject.name") or
    a function of the row. The cells are taken now (while the rows are loaded); the text is
    streamed. The download is audited with its row count and query.
    """
    table = [[cell(_get(row, getter)) for _, getter in columns]
             for row, _ in zip(rows, range(MAX_ROWS + 1), strict=False)]
    truncated = len(table) > MAX_ROWS
    del table[MAX_ROWS:]
    filename = _filename(f"{name}-{clock.today().isoformat()}")
    if audited and current_user.is_authenticated:
        record_download(get_session(), actor=current_user.username, page=request.endpoint or "",
                        file=filename, rows=len(table), truncated=truncated,
                        query=request.query_string.decode("utf-8", "replace"))

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([header for header, _ in columns])
        for i, values in enumerate(table):
            writer.writerow(values)
            if i % 500 == 499:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    # The cells are taken already: the generator needs no request context (none is kept).
    response = Response(generate(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    if truncated:  # said where a script can see it; the file itself stays plain CSV
        response.headers["X-Citypoints-Truncated"] = f"first {MAX_ROWS} rows only"
    return response


def csv_url(table: str | None = None) -> str:
    """Return this page's URL with its filters, asking for CSV (and one of its tables)."""
    args: dict = dict(request.view_args or {})
    for key, values in request.args.lists():
        # A leading underscore is url_for's own (_method, _scheme, _external, _anchor):
        # never a filter of ours, and not to be taken from the query.
        if key not in ("format", "page", "table") and not key.startswith("_"):
            args[key] = values if len(values) > 1 else values[0]
    args["format"] = "csv"
    if table:
        args["table"] = table
    return url_for(request.endpoint, **args)


def init_app(app: Flask) -> None:
    """Make `csv_url` available to the templates (the `csv_link` macro uses it)."""
    app.add_template_global(csv_url, "csv_url")
