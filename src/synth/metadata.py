"""Bibliographic metadata from where users keep it: RIS, BibTeX, CSL-JSON, a CSV manifest, YAML.

A PDF's own metadata is often empty or wrong ("Microsoft Word - draft3.docx"), while the user's
reference manager or a hand-kept manifest knows the real title, authors, year and DOI. This module
reads those exports as the tools actually write them and matches each record to an ingested file.

Malformed input policy: one bad record never fails a whole file. A record that cannot be parsed
(an unclosed brace in BibTeX, a RIS record cut short, a CSV row with nothing to match on) is
skipped and described, with file and line, in the `warnings` list of the `MetadataRecords` that
`load_metadata` returns. `MetadataError` is raised only when the file as a whole is unusable: it
does not exist, its suffix is unknown, it is not valid JSON/YAML, or it holds no records at all
in the expected shape.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from functools import lru_cache
from pathlib import Path, PureWindowsPath
from urllib.parse import unquote, urlparse

import yaml

log = logging.getLogger(__name__)

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
TITLE_FUZZ = 0.92
# A fuzzy title match may differ in punctuation, short words or a misspelling, never in a
# content word: "... in Kenya" and "... in Ghana" score 0.96 but are different works.
FUZZ_WORD_CHARS = 3
MIN_TITLE_CHARS = 12
# A main title without its subtitle must be this long to identify a work on its own.
MIN_MAIN_TITLE_CHARS = 30  # shorter normalised titles ("Contents", "Report") never match on title
YEAR_RANGE = (1800, 2100)


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


# ---------------------------------------------------------------- public entry points


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
    for message in warnings:
        log.warning(message)
    return MetadataRecords(records, warnings)


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


def match_record(
    records: list[DocMetadata], path: Path, title: str = "", text_head: str = ""
) -> DocMetadata | None:
    """The record for an ingested file: by attachment path, then DOI in the text, then title.

    Every step must be unambiguous: when several different records fit equally, the next step
    narrows them down, and if nothing does the answer is None rather than a guess. Several
    different record DOIs in `text_head` look like a reference list, so they count as no match.
    """
    by_file = _match_file(records, Path(path))
    if len(by_file) == 1:
        return by_file[0]
    pool = by_file or records
    by_doi = _match_doi(pool, text_head)
    if len(by_doi) == 1:
        return by_doi[0]
    for candidates in (by_doi, pool):
        by_title = _match_title(candidates, title)
        if len(by_title) == 1:
            return by_title[0]
    return None


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
        value = str(value)
    if not isinstance(value, str):
        return None
    match = re.search(r"(?<!\d)(\d{4})(?!\d)", value)
    if not match:
        return None
    year = int(match.group(1))
    return year if YEAR_RANGE[0] <= year <= YEAR_RANGE[1] else None


@lru_cache(maxsize=16384)
def main_title(title: str) -> str:
    """The title before its subtitle (after ':', ' - ', an en or em dash, or '?')."""
    return re.split(r":|\s[-\u2013\u2014]\s|\?", title or "", maxsplit=1)[0]


def normalize_title(title: str) -> str:
    """Lowercase ASCII words only, so punctuation, accents and spacing do not block a match."""
    text = unicodedata.normalize("NFKD", title or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    return " ".join(re.findall(r"[^\W_]+", text))


# ---------------------------------------------------------------- shared helpers


def _read_text(path: Path, warnings: list[str]) -> str:
    try:
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
    record.title = _clean(record.title)
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


# ---------------------------------------------------------------- RIS

RIS_TYPES = {
    "JOUR": "article-journal",
    "JFULL": "article-journal",
    "EJOUR": "article-journal",
    "ABST": "article-journal",
    "INPR": "article-journal",
    "MGZN": "article-magazine",
    "NEWS": "article-newspaper",
    "RPRT": "report",
    "GOVDOC": "report",
    "BOOK": "book",
    "EBOOK": "book",
    "EDBOOK": "book",
    "SER": "book",
    "CHAP": "chapter",
    "ECHAP": "chapter",
    "THES": "thesis",
    "CONF": "paper-conference",
    "CPAPER": "paper-conference",
    "ELEC": "webpage",
    "WEB": "webpage",
    "BLOG": "post-weblog",
    "DATA": "dataset",
    "AGGR": "dataset",
    "UNPB": "manuscript",
    "MANSCPT": "manuscript",
    "PAMP": "pamphlet",
    "PAT": "patent",
    "COMP": "software",
    "MAP": "map",
    "DICT": "entry-dictionary",
    "ENCYC": "entry-encyclopedia",
    "PCOMM": "personal_communication",
    "CASE": "legal_case",
    "STAT": "legislation",
    "BILL": "bill",
    "GEN": "document",
}
_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9]) ( ?)-(?: (.*)|\s*)$")
_RIS_KNOWN = set(
    re.findall(
        r"\w\w",
        "TY ER AU A1 A2 A3 A4 TI T1 T2 T3 BT CT ST PY Y1 Y2 DA AB N1 N2 KW DO UR L1 L2 L3 L4 PB JO "
        "JF JA J1 J2 LA CY SN VL IS SP EP ET M1 M2 M3 ID U1 U2 U3 U4 U5 AV AN DB DP CA C1 C2 C3 "
        "RP OP AD ED LB NV RN SE TA TT",
    )
)
_RIS_JOIN_NEWLINE = {"AB", "N2", "N1"}
_RIS_SPLIT_CONTINUATION = {"KW"}  # EPPI-Reviewer puts one keyword per continuation line


def _ris_lines(text: str, path: Path, warnings: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line number, tag, value) with continuation lines folded into the previous tag."""
    tag = ""
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.replace("\ufeff", "").rstrip()
        match = _RIS_TAG.match(line)
        if match and (match.group(2) or match.group(1) in _RIS_KNOWN):
            tag = match.group(1)
            yield number, tag, (match.group(3) or "").strip()
        elif line.strip():
            if tag:
                yield number, f"+{tag}", line.strip()
            else:
                warnings.append(f"{path.name} line {number}: text outside a RIS record ignored")


def _read_ris(text: str, path: Path, warnings: list[str]) -> list[DocMetadata]:
    records: list[DocMetadata] = []
    current: dict[str, list[str]] | None = None
    start = 0
    for number, tag, value in _ris_lines(text, path, warnings):
        if tag == "TY":
            if current is not None:
                warnings.append(
                    f"{path.name} line {start}: RIS record has no ER line; ended at line {number}"
                )
                records.append(_ris_record(current, f"{path.name}:{start}"))
            current, start = {"TY": [value]}, number
        elif current is None:
            if tag != "ER" and not tag.startswith("+"):
                warnings.append(f"{path.name} line {number}: {tag} line outside a record ignored")
        elif tag == "ER":
            records.append(_ris_record(current, f"{path.name}:{start}"))
            current = None
        elif tag.startswith("+"):
            _ris_continue(current, tag[1:], value)
        else:
            current.setdefault(tag, []).append(value)
    if current is not None:
        warnings.append(f"{path.name} line {start}: last RIS record has no ER line; kept")
        records.append(_ris_record(current, f"{path.name}:{start}"))
    if not records and text.strip():
        raise MetadataError(f"{path}: line 1: no RIS records (no 'TY  - ' line found)")
    return records


def _ris_continue(record: dict[str, list[str]], tag: str, value: str) -> None:
    values = record.setdefault(tag, [""])
    if tag in _RIS_SPLIT_CONTINUATION:
        values.append(value)
    else:
        joiner = "\n" if tag in _RIS_JOIN_NEWLINE else " "
        values[-1] = f"{values[-1]}{joiner}{value}" if values[-1] else value


def _ris_record(tags: dict[str, list[str]], origin: str) -> DocMetadata:
    def first(*names: str) -> str:
        for name in names:
            for value in tags.get(name, []):
                if value.strip():
                    return value
        return ""

    def every(*names: str) -> list[str]:
        return [v for name in names for v in tags.get(name, []) if v.strip()]

    item_type = RIS_TYPES.get(first("TY").strip().upper(), "document")
    urls = [u for value in every("UR") for u in re.sub(r"://\s+", "://", value).split()]
    doi_candidates = every("DO") + urls + every("M3", "L2")
    doi = next((d for d in doi_candidates if normalize_doi(d)), first("DO"))
    years = [y for y in (parse_year(v) for v in every("PY", "Y1", "DA")) if y]
    title = first("TI", "T1", "CT") or (first("BT") if item_type == "book" else "")
    return DocMetadata(
        title=title,
        authors=every("AU", "A1") or every("A2"),
        year=years[0] if years else None,
        publisher=_pick_publisher(
            item_type, every("PB"), every("JF", "T2", "JO", "JA", "J1", "J2")
        ),
        doi=doi,
        abstract=first("AB", "N2"),
        language=first("LA"),
        keywords=every("KW"),
        url=urls[0] if urls else "",
        item_type=item_type,
        files=every("L1", "L4"),
        origin=origin,
    )


# ---------------------------------------------------------------- BibTeX

BIB_TYPES = {
    "article": "article-journal",
    "book": "book",
    "mvbook": "book",
    "booklet": "pamphlet",
    "inbook": "chapter",
    "incollection": "chapter",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "proceedings": "book",
    "collection": "book",
    "manual": "report",
    "techreport": "report",
    "report": "report",
    "mastersthesis": "thesis",
    "phdthesis": "thesis",
    "thesis": "thesis",
    "online": "webpage",
    "electronic": "webpage",
    "www": "webpage",
    "unpublished": "manuscript",
    "dataset": "dataset",
    "software": "software",
    "patent": "patent",
    "misc": "document",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
BIB_MONTHS = {m: str(i) for i, m in enumerate(_MONTHS, start=1)}
_BIB_AT = re.compile(r"@[ \t]*([A-Za-z][\w-]*)\s*([{(])")
_BIB_NEXT_ENTRY = re.compile(r"^[ \t]*@[ \t]*[A-Za-z][\w-]*\s*[{(]", re.M)
_BIB_NAME = re.compile(r"[^\s,={}()\"#%'~]+")


class _BibSyntaxError(Exception):
    def __init__(self, pos: int, message: str):
        super().__init__(message)
        self.pos = pos
        self.message = message


@dataclass
class _BibEntry:
    entry_type: str
    key: str
    fields: dict[str, str]
    line: int


class _BibParser:
    """A small BibTeX reader: entries, @string macros, `#` concatenation, nested braces.

    Values stay raw LaTeX here; decoding happens per field, because URLs, DOIs and file paths
    must not have `--` or `~` rewritten.
    """

    def __init__(self, text: str, name: str, warnings: list[str]):
        self.text = text
        self.name = name
        self.warnings = warnings
        self.macros: dict[str, str] = dict(BIB_MONTHS)
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line(self, pos: int) -> int:
        lo, hi = 0, len(self.line_starts)
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if self.line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid
        return lo + 1

    def entries(self) -> Iterator[_BibEntry]:
        pos = 0
        while (at := self.text.find("@", pos)) >= 0:
            match = _BIB_AT.match(self.text, at)
            if not match:
                pos = at + 1  # an @ in free text between entries (an e-mail address)
                continue
            kind, closer = match.group(1).lower(), "}" if match.group(2) == "{" else ")"
            try:
                entry, pos = self._dispatch(kind, closer, match.end(), at)
            except _BibSyntaxError as exc:
                self.warnings.append(
                    f"{self.name} line {self.line(exc.pos)}: skipped @{kind} entry starting on "
                    f"line {self.line(at)}: {exc.message}"
                )
                pos = self._next_entry(at + 1)
                continue
            if entry is not None:
                yield entry

    def _dispatch(self, kind: str, closer: str, pos: int, at: int) -> tuple[_BibEntry | None, int]:
        if kind == "comment":
            return None, self._skip_comment(pos, closer)
        if kind == "preamble":
            _, end = self._value(pos)
            return None, self._expect_close(end, closer)
        if kind == "string":
            name, value, end = self._field(pos)
            self.macros[name] = value
            return None, self._expect_close(end, closer)
        return self._entry(kind, closer, pos, at)

    def _next_entry(self, pos: int) -> int:
        match = _BIB_NEXT_ENTRY.search(self.text, pos)
        return match.start() if match else len(self.text)

    def _skip_ws(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos].isspace():
            pos += 1
        return pos

    def _skip_comment(self, pos: int, closer: str) -> int:
        try:
            _, end = self._braced(pos - 1) if closer == "}" else (None, pos)
            return end
        except _BibSyntaxError:
            newline = self.text.find("\n", pos)
            return len(self.text) if newline < 0 else newline + 1

    def _expect_close(self, pos: int, closer: str) -> int:
        pos = self._skip_ws(pos)
        if pos < len(self.text) and self.text[pos] == ",":
            pos = self._skip_ws(pos + 1)
        if pos >= len(self.text) or self.text[pos] != closer:
            raise _BibSyntaxError(pos, f"expected '{closer}'")
        return pos + 1

    def _entry(self, kind: str, closer: str, pos: int, at: int) -> tuple[_BibEntry, int]:
        pos = self._skip_ws(pos)
        key_match = re.compile(r"[^\s,{}()=]*").match(self.text, pos)
        key = key_match.group(0) if key_match else ""
        after = self._skip_ws(pos + len(key))
        if after < len(self.text) and self.text[after] == "=":
            key, after = "", pos  # no citation key: the first word was a field name
        elif after < len(self.text) and self.text[after] == ",":
            after += 1
        fields_: dict[str, str] = {}
        pos = after
        while True:
            pos = self._skip_ws(pos)
            if pos >= len(self.text) or _BIB_NEXT_ENTRY.match(self.text, pos):
                raise _BibSyntaxError(pos, f"entry '{key}' is not closed with '{closer}'")
            if self.text[pos] == closer:
                return _BibEntry(kind, key, fields_, self.line(at)), pos + 1
            if self.text[pos] == ",":
                pos += 1
                continue
            name, value, pos = self._field(pos)
            if name in fields_:
                self.warnings.append(
                    f"{self.name} line {self.line(pos)}: duplicate field '{name}' in '{key}'; "
                    "kept the first"
                )
            else:
                fields_[name] = value
            pos = self._skip_ws(pos)
            if pos < len(self.text) and self.text[pos] not in f",{closer}":
                raise _BibSyntaxError(pos, f"expected ',' or '{closer}' after field '{name}'")

    def _field(self, pos: int) -> tuple[str, str, int]:
        pos = self._skip_ws(pos)
        match = _BIB_NAME.match(self.text, pos)
        if not match:
            raise _BibSyntaxError(pos, "expected a field name")
        name = match.group(0).lower()
        pos = self._skip_ws(match.end())
        if pos >= len(self.text) or self.text[pos] != "=":
            raise _BibSyntaxError(pos, f"expected '=' after '{name}'")
        value, pos = self._value(self._skip_ws(pos + 1))
        return name, value, pos

    def _value(self, pos: int) -> tuple[str, int]:
        parts: list[str] = []
        while True:
            pos = self._skip_ws(pos)
            char = self.text[pos] if pos < len(self.text) else ""
            if char == "{":
                part, pos = self._braced(pos)
            elif char == '"':
                part, pos = self._quoted(pos)
            elif char.isdigit():
                match = re.compile(r"\d+").match(self.text, pos)
                part, pos = match.group(0), match.end()
            elif match := _BIB_NAME.match(self.text, pos):
                part, pos = self._macro(match.group(0), pos), match.end()
            else:
                raise _BibSyntaxError(pos, "expected a value")
            parts.append(part)
            pos = self._skip_ws(pos)
            if pos < len(self.text) and self.text[pos] == "#":
                pos += 1
                continue
            return "".join(parts), pos

    def _macro(self, name: str, pos: int) -> str:
        if name.lower() not in self.macros:
            self.warnings.append(
                f"{self.name} line {self.line(pos)}: undefined @string macro '{name}'; left empty"
            )
        return self.macros.get(name.lower(), "")

    def _braced(self, pos: int) -> tuple[str, int]:
        """The text inside balanced braces starting at text[pos] == '{'."""
        return self._scan(pos, pos + 1, stop_at_quote=False)

    def _quoted(self, pos: int) -> tuple[str, int]:
        return self._scan(pos, pos + 1, stop_at_quote=True)

    def _scan(self, open_pos: int, pos: int, stop_at_quote: bool) -> tuple[str, int]:
        depth = 0 if stop_at_quote else 1
        text = self.text
        start = pos
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                pos += 2  # \{ \} \" are literal characters, not structure
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0 and not stop_at_quote:
                    return text[start:pos], pos + 1
                if depth < 0:
                    raise _BibSyntaxError(pos, "unbalanced '}' in quoted value")
            elif char == '"' and stop_at_quote and depth == 0:
                return text[start:pos], pos + 1
            elif char == "\n" and _BIB_NEXT_ENTRY.match(text, pos + 1):
                what = "quote" if stop_at_quote else "brace"
                raise _BibSyntaxError(
                    open_pos,
                    f"unclosed {what} (the next entry starts on line {self.line(pos + 1)})",
                )
            pos += 1
        raise _BibSyntaxError(open_pos, "unclosed value at end of file")


def _read_bibtex(text: str, path: Path, warnings: list[str]) -> list[DocMetadata]:
    parser = _BibParser(text, path.name, warnings)
    records = [_bib_record(e, f"{path.name}:{e.line}") for e in parser.entries()]
    if not records and not _BIB_AT.search(text) and text.strip():
        raise MetadataError(f"{path}: line 1: no BibTeX entries (no '@type{{key, ...}}' found)")
    return records


def _bib_record(entry: _BibEntry, origin: str) -> DocMetadata:
    f = entry.fields
    item_type = BIB_TYPES.get(entry.entry_type, "document")
    text = {k: latex_to_unicode(v) for k, v in f.items() if k not in ("url", "doi", "file")}
    url = _bib_plain(f.get("url", "")) or _bib_url_in(f.get("howpublished", ""))
    doi = _bib_plain(f.get("doi", "")) or (url if normalize_doi(url) else "")
    publishers = [text.get(k, "") for k in ("publisher", "institution", "school", "organization")]
    containers = [text.get(k, "") for k in ("journal", "journaltitle", "booktitle")]
    return DocMetadata(
        title=text.get("title", ""),
        authors=bib_authors(f.get("author", "")),
        year=parse_year(f.get("year", "")) or parse_year(f.get("date", "")),
        publisher=_pick_publisher(item_type, publishers, containers),
        doi=doi,
        abstract=text.get("abstract", ""),
        language=text.get("language", "") or text.get("langid", ""),
        keywords=re.split(r"\s*[,;]\s*", text.get("keywords", "")),
        url=url,
        item_type=item_type,
        files=bib_files(f.get("file", "")),
        origin=origin,
    )


def _bib_plain(value: str) -> str:
    """URLs and DOIs are verbatim except for escaped specials some exporters add."""
    value = re.sub(r"\\url\{([^}]*)\}", r"\1", value)
    return re.sub(r"\\([_%&#$~])", r"\1", value).strip().strip("{}")


def _bib_url_in(value: str) -> str:
    match = re.search(r"\\url\{([^}]*)\}", value)
    return match.group(1) if match else ""


def _split_top(value: str, pattern: str) -> list[str]:
    """Split at regex matches that sit outside braces (so {Barnes and Noble} stays whole)."""
    parts, depth, start = [], 0, 0
    regex = re.compile(pattern, re.I)
    pos = 0
    while pos < len(value):
        char = value[pos]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0 and (match := regex.match(value, pos)):
            parts.append(value[start:pos])
            start = pos = match.end()
            continue
        pos += 1
    parts.append(value[start:])
    return parts


def bib_authors(value: str) -> list[str]:
    """BibTeX `author` to "Family, Given" strings; braced names are organisations, kept whole."""
    names = []
    for raw in _split_top(re.sub(r"\s+", " ", value).strip(), r"\s+and\s+"):
        raw = raw.strip()
        if not raw or raw.lower() == "others":
            continue
        if raw.startswith("{") and raw.endswith("}") and _balanced(raw[1:-1]):
            names.append(latex_to_unicode(raw[1:-1]))
            continue
        parts = [p.strip() for p in _split_top(raw, r",")]
        if len(parts) == 1:
            parts = _first_last(raw)
        names.append(", ".join(latex_to_unicode(p) for p in parts if p))
    return names


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _first_last(name: str) -> list[str]:
    """Read "Given von Family" as ["von Family", "Given"], as BibTeX reads a name with no comma."""
    words = _split_top(name, r"\s+")
    if len(words) == 1:
        return words
    von = next((i for i, w in enumerate(words[:-1]) if w[:1].islower()), len(words) - 1)
    return [" ".join(words[von:]), " ".join(words[:von])]


def bib_files(value: str) -> list[str]:
    """Paths from a Zotero/JabRef/Mendeley `file` field: `Desc:path:mime;Desc:path:mime`."""
    files = []
    value = value.replace("$\\backslash$", "\\")  # Mendeley writes C$\backslash$:/Users/...
    for item in _split_escaped(value, ";"):
        parts = _split_escaped(item, ":")
        joined: list[str] = []
        for part in parts:
            if joined and _rejoin_colon(joined[-1], part):
                joined[-1] = f"{joined[-1]}:{part}"
            else:
                joined.append(part)
        path = joined[1] if len(joined) >= 2 else joined[0] if joined else ""
        if path.strip():
            files.append(path.strip())
    return files


def _rejoin_colon(before: str, after: str) -> bool:
    """A drive ("C" + "\\x.pdf") or URL scheme ("https" + "//x") that an unescaped ':' split."""
    drive = re.fullmatch(r"[A-Za-z]", before) is not None and after[:1] in "\\/"
    scheme = before.lower() in ("http", "https", "file", "ftp") and after.startswith("//")
    return drive or scheme


def _split_escaped(value: str, sep: str) -> list[str]:
    """Split on `sep` unless backslash-escaped; unescape `\\:`, `\\;`, `\\\\`."""
    parts, current, pos = [], [], 0
    while pos < len(value):
        char = value[pos]
        if char == "\\" and pos + 1 < len(value) and value[pos + 1] in ":;\\":
            current.append(value[pos + 1])
            pos += 2
            continue
        if char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        pos += 1
    parts.append("".join(current))
    return parts


# LaTeX accents and symbols as BibTeX exporters (Zotero, Better BibTeX, JabRef) write them.
_ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
_LETTERS = {
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "ss": "ß",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
    "dh": "ð",
    "DH": "Ð",
    "th": "þ",
    "TH": "Þ",
    "textendash": "–",
    "textemdash": "—",
    "textquoteright": "’",
    "textquoteleft": "‘",
    "textquotedblleft": "“",
    "textquotedblright": "”",
    "textellipsis": "…",
    "ldots": "…",
    "dots": "…",
    "textregistered": "®",
    "texttrademark": "™",
    "copyright": "©",
    "textcopyright": "©",
    "pounds": "£",
    "textsterling": "£",
    "texteuro": "€",
    "euro": "€",
    "textdegree": "°",
    "S": "§",
    "P": "¶",
    "textbar": "|",
    "textbackslash": "\\",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
}
_ESCAPED = {"&": "&", "%": "%", "$": "$", "#": "#", "_": "_", "{": "{", "}": "}", " ": " "}
_PLACEHOLDER = {char: chr(0xE000 + i) for i, char in enumerate(_ESCAPED)}
_ACCENT_RE = re.compile(  # \"u, \"{u}, \'{\i}, \c{c}, \v s; a base may be an accented letter
    r"\\([\"'`^~=.])\s*(\{\s*\\?[^\W\d_]\s*\}|\\[ij](?![A-Za-z])|[^\W\d_])"
    r"|\\([uvHckrdb])(?:\s*(\{\s*\\?[^\W\d_]\s*\})|\s+([^\W\d_]))"
)
_WORD_RE = re.compile(r"\\([A-Za-z]+)(?![A-Za-z])\s*(\{\})?")


def latex_to_unicode(text: str) -> str:
    """Decode the LaTeX found in exported titles and names: {\\"u} -> ü, \\& -> &, -- -> –."""
    if not text:
        return ""
    text = text.replace("\\\\", " ")
    text = re.sub(r"\\([&%$#_{} ])", lambda m: _PLACEHOLDER[m.group(1)], text)
    for _ in range(3):  # inside out: Nguy{\~{\^e}}n needs \^e first, then \~{ê}
        text, count = _ACCENT_RE.subn(_accent, text)
        if not count:
            break
    text = _WORD_RE.sub(_letter, text)
    text = text.replace("---", "—").replace("--", "–").replace("``", "“").replace("''", "”")
    text = re.sub(r"[{}$]", "", text.replace("~", " "))
    for char, placeholder in _PLACEHOLDER.items():
        text = text.replace(placeholder, _ESCAPED[char])
    return unicodedata.normalize("NFC", re.sub(r"[ \t\r\n]+", " ", text)).strip()


def _accent(match: re.Match[str]) -> str:
    command = match.group(1) or match.group(3)
    base = (match.group(2) or match.group(4) or match.group(5) or "").strip("{} \\")
    return unicodedata.normalize("NFC", base + _ACCENTS[command])


def _letter(match: re.Match[str]) -> str:
    word = match.group(1)
    if word in _LETTERS:
        return _LETTERS[word]
    return ""  # \emph, \textit, \url...: drop the command, keep its (braced) argument


# ---------------------------------------------------------------- CSL-JSON


def _read_csl_json(text: str, path: Path, warnings: list[str]) -> list[DocMetadata]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
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
        warnings.append(f"{origin}: year '{year_value}' is not a year in 1800..2100; ignored")
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
        return yaml.safe_load(text)
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
    data = _yaml_load(_read_text(sidecar, warnings), sidecar)
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


_READERS: dict[str, Callable[[str, Path, list[str]], list[DocMetadata]]] = {
    ".ris": _read_ris,
    ".bib": _read_bibtex,
    ".bibtex": _read_bibtex,
    ".json": _read_csl_json,
    ".csv": _read_manifest,
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
}


# ---------------------------------------------------------------- matching


def _distinct(records: list[DocMetadata]) -> list[DocMetadata]:
    """Drop repeats of the same work (same DOI, or same title and year) loaded twice."""
    seen: set[tuple] = set()
    out = []
    for record in records:
        if record.doi:
            key: tuple = ("doi", record.doi)
        elif record.title:
            key = ("title", normalize_title(record.title), record.year)
        else:
            key = ("origin", record.origin)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


def _match_file(records: list[DocMetadata], path: Path) -> list[DocMetadata]:
    target = str(path.expanduser().resolve())
    exact = [r for r in records if target in r.resolved_files]
    if exact:
        return _distinct(exact)
    name = path.name.casefold()
    return _distinct([r for r in records if any(_basename(f).casefold() == name for f in r.files)])


_TEXT_DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>]+", re.I)


def dois_in_text(text: str) -> list[str]:
    """DOIs written in running text, in order, mending a line break right after the prefix."""
    text = re.sub(r"(10\.\d{4,9}/)\s+", r"\1", text or "")
    return _unique(_trim_doi(m.group(0).lower()) for m in _TEXT_DOI.finditer(text))


def _match_doi(records: list[DocMetadata], text_head: str) -> list[DocMetadata]:
    if not text_head:
        return []
    found = set(dois_in_text(text_head))
    return _distinct([r for r in records if r.doi and r.doi in found])


def _match_title(records: list[DocMetadata], title: str) -> list[DocMetadata]:
    wanted = normalize_title(title)
    if len(wanted) < MIN_TITLE_CHARS:
        return []
    equal = [r for r in records if normalize_title(r.title) == wanted]
    if equal:
        return _distinct(equal)
    main = normalize_title(main_title(title))
    if len(main) >= MIN_MAIN_TITLE_CHARS:
        # One side carries a subtitle the other lacks ("...in Chile: A Trial Summary").
        same_main = [
            r
            for r in records
            if main in (normalize_title(r.title), normalize_title(main_title(r.title)))
            or normalize_title(main_title(r.title)) == wanted
        ]
        if same_main:
            return _distinct(same_main)
    best: list[DocMetadata] = []
    best_ratio = TITLE_FUZZ
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(wanted)
    for record in records:
        matcher.set_seq1(normalize_title(record.title))
        if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
            continue
        ratio = matcher.ratio()
        if not _same_words(normalize_title(record.title), wanted):
            continue
        if ratio > best_ratio:
            best, best_ratio = [record], ratio
        elif ratio == best_ratio:
            best.append(record)
    return _distinct(best)


def _same_words(a: str, b: str) -> bool:
    """True when the titles differ only in short words or misspellings, not in content words."""
    only_a, only_b = set(a.split()) - set(b.split()), set(b.split()) - set(a.split())

    def spelled_alike(word: str, others: set[str], joined: str) -> bool:
        """A misspelling ("summry") or a split or joined word ("HongKong")."""
        return word in joined or any(
            difflib.SequenceMatcher(None, word, o).ratio() >= 0.8 for o in others
        )

    return all(
        len(word) <= FUZZ_WORD_CHARS or spelled_alike(word, other, joined.replace(" ", ""))
        for words, other, joined in ((only_a, only_b, b), (only_b, only_a, a))
        for word in words
    )
