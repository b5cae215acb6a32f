"""What reading a rulebook may cost: bytes per file and in all, YAML nodes and aliases.

A rule file is read by a web worker (an upload to simulate) or a reload; a few megabytes
of YAML rows cost minutes of CPU and gigabytes of memory to build and check. The limits
are checked before a file is read (its size) and while it is parsed (its nodes), and
refuse with a message a rule author can act on. The app sets them from its settings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Caps on one rulebook's files; the defaults are far above any real rulebook's."""

    file_bytes: int = 1024 * 1024  # one file (the sample's largest is about 20 KB)
    total_bytes: int = 4 * 1024 * 1024  # every file of the rulebook (and its rule tests)
    yaml_nodes: int = 50_000  # YAML nodes in all the files (scalars, lists, mappings)
    yaml_aliases: int = 100  # aliases (*name) in one file

    def too_big(self, size: int) -> str | None:
        """Return why a file of `size` bytes is refused, or None."""
        if size > self.file_bytes:
            return (f"this file is {_mb(size)}; a rule file may be at most "
                    f"{_mb(self.file_bytes)} (setting RULES_MAX_FILE_BYTES)")
        return None

    def too_much(self, total: int) -> str | None:
        """Return why files of `total` bytes together are refused, or None."""
        if total > self.total_bytes:
            return (f"the rule files add up to more than {_mb(self.total_bytes)} "
                    "(setting RULES_MAX_BYTES); nothing was read further")
        return None


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 100 * 1024 else f"{size} bytes"
