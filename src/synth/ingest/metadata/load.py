"""Reading a metadata file: pick the reader by suffix, then tidy every record it returns.

Kept apart from the readers so each reader only parses; decoding and tidying happen once,
here. Warnings are returned with the records, not logged: the caller shows them once (the CLI
printed each twice when this logged them as well).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .bibtex import _read_bibtex
from .csl import _read_csl_json
from .record import DocMetadata, MetadataError, MetadataRecords, _finish, _read_text
from .ris import _read_ris
from .tabular import _read_manifest, _read_yaml

_READERS: dict[str, Callable[[str, Path, list[str]], list[DocMetadata]]] = {
    ".ris": _read_ris,
    ".bib": _read_bibtex,
    ".bibtex": _read_bibtex,
    ".json": _read_csl_json,
    ".csv": _read_manifest,
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
}


def load_metadata(path: str | Path) -> MetadataRecords:
    """Read every record of a metadata file, choosing the reader by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        known = ", ".join(sorted(_READERS))
        raise MetadataError(f"{path}: unsupported metadata file type '{suffix}' (use {known})")
    if not path.is_file():
        raise MetadataError(f"{path}: file not found")
    warnings: list[str] = []
    text = _read_text(path, warnings)
    records = [_finish(r, path.parent, warnings) for r in reader(text, path, warnings)]
    return MetadataRecords(records, warnings)
