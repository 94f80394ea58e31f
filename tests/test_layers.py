"""Imports go down the data flow, never back: files, documents, chunks, index, hits, brief.

Every `import` and `from ... import` in src/synth, at module level or inside a function, is read
with `ast` and resolved to the synth package it names; each package may import only the packages
listed for it. A new package must be added here before it can be imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import synth

SRC = Path(synth.__file__).resolve().parent
BASE = {"synth", "synth.models", "synth.safetext"}
ALLOWED: dict[str, set[str]] = {
    "synth": set(),
    "synth.models": set(),
    "synth.safetext": set(),
    "synth.taxonomy": set(),
    "synth.ingest": {"synth.taxonomy"},
    "synth.index": {"synth.taxonomy", "synth.ingest"},
    "synth.search": {"synth.taxonomy", "synth.ingest", "synth.index"},
    "synth.brief": {"synth.taxonomy", "synth.ingest", "synth.index", "synth.search"},
    "synth.toolkit": {
        "synth.taxonomy",
        "synth.ingest",
        "synth.index",
        "synth.search",
        "synth.brief",
    },
    "synth.ui": {
        "synth.taxonomy",
        "synth.ingest",
        "synth.index",
        "synth.search",
        "synth.brief",
        "synth.toolkit",
    },
    "synth.cli": {
        "synth.taxonomy",
        "synth.ingest",
        "synth.index",
        "synth.search",
        "synth.brief",
        "synth.toolkit",
    },
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """The package a module belongs to: synth.index.store -> synth.index."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else "synth"


def imported_modules(source: str, here: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) for every synth import in the source of module `here`."""
    package = here if is_package else here.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("synth")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("synth"):
                found.append((node.lineno, target))
    return found


SOURCES = sorted(SRC.rglob("*.py"))


def test_every_package_is_known():
    layers = {layer_of(module_name(p)) for p in SOURCES}
    assert layers <= set(ALLOWED), f"add these packages to ALLOWED: {layers - set(ALLOWED)}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down_the_flow(path):
    mine = layer_of(module_name(path))
    bad = [
        f"line {line}: {target}"
        for line, target in imported_modules(
            path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"
        )
        if layer_of(target) != mine and target not in BASE and layer_of(target) not in ALLOWED[mine]
    ]
    assert not bad, f"{mine} may not import: {bad}"


def test_the_checker_sees_a_backward_import():
    """The checker itself: relative imports, inside functions too, resolve to their package."""
    source = "from ..index import Index\n\ndef f():\n    from synth.search import search\n"
    targets = [t for _, t in imported_modules(source, "synth.ingest.probe", False)]
    assert targets == ["synth.index", "synth.search"]
    assert all(layer_of(t) not in ALLOWED["synth.ingest"] for t in targets)
