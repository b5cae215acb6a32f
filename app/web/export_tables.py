"""The CSV form of each official table: its columns, in one place. A view answers
`?format=csv` by passing the rows it would render to one of these (same rows, same filters,
same access check); see app.web.exports for the format and the audit."""

from __future__ import annotations

from flask import request

from app.models import utcnow
from app.web.exports import csv_response

SUBJECT_COLUMNS = [("subject_id", "subject_id"), ("name", "name"), ("kind", "kind"),
                   ("district", "district"), ("village", "village")]


def subjects(found, *, query: str):
    """The subjects a search found."""
    return csv_response(found, SUBJECT_COLUMNS, name="subjects")


RECORD_COLUMNS = [
    ("record", "record.id"), ("rule_code", "record.rule_code"),
    ("title", lambda i: i.rule.title if i.rule else ""),
    ("legal_basis", lambda i: i.rule.legal_basis if i.rule else ""),
    ("department", "record.department"), ("occurred_on", "record.occurred_on"),
    ("points", "points"), ("recorded_points", "record.points"), ("until", "until"),
    ("evidence", "record.evidence"), ("note", "record.note")]


def subject_records(file):
    """The records that count on the file's date (the file's table of records)."""
    standing = file.standing
    return csv_response(standing.records, RECORD_COLUMNS,
                        name=f"records-{file.subject.subject_id}-{standing.as_of.isoformat()}")


POINTS_OVER_TIME_COLUMNS = [("from", lambda row: row[0]), ("points", lambda row: row[1]),
                   ("tier", lambda row: row[2])]


def points_over_time(file, over_time):
    """The file's points over time (the chart's table)."""
    return csv_response(over_time.timeline, POINTS_OVER_TIME_COLUMNS,
                        name=f"history-{file.subject.subject_id}-{file.standing.as_of.isoformat()}")


def _objection_cell(o) -> str:
    state = o.outcome if o.decided_on else "pending"
    day = o.decided_on or o.deadline
    return f"{o.id}:{'objection' if o.level == 1 else 'reconsideration'}:{state}:{day.isoformat()}"


DUE_PROCESS_COLUMNS = [
    ("record", "record.id"), ("occurred_on", "record.occurred_on"),
    ("rule_code", "record.rule_code"), ("points", "record.points"),
    ("department", "record.department_code"), ("recorded_by", "record.recorded_by"),
    ("state", "state"), ("voided_by", "record.voided_by"), ("void_reason", "record.void_reason"),
    ("annulled_on", "record.annulled_on"), ("repaired_on", "record.repaired_on"),
    ("repaired_by", "record.repaired_by"),
    ("objections", lambda status: "; ".join(_objection_cell(o) for o in status.objections))]


def subject_due_process(file, due_process):
    """The file's records with their state today, objections and corrections."""
    return csv_response(due_process.records, DUE_PROCESS_COLUMNS,
                        name=f"due-process-{file.subject.subject_id}")


OBJECTION_COLUMNS = [
    ("objection", "objection.id"),
    ("level", lambda i: "objection" if i.objection.level == 1 else "reconsideration"),
    ("deadline", "objection.deadline"), ("days_left", "days_left"), ("overdue", "overdue"),
    ("subject_id", "subject.subject_id"), ("name", "subject.name"), ("record", "record.id"),
    ("rule_code", "record.rule_code"), ("points", "record.points"),
    ("department", "record.department_code"), ("filed_on", "objection.filed_on")]


def objections(queue):
    """The pending objections (the reviewers' queue)."""
    return csv_response(queue, OBJECTION_COLUMNS, name="objections-pending")


LETTER_COLUMNS = [("outbox", "outbox.id"), ("notice", "notice.id"),
                  ("notified_on", "notice.notified_on"), ("subject_id", "subject.subject_id"),
                  ("name", "subject.name"), ("village", "subject.village"),
                  ("district", "subject.district"), ("title", "notice.title"),
                  ("body", "notice.body")]


def letters(found):
    """The letters waiting to be posted."""
    return csv_response(found, LETTER_COLUMNS, name="letters")


def lists(rules, counts):
    """Every list with its keepers and how many entries count today."""
    columns = [("list_code", "code"), ("title", "title"), ("kind", "kind"),
               ("departments", lambda x: ", ".join(x.departments)),
               ("lasts", lambda x: str(x.lasts) if x.lasts else "until removed"),
               ("public", "public"), ("entries_today", lambda x: counts.get(x.code, 0))]
    return csv_response(rules.lists, columns, name="lists")


ENTRY_COLUMNS = [("entry", lambda r: r[0].id), ("subject_id", lambda r: r[1].subject_id),
                 ("name", lambda r: r[1].name), ("entered_on", lambda r: r[0].entered_on),
                 ("until", lambda r: r[2]), ("removed_on", lambda r: r[0].removed_on),
                 ("removed_by", lambda r: r[0].removed_by),
                 ("removed_reason", lambda r: r[0].removed_reason),
                 ("decision_ref", lambda r: r[0].decision_ref),
                 ("legal_basis", lambda r: r[0].legal_basis),
                 ("department", lambda r: r[0].department_code),
                 ("entered_by", lambda r: r[0].created_by)]


def list_entries(list_def, rows, ends):
    """A list's entries (those counting today, or all with ?all=1)."""
    suffix = "-all" if request.args.get("all") == "1" else ""
    return csv_response([(e, s, ends.get(e.id)) for e, s in rows], ENTRY_COLUMNS,
                        name=f"list-{list_def.code}{suffix}")


FLAG_COLUMNS = [("flag_code", lambda r: r[0].flag_code),
                ("subject_id", lambda r: r[0].subject.subject_id),
                ("name", lambda r: r[0].subject.name), ("list_code", lambda r: r[0].list_code),
                ("threshold", lambda r: r[0].threshold), ("within", lambda r: r[0].within),
                ("as_of", lambda r: r[0].as_of), ("entry", lambda r: r[1].id),
                ("entered_on", lambda r: r[1].entered_on),
                ("department", lambda r: r[1].department_code),
                ("decision_ref", lambda r: r[1].decision_ref),
                ("legal_basis", lambda r: r[1].legal_basis)]


def flags(flagged):
    """The flagged subjects, one row per watchlist entry behind each flag."""
    return csv_response([(f, e) for f in flagged for e in f.entries], FLAG_COLUMNS,
                        name="flags")


ACCOUNT_COLUMNS = [("account", "id"), ("username", "username"),
                   ("display_name", "display_name"), ("role", "role"),
                   ("department", "department_code"), ("subject_id", "subject_id"),
                   ("active", "active"), ("created_at", "created_at")]


def accounts(found):
    """The accounts (never a password hash)."""
    return csv_response(found, ACCOUNT_COLUMNS, name="accounts")


def tokens(found, status_of):
    """The API tokens (never a secret or a hash)."""
    now = utcnow()
    columns = [("token", "id"), ("department", "department_code"), ("name", "name"),
               ("prefix", "prefix"), ("status", lambda t: status_of(t, now=now)),
               ("created_at", "created_at"), ("created_by", "created_by"),
               ("expires_at", "expires_at"), ("revoked_at", "revoked_at"),
               ("revoked_by", "revoked_by")]
    return csv_response(found, columns, name="api-tokens")


AUDIT_COLUMNS = [("event", "id"), ("at", "at"), ("actor", "actor"), ("action", "action"),
                 ("subject_id", "subject_id"), ("target", "target"), ("details", "details")]


def audit_events(events):
    """The audit events a search found."""
    return csv_response(events, AUDIT_COLUMNS, name="audit-events")
