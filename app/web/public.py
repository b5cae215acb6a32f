"""Public pages (no login): what the scheme is, its tiers, and every published rule."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.db import get_session
from app.services.rulebooks.in_force import coming_rulebooks
from app.web import rulebook, today

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    """Say what the scheme is and show its tiers."""
    return render_template("public/index.html", rules=rulebook())


@bp.get("/scheme")
def scheme():
    """Show the rulebook in force (tiers, conduct tables, measures, lists, deadlines) and the
    rulebooks scheduled to come into force, with their first day and what they change."""
    rules = rulebook()
    return render_template("public/scheme.html", rules=rules,
                           coming=coming_rulebooks(get_session(), rules, today=today()))
