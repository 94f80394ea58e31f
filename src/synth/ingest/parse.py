"""Turn PDFs and text reports into Documents: pages with cleaned text, headings and metadata."""

from __future__ import annotations

import codecs
import html
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

from synth.models import Document
from synth.safetext import invisible_free

from .files import PDF_EXTENSIONS, SUPPORTED_EXTENSIONS, ParseError, ParseLimits, content_hash
from .pages import (
    assemble_page,
    clip,
    collapse,
    join_lines,
    looks_like_title,
    new_document,
    normalise,
)
from .pdf import parse_pdf

# pypdf logs every repair it attempts; a failed file is reported once, with its reason, instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def parse_file(path: str | Path, limits: ParseLimits | None = None) -> Document:
    """Parse one file by its extension; raise ParseError with a human reason on failure."""
    limits = limits or ParseLimits()
    path = Path(path)
    if not path.exists():
        raise ParseError("file not found")
    if not path.is_file():
        raise ParseError("not a regular file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise ParseError(f"unsupported file type '{suffix or path.name}'")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ParseError(f"too large ({size / 1e6:.0f} MB > limit {limits.max_bytes / 1e6:.0f} MB)")
    data = path.read_bytes()
    if not data.strip():
        raise ParseError("empty file")
    digest = content_hash(data)
    if suffix in PDF_EXTENSIONS:
        doc = parse_pdf(path, data, digest, limits)
    else:
        doc = _parse_text_report(path, data, digest, suffix, limits)
    if not any(p.text.strip() for p in doc.pages):
        raise ParseError("no text layer (scanned?)")
    check_length(sum(len(p.text) for p in doc.pages), limits)
    return doc


def check_length(n_chars: int, limits: ParseLimits) -> None:
    if n_chars > limits.max_chars:
        raise ParseError(f"too large ({n_chars:,} characters > limit {limits.max_chars:,})")


# ---------------------------------------------------------------- text reports


# Share of control characters (other than tab, line breaks and form feed) past which a "text"
# file is binary data (beyond a few dozen): real text has none or a stray escape sequence;
# random bytes decoded as cp1252 have about 12%.
MAX_CONTROL_SHARE = 0.01


# Terminal escape sequences (colours, cursor moves, window titles): how a terminal draws text,
# not text. Removed before the binary test, so a coloured log or README is read, not refused.
_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]{0,2000}(?:\x07|\x1b\\)?|[@-Z\\-_])"
)


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 read as Windows-1252 (Latin-1 where it has no character)."""
    assert isinstance(exc, UnicodeDecodeError)
    bad = exc.object[exc.start : exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), exc.end


codecs.register_error("synth-cp1252", _cp1252_fallback)


def _decode(data: bytes) -> str:
    """Text from bytes: UTF-8 (or UTF-16 with a BOM), with any stretch that is not UTF-8 read
    as Windows-1252, so a file half UTF-8 and half Latin-1 reads right in both halves (decoding
    the whole as cp1252 stored "Élèves" as "Ã‰lÃ¨ves"); binary is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    elif b"\x00" in data:
        raise ParseError("binary data, not text")
    else:
        text = data.decode("utf-8-sig", errors="synth-cp1252")
    text = _ESCAPES.sub("", text)
    sample = text[:1_000_000]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\n\r\x0c")
    controls += sum(1 for ch in sample if "\x7f" <= ch <= "\x9f" or ch == "\ufffd")
    if controls > max(32, MAX_CONTROL_SHARE * len(sample)):  # a stray escape is still text
        raise ParseError("binary data, not text")
    return text


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a `---` YAML-style header of simple `key: value` lines from a Markdown body."""
    m = re.match(r"\A---\s*\n(.*?)\n---\s*\n", text, re.S)
    if not m:
        return {}, text
    meta: dict[str, str] = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[m.end() :]


def markdown_blocks(body: str) -> list[tuple[str, int, str]]:
    """Headings, paragraphs and list items of simple Markdown, markup stripped."""
    blocks: list[tuple[str, int, str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(("body", 0, join_lines(para)))
            para.clear()

    for raw in body.splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", line)
        if heading:
            flush()
            blocks.append(("heading", len(heading.group(1)), _strip_markup(heading.group(2))))
        elif not line:
            flush()
        elif re.match(r"^([-*+]|\d+[.)])\s+", line):
            flush()
            para.append(_strip_markup(re.sub(r"^([-*+]|\d+[.)])\s+", "", line)))
        else:
            para.append(_strip_markup(line))
    flush()
    return blocks


# A link's text holds no bracket and both parts are bounded: `[^\]]*` rescanned the rest of
# the line from every `[` ("[" * 30,000 took 5 s, 100,000 about a minute).
# A URL may hold one level of parentheses (Lancet DOIs: .../S0140-6736(20)30183-5).
_LINK = re.compile(r"!?\[([^\[\]\n]{0,1000})\]\((?:[^()\s]|\([^()\s]{0,200}\)){0,2000}\)")


def _strip_markup(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    return re.sub(r"(\*\*|__|`)", "", text)


def _text_blocks(body: str) -> list[tuple[str, int, str]]:
    blocks: list[tuple[str, int, str]] = []
    for para in re.split(r"\n\s*\n", body):
        lines = [collapse(line) for line in para.splitlines() if line.strip()]
        if not lines:
            continue
        if len(lines) == 1 and looks_like_title(lines[0]):
            blocks.append(("heading", 1, lines[0]))
        else:
            blocks.append(("body", 0, join_lines(lines)))
    return blocks


class _HTMLBlocks(HTMLParser):
    """Collects headings and paragraph-level text from HTML, skipping scripts and styles."""

    BLOCK_TAGS = {"p", "li", "div", "td", "th", "blockquote", "pre", "section", "article", "br"}
    SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, int, str]] = []
        self.title = ""
        self._buf: list[str] = []
        self._level = 0
        self._skip = 0
        self._in_title = False

    def _flush(self) -> None:
        text = collapse("".join(self._buf))
        self._buf = []
        if text:
            kind = "heading" if self._level else "body"
            self.blocks.append((kind, self._level, text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self.SKIP_TAGS:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._level = int(tag[1])
        elif tag in self.BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self.SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._level = 0
        elif tag in self.BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._buf.append(data)

    def close(self) -> None:
        # A comment never closed hides the rest of the page in a browser; HTMLParser would
        # hand it over as text at the end, so what no reader sees would be indexed.
        start = self.rawdata.find("<!--")
        if start >= 0 and "-->" not in self.rawdata[start:]:
            self.rawdata = self.rawdata[:start]
        super().close()
        self._flush()


def _parse_text_report(
    path: Path, data: bytes, digest: str, suffix: str, limits: ParseLimits
) -> Document:
    text = _decode(data)
    if not invisible_free(text).strip():  # a BOM, zero-width or escape codes and nothing else
        raise ParseError("empty file")
    check_length(len(text), limits)  # before the work: a 50 MB text is refused at once
    text = normalise(text).replace("\r\n", "\n").replace("\r", "\n")
    meta: dict[str, str] = {}
    title = ""
    if suffix in (".md", ".markdown"):
        meta, body = front_matter(text)
        blocks = markdown_blocks(body)
        kind = "markdown"
    elif suffix in (".html", ".htm"):
        parser = _HTMLBlocks()
        parser.feed(text)
        parser.close()
        blocks = parser.blocks
        title = collapse(html.unescape(parser.title))
        kind = "html"
    else:
        blocks = _text_blocks(text)
        kind = "text"
    title = meta.get("title") or title
    if not title:
        title = next((b[2] for b in blocks if b[0] == "heading"), "")
    doc = new_document(path, digest, title, [assemble_page(1, blocks)], kind)
    doc.author = clip(meta.get("author", ""))
    doc.created = meta.get("date", "")
    return doc
