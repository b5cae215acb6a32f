"""A rulebook change (app.rulebook.diff.Change) in words, in any language.

One wording for every language: `Words.text` is called as `_` below, so that the message
extraction (README, Translations) finds each sentence as a catalogue entry with named
placeholders. In English the msgid itself is the sentence (ENGLISH); a notice or a page in
another language passes the catalogue's gettext (app/services/due_process/notice_render.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.rulebook.diff import RULE_FIELDS, Change, JSONValue, Values


def _put(msgid: str, **values: object) -> str:
    return msgid % values if values else msgid


@dataclass(frozen=True)
class Words:
    """How a change is worded in one language."""

    text: Callable[..., str]  # text(msgid, **values): the sentence with its values put in
    duration: Callable[[str], str] = str  # a rule file's duration ("30d") in words
    kind: Callable[[str], str] = str  # a list's or measure's kind ("blacklist") in words


ENGLISH = Words(_put)


def english(change: Change) -> str:
    """The change in English, as the JSON API, the authors' pages and the simulation give it."""
    return wording(change, ENGLISH)


def wording(change: Change, words: Words = ENGLISH) -> str:
    """The change as one sentence in the language of `words`."""
    write = _WORDINGS.get(change.code)
    if write is None:  # a code from a later version of this module
        return change.code
    return write(change.code, dict(change.values), words)


def _show(value: JSONValue, words: Words) -> str:
    _ = words.text
    if value is None:
        return _("none")
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _span(value: JSONValue, words: Words) -> str:
    _ = words.text
    return _("none") if value is None else words.duration(str(value))


def _minimum(value: JSONValue, words: Words) -> str:
    _ = words.text
    return _("None") if value is None else str(value)  # English: as the rule file's null


def _period(start: JSONValue, until: JSONValue, words: Words) -> str:
    _ = words.text
    if start and until:
        return _("%(start)s to %(until)s", start=start, until=until)
    if start:
        return _("from %(start)s", start=start)
    if until:
        return _("until %(until)s", until=until)
    return _("always")


def _rule_text(v: Values, words: Words) -> str:
    _ = words.text
    values = {"points": f"{v['points']:+d}",
              "period": _period(v["start"], v["until"], words)}
    return (_("%(points)s, %(period)s, relief", **values) if v["relief"]
            else _("%(points)s, %(period)s", **values))


def _cap(points: JSONValue, per: JSONValue, words: Words) -> str:
    _ = words.text
    if points is None:
        return _("none")
    if per == "year":
        return _("%(points)s per year", points=points)
    if per == "month":
        return _("%(points)s per month", points=points)
    return f"{points} per {per}"


def _repeat(factor: JSONValue, within: JSONValue, words: Words) -> str:
    _ = words.text
    if factor is None:
        return _("none")
    return _("x%(factor)s within %(within)s", factor=factor, within=words.duration(str(within)))


def _flag(entries: JSONValue, within: JSONValue, words: Words) -> str:
    _ = words.text
    if entries is None:
        return _("none")
    return _("%(entries)s within %(within)s", entries=entries, within=words.duration(str(within)))


def _condition(v: Values, prefix: str, words: Words) -> str:
    _ = words.text
    comma = _(", ")  # between codes (Chinese: "、")
    parts = []
    if v[f"{prefix}tiers"]:
        parts.append(_("tiers %(codes)s", codes=comma.join(v[f"{prefix}tiers"])))
    if v[f"{prefix}lists"]:
        parts.append(_("lists %(codes)s", codes=comma.join(v[f"{prefix}lists"])))
    if v[f"{prefix}flags"]:
        parts.append(_("flags %(codes)s", codes=comma.join(v[f"{prefix}flags"])))
    return _("; ").join(parts) or _("nothing")


def _pair(v: Values, words: Words, show: Callable[[JSONValue, Words], str] = _show) -> Values:
    """The values of a before → after change, each shown in words."""
    return {**v, "before": show(v["before"], words), "after": show(v["after"], words)}


def _kinds(v: Values, words: Words) -> Values:
    return {**v, "before": words.kind(str(v["before"])), "after": words.kind(str(v["after"]))}


def _scheme_words(code: str, v: Values, words: Words) -> str:
    _ = words.text
    if code == "starting_points":
        return _("starting points %(before)s → %(after)s", **v)
    if code == "requires_consent":
        return (_("requires consent false → true") if v["after"]
                else _("requires consent true → false"))
    if code == "tier_added":
        return (_("tier %(tier)s added (min None)", **v) if v["min"] is None
                else _("tier %(tier)s added (min %(min)s)", **v))
    if code == "tier_removed":
        return _("tier %(tier)s removed", **v)
    if code == "tier_min":
        return _("tier %(tier)s: min %(before)s → %(after)s", **_pair(v, words, _minimum))
    if code == "tier_order":
        return _("the order of the tiers changed")
    return _("objection deadlines changed")


def _department_words(code: str, v: Values, words: Words) -> str:
    _ = words.text
    if code == "department_added":
        return _("department %(department)s added", **v)
    if code == "department_removed":
        return _("department %(department)s removed", **v)
    if code == "department_keeps_register":
        return _("department %(department)s now keeps the register", **v)
    return _("department %(department)s no longer keeps the register", **v)


def _rule_words(code: str, v: Values, words: Words) -> str:
    _ = words.text
    if code == "rule_added":
        versions = _("; ").join(_("version %(version)s %(text)s", version=r["version"],
                               text=_rule_text(r, words)) for r in v["versions"])
        return _("rule %(rule)s added: %(versions)s", rule=v["rule"], versions=versions)
    if code == "rule_removed":
        return (_("rule %(rule)s removed (it had %(count)s version)", rule=v["rule"],
                  count=v["versions"]) if v["versions"] == 1 else
                _("rule %(rule)s removed (it had %(count)s versions)", rule=v["rule"],
                  count=v["versions"]))
    if code == "rule_version_added":
        return _("rule %(rule)s version %(version)s added: %(text)s", rule=v["rule"],
                 version=v["version"], text=_rule_text(v, words))
    if code == "rule_version_removed":
        return _("rule %(rule)s version %(version)s removed", **v)
    if code == "rule_points":
        return _("rule %(rule)s version %(version)s: points %(before)s → %(after)s",
                 **{**v, "before": f"{v['before']:+d}", "after": f"{v['after']:+d}"})
    if code == "rule_in_force":
        return _("rule %(rule)s version %(version)s: in force %(before)s → %(after)s",
                 rule=v["rule"], version=v["version"],
                 before=_period(v["before_start"], v["before_until"], words),
                 after=_period(v["after_start"], v["after_until"], words))
    if code == "rule_relief":
        return (_("rule %(rule)s version %(version)s: relief granted", **v) if v["relief"]
                else _("rule %(rule)s version %(version)s: relief withdrawn", **v))
    if code == "rule_cap":
        return _("rule %(rule)s version %(version)s: cap %(before)s → %(after)s",
                 rule=v["rule"], version=v["version"],
                 before=_cap(v["before_points"], v["before_per"], words),
                 after=_cap(v["after_points"], v["after_per"], words))
    if code == "rule_repeat":
        return _("rule %(rule)s version %(version)s: repeat %(before)s → %(after)s",
                 rule=v["rule"], version=v["version"],
                 before=_repeat(v["before_factor"], v["before_within"], words),
                 after=_repeat(v["after_factor"], v["after_within"], words))
    if code == "rule_title":
        return _("rule %(rule)s version %(version)s: title %(before)s → %(after)s",
                 **_pair(v, words))
    if code == "rule_table":
        return _("rule %(rule)s version %(version)s: table %(before)s → %(after)s",
                 **_pair(v, words))
    if code == "rule_expires_after":
        return _("rule %(rule)s version %(version)s: expires after %(before)s → %(after)s",
                 **_pair(v, words, _span))
    if code == "rule_repairable_after":
        return _("rule %(rule)s version %(version)s: repairable after %(before)s → "
                 "%(after)s", **_pair(v, words, _span))
    if code == "rule_legal_basis":
        return _("rule %(rule)s version %(version)s: legal basis %(before)s → %(after)s",
                 **_pair(v, words))
    if code == "rule_departments":
        return _("rule %(rule)s version %(version)s: departments %(before)s → %(after)s",
                 **_pair(v, words))
    return _("rule %(rule)s version %(version)s: subjects %(before)s → %(after)s",
             **_pair(v, words))


def _measure_words(code: str, v: Values, words: Words) -> str:
    _ = words.text
    if code == "measure_added":
        return _("measure %(measure)s added (%(kind)s, when %(when)s)", measure=v["measure"],
                 kind=words.kind(v["kind"]), when=_condition(v, "", words))
    if code == "measure_removed":
        return _("measure %(measure)s removed", **v)
    if code == "measure_when":
        return _("measure %(measure)s: when %(before)s → %(after)s", measure=v["measure"],
                 before=_condition(v, "before_", words), after=_condition(v, "after_", words))
    if code == "measure_notice":
        return _("measure %(measure)s: notice %(before)s → %(after)s",
                 **_pair(v, words, _span))
    if code == "measure_kind":
        return _("measure %(measure)s: kind %(before)s → %(after)s", **_kinds(v, words))
    if code == "measure_title":
        return _("measure %(measure)s: title %(before)s → %(after)s", **_pair(v, words))
    if code == "measure_owner":
        return _("measure %(measure)s: owner %(before)s → %(after)s", **_pair(v, words))
    if code == "measure_legal_basis":
        return _("measure %(measure)s: legal basis %(before)s → %(after)s",
                 **_pair(v, words))
    return _("measure %(measure)s: reaches %(before)s → %(after)s", **_pair(v, words))


def _list_words(code: str, v: Values, words: Words) -> str:
    _ = words.text
    if code == "list_added":
        return _("list %(list)s added (%(kind)s)", list=v["list"], kind=words.kind(v["kind"]))
    if code == "list_removed":
        return _("list %(list)s removed", **v)
    if code == "list_kind":
        return _("list %(list)s: kind %(before)s → %(after)s", **_kinds(v, words))
    if code == "list_lasts":
        return _("list %(list)s: lasts %(before)s → %(after)s", **_pair(v, words, _span))
    if code == "list_departments":
        return _("list %(list)s: departments %(before)s → %(after)s", **_pair(v, words))
    if code == "list_public":
        return (_("list %(list)s: public False → True", **v) if v["after"]
                else _("list %(list)s: public True → False", **v))
    if code == "list_flag":
        return _("list %(list)s: flag %(before)s → %(after)s", list=v["list"],
                 before=_flag(v["before_entries"], v["before_within"], words),
                 after=_flag(v["after_entries"], v["after_within"], words))
    if code == "list_title":
        return _("list %(list)s: title %(before)s → %(after)s", **_pair(v, words))
    return _("list %(list)s: legal basis %(before)s → %(after)s", **_pair(v, words))


_SCHEME = ("starting_points", "requires_consent", "tier_added", "tier_removed", "tier_min",
           "tier_order", "objection_deadlines")
_DEPARTMENTS = ("department_added", "department_removed", "department_keeps_register",
                "department_no_longer_keeps_register")
_RULES = ("rule_added", "rule_removed", "rule_version_added", "rule_version_removed",
          "rule_points", "rule_in_force", "rule_relief", "rule_cap", "rule_repeat",
          *(f"rule_{attr}" for attr in RULE_FIELDS))
_MEASURES = ("measure_added", "measure_removed", "measure_when", "measure_notice",
             "measure_kind", "measure_title", "measure_owner", "measure_legal_basis",
             "measure_reaches")
_LISTS = ("list_added", "list_removed", "list_kind", "list_lasts", "list_departments",
          "list_public", "list_flag", "list_title", "list_legal_basis")
_WORDINGS: dict[str, Callable[[str, Values, Words], str]] = {
    **dict.fromkeys(_SCHEME, _scheme_words), **dict.fromkeys(_DEPARTMENTS, _department_words),
    **dict.fromkeys(_RULES, _rule_words), **dict.fromkeys(_MEASURES, _measure_words),
    **dict.fromkeys(_LISTS, _list_words)}
CODES = frozenset(_WORDINGS)  # every code rulebook_changes may give
