"""Read each section of the rule files (scheme, departments, lists, measures, conduct tables).

The builder keeps going after a problem, so that one run reports every problem; values
it could not read are replaced by placeholders, which never reach a Rulebook because any
problem refuses the whole rulebook.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.rulebook.fields import Reader
from app.rulebook.model import (
    LIST_KINDS,
    MEASURE_KINDS,
    TEXT_LANGUAGES,
    Department,
    Flag,
    ListDef,
    Measure,
    Objections,
    Repair,
    Scheme,
    Source,
    Tier,
    When,
)
from app.rulebook.problems import Sink

if TYPE_CHECKING:
    from app.rulebook.tables import TableRead


SCHEME_KEYS = (
    "scheme",
    "title",
    "description",
    "starting_points",
    "requires_consent",
    "tiers",
    "objections",
    "languages",
    "repair",
    "in_force_from",
)
SECTION_KEYS = ("departments", "measures", "lists")
TIER_KEYS = ("code", "min", "title", "description")
OBJECTION_KEYS = (
    "window",
    "decide_within",
    "suspend_record",
    "reconsider_window",
    "reconsider_within",
)
DEPARTMENT_KEYS = ("code", "title", "keeps_register")
MEASURE_KEYS = (
    "code",
    "kind",
    "title",
    "owner",
    "legal_basis",
    "when",
    "notice",
    "reaches",
    "description",
)
LIST_KEYS = ("code", "kind", "title", "departments", "lasts", "public", "legal_basis", "flag",
             "objections")
REACHES = ("legal_representative",)

# What a reference names, and how the things it may name are called in messages.
PLURAL = {"department": "departments", "tier": "tiers", "list": "lists", "flag": "flags"}


@dataclass
class Ref:
    """A code that must name something defined elsewhere in the rulebook."""

    kind: str  # "department", "tier", "list" or "flag"
    code: str
    file: str
    line: int
    label: str  # e.g. "measure TENDER-BAN: unknown tier 'E' in when.tiers"


class Builder:
    """Reads sections into model values and remembers codes, places and references."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.scheme: Scheme | None = None
        self.departments: list[Department] = []
        self.lists: list[ListDef] = []
        self.measures: list[Measure] = []
        self.tables: list[TableRead] = []
        self.places: dict[str, dict[str, tuple[str, int]]] = {}
        self.refs: list[Ref] = []
        # Kinds of thing of which some definition could not be read: references to them
        # are not reported as unknown, since the unreadable entry may define them.
        self.incomplete: set[str] = set()

    # -- bookkeeping ------------------------------------------------------------------------

    def claim(self, kind: str, code: str | None, file: str, line: int) -> None:
        """Register `code` as a defined `kind`; a second definition is a problem."""
        if code is None:
            self.incomplete.add(kind)
            return
        places = self.places.setdefault(kind, {})
        if code in places:
            first_file, first_line = places[code]
            where = (
                f"line {first_line}"
                if first_file == file
                else (f"{self.sink.label(first_file)}:{first_line}")
            )
            self.sink.error(file, line, f"{kind} {code!r} is defined twice (also at {where})")
        else:
            places[code] = (file, line)

    def refer(
        self, kind: str, found: list[tuple[str, int]] | None, file: str, reader: Reader, key: str
    ) -> tuple[str, ...]:
        """Note references to `kind` codes listed in `key`; return the codes."""
        codes = []
        for code, line in found or ():
            self.refs.append(
                Ref(
                    kind,
                    code,
                    file,
                    line,
                    f"{reader.prefix}unknown {kind} {code!r} in {reader.path}{key}",
                )
            )
            codes.append(code)
        return tuple(codes)

    def entries(
        self,
        file: str,
        parent: Reader,
        key: str,
        *,
        kind: str,
        like: str,
        keys: tuple[str, ...],
        required: tuple[str, ...],
    ) -> Iterator[tuple[Reader, int, int]]:
        """Yield a Reader for each mapping listed under `key`, with its line and index."""
        items = parent.items(key, required=True)
        if items is None:
            if parent.raw(key) is not None:
                self.incomplete.add(kind)
            return
        for index, (value, line) in enumerate(items):
            code = value.get("code") if isinstance(value, dict) else None
            name = f"{kind} {code}" if isinstance(code, str) and code else f"{kind} #{index + 1}"
            reader = Reader.open(
                self.sink,
                file,
                value,
                line,
                label=f"{key} item {index + 1}",
                like=like,
                name=name,
                keys=keys,
                required=required,
            )
            if reader is None:
                self.incomplete.add(kind)
                continue
            yield reader, line, index

    # -- scheme -------------------------------------------------------------------------------

    def read_scheme(self, file: str, top: Reader) -> None:
        """Read the scheme keys of the scheme file."""
        code = top.code("scheme", slug=True)
        title, titles = top.title("title", required=True)
        starting = top.integer("starting_points", required=True)
        consent = top.boolean("requires_consent", default=False)
        tiers = self._tiers(file, top)
        objections = self._objections(top)
        self.scheme = Scheme(
            code=code or "",
            title=title,
            starting_points=starting if starting is not None else 0,
            requires_consent=consent,
            tiers=tiers,
            objections=objections,
            **texted(top, "description"),
            source=_source(file, top.line("scheme")),
            titles=titles,
            languages=tuple(c for c, _ in top.codes("languages", choices=TEXT_LANGUAGES) or ()),
            repair=self._repair(top),
            in_force_from=top.day("in_force_from"),
            in_force_from_source=_source(file, top.line("in_force_from")),
        )

    def _repair(self, top: Reader) -> Repair:
        reader = top.sub("repair", like="{decide_within: 15d}", keys=("decide_within",))
        base = Repair()
        if reader is None:
            return base
        return Repair(decide_within=reader.duration("decide_within", default=base.decide_within)
                      or base.decide_within)

    def _tiers(self, file: str, top: Reader) -> tuple[Tier, ...]:
        entries = list(
            self.entries(
                file,
                top,
                "tiers",
                kind="tier",
                like="{code: AAA, min: 1050}",
                keys=TIER_KEYS,
                required=("code",),
            )
        )
        items = top.raw("tiers")
        if isinstance(items, list) and not items:
            top.fail("tiers", "must list at least one tier")
        count = len(items) if isinstance(items, list) else 0
        tiers: list[Tier] = []
        above: tuple[str, int] | None = None
        for reader, line, index in entries:
            code = reader.code("code")
            self.claim("tier", code, file, line)
            last = index == count - 1
            minimum = reader.integer("min", required=not last)
            name = reader.name
            if last and "min" in reader.data:
                self.sink.error(
                    file,
                    reader.line("min"),
                    f"{name}: the last (lowest) tier must "
                    "not have a min: it takes every score below the tier above",
                )
            if not last and "min" not in reader.data:
                self.sink.error(
                    file,
                    line,
                    f"{name}: missing key 'min' (every tier but the "
                    "last needs the lowest score that reaches it)",
                )
            if minimum is not None and above is not None and minimum >= above[1]:
                self.sink.error(
                    file,
                    reader.line("min"),
                    f"{name}: min {minimum} must be lower "
                    f"than the tier above ({above[0]}, min {above[1]})",
                )
            if minimum is not None and not last:
                above = (code or name or "", minimum)
            tiers.append(
                Tier(
                    code=code or "",
                    min=None if last else minimum,
                    **titled(reader),
                    **texted(reader, "description"),
                    source=_source(file, line),
                )
            )
        return tuple(tiers)

    def _objections(self, top: Reader, base: Objections | None = None) -> Objections:
        reader = top.sub(
            "objections", like="{window: 30d, decide_within: 15d}", keys=OBJECTION_KEYS
        )
        base = base or Objections()
        if reader is None:
            return base
        return Objections(
            window=reader.duration("window", default=base.window) or base.window,
            decide_within=reader.duration("decide_within", default=base.decide_within)
            or base.decide_within,
            suspend_record=reader.boolean("suspend_record", default=base.suspend_record),
            reconsider_window=reader.duration("reconsider_window", default=base.reconsider_window)
            or base.reconsider_window,
            reconsider_within=reader.duration("reconsider_within", default=base.reconsider_within)
            or base.reconsider_within,
        )

    # -- departments, lists, measures ---------------------------------------------------------

    def read_departments(self, file: str, top: Reader) -> None:
        """Read a `departments` section."""
        for reader, line, _ in self.entries(
            file,
            top,
            "departments",
            kind="department",
            like="{code: court, title: People's Court}",
            keys=DEPARTMENT_KEYS,
            required=("code", "title"),
        ):
            code = reader.code("code", slug=True)
            self.claim("department", code, file, line)
            self.departments.append(
                Department(
                    code=code or "",
                    **titled(reader, required=True),
                    source=_source(file, line),
                    keeps_register=reader.boolean("keeps_register", default=False),
                )
            )

    def read_lists(self, file: str, top: Reader) -> None:
        """Read a `lists` section, with the flags its watchlists raise."""
        for reader, line, _ in self.entries(
            file,
            top,
            "lists",
            kind="list",
            like="{code: court-defaulters, kind: blacklist}",
            keys=LIST_KEYS,
            required=("code", "kind"),
        ):
            code = reader.code("code", slug=True)
            self.claim("list", code, file, line)
            kind = reader.choice("kind", LIST_KINDS, required=True)
            departments = self.refer(
                "department", reader.codes("departments"), file, reader, "departments"
            )
            flag = None
            if kind == "watchlist":
                flag = self._flag(file, reader, code, line)
            elif "flag" in reader.data and kind is not None:
                reader.fail("flag", f"is only allowed on a watchlist (this list is a {kind})")
            self.lists.append(
                ListDef(
                    code=code or "",
                    kind=kind or "",
                    **titled(reader),
                    departments=departments,
                    lasts=reader.duration("lasts"),
                    public=reader.boolean("public", default=False),
                    flag=flag,
                    **texted(reader, "legal_basis"),
                    source=_source(file, line),
                    objections=self._objections(reader) if "objections" in reader.data else None,
                )
            )

    def _flag(self, file: str, reader: Reader, list_code: str | None, line: int) -> Flag:
        sub = reader.sub(
            "flag", like="{entries: 3, within: 1y}", keys=("entries", "within", "code")
        )
        if sub is None:
            if reader.raw("flag") is not None:
                self.incomplete.add("flag")
            self.claim("flag", list_code, file, line)
            return Flag(code=list_code or "")
        code = sub.code("code", slug=True, required=False) if "code" in sub.data else list_code
        self.claim("flag", code, file, sub.line("code") if "code" in sub.data else line)
        base = Flag(code="")
        return Flag(
            code=code or "",
            entries=sub.integer("entries", default=base.entries, minimum=1) or base.entries,
            within=sub.duration("within", default=base.within) or base.within,
        )

    def read_measures(self, file: str, top: Reader) -> None:
        """Read a `measures` section."""
        for reader, line, _ in self.entries(
            file,
            top,
            "measures",
            kind="measure",
            like="{code: TENDER-BAN, kind: restriction}",
            keys=MEASURE_KEYS,
            required=("code", "kind", "title", "owner", "when"),
        ):
            code = reader.code("code")
            self.claim("measure", code, file, line)
            kind = reader.choice("kind", MEASURE_KINDS, required=True)
            owner = reader.code("owner", slug=True)
            if owner is not None:
                self.refs.append(
                    Ref(
                        "department",
                        owner,
                        file,
                        reader.line("owner"),
                        f"{reader.prefix}unknown department {owner!r} in owner",
                    )
                )
            raw = reader.raw("legal_basis")
            if kind == "restriction" and (raw is None or isinstance(raw, str) and not raw.strip()):
                self.sink.error(
                    file,
                    reader.line("legal_basis"),
                    f"{reader.name}: a restriction "
                    "needs a legal_basis (the law or regulation that allows it)",
                )
            self.measures.append(
                Measure(
                    code=code or "",
                    kind=kind or "",
                    **titled(reader, required=True),
                    owner=owner or "",
                    when=self._when(file, reader),
                    notice=reader.duration("notice"),
                    reaches=tuple(c for c, _ in reader.codes("reaches", choices=REACHES) or ()),
                    **texted(reader, "legal_basis", "description"),
                    source=_source(file, line),
                )
            )

    def _when(self, file: str, reader: Reader) -> When:
        sub = reader.sub(
            "when", like="{tiers: [D], lists: [court-defaulters]}", keys=("tiers", "lists", "flags")
        )
        if sub is None:
            if "when" in reader.data and reader.raw("when") is None:
                reader.fail("when", "must name at least one tier, list or flag")
            return When()
        when = When(
            tiers=self.refer("tier", sub.codes("tiers", slug=False), file, sub, "tiers"),
            lists=self.refer("list", sub.codes("lists"), file, sub, "lists"),
            flags=self.refer("flag", sub.codes("flags"), file, sub, "flags"),
        )
        if not (when.tiers or when.lists or when.flags) and not any(
            sub.raw(k) not in (None, []) for k in ("tiers", "lists", "flags")
        ):
            reader.fail("when", "must name at least one tier, list or flag")
        return when


def titled(reader: Reader, *, required: bool = False) -> dict[str, Any]:
    """Return the `title` and `titles` keyword arguments read from `reader`."""
    title, titles = reader.title("title", required=required)
    return {"title": title, "titles": titles}


def texted(reader: Reader, *keys: str) -> dict[str, Any]:
    """Return the keyword arguments for the texts `keys` read from `reader`.

    Each key gets its plain (English) text; `texts` holds those written per language, and
    is left out when none is, so that plain texts keep the rulebook's fingerprint.
    """
    found: dict[str, Any] = {}
    texts = []
    for key in keys:
        plain, pairs = reader.localized(key)
        found[key] = plain
        if pairs:
            texts.append((key, pairs))
    if texts:
        found["texts"] = tuple(texts)
    return found


def _source(file: str, line: int) -> Source:
    return Source(file, line)
