"""The audit trail for auditors and admins: whether the chain holds, the published digests,
and a search of the events (newest first, 50 a page), filtered from menus of the actions
and actors there are, each event's details shown as a folded list."""

from __future__ import annotations

import threading

from flask import Blueprint, render_template, request

from app.db import get_session, primary_only
from app.errors import CitypointsError
from app.services.accounts.users import ADMIN, AUDITOR
from app.services.audit import chain as audit
from app.services.intake.rows import parse_iso_date
from app.web import export_tables
from app.web.auth import role_required
from app.web.exports import wants_csv

bp = Blueprint("audit_pages", __name__, url_prefix="/audit")

PER_PAGE = 50
MAX_PAGE = 10_000
TEXT_FILTERS = {"actor": 80, "action": 64, "subject_id": 18}
SHOWN_DIGESTS = 10


def _date_arg(name: str):
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_iso_date(raw[:40])
    except ValueError as error:
        raise CitypointsError(f"{name}: {error} (for example ?{name}=2024-01-31)") from None


def _page_arg() -> int:
    raw = request.args.get("page", "").strip()
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) >= 1 else 1


# The last good check of the chain, per database, in this process: a page load walks only
# the events written since (a trail of millions of events takes minutes to walk whole).
_CHECKED: dict[str, audit.VerifyResult] = {}
_CHECKED_LOCK = threading.Lock()


def _check_chain(session, digests, *, full: bool) -> audit.VerifyResult:
    key = str(session.get_bind().url)
    with _CHECKED_LOCK:
        last = None if full else _CHECKED.get(key)
    result = audit.verify(session, digests=digests, after=last)
    with _CHECKED_LOCK:
        if result.ok:
            _CHECKED[key] = result
        else:
            _CHECKED.pop(key, None)
    return result


@bp.get("")
@primary_only  # the chain is verified where it is written
@role_required(AUDITOR, ADMIN)
def search():
    """Verify the chain, show the published digests, and search the events."""
    filters = {name: request.args.get(name, "").strip()[:size]
               for name, size in TEXT_FILTERS.items()}
    filters["subject_id"] = filters["subject_id"].upper()
    since, until = _date_arg("since"), _date_arg("until")
    if since and until and since > until:
        raise CitypointsError(f"since ({since}) is after until ({until}): nothing can match")
    page = _page_arg()
    session = get_session()
    if wants_csv():  # the same filters; the newest events up to the search's cap, not a page
        return export_tables.audit_events(audit.search(
            session, actor=filters["actor"] or None, action=filters["action"] or None,
            subject_id=filters["subject_id"] or None, since=since, until=until,
            limit=audit.MAX_SEARCH))
    digests = audit.published_digests(session)
    result = _check_chain(session, digests, full=request.args.get("verify") == "full")
    found = audit.search(session, actor=filters["actor"] or None,
                         action=filters["action"] or None,
                         subject_id=filters["subject_id"] or None, since=since, until=until,
                         limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    query = {name: value for name, value in filters.items() if value}
    if since:
        query["since"] = since.isoformat()
    if until:
        query["until"] = until.isoformat()
    return render_template(
        "audit/index.html", result=result, digests=list(reversed(digests))[:SHOWN_DIGESTS],
        more_digests=len(digests) > SHOWN_DIGESTS, events=found[:PER_PAGE],
        has_next=len(found) > PER_PAGE, page=page, filters=filters, since=since,
        until=until, query=query, choices=audit.filter_choices(session),
        details={e.id: audit.details_of(e) for e in found[:PER_PAGE]})
