"""Rankings: the tier distribution and its change since a month ago, the villages by share of
A-and-above and the departments by records entered and objections upheld against them (for
every official: aggregates only, no one's file), and the public honour roll."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flask import Blueprint, render_template, request
from flask_babel import gettext

from app.db import get_session
from app.errors import CitypointsError
from app.services.accounts.users import OFFICIAL_ROLES
from app.services.intake.rows import parse_iso_date
from app.services.reports.rankings import (
    NOT_SCORED,
    a_and_above,
    by_objections_upheld,
    department_ranking,
    honour_roll,
    tier_distributions,
    village_ranking,
)
from app.web import rulebook, today
from app.web.auth import role_required
from app.web.charts import bar_rows
from app.web.exports import csv_response, wants_csv
from app.web.i18n import local_title

bp = Blueprint("rankings", __name__)
PER_PAGE = 100
MAX_PAGE = 10_000


def _district_arg() -> str | None:
    return request.args.get("district", "").strip()[:100] or None


def _date_arg(name: str, default):
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse_iso_date(raw[:40])
    except ValueError as error:
        raise CitypointsError(gettext("%(name)s: %(error)s (for example ?%(name)s=%(day)s)",
                                      name=name, error=error, day=today().isoformat())) from None


def _tier_label(code: str) -> str:
    return code or gettext("not scored")


def _tier_rows(dists, tiers) -> list[dict]:
    """The long form of the distributions, one row per place and tier (for the CSV)."""
    rows = []
    places = ([("city", dists.overall)] + [("district", d) for d in dists.districts]
              + [("village", v) for v in dists.villages])
    for level, place in places:
        for tier in tiers:
            rows.append({"level": level, "district": place.district, "village": place.village,
                         "tier": tier or "not-scored", "subjects": place.now.get(tier, 0),
                         "month_ago": place.then.get(tier, 0) if dists.reference else None,
                         "change": place.change(tier) if dists.reference else None})
    return rows


TIER_COLUMNS = [("level", "level"), ("district", "district"), ("village", "village"),
                ("tier", "tier"), ("subjects", "subjects"), ("month_ago", "month_ago"),
                ("change", "change")]


@bp.get("/officials/rankings")
@role_required(*OFFICIAL_ROLES)
def tiers():
    """Subjects per tier, overall, per district and per village, with the change in a month."""
    rules = rulebook()
    district = _district_arg()
    dists = tier_distributions(get_session(), rulebook=rules, district=district)
    codes = [t for t in dists.tiers if t != NOT_SCORED or dists.overall.now.get(NOT_SCORED)
             or dists.overall.then.get(NOT_SCORED)]
    if wants_csv():
        return csv_response(_tier_rows(dists, codes), TIER_COLUMNS, name="tier-distribution")
    chart = bar_rows([(_tier_label(t), dists.overall.now.get(t, 0)) for t in codes],
                     css=lambda label: f"tier-{label}")
    return render_template("rankings/tiers.html", dists=dists, codes=codes, chart=chart,
                           district=district, tier_label=_tier_label,
                           district_names=[d.district for d in dists.districts])


VILLAGE_COLUMNS = [("rank", "rank"), ("district", "place.district"), ("village", "place.village"),
                   ("a_and_above", "count"), ("scored", "scored"),
                   ("share_percent",
                    lambda r: None if r.share is None else round(100 * r.share, 1)),
                   ("share_month_ago_percent",
                    lambda r: None if r.share_then is None else round(100 * r.share_then, 1))]


@bp.get("/officials/rankings/villages")
@role_required(*OFFICIAL_ROLES)
def villages():
    """The villages ranked by their share of scored subjects in tier A or above."""
    rules = rulebook()
    district = _district_arg()
    dists = tier_distributions(get_session(), rulebook=rules, district=district)
    top = a_and_above(rules)
    ranked = village_ranking(dists, top)
    if wants_csv():
        return csv_response(ranked, VILLAGE_COLUMNS, name="villages-by-a-and-above")
    return render_template("rankings/villages.html", ranked=ranked, top=top, dists=dists,
                           district=district,
                           district_names=[d.district for d in dists.districts])


DEPARTMENT_COLUMNS = [("department", "code"), ("title", "title"), ("records_entered", "records"),
                      ("records_voided", "voided"), ("objections_decided", "decided"),
                      ("objections_upheld", "annulled"),
                      ("upheld_percent", lambda r: None if r.annulled_share is None
                       else round(100 * r.annulled_share, 1))]


@bp.get("/officials/rankings/departments")
@role_required(*OFFICIAL_ROLES)
def departments():
    """The departments by records entered, and by objections upheld against their records."""
    until = _date_arg("until", today())
    since = _date_arg("since", until - timedelta(days=364))
    if since > until:
        raise CitypointsError(gettext("since (%(since)s) is after until (%(until)s): nothing can "
                                      "match", since=since, until=until))
    rules = rulebook()
    rows = department_ranking(get_session(), rulebook=rules, since=since, until=until)
    upheld = by_objections_upheld(rows)
    if wants_csv():
        which = upheld if request.args.get("table") == "objections" else rows
        return csv_response(which, DEPARTMENT_COLUMNS, name="departments")
    # The page names each department in its language (the CSV keeps the plain titles).
    rows = [replace(r, title=local_title(rules.department(r.code)) or r.title) for r in rows]
    upheld = by_objections_upheld(rows)
    chart = bar_rows([(r.title, r.records) for r in rows])
    return render_template("rankings/departments.html", rows=rows, upheld=upheld, since=since,
                           until=until, chart=chart)


def _page_arg() -> int:
    raw = request.args.get("page", "").strip()
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) >= 1 else 1


@bp.get("/honour-roll")
def honour_roll_page():
    """The public honour roll: who consented and is in the top tier or on a public redlist."""
    rules = rulebook()
    page = _page_arg()
    entries, total = honour_roll(get_session(), rulebook=rules, today=today(),
                                 offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    redlists = [x for x in rules.lists if x.kind == "redlist" and x.public]
    return render_template("rankings/honour_roll.html", entries=entries, total=total, page=page,
                           pages=pages, top=rules.scheme.tiers[0] if rules.scheme.tiers else None,
                           redlists=redlists, rules=rules)
