"""Candidate rulebooks for a simulation: a directory on the server or an uploaded zip,
checked like the rulebook in force (refused with every problem) and run against its tests."""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from app.errors import InvalidInput, NotFound, Problem
from app.rulebook import CheckResult, Limits, Rulebook, check_rulebook, check_rulebook_texts
from app.ruletests import RuleTestReport, run_rule_tests, run_rule_tests_in

MAX_ZIP_FILES = 500
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Candidate:
    """A candidate rulebook that passed `rules check`, with its warnings and test results."""

    rulebook: Rulebook
    source: str  # where it came from, in words
    warnings: tuple[str, ...]
    tests: RuleTestReport


def _refuse(result: CheckResult, source: str) -> InvalidInput:
    count = len(result.problems)
    return InvalidInput(
        f"the candidate rulebook ({source}) fails the check with {count} "
        f"problem{'s' * (count != 1)}; nothing was simulated",
        problems=[Problem(p.message, where=f"{p.file}:{p.line}" if p.line > 0 else p.file)
                  for p in result.problems])


def candidate_from_dir(path: str | os.PathLike[str], *, limits: Limits | None = None) -> Candidate:
    """Check the rulebook in directory `path`; raise InvalidInput listing every problem."""
    source = os.fspath(path)
    limits = limits or Limits()
    result = check_rulebook(path, limits=limits)
    if not result.ok or result.rulebook is None:
        raise _refuse(result, source)
    tests = run_rule_tests_in(result.rulebook, path, limits=limits)
    return Candidate(result.rulebook, source, tuple(str(w) for w in result.warnings), tests)


def candidate_from_texts(files: dict[str, str], *, source: str, label: str = "candidate",
                         limits: Limits | None = None) -> Candidate:
    """Check a rulebook given as texts keyed by relative path (rule tests under tests/)."""
    limits = limits or Limits()
    rules = {k: v for k, v in files.items() if not k.startswith("tests/")}
    tests_files = {k: v for k, v in files.items() if k.startswith("tests/")}
    result = check_rulebook_texts(rules, root_label=label, limits=limits)
    if not result.ok or result.rulebook is None:
        raise _refuse(result, source)
    tests = run_rule_tests(result.rulebook, tests_files, root_label=label, limits=limits)
    return Candidate(result.rulebook, source, tuple(str(w) for w in result.warnings), tests)


def read_zip(data: bytes, *, limits: Limits | None = None) -> dict[str, str]:
    """Return the YAML files of a zip of a rules directory, keyed by path inside it.

    A single top folder (rules/...) is taken off; hidden files, folders such as
    __MACOSX and anything but .yaml/.yml are skipped; no file is written anywhere. Each
    file's size, and their total, are judged by the zip's directory before anything is
    extracted (`limits`); a zip that cannot be read (a bad checksum, a compression or an
    encryption it does not support) is refused.
    """
    limits = limits or Limits()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise InvalidInput("the upload is not a zip file: zip the rules directory and "
                           "upload that") from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_ZIP_FILES:
        raise InvalidInput(f"the zip holds {len(infos)} files; at most {MAX_ZIP_FILES}")
    files: dict[str, str] = {}
    total = 0
    for info in infos:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or any(
                part.startswith((".", "__MACOSX")) for part in path.parts):
            continue
        if path.suffix not in SUFFIXES:
            continue
        total += info.file_size
        too_big = limits.too_big(info.file_size)
        if too_big:
            raise InvalidInput(f"{path}: {too_big}")
        too_much = limits.too_much(total)
        if too_much:
            raise InvalidInput(too_much)
        try:
            raw = archive.read(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError,
                EOFError, zlib.error) as error:
            # A bad CRC, a compression zipfile lacks (deflate64), the encryption flag.
            raise InvalidInput(f"the upload is not a readable zip ({path}: {error}): zip the "
                               "rules directory again, without a password, and upload that"
                               ) from None
        try:
            files[path.as_posix()] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{path}: this file is not UTF-8 text: save it as UTF-8",
                               problems=[Problem("not UTF-8 text", where=str(path))]) from None
    if not files:
        raise InvalidInput("the zip holds no .yaml or .yml files")
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1 and all("/" in name for name in files):
        top = tops.pop()
        rest = {name[len(top) + 1:]: text for name, text in files.items()}
        if any(not name.startswith("tests/") for name in rest):
            files = rest
    return files


def candidate_dirs(root: str | None) -> list[str]:
    """Return the names of the candidate directories under `root` (the configured place)."""
    if not root or not Path(root).is_dir():
        return []
    return sorted(p.name for p in Path(root).iterdir()
                  if p.is_dir() and not p.name.startswith("."))


def candidate_dir(root: str | None, name: str) -> Path:
    """Return the candidate directory `name` under `root`; refuse anything outside it."""
    if not root:
        raise InvalidInput("no candidate directory is configured on this server "
                           "(RULES_CANDIDATES_DIR): upload a zip instead")
    if name not in candidate_dirs(root):
        raise NotFound(f"no candidate directory {name!r} in {root}")
    return Path(root) / name
