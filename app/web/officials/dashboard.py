"""The officials' home page as a dashboard: what it shows, its charts and its CSV tables.

Counts are for every official; the entries ending soon name subjects, so only those who may
open subjects' files (not a rule author) see them one by one.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext
from flask_login import current_user

from app.services.accounts.users import ADMIN, AUDITOR, RECORDER, REVIEWER
from app.services.reports.dashboard import (
    DAYS,
    ENDING_WITHIN,
    ending_per_list,
    entries_ending,
    objection_summary,
    records_per_day,
    run_status,
)
from app.web import department_name, rulebook, today
from app.web.charts import bar_columns, bar_rows
from app.web.exports import csv_response

NAMES_READERS = (RECORDER, REVIEWER, AUDITOR, ADMIN)
REVIEW_ROLES = (REVIEWER, AUDITOR, ADMIN)


def dashboard(session) -> dict:
    """Return what the home page shows besides the runs table."""
    day = today()
    per_day = records_per_day(session, today=day)
    objections = objection_summary(session, today=day)
    rules = rulebook()
    ending = entries_ending(session, rulebook=rules, today=day)
    return {
        "run_status": run_status(session),
        "per_day": per_day,
        "per_day_chart": bar_columns([(d.strftime("%m-%d"), per_day.on(d)) for d in per_day.days]),
        "per_department_chart": bar_rows([(department_name(c), per_day.of(c))
                                          for c in per_day.departments]),
        "objections": objections,
        "objections_chart": bar_rows([
            (gettext("overdue"), objections.overdue),
            (gettext("due within 3 days"), objections.due_soon),
            (gettext("later"), objections.later)]),
        "ending": ending if current_user.role in NAMES_READERS else [],
        "ending_per_list": ending_per_list(session, rulebook=rules, today=day),
        "ending_within": ENDING_WITHIN, "days": DAYS,
        "may_review": current_user.role in REVIEW_ROLES,
    }


RUN_COLUMNS = [("run", "id"), ("as_of", "as_of"), ("status", "status"), ("subjects", "subjects"),
               ("tier_changes", "tier_changes"), ("duration_ms", "duration_ms"),
               ("started_at", "started_at"), ("finished_at", "finished_at"), ("error", "error")]
RECENT_COLUMNS = [("record", "id"), ("subject_id", "subject_id"), ("rule_code", "rule_code"),
                  ("points", "points"), ("occurred_on", "occurred_on"),
                  ("recorded_at", "recorded_at"), ("voided", lambda r: r.voided_at is not None)]
ENDING_COLUMNS = [("entry", "entry.id"), ("list_code", "entry.list_code"),
                  ("subject_id", "subject.subject_id"), ("name", "subject.name"),
                  ("department", "entry.department_code"), ("entered_on", "entry.entered_on"),
                  ("ends_on", "ends_on"), ("decision_ref", "entry.decision_ref")]


def dashboard_csv(data: dict, *, runs, records):
    """Return the table named by `?table=` as CSV (runs when none is named)."""
    table = request.args.get("table", "runs")
    if table == "records-per-day":
        per_day = data["per_day"]
        rows = [{"day": d, "department": c, "records": per_day.counts.get((d, c), 0)}
                for d in per_day.days for c in per_day.departments]
        return csv_response(rows, [("day", "day"), ("department", "department"),
                                   ("records", "records")], name="records-per-day")
    if table == "objections":
        o = data["objections"]
        rows = [("pending", o.pending), ("overdue", o.overdue), ("due_soon", o.due_soon),
                ("later", o.later)]
        return csv_response(rows, [("objections", lambda r: r[0]), ("count", lambda r: r[1])],
                            name="objections-pending")
    if table == "ending":
        if current_user.role in NAMES_READERS:
            return csv_response(data["ending"], ENDING_COLUMNS, name="list-entries-ending")
        return csv_response(data["ending_per_list"], [("list_code", lambda r: r[0]),
                                                      ("entries_ending", lambda r: r[1])],
                            name="list-entries-ending")
    if table == "recent":
        return csv_response(records, RECENT_COLUMNS, name="recent-records")
    return csv_response(runs, RUN_COLUMNS, name="nightly-runs")
