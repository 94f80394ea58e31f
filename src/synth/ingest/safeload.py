"""Bounded readers for untrusted structured text (YAML, JSON) and text cleaning for output.

Every format a user hands synth is read with limits on size, nesting depth, number length and
(for YAML) how far aliases expand, so a crafted file fails with a one-line reason instead of
hanging, exhausting memory or raising a traceback. `printable` and `strip_controls` remove the
characters a terminal or a document format would act on. The limits are listed in the README.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from synth.safetext import INVISIBLE, LINE_BREAKS, invisible_free

# Deepest nesting accepted in JSON or YAML (CSL-JSON and toolkit exports nest about 5 deep).
MAX_DEPTH = 64
# Longest integer literal read as a number; longer ones stay text (a 6,000-digit "year").
MAX_INT_DIGITS = 32
# YAML nodes after expanding every alias: a "billion laughs" needs 10^9, real metadata hundreds.
MAX_YAML_NODES = 100_000


class LoadError(ValueError):
    """Structured text that cannot be read within the limits; the message is the reason."""


# ---------------------------------------------------------------- JSON


def _json_int(text: str) -> int | str:
    digits = text.lstrip("-")
    return text if len(digits) > MAX_INT_DIGITS else int(text)


def load_json(text: str) -> Any:
    """json.loads with a depth limit and over-long integers kept as text.

    Raises LoadError for nesting past MAX_DEPTH; json.JSONDecodeError for malformed JSON.
    """
    try:
        data = json.loads(text, parse_int=_json_int)
    except RecursionError:
        raise LoadError(f"nested deeper than {MAX_DEPTH} levels") from None
    check_depth(data)
    return data


def check_depth(data: Any, limit: int = MAX_DEPTH) -> None:
    """Raise LoadError when lists and mappings nest deeper than `limit` (checked iteratively)."""
    stack = [(data, 1)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            raise LoadError(f"nested deeper than {limit} levels")
        if id(item) in seen:  # YAML aliases share objects: walk each once
            continue
        seen.add(id(item))
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)


# ---------------------------------------------------------------- YAML


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses alias bombs and deep nesting before building any object."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_nodes(node)
        return super().construct_document(node)


def _yaml_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | str:
    value = str(node.value)
    if len(re.sub(r"[^0-9a-fA-F]", "", value)) > MAX_INT_DIGITS:
        return value
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


def _check_nodes(root: yaml.Node) -> None:
    """Count nodes as if every alias were copied out, and the depth, without recursion."""
    sizes: dict[int, int] = {}
    # (node, depth, children done?) in post-order; a node on the current path again is a cycle
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if depth > MAX_DEPTH:
            raise LoadError(f"nested deeper than {MAX_DEPTH} levels")
        children = _children(node)
        if done:
            path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_YAML_NODES:
                raise LoadError(f"aliases expand to more than {MAX_YAML_NODES:,} values")
            continue
        if key in sizes:
            continue
        if key in path:
            raise LoadError("an alias refers to itself")
        path.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _flow_depth(text: str) -> int:
    """Deepest nesting of [ ] and { } outside quoted strings and comments (a fast upper look)."""
    text = re.sub(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|#[^\n]*", "", text)
    depth = deepest = 0
    for char in re.findall(r"[\[\]{}]", text):
        depth = depth + 1 if char in "[{" else max(0, depth - 1)
        deepest = max(deepest, depth)
    return deepest


def load_yaml(text: str) -> Any:
    """yaml.safe_load with alias expansion, depth and integer length limits.

    Raises LoadError past a limit, yaml.YAMLError for malformed YAML.
    """
    if _flow_depth(text) > MAX_DEPTH:  # PyYAML would recurse thousands of levels first
        raise LoadError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise LoadError(f"nested deeper than {MAX_DEPTH} levels") from None


# ---------------------------------------------------------------- text for output

_LINE_BREAKS = re.compile(f"[{LINE_BREAKS}]+")


def escape_controls(json_text: str) -> str:
    """JSON text with raw control, bidi and zero-width characters written as \\u escapes (still
    valid JSON: outside strings JSON has none of them); lossless for programs, inert on screen."""
    return INVISIBLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", json_text)


def strip_controls(text: str, keep: str = "") -> str:
    """Text without control, bidi and zero-width characters (escape sequences lose their ESC);
    tabs, newlines and the characters in `keep` stay."""
    return invisible_free(text, keep)


def printable(text: object) -> str:
    """One line of text safe to print: invisible characters dropped, line breaks as spaces."""
    return invisible_free(_LINE_BREAKS.sub(" ", str(text)))


def quoted_name(name: object) -> str:
    """A file name for a report line: as it is when plain, else JSON-quoted with escapes, so
    a name holding a newline or an escape sequence cannot forge or repaint a line."""
    text = str(name)
    if printable(text) == text and '"' not in text:
        return text
    return escape_controls(_escape_breaks(json.dumps(text, ensure_ascii=False)))


def _escape_breaks(text: str) -> str:
    return _LINE_BREAKS.sub(lambda m: "".join(f"\\u{ord(c):04x}" for c in m.group(0)), text)
