"""The public transparency page: each day's published head of the audit chain and root of
the sealed facts' log."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from app.db import get_session
from app.services.audit.chain import published_digests

bp = Blueprint("transparency", __name__, url_prefix="/transparency")


@bp.get("")
def index():
    """Show the published digests, newest first, and how to check them."""
    digests = list(reversed(published_digests(get_session())))
    return render_template("transparency/index.html", digests=digests)


@bp.get("/digests.txt")
def digests_text():
    """Return the digests as text lines (DATE ID HASH SIZE ROOT) for `audit verify --digests`."""
    lines = ["# citypoints audit digests: DATE EVENT-ID HASH SEALED-FACTS LOG-ROOT"]
    lines += [d.line() for d in published_digests(get_session())]
    return Response("\n".join(lines) + "\n", mimetype="text/plain")
