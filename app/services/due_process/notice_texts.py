"""The words of each notice: plain sentences a resident can act on, with every date.

Pure functions of plain values (no database): each returns (title, body).
"""

from __future__ import annotations

from datetime import date

from app.rulebook.model import Duration, ListDef, Rule, Rulebook, Scheme

UNITS = {"d": "day", "m": "month", "y": "year"}
NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def duration_words(duration: Duration | None) -> str:
    """Write a duration in words: "30 days", "1 year"."""
    if duration is None:
        return "no set time"
    unit = UNITS[duration.unit]
    return f"{duration.count} {unit}{'s' if duration.count != 1 else ''}"


def count_words(n: int, noun: str) -> str:
    """Write a count in words: "two records", "one record", "12 records"."""
    word = NUMBERS[n] if 0 <= n < len(NUMBERS) else str(n)
    return f"{word} {noun}{'s' if n != 1 else ''}"


def signed(points: int) -> str:
    return f"{points:+d}"


def department_title(rulebook: Rulebook, code: str) -> str:
    department = rulebook.department(code)
    return department.title if department is not None and department.title else code


def how_to_object(scheme: Scheme, *, record_id: int, until: date) -> str:
    """Say how, and until when, the subject may object to a record."""
    text = (f"If this record is wrong, you may object until {until.isoformat()}: log in, open "
            f"\"My standing\" and choose \"Object\" next to record {record_id}, give your reason "
            "and, if you have one, the reference of a document that supports it. A reviewer who "
            f"did not record it decides within {duration_words(scheme.objections.decide_within)}"
            " of your objection.")
    if scheme.objections.suspend_record:
        text += " While your objection is pending, the record does not count."
    return text


def record_notice(*, rulebook: Rulebook, rule: Rule | None, record_id: int, rule_code: str,
                  department: str, occurred_on: date, points: int, note: str, evidence: str,
                  ends_on: date, notified_on: date, object_until: date) -> tuple[str, str]:
    """The notice of a new record: rule, points, evidence, and how to object."""
    title_of_rule = rule.title if rule is not None else rule_code
    title = f"New record: {title_of_rule} ({signed(points)} points)"
    lines = [
        f"{department_title(rulebook, department)} recorded the conduct below for you on "
        f"{notified_on.isoformat()}.",
        "",
        f"Record: {record_id}",
        f"Conduct: {title_of_rule} (rule {rule_code})",
        f"On: {occurred_on.isoformat()}",
        f"Points: {signed(points)}"
        + (f" ({note})" if note else " (the rule's points; no repeat or cap applied)"),
        f"Legal basis: {(rule.legal_basis if rule is not None else '') or 'none given'}",
        f"Evidence reference: {evidence or 'none given'}",
        f"Counts until: {ends_on.isoformat()} (from that day on it no longer counts)",
    ]
    if rule is not None and rule.repairable_after is not None:
        lines.append(f"Repair: it may be marked repaired {duration_words(rule.repairable_after)} "
                     "after the conduct, once you show that you put it right.")
    lines += ["", how_to_object(rulebook.scheme, record_id=record_id, until=object_until)]
    return title, "\n".join(lines)


def tier_change_notice(*, scheme: Scheme, on: date, from_tier: str | None, to_tier: str | None,
                       from_points: int | None, to_points: int | None) -> tuple[str, str]:
    """The notice of a change of tier found by the nightly recompute."""
    if to_tier is None:
        title = "You are no longer scored"
        body = (f"From {on.isoformat()} you have no points and no tier: this scheme scores only "
                "those who consented, and you have not (or you withdrew consent). Your records "
                "are kept. You can give consent on your page at any time.")
        return title, body
    tier = next((t for t in scheme.tiers if t.code == to_tier), None)
    title = f"Your tier is now {to_tier}" + (f" (was {from_tier})" if from_tier else "")
    lines = [
        f"On {on.isoformat()} your points are {to_points}"
        + (f" (they were {from_points})" if from_points is not None else "")
        + f", so your tier is {to_tier}"
        + (f" instead of {from_tier}" if from_tier else "") + ".",
    ]
    if tier is not None and (tier.title or tier.description):
        lines.append(f"{to_tier}: {tier.title}. {tier.description}".strip())
    lines.append("Your page shows every record behind your points, each with its rule, its "
                 "legal basis and the day it stops counting.")
    return title, "\n".join(lines)


def list_entry_notice(*, rulebook: Rulebook, list_def: ListDef | None, list_code: str,
                      department: str, entered_on: date, until: date | None, decision_ref: str,
                      legal_basis: str) -> tuple[str, str]:
    """The notice that a department entered the subject on a list."""
    name = (list_def.title if list_def is not None and list_def.title else list_code)
    kind = list_def.kind if list_def is not None else "list"
    title = f"You were entered on the {kind} \"{name}\""
    lines = [
        f"{department_title(rulebook, department)} entered you on the {kind} \"{name}\" "
        f"(code {list_code}) on {entered_on.isoformat()}.",
        f"Decision: {decision_ref or 'no reference given'}",
        f"Legal basis: {legal_basis or (list_def.legal_basis if list_def else '') or 'none given'}",
        f"Until: {until.isoformat() if until else 'no end date is set'}",
    ]
    measures = [m for m in rulebook.measures if list_code in m.when.lists]
    for measure in measures:
        when = (f"{duration_words(measure.notice)} after this notice"
                if measure.notice else "at once")
        lines.append(f"Because of this entry, {measure.kind} {measure.code} ({measure.title}) "
                     f"applies {when}.")
    if list_def is not None and list_def.public:
        lines.append(f"The list is public: from {entered_on.isoformat()} your name, the "
                     "decision and its dates are published on the city's page of this list "
                     "for as long as the entry lasts.")
    objections = (list_def.objections if list_def is not None and list_def.objections
                  else rulebook.scheme.objections)
    lines.append(f"To object, use your page by {objections.window.after(entered_on).isoformat()} "
                 f"({duration_words(objections.window)} from the entry); a reviewer decides "
                 f"within {duration_words(objections.decide_within)}. You may also write to "
                 f"{department_title(rulebook, department)} citing the decision above.")
    return title, "\n".join(lines)


def repair_refused_notice(*, record_id: int, department: str, reason: str,
                          decided_on: date) -> tuple[str, str]:
    """The notice that an application for a record's repair was refused."""
    title = f"Your application to repair record {record_id} was refused"
    body = (f"{department} refused your application to mark record {record_id} repaired on "
            f"{decided_on.isoformat()}.\nReasons: {reason}\nThe record counts as before; you "
            "may apply again when what was asked is put right.")
    return title, body


def entry_objection_notice(*, rulebook: Rulebook, list_def: ListDef | None, list_code: str,
                           outcome: str, reason: str, decided_on: date) -> tuple[str, str]:
    """The notice of the decision on an objection to a list entry."""
    name = (list_def.title if list_def is not None and list_def.title else list_code)
    if outcome == "ended":
        title = f"Your objection was accepted: your entry on \"{name}\" ended"
        first = (f"On {decided_on.isoformat()} a reviewer accepted your objection; your entry "
                 f"on \"{name}\" ends that day, with the measures that followed from it.")
    else:
        title = f"Your objection to your entry on \"{name}\" was not accepted"
        first = (f"On {decided_on.isoformat()} a reviewer decided that your entry on "
                 f"\"{name}\" stands.")
    return title, f"{first}\nReasons: {reason}"


def list_end_notice(*, rulebook: Rulebook, list_def: ListDef | None, list_code: str,
                    department: str, ended_on: date, removed_reason: str | None
                    ) -> tuple[str, str]:
    """The notice that a list entry ended (by itself or removed early)."""
    name = (list_def.title if list_def is not None and list_def.title else list_code)
    title = f"Your entry on \"{name}\" has ended"
    body = (f"Your entry on \"{name}\" (code {list_code}, kept by "
            f"{department_title(rulebook, department)}) no longer counts from "
            f"{ended_on.isoformat()}.")
    if removed_reason:
        body += f" It was removed early: {removed_reason}"
    body += " Measures that followed from it end with it."
    return title, body


def measure_pending_notice(*, rulebook: Rulebook, code: str, title: str, kind: str, owner: str,
                           legal_basis: str, holds_since: date, takes_effect_on: date,
                           reasons: list[str]) -> tuple[str, str]:
    """The notice that a measure will take effect after its notice period."""
    heading = f"{kind.capitalize()} {code} takes effect on {takes_effect_on.isoformat()}"
    lines = [
        f"{title} ({kind} {code}, decided by {department_title(rulebook, owner)}) will apply to "
        f"you from {takes_effect_on.isoformat()} if its condition still holds then. It holds "
        f"since {holds_since.isoformat()} because:",
        *[f"- {reason}" for reason in reasons],
        f"Legal basis: {legal_basis or 'none given'}",
        "If a record behind it is wrong, object to the record from your page; a pending "
        "objection stops the record from counting where the scheme says so.",
    ]
    return heading, "\n".join(lines)


def decision_notice(*, scheme: Scheme, record_id: int, rule_code: str, level: int, outcome: str,
                    reason: str, decided_on: date, reconsider_until: date | None
                    ) -> tuple[str, str]:
    """The notice of a reviewer's decision on an objection or a reconsideration."""
    what = "objection" if level == 1 else "request for reconsideration"
    if outcome == "annulled":
        title = f"Your {what} succeeded: record {record_id} is annulled"
        result = (f"Record {record_id} ({rule_code}) is annulled from {decided_on.isoformat()}: "
                  "it no longer counts, on any date.")
    else:
        title = f"Your {what} was rejected: record {record_id} stands"
        result = f"Record {record_id} ({rule_code}) stands and counts as recorded."
    lines = [f"A reviewer decided your {what} on {decided_on.isoformat()}.", result,
             f"Reasons: {reason}"]
    if reconsider_until is not None:
        lines.append(f"You may ask once for reconsideration by a different reviewer until "
                     f"{reconsider_until.isoformat()}, from your page; it is decided within "
                     f"{duration_words(scheme.objections.reconsider_within)}.")
    elif level == 2:
        lines.append("This decision on reconsideration is final.")
    return title, "\n".join(lines)


def lapsing_notice(*, record_id: int, rule_code: str, rule_title: str, points: int,
                   ends_on: date, effect: str) -> tuple[str, str]:
    """The notice that a record is about to stop counting."""
    title = f"Record {record_id} stops counting on {ends_on.isoformat()}"
    body = (f"Record {record_id}, {rule_title} ({rule_code}, {signed(points)} points), "
            f"stops counting on {ends_on.isoformat()}. {effect}").strip()
    return title, body


def repaired_notice(*, record_id: int, rule_code: str, rule_title: str, points: int,
                    repaired_on: date, evidence: str) -> tuple[str, str]:
    """The notice that a record was marked repaired."""
    title = f"Record {record_id} is repaired"
    body = (f"Record {record_id}, {rule_title} ({rule_code}, {signed(points)} points), was "
            f"marked repaired on {repaired_on.isoformat()} and no longer counts from that day. "
            f"Evidence of the repair: {evidence}")
    return title, body


def representative_notice(*, organisation: str, organisation_id: str, since: date,
                          before: str | None) -> tuple[str, str]:
    """Tell a person the register names them an organisation's legal representative."""
    title = f"You are registered as the legal representative of {organisation}"
    lines = [
        f"From {since.isoformat()} the population register names you the legal "
        f"representative of {organisation} ({organisation_id})"
        + (f", in place of {before}." if before else "."),
        "Restrictions that the rules extend to legal representatives (such as spending "
        "limits for an organisation on a blacklist) can reach you from that day on, never "
        "for an earlier day, and only after the notice period each restriction gives; you "
        "are sent a notice before any of them takes effect.",
        "If you are not this organisation's legal representative, tell the office that keeps "
        "the register.",
    ]
    return title, "\n".join(lines)
