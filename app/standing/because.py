"""Explanations as data: a reason code and its values, worded by each edge in its language.

The evaluator says why a record does not count, why a measure applies, what changes next,
as a `Because` (a code such as "lapsed" and values such as {"on": date}), never as a
sentence. The pages word them per language (templates), the CLI and the JSON API in English
with `english` below, and the API also gives the code and values themselves.

The codes and their values:

- exclusions (a record that does not count on the standing's day): `voided`, `annulled`,
  `not_yet` {occurs_on}, `repaired` {on}, `lapsed` {on}, `suspended` {since},
  `not_counted`;
- measures (why one applies): `tier` {tier, points}, `list` {list, list_title, since,
  decision, department, until}, `flag` {flag, list, count, threshold, within, entered_on};
  each with {via, via_name} when it reaches the subject as an organisation's legal
  representative;
- what changes next: `change` {on, points_before, points, tier_before, tier, ending,
  starting} (rule codes), `not_scored` {you}, `no_change` {you}, `no_tier_change` {you, on,
  points_before, points}, `tier_change` {you, on, lapsing, ending, starting, tier, up};
- the chart: `points_range` {start, as_of, low, high, now}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

Value = str | int | bool | date | tuple[str, ...] | tuple[date, ...] | None


@dataclass(frozen=True)
class Because:
    """A reason as data: `code` names what it says, `values` fill it in."""

    code: str
    values: tuple[tuple[str, Value], ...] = ()

    @classmethod
    def of(cls, code: str, **values: Value) -> Because:
        """Return the reason `code` with `values` (in a fixed order, so equal reasons are equal)."""
        return cls(code, tuple(sorted(values.items())))

    @property
    def v(self) -> Mapping[str, Value]:
        """Return the values by name (for templates: `because.v.on`)."""
        return dict(self.values)

    def get(self, key: str, default: Value = None) -> Value:
        """Return the value `key`, or `default`."""
        return dict(self.values).get(key, default)

    def as_json(self) -> dict[str, object]:
        """Return {"code", "values"} with dates as ISO text, for the JSON API."""
        return {"code": self.code, "values": {k: _json(v) for k, v in self.values}}


def _json(value: Value) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return value


def _day(value: Value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value or "")


def _records(count: int, verb_one: str, verb_many: str, codes: Value) -> str:
    listed = ", ".join(str(c) for c in codes) if isinstance(codes, tuple) else ""
    noun = "record" if count == 1 else "records"
    return f"{count} {noun} ({listed}) {verb_one if count == 1 else verb_many}"


_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count_words(count: int, noun: str) -> str:
    word = _NUMBERS[count] if 0 <= count < len(_NUMBERS) else str(count)
    return f"{word} {noun}{'' if count == 1 else 's'}"


def english(because: Because) -> str:
    """Word `because` in English (the CLI, the JSON API's text, the notices)."""
    code, v = because.code, dict(because.values)
    text = _ENGLISH[code](v) if code in _ENGLISH else code
    if v.get("via"):
        who = v.get("via_name") or v["via"]
        text = f"as legal representative of {who} ({v['via']}), " + (
            text.replace("on list ", "listed on ", 1) if code == "list" else text)
    return text


def _list(v: dict[str, Value]) -> str:
    title = f" ({v['list_title']})" if v.get("list_title") else ""
    text = f"on list {v['list']}{title} since {_day(v['since'])}"
    if v.get("decision"):
        text += f", decision {v['decision']}"
    if v.get("department"):
        text += f", entered by {v['department']}"
    if v.get("until") is not None:
        text += f", until {_day(v['until'])}"
    return text


def _flag(v: dict[str, Value]) -> str:
    days = v.get("entered_on")
    dates = ", ".join(_day(d) for d in days) if isinstance(days, tuple) else ""
    return (f"flag {v['flag']} raised: {v['count']} entries on {v['list']} within "
            f"{v['within']} (threshold {v['threshold']}; entered on {dates})")


def _change(v: dict[str, Value]) -> str:
    parts = []
    ending, starting = v.get("ending") or (), v.get("starting") or ()
    assert isinstance(ending, tuple) and isinstance(starting, tuple)
    if ending:
        parts.append(_records(len(ending), "stops counting", "stop counting", ending))
    if starting:
        parts.append(_records(len(starting), "start counting", "start counting", starting))
    text = f"On {_day(v['on'])} " + " and ".join(parts)
    text += f": points {v['points_before']} → {v['points']}"
    if v["tier"] != v["tier_before"]:
        text += f", tier {v['tier_before']} → {v['tier']}"
    return text + "."


def _your(v: dict[str, Value]) -> str:
    return "your" if v.get("you") else "the"


def _tier_change(v: dict[str, Value]) -> str:
    ending, starting = v.get("ending") or (), v.get("starting") or ()
    assert isinstance(ending, tuple) and isinstance(starting, tuple)
    parts = []
    if ending:
        n = len(ending)
        if v.get("lapsing"):
            parts.append(f"{_count_words(n, 'record')} {'lapses' if n == 1 else 'lapse'}")
        else:
            parts.append(f"{_count_words(n, 'record')} {'stops' if n == 1 else 'stop'} counting")
    if starting:
        n = len(starting)
        parts.append(f"{_count_words(n, 'record')} {'starts' if n == 1 else 'start'} counting")
    up, you = bool(v.get("up")), bool(v.get("you"))
    who = "you" if you else "the subject"
    verb = ("return" if up else "drop") if you else ("returns" if up else "drops")
    return f"On {_day(v['on'])} {' and '.join(parts)} and {who} {verb} to {v['tier']}."


_ENGLISH: dict[str, Callable[[dict[str, Value]], str]] = {
    "voided": lambda v: "voided (entered in error)",
    "annulled": lambda v: "annulled after an objection",
    "not_yet": lambda v: f"not yet: occurs on {_day(v['occurs_on'])}",
    "repaired": lambda v: f"repaired on {_day(v['on'])}",
    "lapsed": lambda v: f"lapsed on {_day(v['on'])}",
    "suspended": lambda v: f"suspended: objection pending since {_day(v['since'])}",
    "not_counted": lambda v: "does not count on this date",
    "tier": lambda v: f"tier {v['tier']} (points {v['points']})",
    "list": _list,
    "flag": _flag,
    "change": _change,
    "not_scored": lambda v: (f"{'You are' if v.get('you') else 'The subject is'} not scored, "
                             f"so no record changes {_your(v)} tier."),
    "no_change": lambda v: f"Nothing recorded so far will change {_your(v)} points.",
    "no_tier_change": lambda v: (
        f"Nothing recorded so far will change {_your(v)} tier; the next change of points is "
        f"on {_day(v['on'])} ({v['points_before']} → {v['points']})."),
    "tier_change": _tier_change,
    "points_range": lambda v: (
        f"Points from {_day(v['start'])} to {_day(v['as_of'])}: between {v['low']} and "
        f"{v['high']}, {v['now']} on {_day(v['as_of'])}"),
}
CODES = tuple(_ENGLISH)
