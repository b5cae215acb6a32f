"""Load rule files (a directory, or stored texts) into one validated, fingerprinted Rulebook."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from app.rulebook.fields import Reader, show, suggest
from app.rulebook.fingerprint import compute_fingerprint
from app.rulebook.limits import Limits
from app.rulebook.lint import lint
from app.rulebook.model import Rulebook
from app.rulebook.problems import CheckResult, Problem, RulebookError, Sink
from app.rulebook.sections import PLURAL, SCHEME_KEYS, SECTION_KEYS, Builder
from app.rulebook.tables import TABLE_KEYS, assign_versions, read_table
from app.rulebook.yamlio import LineDict, parse_yaml

RULE_FILE_SUFFIXES = (".yaml", ".yml")
SKIPPED_DIRS = ("tests",)  # rule tests live there, not rules
_SCHEME_REQUIRED = ("scheme", "title", "starting_points", "tiers")
_SCHEME_HINTS = ("starting_points", "tiers", "requires_consent", "objections")
_TOP_KEY_RE = re.compile(r"^([A-Za-z_]+)[ \t]*:", re.MULTILINE)
# What a file that cannot be parsed may define, judged from its top-level keys.
_DEFINES = {
    "departments": ("department",),
    "tiers": ("tier",),
    "scheme": ("tier",),
    "lists": ("list", "flag"),
}


def load_rulebook(path: str | os.PathLike[str]) -> Rulebook:
    """Load and validate every rule file under `path`; raise RulebookError listing all problems."""
    result = check_rulebook(path)
    if not result.ok or result.rulebook is None:
        raise RulebookError(result.problems)
    return result.rulebook


def check_rulebook(path: str | os.PathLike[str], *, limits: Limits | None = None) -> CheckResult:
    """Check every rule file under `path`; return the rulebook if valid, and all problems.

    `limits`: what reading the files may cost (None: no limits)."""
    sink = Sink(_root_label(path))
    try:
        files = _read_directory(Path(path), sink, limits)
    except Exception as exc:  # an unreadable directory must not take the caller down
        sink.error("", 0, f"cannot read the rules directory: {exc}")
        files = None
    if files is None:
        return CheckResult(None, sink.sorted_problems(), sink.sorted_warnings())
    return _check(files, sink, limits)


def load_rulebook_from_texts(files: Mapping[str, str], *, root_label: str = "rules") -> Rulebook:
    """Load a rulebook from its files' texts keyed by relative path (as stored in `files`)."""
    result = check_rulebook_texts(files, root_label=root_label)
    if not result.ok or result.rulebook is None:
        raise RulebookError(result.problems)
    return result.rulebook


def check_rulebook_texts(files: Mapping[str, str], *, root_label: str = "rules",
                         limits: Limits | None = None) -> CheckResult:
    """Check a rulebook given as file texts keyed by relative path (`limits` as for
    check_rulebook)."""
    sink = Sink(root_label)
    if limits is not None:
        sizes = {name: len(text.encode()) if isinstance(text, str) else 0
                 for name, text in files.items()}
        for name, size in sorted(sizes.items()):
            message = limits.too_big(size)
            if message:
                sink.error(name, 0, message)
        message = limits.too_much(sum(sizes.values()))
        if message:
            sink.error("", 0, message)
        if sink.problems:
            return CheckResult(None, sink.sorted_problems(), [])
    return _check(dict(files), sink, limits)


def _root_label(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    return text.rstrip("/") or ("/" if text else ".")


def _read_directory(root: Path, sink: Sink, limits: Limits | None) -> dict[str, str] | None:
    if not root.exists():
        sink.error("", 0, "no such directory")
        return None
    if not root.is_dir():
        sink.error("", 0, "is not a directory (give the directory that holds the rule files)")
        return None
    files: dict[str, str] = {}
    total = 0

    def unreadable(exc: OSError) -> None:
        sink.error("", 0, f"cannot read {exc.filename}: {exc.strerror}")

    for folder, dirs, names in os.walk(root, onerror=unreadable):
        here = Path(folder).relative_to(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not (here == Path(".") and d in SKIPPED_DIRS)
        )
        for name in sorted(names):
            if name.startswith(".") or not name.endswith(RULE_FILE_SUFFIXES):
                continue
            relative = (here / name).as_posix()
            try:
                if limits is not None:  # judged by its size, before it is read
                    size = (Path(folder) / name).stat().st_size
                    total += size
                    message = limits.too_big(size)
                    if message:
                        sink.error(relative, 0, message)
                        continue
                    message = limits.too_much(total)
                    if message:
                        sink.error("", 0, message)
                        return None
                raw = (Path(folder) / name).read_bytes()
            except OSError as exc:
                sink.error(relative, 0, f"cannot read this file: {exc.strerror}")
                continue
            try:
                files[relative] = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                sink.error(relative, line, "this file is not UTF-8 text: save it as UTF-8")
    if not files and not sink.problems:
        sink.error("", 0, "no rule files found (files ending in .yaml or .yml)")
        return None
    return files


def _check(files: dict[str, str], sink: Sink, limits: Limits | None = None) -> CheckResult:
    try:
        rulebook = _build(files, sink, limits)
    except Exception as exc:  # a bug here must still leave the last good rulebook in force
        sink.error(
            "",
            0,
            f"internal error while checking the rules (please report it): "
            f"{type(exc).__name__}: {exc}",
        )
        rulebook = None
    problems = sink.sorted_problems()
    if rulebook is not None and not problems:
        for file, line, message in lint(rulebook):
            sink.warn(file, line, message)
        if rulebook.scheme.languages:
            sink.missing_languages(rulebook.scheme.languages)
    return CheckResult(None if problems else rulebook, problems, sink.sorted_warnings())


def _build(files: dict[str, str], sink: Sink, limits: Limits | None) -> Rulebook | None:
    builder = Builder(sink)
    if not files:
        sink.error("", 0, "no rule files found (files ending in .yaml or .yml)")
        return None
    parsed: list[tuple[str, LineDict]] = []
    maybe_scheme = False
    used: list[int] = []  # YAML nodes read so far: the limit is on all the files together
    for relative, text in sorted(files.items()):
        data = _parse_file(relative, text, sink, limits, used)
        if isinstance(data, str):  # could not be parsed: judge what it may define
            keys = set(_TOP_KEY_RE.findall(data))
            maybe_scheme |= "scheme" in keys or bool(keys & set(_SCHEME_HINTS))
            for key in keys:
                builder.incomplete.update(_DEFINES.get(key, ()))
        elif data is _UNUSABLE:  # not a mapping: it may have meant to define anything
            maybe_scheme = True
            builder.incomplete.update(PLURAL)
        elif isinstance(data, LineDict):
            parsed.append((relative, data))

    scheme_files = [r for r, d in parsed if "scheme" in d and "table" not in d]
    if not scheme_files:  # a file with tiers but no `scheme:` is the scheme file, misnamed
        scheme_files = [
            r for r, d in parsed if "table" not in d and any(k in d for k in _SCHEME_HINTS)
        ][:1]
    if not scheme_files:
        builder.incomplete.add("tier")  # no tiers can be known, so none is reported unknown
    for relative, data in parsed:
        if "table" in data:
            _read_table_file(builder, relative, data)
        else:
            _read_section_file(builder, relative, data, scheme_files)
    if not scheme_files and not maybe_scheme:
        sink.error(
            "",
            0,
            "no file defines the scheme: one file (usually scheme.yaml) must have "
            "'scheme:', 'title:', 'starting_points:' and 'tiers:'",
        )
    _check_references(builder, sink)
    rows = assign_versions(builder, sink)
    if sink.problems or builder.scheme is None:
        return None
    tables = tuple(
        replace(t.table, rules=tuple(rows[id(row)] for row in t.rows)) for t in builder.tables
    )
    scheme, departments = builder.scheme, tuple(builder.departments)
    measures, lists = tuple(builder.measures), tuple(builder.lists)
    fingerprint = compute_fingerprint(
        scheme=scheme, departments=departments, tables=tables, measures=measures, lists=lists
    )
    return Rulebook(
        scheme=scheme, departments=departments, tables=tables, measures=measures, lists=lists,
        fingerprint=fingerprint, files=tuple(sorted(files.items())),
    )


_UNUSABLE = object()


def _parse_file(relative: str, text: object, sink: Sink, limits: Limits | None,
                used: list[int]) -> object:
    """Return the file's top mapping, its text if it cannot be parsed, _UNUSABLE or None."""
    if not isinstance(text, str):
        sink.error(relative, 0, f"the stored file is not text (got {show(text)})")
        return None
    data, problems = parse_yaml(
        text, max_nodes=limits.yaml_nodes if limits else None,
        max_aliases=limits.yaml_aliases if limits else None, used=used)
    for line, message in problems:
        sink.error(relative, line, message)
    if data is None and problems:
        return text
    if data is None or data == {}:
        sink.error(
            relative,
            1,
            "empty file: a rule file must hold at least one section, "
            "such as 'departments:' or 'table:'",
        )
        return None
    if not isinstance(data, LineDict):
        sink.error(
            relative,
            getattr(data, "line", 1),
            "a rule file must be a mapping of keys to "
            f"values (like 'departments:' followed by a list), got {show(data)}",
        )
        return _UNUSABLE
    return data


def _read_table_file(builder: Builder, relative: str, data: LineDict) -> None:
    code = data.get("table")
    name = f"table {code}" if isinstance(code, str) and code else "table"
    top = Reader(
        builder.sink, relative, data, name=name, keys=TABLE_KEYS, required=("table", "rules")
    )
    read_table(builder, relative, top)


def _read_section_file(
    builder: Builder, relative: str, data: LineDict, scheme_files: list[str]
) -> None:
    sink = builder.sink
    is_scheme = bool(scheme_files) and relative == scheme_files[0]
    top = Reader(
        sink,
        relative,
        data,
        name=None,
        keys=(*SCHEME_KEYS, *SECTION_KEYS, "table"),
        required=_SCHEME_REQUIRED if is_scheme else (),
        quiet=("rules",),
    )
    if "rules" in data:
        sink.error(
            relative,
            data.line_of("rules"),
            "a file with 'rules:' is a conduct table: "
            "missing key 'table' (the table's code, like 'table: utilities')",
        )
    if is_scheme:
        builder.read_scheme(relative, top)
    elif relative in scheme_files or "scheme" in data:
        first = scheme_files[0]
        sink.error(
            relative,
            data.line_of("scheme"),
            "the scheme is defined twice (also in "
            f"{sink.label(first)}): keep one file with 'scheme:'",
        )
    else:
        for key in data:
            if key in SCHEME_KEYS:
                where = f" ({sink.label(scheme_files[0])})" if scheme_files else ""
                sink.error(
                    relative,
                    data.line_of(key),
                    f"key {key!r} belongs in the scheme file{where}, the one with 'scheme:'",
                )
    if "departments" in data:
        builder.read_departments(relative, top)
    if "lists" in data:
        builder.read_lists(relative, top)
    if "measures" in data:
        builder.read_measures(relative, top)


def _check_references(builder: Builder, sink: Sink) -> None:
    for ref in builder.refs:
        known = builder.places.get(ref.kind, {})
        if ref.code in known or ref.kind in builder.incomplete:
            continue
        names = list(known) if ref.kind == "tier" else sorted(known)
        hint = suggest(ref.code, names)
        if hint:
            extra = f"did you mean {hint!r}?"
        elif names:
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            extra = f"{PLURAL[ref.kind]} are {shown}"
        else:
            extra = f"no {PLURAL[ref.kind]} are defined"
        sink.error(ref.file, ref.line, f"{ref.label} ({extra})")


__all__ = [
    "CheckResult",
    "Problem",
    "RulebookError",
    "check_rulebook",
    "check_rulebook_texts",
    "load_rulebook",
    "load_rulebook_from_texts",
]
