"""The standing's explanations in the page's language.

The evaluator and the services explain a standing in English sentences, shared with the CLI,
the JSON API and the stored notices, and they stay so. Pages in another language say the
same from the structured values (the change, the reason, the flag) where they have them, and
from the fixed English sentences otherwise; anything not recognised is shown as it is.
"""

from __future__ import annotations

import re
from datetime import date

from flask_babel import gettext as _
from flask_babel import ngettext

from app.web.i18n import DEFAULT, current_language, local_day, local_title

_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _english() -> bool:
    return current_language() == DEFAULT


def _day(text: str) -> str:
    try:
        return local_day(date.fromisoformat(text))
    except ValueError:
        return text


def local_duration(value) -> str:
    """Return a duration as written ("1y") in English pages, in words in the others."""
    match = re.match(r"^([0-9]+)([dmy])$", str(value or ""))
    if not match or _english():
        return str(value or "")
    count, unit = int(match[1]), match[2]
    if unit == "d":
        return ngettext("%(num)d day", "%(num)d days", count)
    if unit == "m":
        return ngettext("%(num)d month", "%(num)d months", count)
    return ngettext("%(num)d year", "%(num)d years", count)


def _codes(records) -> str:
    return ", ".join(r.rule_code for r in records)


def _changes(change) -> str:
    """Say which records stop or start counting on a change's day."""
    ending, starting = change.ending, change.starting
    if ending and starting:
        return _("%(ending)s record(s) (%(ending_codes)s) stop counting and %(starting)s "
                 "record(s) (%(starting_codes)s) start counting", ending=len(ending),
                 ending_codes=_codes(ending), starting=len(starting),
                 starting_codes=_codes(starting))
    if starting:
        return ngettext("%(num)d record (%(codes)s) starts counting",
                        "%(num)d records (%(codes)s) start counting", len(starting),
                        codes=_codes(starting))
    return ngettext("%(num)d record (%(codes)s) stops counting",
                    "%(num)d records (%(codes)s) stop counting", len(ending),
                    codes=_codes(ending))


def describe_change(change) -> str:
    """Say what happens on a coming day (UpcomingChange) in one sentence."""
    if _english():
        return change.describe()
    if change.tier != change.tier_before:
        return _("On %(day)s %(changes)s: points %(before)s → %(after)s, tier %(tier_before)s → "
                 "%(tier)s.", day=local_day(change.on), changes=_changes(change),
                 before=change.points_before, after=change.points,
                 tier_before=change.tier_before, tier=change.tier)
    return _("On %(day)s %(changes)s: points %(before)s → %(after)s.", day=local_day(change.on),
             changes=_changes(change), before=change.points_before, after=change.points)


def marker_label(label: str, history) -> str:
    """Return a chart marker's label (a change's English description) in the page's language."""
    if _english():
        return label
    for change in history.lapses:
        if change.describe() == label:
            return describe_change(change)
    return label


_SENTENCES = (
    (re.compile(r"^You are not scored, so no record changes your tier\.$"),
     lambda m, h: _("You are not scored, so no record changes your tier.")),
    (re.compile(r"^The subject is not scored, so no record changes the tier\.$"),
     lambda m, h: _("The subject is not scored, so no record changes the tier.")),
    (re.compile(r"^Nothing recorded so far will change your points\.$"),
     lambda m, h: _("Nothing recorded so far will change your points.")),
    (re.compile(r"^Nothing recorded so far will change the points\.$"),
     lambda m, h: _("Nothing recorded so far will change the subject's points.")),
    (re.compile(rf"^Nothing recorded so far will change your tier; the next change of points is "
                rf"on (?P<day>{_DAY}) \((?P<before>-?\d+) → (?P<after>-?\d+)\)\.$"),
     lambda m, h: _("Nothing recorded so far will change your tier; the next change of points "
                    "is on %(day)s (%(before)s → %(after)s).", day=_day(m["day"]),
                    before=m["before"], after=m["after"])),
    (re.compile(rf"^Nothing recorded so far will change the tier; the next change of points is "
                rf"on (?P<day>{_DAY}) \((?P<before>-?\d+) → (?P<after>-?\d+)\)\.$"),
     lambda m, h: _("Nothing recorded so far will change the subject's tier; the next change of "
                    "points is on %(day)s (%(before)s → %(after)s).", day=_day(m["day"]),
                    before=m["before"], after=m["after"])),
)
_TIER_CHANGE = re.compile(rf"^On (?P<day>{_DAY}) .+ and (?P<who>you|the subject) "
                          rf"(?P<verb>return|drop|returns|drops) to (?P<tier>\S+)\.$")


def next_tier_sentence(history) -> str:
    """Return the history's sentence on what changes the tier next, in the page's language."""
    sentence = history.sentence
    if _english():
        return sentence
    for pattern, say in _SENTENCES:
        match = pattern.match(sentence)
        if match:
            return say(match, history)
    match = _TIER_CHANGE.match(sentence)
    change = match and next((c for c in history.lapses
                             if c.on.isoformat() == match["day"] and c.tier == match["tier"]),
                            None)
    if not change:
        return sentence
    up = match["verb"] in ("return", "returns")
    values = {"day": local_day(change.on), "changes": _changes(change), "tier": change.tier}
    if match["who"] == "you":
        return (_("On %(day)s %(changes)s, and you return to tier %(tier)s.", **values) if up
                else _("On %(day)s %(changes)s, and you drop to tier %(tier)s.", **values))
    return (_("On %(day)s %(changes)s, and the subject returns to tier %(tier)s.", **values)
            if up else _("On %(day)s %(changes)s, and the subject drops to tier %(tier)s.",
                         **values))


_EXCLUSIONS = (
    (re.compile(r"^voided \(entered in error\)$"), lambda m: _("voided (entered in error)")),
    (re.compile(r"^annulled after an objection$"), lambda m: _("annulled after an objection")),
    (re.compile(rf"^not yet: occurs on (?P<day>{_DAY})$"),
     lambda m: _("not yet: occurs on %(day)s", day=_day(m["day"]))),
    (re.compile(rf"^repaired on (?P<day>{_DAY})$"),
     lambda m: _("repaired on %(day)s", day=_day(m["day"]))),
    (re.compile(rf"^lapsed on (?P<day>{_DAY})$"),
     lambda m: _("lapsed on %(day)s", day=_day(m["day"]))),
    (re.compile(rf"^suspended: objection pending since (?P<day>{_DAY})$"),
     lambda m: _("suspended: objection pending since %(day)s", day=_day(m["day"]))),
)


def exclusion_reason(reason: str) -> str:
    """Return why a record does not count, in the page's language."""
    if _english():
        return reason
    for pattern, say in _EXCLUSIONS:
        match = pattern.match(reason)
        if match:
            return say(match)
    return reason


def _list_reason(reason, rules, standing) -> str:
    entry = reason.entries[0]
    list_def = next((x for x in rules.lists if x.code == reason.code), None)
    active = next((a for a in standing.lists if a.entry.id == entry.id), None)
    until = active.until if active is not None else entry.ends_on
    department = rules.department(entry.department) if entry.department else None
    sentences = [_("On the list %(list)s since %(day)s.",
                   list=local_title(list_def) or reason.code, day=local_day(entry.entered_on))]
    if entry.decision_ref:
        sentences.append(_("Decision %(decision)s.", decision=entry.decision_ref))
    if entry.department:
        sentences.append(_("Entered by %(department)s.",
                           department=local_title(department) or entry.department))
    if until is not None and reason.via is None:
        sentences.append(_("Until %(day)s.", day=local_day(until)))
    return " ".join(sentences)


def _flag_reason(reason, rules, standing) -> str:
    raised = next((f for f in standing.flags if f.code == reason.code), None)
    list_def = next((x for x in rules.lists if x.flag and x.flag.code == reason.code), None)
    if raised is not None and reason.via is None:
        within, threshold, list_code = raised.within, raised.threshold, raised.list_code
    elif list_def is not None:
        within, threshold, list_code = list_def.flag.within, list_def.flag.entries, list_def.code
    else:
        return reason.detail
    within = local_duration(within)
    return _("Flag %(flag)s raised: %(count)s entries on %(list)s within %(within)s (threshold "
             "%(threshold)s; entered on %(days)s).", flag=reason.code,
             count=len(reason.entries), list=list_code, within=within, threshold=threshold,
             days=", ".join(local_day(e.entered_on) for e in reason.entries))


def measure_reason(reason, rules, standing) -> str:
    """Return why a measure applies (a standing's Reason) in the page's language."""
    if _english():
        return reason.detail
    if reason.kind == "tier" and reason.via is None:
        text = _("Tier %(code)s (%(points)s points).", code=reason.code, points=standing.points)
    elif reason.kind == "list" and reason.entries:
        text = _list_reason(reason, rules, standing)
    elif reason.kind == "flag" and reason.entries:
        text = _flag_reason(reason, rules, standing)
    else:
        return reason.detail
    if reason.via is not None:
        return _("As legal representative of %(name)s (%(id)s): %(reason)s",
                 name=reason.via.name or reason.via.subject_id, id=reason.via.subject_id,
                 reason=text)
    return text


_SUMMARY = re.compile(rf"^Points from (?P<start>{_DAY}) to (?P<as_of>{_DAY}): between "
                      rf"(?P<low>-?\d+) and (?P<high>-?\d+), (?P<now>-?\d+) on {_DAY}$")


def chart_summary(summary: str) -> str:
    """Return the chart's text summary (for screen readers) in the page's language."""
    if _english():
        return summary
    match = _SUMMARY.match(summary)
    if not match:
        return summary
    return _("Points from %(start)s to %(as_of)s: between %(low)s and %(high)s, %(now)s on "
             "%(as_of)s.", start=_day(match["start"]), as_of=_day(match["as_of"]),
             low=match["low"], high=match["high"], now=match["now"])


HELPERS = {"describe_change": describe_change, "marker_label": marker_label,
           "next_tier_sentence": next_tier_sentence, "exclusion_reason": exclusion_reason,
           "measure_reason": measure_reason, "chart_summary": chart_summary,
           "local_duration": local_duration}
