"""A notice read in its subject's language: the inbox, the email and the printed letter.

A notice stores its English title and body and, by kind, the values they are made of
(`notice.content`). In English the stored text is the notice; in another language the
words come from the Flask-Babel catalogue (app/translations) with that language forced,
and the values from `content` alone, so the same stored notice reads the same every time.
A notice without content (made before notices were structured), or of a kind not yet
written in that language, reads in English.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import force_locale, gettext, ngettext

from app.rulebook.model import TEXT_LANGUAGES


def notice_language(subject_language: str | None, default: str = "en") -> str:
    """The language a subject's notices are read in: their own, else `default` (the scheme's
    first language), else English."""
    if subject_language in TEXT_LANGUAGES:
        return subject_language  # type: ignore[return-value]
    return default if default in TEXT_LANGUAGES else "en"


def render(kind: str, content: dict | None, title: str, body: str,
           language: str) -> tuple[str, str]:
    """Return the (title, body) of a notice in `language` (see the module docstring)."""
    write = _WRITERS.get(kind)
    if language == "en" or not content or write is None:
        return title, body
    with force_locale(language):
        return write(content, language)


def _duration(text: str | None) -> str:
    if not text:
        return gettext("no set time")
    count, unit = int(text[:-1]), text[-1]
    if unit == "d":
        return ngettext("%(num)s day", "%(num)s days", count)
    if unit == "m":
        return ngettext("%(num)s month", "%(num)s months", count)
    return ngettext("%(num)s year", "%(num)s years", count)


def _in(content: dict, key: str, language: str) -> str:
    return content.get(f"{key}_{language}") or content.get(key) or ""


def _record(c: dict, language: str) -> tuple[str, str]:
    rule = _in(c, "rule_title", language)
    points = f"{c['points']:+d}"
    title = gettext("New record: %(rule)s (%(points)s points)", rule=rule, points=points)
    lines = [
        gettext("%(department)s recorded the conduct below for you on %(day)s.",
                department=_in(c, "department", language), day=c["notified_on"]),
        "",
        gettext("Record: %(id)s", id=c["record"]),
        gettext("Conduct: %(rule)s (rule %(code)s)", rule=rule, code=c["rule"]),
        gettext("On: %(day)s", day=c["occurred_on"]),
        (gettext("Points: %(points)s (%(note)s)", points=points, note=c["note"]) if c["note"]
         else gettext("Points: %(points)s (the rule's points; no repeat or cap applied)",
                      points=points)),
        gettext("Legal basis: %(basis)s",
                basis=_in(c, "legal_basis", language) or gettext("none given")),
        gettext("Evidence reference: %(reference)s",
                reference=c["evidence"] or gettext("none given")),
        gettext("Counts until: %(day)s (from that day on it no longer counts)",
                day=c["ends_on"]),
    ]
    if c.get("repair_after"):
        lines.append(gettext("Repair: it may be marked repaired %(time)s after the conduct, "
                             "once you show that you put it right.",
                             time=_duration(c["repair_after"])))
    how = gettext("If this record is wrong, you may object until %(day)s: log in, open \"My "
                  "standing\" and choose \"Object\" next to record %(id)s, give your reason "
                  "and, if you have one, the reference of a document that supports it. A "
                  "reviewer who did not record it decides within %(time)s of your objection.",
                  day=c["object_until"], id=c["record"], time=_duration(c["decide_within"]))
    if c.get("suspend"):
        how += gettext(" While your objection is pending, the record does not count.")
    lines += ["", how]
    return title, "\n".join(lines)


def _tier_change(c: dict, language: str) -> tuple[str, str]:
    if c["to_tier"] is None:
        return (gettext("You are no longer scored"),
                gettext("From %(day)s you have no points and no tier: this scheme scores only "
                        "those who consented, and you have not (or you withdrew consent). Your "
                        "records are kept. You can give consent on your page at any time.",
                        day=c["on"]))
    values = {"day": c["on"], "points": c["to_points"], "before": c["from_points"],
              "tier": c["to_tier"], "was": c["from_tier"]}
    if c["from_tier"]:
        title = gettext("Your tier is now %(tier)s (was %(was)s)", **values)
    else:
        title = gettext("Your tier is now %(tier)s", **values)
    if c["from_points"] is not None and c["from_tier"]:
        first = gettext("On %(day)s your points are %(points)s (they were %(before)s), so your "
                        "tier is %(tier)s instead of %(was)s.", **values)
    elif c["from_points"] is not None:
        first = gettext("On %(day)s your points are %(points)s (they were %(before)s), so your "
                        "tier is %(tier)s.", **values)
    elif c["from_tier"]:
        first = gettext("On %(day)s your points are %(points)s, so your tier is %(tier)s "
                        "instead of %(was)s.", **values)
    else:
        first = gettext("On %(day)s your points are %(points)s, so your tier is %(tier)s.",
                        **values)
    lines = [first]
    tier_title = _in(c, "tier_title", language)
    description = _in(c, "tier_description", language)
    if tier_title or description:
        lines.append(gettext("%(tier)s: %(title)s. %(description)s", tier=c["to_tier"],
                             title=tier_title, description=description).strip())
    lines.append(gettext("Your page shows every record behind your points, each with its rule, "
                         "its legal basis and the day it stops counting."))
    return title, "\n".join(lines)


def _list_end(c: dict, language: str) -> tuple[str, str]:
    name = _in(c, "list", language)
    title = gettext("Your entry on \"%(list)s\" has ended", list=name)
    body = gettext("Your entry on \"%(list)s\" (code %(code)s, kept by %(department)s) no "
                   "longer counts from %(day)s.", list=name, code=c["code"],
                   department=_in(c, "department", language), day=c["ended_on"])
    if c["removed_reason"]:
        body += gettext(" It was removed early: %(reason)s", reason=c["removed_reason"])
    body += gettext(" Measures that followed from it end with it.")
    return title, body


def _repaired(c: dict, language: str) -> tuple[str, str]:
    title = gettext("Record %(id)s is repaired", id=c["record"])
    body = gettext("Record %(id)s, %(rule)s (%(code)s, %(points)s points), was marked repaired "
                   "on %(day)s and no longer counts from that day. Evidence of the repair: "
                   "%(evidence)s", id=c["record"], rule=_in(c, "rule_title", language),
                   code=c["rule"], points=f"{c['points']:+d}", day=c["repaired_on"],
                   evidence=c["evidence"])
    return title, body


def _rulebook_cancelled(c: dict, language: str) -> tuple[str, str]:
    values = {"day": c["in_force_from"], "fingerprint": c["fingerprint"],
              "cancelled": c["cancelled_on"]}
    title = gettext("The rule change of %(day)s is cancelled", **values)
    body = gettext("The new rulebook (%(fingerprint)s) that was to come into force on %(day)s, "
                   "of which you were told, was cancelled on %(cancelled)s. It will not come "
                   "into force: the rules in force today still apply, and that change will not "
                   "move your standing.", **values)
    return title, body


_WRITERS: dict[str, Callable[[dict, str], tuple[str, str]]] = {
    "record_repaired": _repaired,
    "record": _record,
    "tier_change": _tier_change,
    "list_end": _list_end,
    "rulebook_cancelled": _rulebook_cancelled,
}
