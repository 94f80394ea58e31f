"""Strands in and out of files: JSON and CSV exchange, and fields from a Markdown or JSON file."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import fields
from typing import Literal

from synth.ingest.safeload import LoadError, load_json
from synth.safetext import from_spreadsheet_cell, spreadsheet_cell

from .entries import SECTIONS, ToolkitEntry, ToolkitError

CSV_FIELDS = [f.name for f in fields(ToolkitEntry)]
JSON_CELLS = ("padlock_reasons", "contexts", "links")


def entries_to_json(entries: Iterable[ToolkitEntry]) -> str:
    return json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=2) + "\n"


def entries_to_csv(entries: Iterable[ToolkitEntry]) -> str:
    """One row per entry; lists and mappings as JSON in their cell so the file round-trips."""
    out = io.StringIO()
    # CRLF (RFC 4180): the writer then quotes any cell holding a carriage return too
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for entry in entries:
        row = entry.to_json()
        for name in JSON_CELLS:
            row[name] = json.dumps(row[name], ensure_ascii=False)
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: object) -> object:
    """Text cells neutralised against spreadsheet formulas; numbers as they are."""
    if value is None:
        return ""
    return spreadsheet_cell(value) if isinstance(value, str) else value


def entries_from_text(text: str, fmt: Literal["json", "csv"]) -> list[ToolkitEntry]:
    """Parse an export (JSON list or object, or CSV); a bad row names its position."""
    if "\x00" in text:
        raise ToolkitError("binary data, not a JSON or CSV export")
    if fmt == "json":
        rows = _json(text)
        rows = rows if isinstance(rows, list) else [rows]
    else:
        try:
            rows = [
                {k: from_spreadsheet_cell(v) if isinstance(v, str) else v for k, v in row.items()}
                for row in csv.DictReader(io.StringIO(text))
            ]
        except csv.Error as exc:
            raise ToolkitError(f"not valid CSV: {exc}") from None
    entries = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ToolkitError(f"entry {i}: expected an object")
        try:
            entries.append(ToolkitEntry.from_json(row))
        except (ToolkitError, ValueError, TypeError, AttributeError, LoadError) as exc:
            raise ToolkitError(f"entry {i} ({row.get('id') or 'no id'}): {exc}") from None
    return entries


def _json(text: str) -> object:
    """JSON within the depth and number limits of synth.ingest.safeload."""
    try:
        return load_json(text)
    except json.JSONDecodeError as exc:
        raise ToolkitError(f"not valid JSON: {exc}") from None
    except LoadError as exc:
        raise ToolkitError(f"not usable JSON: {exc}") from None


def read_export(data: bytes) -> str:
    """An export file's text: UTF-8, else Windows-1252 (Excel's CSV), never a traceback."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


_HEADINGS = {re.sub(r"[^a-z]", "", title.lower()): name for name, title in SECTIONS.items()}
_HEADINGS |= {re.sub(r"[^a-z]", "", name): name for name in SECTIONS}


def fields_from_markdown(text: str) -> dict[str, str]:
    """Sections of a Markdown file by their '## ' headings (as on the card); '# ' sets the title."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if m := re.match(r"^(#{1,2})\s+(.*?)\s*#*\s*$", line):
            if m.group(1) == "#":
                found["title"] = [m.group(2)]
                current = None
                continue
            current = _HEADINGS.get(re.sub(r"[^a-z]", "", m.group(2).lower()))
            if current is None:
                known = "; ".join(SECTIONS.values())
                raise ToolkitError(f"unknown section '## {m.group(2)}' (sections: {known})")
            found[current] = []
        elif current is not None:
            found[current].append(line)
        elif line.strip():
            raise ToolkitError(f"text before the first '## ' section heading: '{line[:60]}'")
    return {name: "\n".join(lines).strip() for name, lines in found.items()}


def fields_from_file(text: str, suffix: str) -> dict[str, object]:
    """Field values from a JSON object or a Markdown file of sections (`edit ID --from FILE`)."""
    if suffix.lower() == ".json":
        data = _json(text)
        if not isinstance(data, dict):
            raise ToolkitError("a JSON fields file must hold one object of field: value")
        return data
    return dict(fields_from_markdown(text))
