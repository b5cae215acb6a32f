"""Audited downloads: each CSV export of a table an official sees is an audit event, with
the page it came from, its file name, how many rows and the query that chose them."""

from __future__ import annotations

from sqlmodel import Session

from app.services.audit import chain as audit
from app.services.transaction import atomic


@atomic
def record_download(session: Session, *, actor: str, page: str, file: str, rows: int,
                    truncated: bool, query: str) -> None:
    """Write `actor`'s download of `file` (`rows` rows of `page`, chosen by `query`)."""
    audit.append(session, actor=actor, action="export.csv", target=page[:200],
                 details={"file": file, "rows": rows, "truncated": truncated,
                          "query": query[:500]})
