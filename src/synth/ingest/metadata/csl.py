"""CSL-JSON reader (Zotero, Mendeley, citeproc exports).

CSL names, dates and types are structured differently from the other formats; this module
maps them onto DocMetadata.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..safeload import LoadError, load_json
from .record import DocMetadata, MetadataError, _pick_publisher, parse_year


def _read_csl_json(text: str, path: Path, warnings: list[str]) -> list[DocMetadata]:
    try:
        data = load_json(text)
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    except LoadError as exc:
        raise MetadataError(f"{path}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    elif isinstance(data, dict) and ("title" in data or "type" in data):
        data = [data]
    if not isinstance(data, list):
        raise MetadataError(f"{path}: line 1: expected a CSL-JSON array or {{'items': [...]}}")
    records = []
    for number, item in enumerate(data, start=1):
        origin = f"{path.name}#{number}"
        if not isinstance(item, dict):
            warnings.append(f"{origin}: item is not an object; skipped")
            continue
        records.append(_csl_record(item, origin))
    return records


def _csl_record(item: dict, origin: str) -> DocMetadata:
    item_type = _csl_type(str(item.get("type") or ""))
    return DocMetadata(
        title=_csl_text(item.get("title")),
        authors=[n for n in (_csl_name(a) for a in _as_list(item.get("author"))) if n],
        year=_csl_year(item.get("issued")),
        publisher=_pick_publisher(
            item_type,
            [_csl_text(item.get("publisher")), _csl_text(item.get("authority"))],
            [_csl_text(item.get("container-title"))],
        ),
        doi=_csl_text(item.get("DOI") or item.get("doi")),
        abstract=_csl_text(item.get("abstract")),
        language=_csl_text(item.get("language")),
        keywords=_csl_keywords(item.get("keyword")),
        url=_csl_text(item.get("URL") or item.get("url")),
        item_type=item_type,
        origin=origin,
    )


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _csl_text(value: object) -> str:
    if isinstance(value, list):  # some exporters write container-title as a list
        value = value[0] if value else ""
    return "" if value is None else str(value)


def _csl_type(value: str) -> str:
    value = value.strip().lower()
    return {"journal-article": "article-journal", "book-chapter": "chapter"}.get(value, value)


def _csl_name(name: object) -> str:
    if isinstance(name, str):
        return name
    if not isinstance(name, dict):
        return ""
    if name.get("literal"):
        return str(name["literal"])
    family = " ".join(
        str(name[k]) for k in ("non-dropping-particle", "family") if name.get(k)
    ).strip()
    given = " ".join(str(name[k]) for k in ("given", "dropping-particle") if name.get(k)).strip()
    parts = [p for p in (family, given, str(name.get("suffix") or "")) if p]
    return ", ".join(parts)


def _csl_year(issued: object) -> int | None:
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return parse_year(str(parts[0][0]))
        return parse_year(str(issued.get("raw") or issued.get("literal") or ""))
    return parse_year(issued if isinstance(issued, str | int) else "")


def _csl_keywords(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return re.split(r"\s*[,;]\s*", str(value or ""))
