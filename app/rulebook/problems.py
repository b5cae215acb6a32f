"""Problems found in rule files, the error that carries them, and the result of a check."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.rulebook.model import Rulebook


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong (or worth a warning) in the rule files, at a file and a 1-based line.

    `line` is 0 when the problem is about the whole rules directory (e.g. no scheme file).
    """

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class RulebookError(Exception):
    """The rule files cannot be loaded; `problems` says where and why, all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"the rulebook has {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))


@dataclass
class CheckResult:
    """What `check_rulebook` found: the rulebook when it is valid, and every problem and warning."""

    rulebook: Rulebook | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when there is no problem (warnings do not count)."""
        return not self.problems and self.rulebook is not None


class Sink:
    """Collects problems and warnings while the files are read, labelled `<root>/<file>`."""

    def __init__(self, root_label: str) -> None:
        self.root_label = root_label
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        # Every text read: (file, line, how it is named, the languages it is written in).
        self.texts: list[tuple[str, int, str, tuple[str, ...]]] = []

    def label(self, file: str) -> str:
        """Return how `file` (relative to the rules directory) is named in messages."""
        if not file:
            return self.root_label
        return f"{self.root_label}/{file}" if self.root_label else file

    def error(self, file: str, line: int, message: str) -> None:
        """Record a problem in `file` (relative) at `line`."""
        self.problems.append(Problem(self.label(file), line, message))

    def warn(self, file: str, line: int, message: str) -> None:
        """Record a warning in `file` (relative) at `line`."""
        self.warnings.append(Problem(self.label(file), line, message))

    def text(self, file: str, line: int, label: str, languages: tuple[str, ...]) -> None:
        """Note a text read from `file` at `line`, written in `languages`."""
        self.texts.append((file, line, label, languages))

    def missing_languages(self, wanted: tuple[str, ...]) -> None:
        """Warn, at its file and line, about each text not written in every `wanted` language."""
        like = ", ".join(f"{w}: ..." for w in wanted)
        for file, line, label, languages in self.texts:
            missing = [language for language in wanted if language not in languages]
            if missing:
                self.warn(
                    file,
                    line,
                    f"{label} has no {', '.join(missing)} text (the scheme's languages are "
                    f"{', '.join(wanted)}); write it as {{{like}}}",
                )

    def sorted_problems(self) -> list[Problem]:
        """Return the problems in file, line and message order, without repeats."""
        return _sorted_unique(self.problems)

    def sorted_warnings(self) -> list[Problem]:
        """Return the warnings in file, line and message order, without repeats."""
        return _sorted_unique(self.warnings)


def _sorted_unique(items: list[Problem]) -> list[Problem]:
    return sorted(set(items))  # by file, line, then message
