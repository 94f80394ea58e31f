"""The record every reader produces, and the helpers all readers share.

DocMetadata is the one shape a RIS, BibTeX, CSL-JSON, CSV or YAML record becomes, so the
index and the facets never need to know which tool the user exported from.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from pathlib import Path, PureWindowsPath
from urllib.parse import unquote, urlparse

from ..pages import clip

# One logger for the whole package, named as before the split.
log = logging.getLogger(__package__)

YEAR_RANGE = (1800, 2100)
# Largest metadata file read (a 10,000-reference CSL-JSON export is about 20 MB), and the largest
# YAML sidecar (one record: a few kB); pure-Python YAML reads about 1 MB a second.
MAX_METADATA_BYTES = 64 * 1024 * 1024
MAX_SIDECAR_BYTES = 1024 * 1024


@dataclass
class DocMetadata:
    """One bibliographic record, in the same shape whatever format it was read from."""

    title: str = ""
    authors: list[str] = field(default_factory=list)  # "Family, Given" where the source says so
    year: int | None = None
    publisher: str = ""  # publisher / institution / journal (container)
    doi: str = ""  # bare, lowercase, no https://doi.org/ prefix
    abstract: str = ""
    language: str = ""
    keywords: list[str] = field(default_factory=list)
    url: str = ""
    item_type: str = ""  # CSL type names: report, article-journal, book, thesis, webpage...
    files: list[str] = field(default_factory=list)  # attachment paths as written in the export
    facets: dict[str, list[str]] = field(default_factory=dict)
    origin: str = ""  # "manifest.csv:3", "library.ris:12" (file name and line or item number)
    # `files` made absolute (relative ones against the metadata file's folder) at load time,
    # so match_record can compare real paths; "" where a path cannot be resolved (URLs).
    resolved_files: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> DocMetadata:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class MetadataError(ValueError):
    """A metadata file that cannot be used at all; the message names the file and line."""


class MetadataRecords(list[DocMetadata]):
    """The records of one file plus the warnings about records that were skipped or repaired."""

    def __init__(self, records: Iterable[DocMetadata] = (), warnings: Iterable[str] = ()):
        super().__init__(records)
        self.warnings: list[str] = list(warnings)


def normalize_doi(value: str) -> str:
    """A bare lowercase DOI from `https://doi.org/10...`, `doi:10...`, `dx .doi.org/...`, or ''."""
    value = re.sub(r"\s+", "", unquote(value or "")).lower()
    match = re.search(r"10\.\d{4,9}/\S+", value)
    return _trim_doi(match.group(0)) if match else ""


def parse_year(value: object) -> int | None:
    """The first 4-digit group of a date-like value if it is a plausible publication year."""
    if isinstance(value, date):
        value = value.year
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value) if abs(value) < 10**9 else ""
    if not isinstance(value, str):
        return None
    match = re.search(r"(?<!\d)(\d{4})(?!\d)", value)
    if not match:
        return None
    year = int(match.group(1))
    return year if YEAR_RANGE[0] <= year <= YEAR_RANGE[1] else None


# ---------------------------------------------------------------- shared helpers


def _read_text(path: Path, warnings: list[str], max_bytes: int | None = None) -> str:
    max_bytes = MAX_METADATA_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise MetadataError(f"{path}: too large ({size:,} bytes > limit {max_bytes:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise MetadataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # EndNote on Windows can write UTF-16
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        warnings.append(f"{path.name} line {line}: not UTF-8; read as Windows-1252")
        return data.decode("cp1252", errors="replace")


def _finish(record: DocMetadata, base: Path, warnings: list[str]) -> DocMetadata:
    """Tidy a freshly read record: trimmed text, bare DOI, unique keywords, resolved files."""
    record.title = clip(_clean(record.title))
    record.publisher = _clean(record.publisher)
    record.abstract = record.abstract.replace("\r\n", "\n").strip()
    record.language = _clean(record.language)
    record.url = record.url.strip()
    record.authors = _unique(_clean(a) for a in record.authors if not _NOT_A_NAME.match(a))
    record.keywords = _unique(_clean(k) for k in record.keywords)
    raw_doi = record.doi
    record.doi = normalize_doi(raw_doi)
    if raw_doi.strip() and not record.doi:
        warnings.append(f"{record.origin}: '{raw_doi.strip()}' is not a DOI; ignored")
    record.files = [f.strip() for f in record.files if f and f.strip()]
    record.resolved_files = [_resolve_file(f, base) for f in record.files]
    return record


_NOT_A_NAME = re.compile(r"^\s*(and others|others|et al\.?)\s*$", re.I)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return out


def _trim_doi(doi: str) -> str:
    """Drop punctuation that ends the sentence around a DOI, keeping balanced brackets."""
    while doi and doi[-1] in ".,;:'\"]>}":
        doi = doi[:-1]
    while doi.endswith(")") and doi.count(")") > doi.count("("):
        doi = doi[:-1]
    return doi


def _resolve_file(value: str, base: Path) -> str:
    """An absolute local path for an attachment as exported, or '' for URLs and opaque ids."""
    if value.lower().startswith("file:"):
        parsed = urlparse(value)
        local = unquote(parsed.path)
        if re.match(r"^/[A-Za-z]:[/\\]", local):  # file:///C:/... -> C:/...
            local = local[1:]
        value = local
    elif re.match(r"^[A-Za-z][\w+.-]+://", value):  # http://, internal-pdf://, zotero://
        return ""
    candidate = Path(value).expanduser()
    if PureWindowsPath(value).drive and not candidate.is_absolute():
        return ""  # a Windows path read on another system: nothing to resolve against
    if not candidate.is_absolute():
        candidate = base / candidate
    try:
        return str(candidate.resolve())
    except (OSError, RuntimeError):  # a symlink loop or an unreadable folder on the way
        return str(candidate.absolute())


def _basename(value: str) -> str:
    value = unquote(value) if value.lower().startswith("file:") else value
    return re.split(r"[\\/]", value.rstrip("\\/"))[-1]


def _split_list(value: object, sep: str = ";") -> list[str]:
    """Items of a YAML list, or of a `;`-separated string."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [part.strip() for part in str(value).split(sep) if part.strip()]


def _pick_publisher(item_type: str, publishers: list[str], containers: list[str]) -> str:
    """Journal articles are known by their journal; reports and books by who published them."""
    publishers = [p for p in publishers if p and p.strip()]
    containers = [c for c in containers if c and c.strip()]
    order = containers + publishers
    if not item_type.startswith("article"):
        order = publishers + containers
    return order[0] if order else ""
