"""Bibliographic metadata from where users keep it: RIS, BibTeX, CSL-JSON, a CSV manifest, YAML.

A PDF's own metadata is often empty or wrong ("Microsoft Word - draft3.docx"), while the user's
reference manager or a hand-kept manifest knows the real title, authors, year and DOI. This package
reads those exports as the tools actually write them and matches each record to an ingested file:
`record` (the shared shape), one reader module per format (`ris`, `bibtex`, `csl`, `tabular`),
`load` (reader by suffix) and `match` (record to file).

Malformed input policy: one bad record never fails a whole file. A record that cannot be parsed
(an unclosed brace in BibTeX, a RIS record cut short, a CSV row with nothing to match on) is
skipped and described, with file and line, in the `warnings` list of the `MetadataRecords` that
`load_metadata` returns. `MetadataError` is raised only when the file as a whole is unusable: it
does not exist, its suffix is unknown, it is not valid JSON/YAML, or it holds no records at all
in the expected shape.
"""

from __future__ import annotations

from .bibtex import BIB_MONTHS, BIB_TYPES, bib_authors, bib_files
from .latex import latex_to_unicode
from .load import load_metadata
from .match import (
    FUZZ_WORD_CHARS,
    MIN_MAIN_TITLE_CHARS,
    MIN_TITLE_CHARS,
    TITLE_FUZZ,
    dois_in_text,
    main_title,
    match_record,
    normalize_title,
)
from .record import (
    YEAR_RANGE,
    DocMetadata,
    MetadataError,
    MetadataRecords,
    normalize_doi,
    parse_year,
)
from .ris import RIS_TYPES
from .tabular import COLUMN_ALIASES, FACET_COLUMNS, FIELD_COLUMNS, sidecar_for

__all__ = [
    "BIB_MONTHS",
    "BIB_TYPES",
    "COLUMN_ALIASES",
    "FACET_COLUMNS",
    "FIELD_COLUMNS",
    "FUZZ_WORD_CHARS",
    "MIN_MAIN_TITLE_CHARS",
    "MIN_TITLE_CHARS",
    "RIS_TYPES",
    "TITLE_FUZZ",
    "YEAR_RANGE",
    "DocMetadata",
    "MetadataError",
    "MetadataRecords",
    "bib_authors",
    "bib_files",
    "dois_in_text",
    "latex_to_unicode",
    "load_metadata",
    "main_title",
    "match_record",
    "normalize_doi",
    "normalize_title",
    "parse_year",
    "sidecar_for",
]
