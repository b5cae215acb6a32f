"""Read one YAML rule file into plain values that remember the line each key and item was on.

Rule authors are not programmers, so this loader is stricter and more talkative than
PyYAML's: duplicate keys are problems (PyYAML silently keeps the last one), dates stay
text (so a bad date is a readable problem, not a crash), and every failure becomes a
(line, message) pair instead of an exception.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"
# Only plain decimals are numbers: YAML 1.1 would read `010` as 8 and `1:30` as 90.
_DECIMAL = re.compile(r"^[-+]?[0-9]+$")


class LineDict(dict[Any, Any]):
    """A YAML mapping: `line` is where it starts, `lines[key]` where each key was written."""

    line: int = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        """Return the line of `key`, or of the mapping itself when the key is absent."""
        return self.lines.get(key, self.line)


class LineList(list[Any]):
    """A YAML sequence: `line` is where it starts, `lines[i]` where item i was written."""

    line: int = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        """Return the line of item `index` (or of the sequence when unknown)."""
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class TooBig(Exception):
    """A file has more YAML nodes or aliases than its limits allow."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class LineLoader(yaml.SafeLoader):
    """A SafeLoader that records lines, reports duplicate keys and leaves dates as text."""

    def __init__(self, stream: str, *, max_nodes: int | None = None,
                 max_aliases: int | None = None, nodes: int = 0) -> None:
        super().__init__(stream)
        self.problems: list[tuple[int, str]] = []
        self.max_nodes, self.max_aliases = max_nodes, max_aliases
        self.nodes, self.aliases = nodes, 0  # `nodes`: read before, in other files

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # Counted as they are composed, before anything is built from them.
        line = self._event_line()
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.max_aliases is not None and self.aliases > self.max_aliases:
                raise TooBig(line, f"more than {self.max_aliases} aliases (*name) in one file "
                             "(setting RULES_MAX_YAML_ALIASES)")
        else:
            self.nodes += 1
            if self.max_nodes is not None and self.nodes > self.max_nodes:
                raise TooBig(line, f"more than {self.max_nodes} YAML values (setting "
                             "RULES_MAX_YAML_NODES, for all the files together): write fewer "
                             "rows")
        return super().compose_node(parent, index)

    def _event_line(self) -> int:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        return int(event.start_mark.line) + 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # Always deep, so that every value is built inside the call that knows its node:
        # a failure then carries the node's line, and recursive aliases are refused.
        try:
            return super().construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except RecursionError:
            raise
        except Exception as exc:  # e.g. `!!int abc` raises ValueError inside PyYAML
            raise ConstructorError(
                None, None, f"cannot read this value ({exc})", node.start_mark
            ) from exc

    def construct_line_list(self, node: SequenceNode) -> Any:
        data = LineList()
        data.line = _line(node)
        data.lines = [_line(item) for item in node.value]
        yield data
        data.extend(self.construct_object(item) for item in node.value)

    def construct_line_dict(self, node: MappingNode) -> Any:
        data = LineDict()
        data.line = _line(node)
        yield data
        # Keys written in this mapping itself; merged (`<<`) keys may legitimately repeat.
        own = [key_node for key_node, _ in node.value if key_node.tag != _MERGE]
        self.flatten_mapping(node)
        first_line: dict[Any, int] = {}
        for key_node in own:
            key = self.construct_object(key_node)
            if not _hashable(key):
                continue
            if key in first_line:
                self.problems.append(
                    (
                        _line(key_node),
                        f"duplicate key {_key(key)} (already written at line {first_line[key]})",
                    )
                )
            else:
                first_line[key] = _line(key_node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node)
            if not _hashable(key):
                self.problems.append(
                    (_line(key_node), "a key must be a single word or value, not a list or mapping")
                )
                continue
            data[key] = self.construct_object(value_node)
            data.lines[key] = _line(key_node)

    def construct_decimal(self, node: ScalarNode) -> Any:
        value = self.construct_scalar(node)
        if _DECIMAL.match(value):
            return int(value, 10)
        return self.construct_yaml_int(node)  # an explicit `!!int 0x1F` keeps its meaning

    def construct_plain_text(self, node: ScalarNode) -> Any:
        # An explicit `!!timestamp` is read as text too, so dates are checked in one place.
        return self.construct_scalar(node)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _key(key: Any) -> str:
    return repr(key) if isinstance(key, str) else repr(str(key))


LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_TIMESTAMP, _INT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
LineLoader.add_implicit_resolver(_INT, _DECIMAL, list("-+0123456789"))
LineLoader.add_constructor(_INT, LineLoader.construct_decimal)
LineLoader.add_constructor("tag:yaml.org,2002:seq", LineLoader.construct_line_list)
LineLoader.add_constructor("tag:yaml.org,2002:map", LineLoader.construct_line_dict)
LineLoader.add_constructor(_TIMESTAMP, LineLoader.construct_plain_text)


def parse_yaml(text: str, *, max_nodes: int | None = None, max_aliases: int | None = None,
               used: list[int] | None = None) -> tuple[Any, list[tuple[int, str]]]:
    """Parse one YAML document; return its value (None on failure) and (line, message) problems.

    `max_nodes`: refuse more nodes than that, with those of `used` (the nodes of the files
    read before, to which this one's are appended); `max_aliases`: refuse a document with
    more aliases. None: no limit.
    """
    loader: LineLoader | None = None
    before = sum(used) if used is not None else 0
    try:
        loader = LineLoader(text, max_nodes=max_nodes, max_aliases=max_aliases, nodes=before)
        data = loader.get_single_data()
    except TooBig as exc:
        return None, [(exc.line, exc.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        found = loader.problems if loader is not None else []
        return None, [*found, (line, f"YAML syntax error: {_describe(exc)}")]
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        return None, [(line, f"YAML syntax error: {exc.reason} (character U+{char:04X})")]
    except RecursionError:
        return None, [(1, "YAML syntax error: the file is nested too deeply")]
    except Exception as exc:  # never let a rule file take the loader down
        return None, [(1, f"YAML syntax error: {exc}")]
    finally:
        if loader is not None:
            if used is not None:
                used.append(loader.nodes - before)
            loader.dispose()
    return data, loader.problems


def _describe(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return ", ".join(parts) if parts else "cannot read this file"
