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

from app.rulebook.change_words import Words, wording
from app.rulebook.diff import Change
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


def in_english_only(kind: str, content: dict | None, language: str) -> bool:
    """Whether `render` gives a reader of `language` (not English) the stored English words:
    a notice made before its kind kept content (or whose shared part is missing), or of a
    kind not written in that language."""
    return language != "en" and (not content or kind not in _WRITERS)


def read(kind: str, content: dict | None, title: str, body: str,
         language: str) -> tuple[str, str]:
    """Return the (title, body) a reader of `language` is given (the inbox, the email, the
    letter, an official's page): `render`'s, with the title marked, in that language, where
    the words are the stored English ones only, so that no reader takes them for a
    translation's."""
    title, body = render(kind, content, title, body, language)
    if in_english_only(kind, content, language):
        with force_locale(language):
            title = gettext("%(title)s (recorded in English)", title=title)
    return title, body


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


def change_words() -> Words:
    """How a rulebook change is worded in the current language (a notice's, forced; or a
    page's): the catalogue's sentences, durations and kinds in words."""
    return Words(gettext, duration=_duration, kind=_term)


def _term(code: str) -> str:
    """A list's or a measure's kind in words (the same words as the pages' terms)."""
    words = {"blacklist": gettext("blacklist"), "redlist": gettext("redlist"),
             "watchlist": gettext("watchlist"), "benefit": gettext("benefit"),
             "restriction": gettext("restriction"), "list": gettext("list")}
    return words.get(code, code)


def _list_entry(c: dict, language: str) -> tuple[str, str]:
    name, kind = _in(c, "list", language), _term(c["list_kind"])
    department = _in(c, "department", language)
    title = gettext("You were entered on the %(kind)s \"%(list)s\"", kind=kind, list=name)
    lines = [
        gettext("%(department)s entered you on the %(kind)s \"%(list)s\" (code %(code)s) on "
                "%(day)s.", department=department, kind=kind, list=name, code=c["code"],
                day=c["entered_on"]),
        gettext("Decision: %(decision)s",
                decision=c["decision"] or gettext("no reference given")),
        gettext("Legal basis: %(basis)s",
                basis=_in(c, "legal_basis", language) or gettext("none given")),
        (gettext("Until: %(day)s", day=c["until"]) if c["until"]
         else gettext("Until: no end date is set")),
    ]
    for m in c["measures"]:
        values = {"kind": _term(m["kind"]), "code": m["code"], "title": _in(m, "title", language),
                  "time": _duration(m["notice"])}
        lines.append(gettext("Because of this entry, %(kind)s %(code)s (%(title)s) applies "
                             "%(time)s after this notice.", **values) if m["notice"] else
                     gettext("Because of this entry, %(kind)s %(code)s (%(title)s) applies at "
                             "once.", **values))
    if c["public"]:
        lines.append(gettext("The list is public: from %(day)s your name, the decision and its "
                             "dates are published on the city's page of this list for as long "
                             "as the entry lasts.", day=c["entered_on"]))
    lines.append(gettext("To object, use your page by %(day)s (%(window)s from the entry); a "
                         "reviewer decides within %(time)s. You may also write to "
                         "%(department)s citing the decision above.", day=c["object_until"],
                         window=_duration(c["window"]), time=_duration(c["decide_within"]),
                         department=department))
    return title, "\n".join(lines)


def _changes(ending: list, starting: list) -> str:
    if ending and starting:
        return gettext("%(ending)s record(s) (%(ending_codes)s) stop counting and %(starting)s "
                       "record(s) (%(starting_codes)s) start counting", ending=len(ending),
                       ending_codes=", ".join(ending), starting=len(starting),
                       starting_codes=", ".join(starting))
    if starting:
        return ngettext("%(num)d record (%(codes)s) starts counting",
                        "%(num)d records (%(codes)s) start counting", len(starting),
                        codes=", ".join(starting))
    return ngettext("%(num)d record (%(codes)s) stops counting",
                    "%(num)d records (%(codes)s) stop counting", len(ending),
                    codes=", ".join(ending))


def _because(b: dict, language: str) -> str:
    """A reason of the evaluator (app.standing.because, as stored by notices.because_content)
    in `language`: the words of the pages (templates/_because.html), from the catalogue."""
    code, v = b["code"], b["values"]
    if code == "tier":
        text = gettext("Tier %(code)s (%(points)s points).", code=v["tier"], points=v["points"])
    elif code == "list":
        text = gettext("On the list %(list)s since %(day)s.", list=_in(b, "list_title", language)
                       or v["list"], day=v["since"])
        if v.get("decision"):
            text += " " + gettext("Decision %(decision)s.", decision=v["decision"])
        if v.get("department"):
            text += " " + gettext("Entered by %(department)s.",
                                  department=_in(b, "department", language) or v["department"])
        if v.get("until") and not v.get("via"):
            text += " " + gettext("Until %(day)s.", day=v["until"])
    elif code == "flag":
        text = gettext("Flag %(flag)s raised: %(count)s entries on %(list)s within %(within)s "
                       "(threshold %(threshold)s; entered on %(days)s).", flag=v["flag"],
                       count=v["count"], list=v["list"], within=_duration(v["within"]),
                       threshold=v["threshold"], days=", ".join(v["entered_on"]))
    elif code == "change":
        values = {"day": v["on"], "changes": _changes(v["ending"], v["starting"]),
                  "before": v["points_before"], "after": v["points"],
                  "tier_before": v["tier_before"], "tier": v["tier"]}
        text = (gettext("On %(day)s %(changes)s: points %(before)s → %(after)s, tier "
                        "%(tier_before)s → %(tier)s.", **values)
                if v["tier"] != v["tier_before"] else
                gettext("On %(day)s %(changes)s: points %(before)s → %(after)s.", **values))
    else:
        text = code
    if v.get("via"):
        text = gettext("As legal representative of %(name)s (%(id)s): %(reason)s",
                       name=v.get("via_name") or v["via"], id=v["via"], reason=text)
    return text


def _measure_pending(c: dict, language: str) -> tuple[str, str]:
    values = {"kind": _term(c["kind"]), "code": c["code"], "day": c["takes_effect_on"]}
    title = gettext("%(kind)s %(code)s takes effect on %(day)s", **values)
    lines = [
        gettext("%(title)s (%(kind)s %(code)s, decided by %(department)s) will apply to you "
                "from %(day)s if its condition still holds then. It holds since %(since)s "
                "because:", title=_in(c, "title", language),
                department=_in(c, "owner", language), since=c["holds_since"], **values),
        *[f"- {_because(reason, language)}" for reason in c["reasons"]],
        gettext("Legal basis: %(basis)s",
                basis=_in(c, "legal_basis", language) or gettext("none given")),
        gettext("If a record behind it is wrong, object to the record from your page; a pending "
                "objection stops the record from counting where the scheme says so."),
    ]
    return title, "\n".join(lines)


def _objection_decision(c: dict, language: str) -> tuple[str, str]:
    values = {"id": c["record"], "code": c["rule"], "day": c["decided_on"]}
    first = c["level"] == 1
    if c["outcome"] == "annulled":
        title = (gettext("Your objection succeeded: record %(id)s is annulled", **values) if first
                 else gettext("Your request for reconsideration succeeded: record %(id)s is "
                              "annulled", **values))
        result = gettext("Record %(id)s (%(code)s) is annulled from %(day)s: it no longer "
                         "counts, on any date.", **values)
    else:
        title = (gettext("Your objection was rejected: record %(id)s stands", **values) if first
                 else gettext("Your request for reconsideration was rejected: record %(id)s "
                              "stands", **values))
        result = gettext("Record %(id)s (%(code)s) stands and counts as recorded.", **values)
    lines = [gettext("A reviewer decided your objection on %(day)s.", **values) if first
             else gettext("A reviewer decided your request for reconsideration on %(day)s.",
                          **values),
             result, gettext("Reasons: %(reason)s", reason=c["reason"])]
    if c["reconsider_until"]:
        lines.append(gettext("You may ask once for reconsideration by a different reviewer until "
                             "%(day)s, from your page; it is decided within %(time)s.",
                             day=c["reconsider_until"], time=_duration(c["reconsider_within"])))
    elif not first:
        lines.append(gettext("This decision on reconsideration is final."))
    return title, "\n".join(lines)


def _repair_decision(c: dict, language: str) -> tuple[str, str]:
    values = {"id": c["record"], "day": c["decided_on"]}
    title = gettext("Your application to repair record %(id)s was refused", **values)
    lines = [gettext("%(department)s refused your application to mark record %(id)s repaired "
                     "on %(day)s.", department=_in(c, "department", language), **values),
             gettext("Reasons: %(reason)s", reason=c["reason"]),
             gettext("The record counts as before; you may apply again when what was asked is "
                     "put right.")]
    return title, "\n".join(lines)


def _entry_objection_decision(c: dict, language: str) -> tuple[str, str]:
    values = {"list": _in(c, "list", language), "day": c["decided_on"]}
    if c["outcome"] == "ended":
        title = gettext("Your objection was accepted: your entry on \"%(list)s\" ended",
                        **values)
        first = gettext("On %(day)s a reviewer accepted your objection; your entry on "
                        "\"%(list)s\" ends that day, with the measures that followed from it.",
                        **values)
    else:
        title = gettext("Your objection to your entry on \"%(list)s\" was not accepted",
                        **values)
        first = gettext("On %(day)s a reviewer decided that your entry on \"%(list)s\" stands.",
                        **values)
    return title, "\n".join([first, gettext("Reasons: %(reason)s", reason=c["reason"])])


def _record_lapsing(c: dict, language: str) -> tuple[str, str]:
    values = {"id": c["record"], "day": c["ends_on"], "rule": _in(c, "rule_title", language),
              "code": c["rule"], "points": f"{c['points']:+d}"}
    title = gettext("Record %(id)s stops counting on %(day)s", **values)
    body = gettext("Record %(id)s, %(rule)s (%(code)s, %(points)s points), stops counting on "
                   "%(day)s.", **values)
    if c["effect"]:
        body += " " + _because(c["effect"], language)
    return title, body


def _representative(c: dict, language: str) -> tuple[str, str]:
    values = {"organisation": c["organisation"], "id": c["organisation_id"], "day": c["since"],
              "before": c["before"]}
    title = gettext("You are registered as the legal representative of %(organisation)s",
                    **values)
    lines = [
        gettext("From %(day)s the population register names you the legal representative of "
                "%(organisation)s (%(id)s), in place of %(before)s.", **values) if c["before"]
        else gettext("From %(day)s the population register names you the legal representative "
                     "of %(organisation)s (%(id)s).", **values),
        gettext("Restrictions that the rules extend to legal representatives (such as spending "
                "limits for an organisation on a blacklist) can reach you from that day on, "
                "never for an earlier day, and only after the notice period each restriction "
                "gives; you are sent a notice before any of them takes effect."),
        gettext("If you are not this organisation's legal representative, tell the office that "
                "keeps the register."),
    ]
    return title, "\n".join(lines)


def _rulebook_change(c: dict, language: str) -> tuple[str, str]:
    title = gettext("The scheme's rules change on %(day)s: your standing will change",
                    day=c["day"])
    lines = [gettext("From %(day)s a new rulebook (%(fingerprint)s) comes into force. Judged on "
                     "your records as they stand today, on that day:", day=c["day"],
                     fingerprint=c["fingerprint"])]
    if c["tier_before"] != c["tier_after"]:
        lines.append("- " + gettext("your tier moves from %(before)s to %(after)s",
                                    before=c["tier_before"] or gettext("not scored"),
                                    after=c["tier_after"] or gettext("not scored")))

    def measure(m: dict) -> str:
        name = _in(m, "title", language)
        return gettext("%(code)s (%(title)s)", code=m["code"], title=name) if name else m["code"]

    lines += ["- " + gettext("%(measure)s will apply to you", measure=measure(m))
              for m in c["gained"]]
    lines += ["- " + gettext("%(measure)s will no longer apply to you", measure=measure(m))
              for m in c["lost"]]
    changes = c["changes"]
    if all(isinstance(change, dict) for change in changes):
        lines.append(gettext("What the new rulebook changes:"))
    else:  # a notice made when the changes were kept as English sentences
        lines.append(gettext("What the new rulebook changes (as its rule files say it):"))
    words = change_words()
    lines += ["- " + (wording(Change.from_json(change), words) if isinstance(change, dict)
                      else change) for change in changes]
    if c["more"]:
        lines.append("- " + gettext("and %(count)s more (see the scheme's page)",
                                    count=c["more"]))
    lines.append(gettext("Until then the rules in force today apply. A measure with a notice "
                         "period takes effect only after that period, counted from the change's "
                         "first day."))
    return title, "\n".join(lines)


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
    "list_entry": _list_entry,
    "measure_pending": _measure_pending,
    "objection_decision": _objection_decision,
    "repair_decision": _repair_decision,
    "entry_objection_decision": _entry_objection_decision,
    "record_lapsing": _record_lapsing,
    "representative": _representative,
    "rulebook_change": _rulebook_change,
    "rulebook_cancelled": _rulebook_cancelled,
}
