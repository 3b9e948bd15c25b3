"""YAML for user text (config files, --set and --grid values): PyYAML's safe loader, plus the checks that
make a hostile document one clear error instead of a silent choice or an exhausted machine.

- A key written twice in one mapping is an error naming the key and both lines (PyYAML keeps the last).
- Aliases may not expand a document past MAX_ELEMENTS values (a 500-byte file can otherwise stand for 10^9).
- Nesting deeper than MAX_DEPTH, and texts over MAX_BYTES (a config is a few KiB), are refused before the
  parser, which is pure Python and recursive, spends seconds or its stack on them.
"""
from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 64 * 1024
MAX_DEPTH = 50
MAX_ELEMENTS = 100_000


class YamlProblem(ValueError):
    """The text is YAML but not one nnintro accepts; the message says why (the caller adds where)."""


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present: 10x faster
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise YamlProblem(f"key '{str(key)[:40]}' is written twice (lines {seen[key]} and {line}); keep one")
            seen[key] = line
        return super().construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def _depth_of_brackets(text: str) -> int:
    """The deepest nesting of flow brackets, counted without parsing (the parser itself recurses)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _count(value: Any, depth: int = 0, budget: list[int] | None = None) -> None:
    """Walk the loaded value as consumers will (aliases expanded), stopping at the limits."""
    budget = budget if budget is not None else [MAX_ELEMENTS]
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlProblem(f"holds more than {MAX_ELEMENTS:,} values (aliases counted as expanded); that is not a config")
    if depth > MAX_DEPTH:
        raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _count(child, depth + 1, budget)


def load_yaml(text: str) -> Any:
    """Parse user YAML; raises YamlProblem (or yaml.YAMLError with a mark) with a one-line reason."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(f"is {len(text):,} characters long; at most {MAX_BYTES:,} are read")
    if _depth_of_brackets(text) > MAX_DEPTH or _indent_depth(text) > MAX_DEPTH:
        raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep")
    try:
        value = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError as err:
        raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep") from err
    _count(value)
    return value


def _indent_depth(text: str) -> int:
    """Block nesting, bounded by indentation: the number of distinct indent widths in use."""
    return len({len(line) - len(line.lstrip(" ")) for line in text.splitlines() if line.strip()})
