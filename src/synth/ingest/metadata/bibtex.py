"""BibTeX reader (Zotero, Better BibTeX, JabRef, Mendeley exports).

BibTeX needs a real parser (nested braces, @string macros, `#`) and per-field decoding, so it
gets its own module rather than a regex in the shared reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .latex import latex_to_unicode
from .record import DocMetadata, MetadataError, _pick_publisher, normalize_doi, parse_year

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
# Longest value a field or @string macro may expand to: `#` chains of macros double per line,
# so 30 lines reach gigabytes; the longest real abstracts are a few thousand characters.
MAX_VALUE_CHARS = 100_000


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
        total = 0
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
            total += len(part)
            if total > MAX_VALUE_CHARS:
                raise _BibSyntaxError(pos, f"value longer than {MAX_VALUE_CHARS:,} characters")
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
