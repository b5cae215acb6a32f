"""Reading the small inputs that several pages share (the `as_of` date, the page number)."""

from __future__ import annotations

from datetime import date

from flask import request

from app.errors import CitypointsError
from app.services.intake.rows import parse_iso_date
from app.web import today


def as_of_arg() -> date:
    """Return `?as_of=YYYY-MM-DD`, or today; a bad date is a 400 with a clear message."""
    raw = request.args.get("as_of", "").strip()
    if not raw:
        return today()
    try:
        return parse_iso_date(raw[:40])
    except ValueError as error:
        raise CitypointsError(f"as_of: {error} (for example ?as_of={today().isoformat()})") \
            from None


def page_arg(max_page: int = 10_000) -> int:
    """Return `?page=N` (1 when missing or not a positive number; at most `max_page`)."""
    raw = request.args.get("page", "").strip()
    return min(int(raw), max_page) if raw.isdigit() and int(raw) >= 1 else 1
