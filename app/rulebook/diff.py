"""A readable diff between two rulebooks: per-file unified diffs and what changed in meaning.

What changed in meaning is data first (`rulebook_changes`: a `Change` is a code and its
JSON-able values) and words second (`wording`, in any language the message catalogue has;
`english` and `diff_rulebooks` give the one English wording).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.rulebook.model import Duration, Rule, Rulebook, When

JSONValue = Any  # str, int, bool, None, or a list (of these or of such dicts)
Values = dict[str, JSONValue]


@dataclass(frozen=True)
class Change:
    """One change in meaning: a code (CODES) and the values it is worded from, all JSON-able
    (codes, numbers, booleans, ISO dates, durations as written in the rule files: "30d";
    None for "none")."""

    code: str
    values: Values = field(default_factory=dict)

    def to_json(self) -> Values:
        return {"code": self.code, "values": dict(self.values)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(str(data["code"]), dict(data.get("values") or {}))


@dataclass(frozen=True)
class FileDiff:
    name: str  # relative to the rules directory
    status: str  # "added", "removed" or "changed"
    lines: tuple[str, ...]  # the unified diff, without line ends


@dataclass(frozen=True)
class RulebookDiff:
    files: tuple[FileDiff, ...]
    changes: tuple[str, ...]  # the semantic summary, one sentence per change

    @property
    def same(self) -> bool:
        return not self.files and not self.changes


def diff_files(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[FileDiff, ...]:
    """Return the unified diff of each file that was added, removed or changed."""
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        status = "added" if a is None else "removed" if b is None else "changed"
        lines = difflib.unified_diff(
            (a or "").splitlines(), (b or "").splitlines(),
            fromfile=f"a/{name}" if a is not None else "/dev/null",
            tofile=f"b/{name}" if b is not None else "/dev/null", lineterm="")
        out.append(FileDiff(name, status, tuple(lines)))
    return tuple(out)


def diff_rulebooks(old: Rulebook, new: Rulebook) -> tuple[str, ...]:
    """Return the changes in meaning from `old` to `new`, one English sentence each."""
    return tuple(english(change) for change in rulebook_changes(old, new))


def rulebook_changes(old: Rulebook, new: Rulebook) -> tuple[Change, ...]:
    """Return the changes in meaning from `old` to `new` as data, in the order of
    `diff_rulebooks`."""
    return (*_scheme(old, new), *_departments(old, new), *_rules(old, new),
            *_measures(old, new), *_lists(old, new))


def diff(old_files: Mapping[str, str], new_files: Mapping[str, str],
         old: Rulebook | None, new: Rulebook | None) -> RulebookDiff:
    """Return the file diffs and, when both rulebooks loaded, the semantic summary."""
    changes = diff_rulebooks(old, new) if old is not None and new is not None else ()
    return RulebookDiff(diff_files(old_files, new_files), changes)


# The changes as data -------------------------------------------------------------------


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _duration(duration: Duration | None) -> str | None:
    return str(duration) if duration is not None else None


def _value(value: object) -> JSONValue:
    """A rulebook value as JSON: tuples as lists, durations as their text ("30d")."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Duration):
        return str(value)
    return value  # str, int, bool or None


def _scheme(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    a, b = old.scheme, new.scheme
    if a.starting_points != b.starting_points:
        yield Change("starting_points", {"before": a.starting_points, "after": b.starting_points})
    if a.requires_consent != b.requires_consent:
        yield Change("requires_consent", {"before": a.requires_consent,
                                          "after": b.requires_consent})
    tiers_a = {t.code: t for t in a.tiers}
    tiers_b = {t.code: t for t in b.tiers}
    for code in tiers_b.keys() - tiers_a.keys():
        yield Change("tier_added", {"tier": code, "min": tiers_b[code].min})
    for code in tiers_a.keys() - tiers_b.keys():
        yield Change("tier_removed", {"tier": code})
    for tier in b.tiers:
        before = tiers_a.get(tier.code)
        if before is not None and before.min != tier.min:
            yield Change("tier_min", {"tier": tier.code, "before": before.min,
                                      "after": tier.min})
    if [t.code for t in a.tiers if t.code in tiers_b] != [t.code for t in b.tiers
                                                          if t.code in tiers_a]:
        yield Change("tier_order", {})
    if a.objections != b.objections:
        yield Change("objection_deadlines", {})


def _departments(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    a = {d.code for d in old.departments}
    b = {d.code for d in new.departments}
    for code in sorted(b - a):
        yield Change("department_added", {"department": code})
    for code in sorted(a - b):
        yield Change("department_removed", {"department": code})
    keeps_a = {d.code for d in old.departments if d.keeps_register}
    keeps_b = {d.code for d in new.departments if d.keeps_register}
    for code in sorted((keeps_b - keeps_a) & a):
        yield Change("department_keeps_register", {"department": code})
    for code in sorted((keeps_a - keeps_b) & b):
        yield Change("department_no_longer_keeps_register", {"department": code})


def _version(rule: Rule) -> dict[str, JSONValue]:
    return {"version": rule.version, "points": rule.points,
            "start": _day(rule.effective.start), "until": _day(rule.effective.until),
            "relief": rule.relief}


_RULE_FIELDS = ("title", "table", "expires_after", "repairable_after", "legal_basis",
                "departments", "subjects")


def _rules(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    codes = sorted(set(old.rule_codes) | set(new.rule_codes))
    for code in codes:
        a, b = old.versions(code), new.versions(code)
        if not a:
            yield Change("rule_added", {"rule": code, "versions": [_version(r) for r in b]})
            continue
        if not b:
            yield Change("rule_removed", {"rule": code, "versions": len(a)})
            continue
        for number in range(1, max(len(a), len(b)) + 1):
            ra = a[number - 1] if number <= len(a) else None
            rb = b[number - 1] if number <= len(b) else None
            name = {"rule": code, "version": number}
            if ra is None:
                assert rb is not None  # number is within one of the two
                yield Change("rule_version_added", {**_version(rb), **name})
                continue
            if rb is None:
                yield Change("rule_version_removed", name)
                continue
            if ra.points != rb.points:
                yield Change("rule_points", {**name, "before": ra.points, "after": rb.points})
            if ra.effective != rb.effective:
                yield Change("rule_in_force", {
                    **name, "before_start": _day(ra.effective.start),
                    "before_until": _day(ra.effective.until),
                    "after_start": _day(rb.effective.start),
                    "after_until": _day(rb.effective.until)})
            if ra.relief != rb.relief:
                yield Change("rule_relief", {**name, "relief": rb.relief})
            if ra.cap != rb.cap:
                yield Change("rule_cap", {
                    **name, "before_points": ra.cap.points if ra.cap else None,
                    "before_per": ra.cap.per if ra.cap else None,
                    "after_points": rb.cap.points if rb.cap else None,
                    "after_per": rb.cap.per if rb.cap else None})
            if ra.repeat != rb.repeat:
                yield Change("rule_repeat", {
                    **name, "before_factor": ra.repeat.factor if ra.repeat else None,
                    "before_within": _duration(ra.repeat.within) if ra.repeat else None,
                    "after_factor": rb.repeat.factor if rb.repeat else None,
                    "after_within": _duration(rb.repeat.within) if rb.repeat else None})
            for attr in _RULE_FIELDS:
                va, vb = getattr(ra, attr), getattr(rb, attr)
                if va != vb:
                    yield Change(f"rule_{attr}", {**name, "before": _value(va),
                                                  "after": _value(vb)})


def _when(when: When, prefix: str) -> dict[str, JSONValue]:
    return {f"{prefix}tiers": list(when.tiers), f"{prefix}lists": list(when.lists),
            f"{prefix}flags": list(when.flags)}


def _measures(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    a = {m.code: m for m in old.measures}
    b = {m.code: m for m in new.measures}
    for code in sorted(b.keys() - a.keys()):
        yield Change("measure_added", {"measure": code, "kind": b[code].kind,
                                       **_when(b[code].when, "")})
    for code in sorted(a.keys() - b.keys()):
        yield Change("measure_removed", {"measure": code})
    for code in sorted(a.keys() & b.keys()):
        ma, mb = a[code], b[code]
        if ma.when != mb.when:
            yield Change("measure_when", {"measure": code, **_when(ma.when, "before_"),
                                          **_when(mb.when, "after_")})
        if ma.notice != mb.notice:
            yield Change("measure_notice", {"measure": code, "before": _value(ma.notice),
                                            "after": _value(mb.notice)})
        for attr in ("kind", "title", "owner", "legal_basis", "reaches"):
            va, vb = getattr(ma, attr), getattr(mb, attr)
            if va != vb:
                yield Change(f"measure_{attr}", {"measure": code, "before": _value(va),
                                                 "after": _value(vb)})


def _lists(old: Rulebook, new: Rulebook) -> Iterator[Change]:
    a = {x.code: x for x in old.lists}
    b = {x.code: x for x in new.lists}
    for code in sorted(b.keys() - a.keys()):
        yield Change("list_added", {"list": code, "kind": b[code].kind})
    for code in sorted(a.keys() - b.keys()):
        yield Change("list_removed", {"list": code})
    for code in sorted(a.keys() & b.keys()):
        la, lb = a[code], b[code]
        for attr in ("kind", "lasts", "departments", "public", "flag", "title", "legal_basis"):
            va, vb = getattr(la, attr), getattr(lb, attr)
            if va == vb:
                continue
            if attr == "flag":
                yield Change("list_flag", {
                    "list": code, "before_entries": va.entries if va else None,
                    "before_within": _duration(va.within) if va else None,
                    "after_entries": vb.entries if vb else None,
                    "after_within": _duration(vb.within) if vb else None})
            else:
                yield Change(f"list_{attr}", {"list": code, "before": _value(va),
                                              "after": _value(vb)})


# The changes in words --------------------------------------------------------------------
#
# One wording for every language: `Words.text` is called as `_` below, so that the message
# extraction (README, Translations) finds each sentence as a catalogue entry with named
# placeholders. In English the msgid itself is the sentence (ENGLISH); a notice in another
# language passes the catalogue's gettext (app/services/due_process/notice_render.py).


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
          *(f"rule_{attr}" for attr in _RULE_FIELDS))
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
