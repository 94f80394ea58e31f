"""Hand-kept metadata: a CSV manifest and YAML files or sidecars beside the documents.

Both use the same field names (with the aliases users write), so one mapping-to-record
function serves them; a sidecar also knows which file it describes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from ..safeload import LoadError, load_yaml
from .csl import _csl_type
from .record import (
    MAX_SIDECAR_BYTES,
    DocMetadata,
    MetadataError,
    _finish,
    _read_text,
    _split_list,
    log,
    parse_year,
)

FACET_COLUMNS = (
    "topic",
    "country",
    "region",
    "income",
    "phase",
    "setting",
    "evidence_type",
    "evidence_use",
    "level",
    "design",
)
FIELD_COLUMNS = (
    "file",
    "title",
    "authors",
    "year",
    "publisher",
    "doi",
    "abstract",
    "language",
    "keywords",
    "url",
    "item_type",
)
# Other spellings users write in manifests and sidecars for the same fields.
COLUMN_ALIASES = {
    "files": "file",
    "path": "file",
    "filename": "file",
    "author": "authors",
    "keyword": "keywords",
    "tags": "keywords",
    "type": "item_type",
    "date": "year",
    "lang": "language",
}


def sidecar_for(document_path: Path) -> DocMetadata | None:
    """The YAML sidecar of a document (`report.pdf.yaml`, `report.yaml`, `report.yml`), if any.

    Raises MetadataError when a sidecar exists but is not valid YAML or not one mapping.
    """
    document_path = Path(document_path)
    names = [f"{document_path.name}.yaml", f"{document_path.name}.yml"]
    names += [f"{document_path.stem}.yaml", f"{document_path.stem}.yml"]
    for name in names:
        sidecar = document_path.with_name(name)
        if sidecar != document_path and sidecar.is_file():
            return _load_sidecar(sidecar, document_path)
    return None


# ---------------------------------------------------------------- manifest CSV and YAML


def _column(name: object) -> str:
    key = re.sub(r"[\s-]+", "_", str(name or "").strip().lower())
    return COLUMN_ALIASES.get(key, key)


def _mapping_record(
    row: dict, origin: str, warnings: list[str], unknown: set[str] | None = None
) -> DocMetadata | None:
    """A manifest row or YAML mapping (same field names) to a record; None if unusable."""
    values: dict[str, object] = {}
    facets: dict[str, list[str]] = {}
    for raw_key, value in row.items():
        key = _column(raw_key)
        if key == "facets" and isinstance(value, dict):
            for facet, facet_values in value.items():
                facets.setdefault(_column(facet), []).extend(_split_list(facet_values))
        elif key in FACET_COLUMNS:
            facets.setdefault(key, []).extend(_split_list(value))
        elif key in FIELD_COLUMNS:
            values.setdefault(key, value)
        elif unknown is not None and key:
            unknown.add(str(raw_key))
    year_value = values.get("year")
    year = parse_year(year_value)
    if year is None and year_value not in (None, ""):
        shown = str(year_value)[:40]
        warnings.append(f"{origin}: year '{shown}' is not a year in 1800..2100; ignored")
    record = DocMetadata(
        title=_text(values.get("title")),
        authors=_split_list(values.get("authors")),
        year=year,
        publisher=_text(values.get("publisher")),
        doi=_text(values.get("doi")),
        abstract=_text(values.get("abstract")),
        language=_text(values.get("language")),
        keywords=_split_list(values.get("keywords")),
        url=_text(values.get("url")),
        item_type=_csl_type(_text(values.get("item_type"))),
        files=_split_list(values.get("file"), sep="\0"),  # one path per cell: never split
        facets={k: v for k, v in facets.items() if v},
        origin=origin,
    )
    if not (record.files or record.title or record.doi):
        warnings.append(f"{origin}: no file, title or DOI to match on; skipped")
        return None
    return record


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def _read_manifest(text: str, path: Path, warnings: list[str]) -> list[DocMetadata]:
    header_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header or not {"file", "title", "doi"} & {_column(h) for h in header}:
        raise MetadataError(f"{path}: line 1: a manifest needs a header with file, title or doi")
    records: list[DocMetadata] = []
    unknown: set[str] = set()
    for start, row in _csv_rows(reader, path, warnings):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            warnings.append(
                f"{path.name}:{start}: {len(row) - len(header)} cells beyond the header"
            )
        cells = {h: c.strip() for h, c in zip(header, row, strict=False) if h.strip()}
        record = _mapping_record(cells, f"{path.name}:{start}", warnings, unknown)
        if record is not None:
            records.append(record)
    if unknown:
        warnings.append(f"{path.name}: ignored unknown columns: {', '.join(sorted(unknown))}")
    return records


def _csv_rows(reader, path: Path, warnings: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on; a row the csv module rejects is skipped, not fatal."""
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            warnings.append(f"{path.name}:{start}: unreadable CSV row skipped ({exc})")
            start = reader.line_num + 1
            continue
        yield start, row
        start = reader.line_num + 1


def _yaml_load(text: str, path: Path) -> object:
    try:
        return load_yaml(text)
    except LoadError as exc:
        raise MetadataError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise MetadataError(f"{path}: line {line}: invalid YAML: {problem}") from exc


def _read_yaml(text: str, path: Path, warnings: list[str]) -> list[DocMetadata]:
    data = _yaml_load(text, path)
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, dict | list):
        raise MetadataError(f"{path}: line 1: expected a mapping of fields or a list of them")
    items = data if isinstance(data, list) else [data]
    records: list[DocMetadata] = []
    for number, item in enumerate(items, start=1):
        origin = path.name if isinstance(data, dict) else f"{path.name}#{number}"
        if not isinstance(item, dict):
            warnings.append(f"{origin}: not a mapping of fields; skipped")
            continue
        unknown: set[str] = set()
        record = _mapping_record(item, origin, warnings, unknown)
        if unknown:
            warnings.append(f"{origin}: ignored unknown fields: {', '.join(sorted(unknown))}")
        if record is not None:
            records.append(record)
    return records


def _load_sidecar(sidecar: Path, document: Path) -> DocMetadata:
    """A sidecar describes the file beside it, so a record without `file` points at that file."""
    warnings: list[str] = []
    data = _yaml_load(_read_text(sidecar, warnings, MAX_SIDECAR_BYTES), sidecar)
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise MetadataError(f"{sidecar}: line 1: a sidecar must be one mapping of fields")
    if not any(_column(k) == "file" for k in data):
        data = {**data, "file": document.name}
    unknown: set[str] = set()
    record = _mapping_record(data, sidecar.name, warnings, unknown)
    if record is None:
        raise MetadataError(f"{sidecar}: line 1: 'file' is empty; leave it out or name a file")
    if unknown:
        warnings.append(f"{sidecar.name}: ignored unknown fields: {', '.join(sorted(unknown))}")
    record = _finish(record, sidecar.parent, warnings)
    for message in warnings:
        log.warning(message)
    return record
