"""Public pages (no login): what the scheme is, its tiers, and every published rule."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.web import rulebook

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    """Say what the scheme is and show its tiers."""
    return render_template("public/index.html", rules=rulebook())


@bp.get("/scheme")
def scheme():
    """Show the rulebook in force: tiers, conduct tables, measures, lists, deadlines."""
    return render_template("public/scheme.html", rules=rulebook())
