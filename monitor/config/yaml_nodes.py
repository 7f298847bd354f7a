"""Where in jobs.yaml: what YAML accepts but jobs.yaml must not hold (aliases, repeated keys, depth),
refused before any object is built, and the line a key path or a syntax error is on."""

from __future__ import annotations

from typing import Any

import yaml

from monitor.errors import ConfigError

# jobs.yaml is a handful of levels deep; far past that is a mistake or an attack (a recursion bomb).
MAX_DEPTH = 32


_Trail = tuple[Any, str | int] | None  # (parent's trail, key or index): a path without copying it per node


def check_nodes(root: yaml.Node, source: str) -> None:
    """Refuse, in one linear walk before any object is built, what YAML accepts but jobs.yaml must not hold:

    * aliases: an alias is its anchor's node itself, so a node met twice is one. A few nested
      aliases multiply into billions of nodes when built or walked (an alias bomb);
    * a key repeated in one mapping: YAML silently keeps the last, hiding the first from review;
    * nesting deeper than MAX_DEPTH.
    """
    met: set[int] = set()
    # (node, depth, trail, line of its key, or of its sequence's key): popped in document order,
    # so an anchor is met before its aliases.
    stack: list[tuple[yaml.Node, int, _Trail, int]] = [(root, 0, None, root.start_mark.line + 1)]
    while stack:
        node, depth, trail, line = stack.pop()
        if id(node) in met:
            raise _refused(source, trail, line, "a YAML alias (*name) is not allowed here: write the value out")
        met.add(id(node))
        if depth > MAX_DEPTH:
            raise _refused(source, trail, line, f"nested more than {MAX_DEPTH} levels deep")
        children: list[tuple[yaml.Node, int, _Trail, int]] = []
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, Any], int] = {}
            for key, value in node.value:
                key_line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode):
                    if earlier := first.get((key.tag, key.value)):
                        where = (trail, str(key.value))
                        raise _refused(source, where, key_line, f"repeated key (first on line {earlier}): say it once")
                    first[(key.tag, key.value)] = key_line
                children.append((value, depth + 1, (trail, str(key.value)), key_line))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, depth + 1, (trail, i), line) for i, item in enumerate(node.value)]
        stack.extend(reversed(children))


def _refused(source: str, trail: _Trail, line: int, message: str) -> ConfigError:
    path: list[str | int] = []
    while trail is not None:
        trail, part = trail
        path.append(part)
    return ConfigError(source, f"{loc_text(tuple(reversed(path)))} (line {line})", message)


def line_at(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The line of the deepest part of `loc` present in the file (a missing key points at its parent).

    Looked up only when an error is reported: a map of every node's line costs more than the parse.
    """
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def loc_text(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[str, str]:
    """(where, message) on one line for a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None)
    position = getattr(exc, "position", None)
    if mark is not None:
        where = f"line {mark.line + 1}"
    elif isinstance(position, int):  # a reader error: a character YAML does not allow
        where = f"line {text.count(chr(10), 0, position) + 1}"
    else:
        where = ""
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
    return where, f"not valid YAML: {' '.join(str(problem).split())}"
