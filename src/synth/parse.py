"""Turn PDFs and text reports into Documents: pages with cleaned text, headings and metadata."""

from __future__ import annotations

import hashlib
import html
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .models import Block, Document, Page

# pypdf logs every repair it attempts; a failed file is reported once, with its reason, instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

PDF_EXTENSIONS = {".pdf"}
TEXT_EXTENSIONS = {".txt", ".md", ".markdown", ".html", ".htm"}
SUPPORTED_EXTENSIONS = PDF_EXTENSIONS | TEXT_EXTENSIONS

BULLET_RE = re.compile(r"^[\u2022\u25cf\u25aa\u25e6\u2023\u2043\u2219*\u2013\u2014-]\s")
TOC_ENTRY_RE = re.compile(r"\S+\s+\S+.*\s(\d{1,3}|[ivx]{1,5})$")
# Arabic page numbers ("12", "Page 3 of 9", "2of36 |") and lowercase front-matter numerals up
# to xxxix; capitalised words such as "Mix" or "CLI" are text, not numerals.
PAGE_NUMBER_RE = re.compile(
    r"^[|\s]*(?:(?:[Pp]age\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?"
    r"|(?=[ivx])x{0,3}(?:ix|iv|v?i{0,3}))[|\s]*$"
)
SENTENCE_END = (".", ",", ";", ":", "?", "!")
# Second halves of hyphenated compounds: a line break after "evidence-" before one keeps the hyphen.
COMPOUND_TAILS = {
    "based",
    "led",
    "level",
    "term",
    "scale",
    "making",
    "related",
    "income",
    "quality",
    "year",
    "old",
    "time",
    "wide",
    "up",
    "school",
    "informed",
    "specific",
    "service",
    "centred",
    "centered",
    "child",
    "class",
    "country",
    "economic",
    "the",
    "to",
    "day",
    "going",
    "being",
}


class ParseError(Exception):
    """A file that cannot be indexed; the message is shown to the user as the reason."""


@dataclass(frozen=True)
class ParseLimits:
    """Guards against files that would swamp memory or time; exceeding one fails that file only."""

    max_bytes: int = 250 * 1024 * 1024
    max_pages: int = 3000


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise(text: str) -> str:
    """NFKC folds ligatures and compatibility forms so quotes match what readers type."""
    text = unicodedata.normalize("NFKC", text)
    return text.replace("\u2010", "-").replace("\u2011", "-").replace("\u00a0", " ")


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


IGNORE_MARKER = ".synthignore"


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Expand folders to the supported files below them, in a stable order.

    Hidden folders and folders holding a `.synthignore` file (such as the Markdown sources the
    sample corpus is rendered from) are skipped, so a folder is not indexed twice over.
    """
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        for child in sorted(path.rglob("*")):
            parents = child.relative_to(path).parents
            skipped = any(
                p.name.startswith(".") or (path / p / IGNORE_MARKER).exists()
                for p in parents
                if str(p) != "."
            )
            if not skipped and child.is_file() and child.suffix.lower() in SUPPORTED_EXTENSIONS:
                yield child


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
        doc = _parse_pdf(path, data, digest, limits)
    else:
        doc = _parse_text_report(path, data, digest, suffix)
    if not any(p.text.strip() for p in doc.pages):
        raise ParseError("no text layer (scanned?)")
    return doc


def _new_document(path: Path, digest: str, title: str, pages: list[Page], kind: str) -> Document:
    return Document(
        doc_id=digest[:16],
        source=path.name,
        path=str(path.resolve()),
        content_hash=digest,
        title=title or path.stem,
        pages=pages,
        kind=kind,
    )


# ---------------------------------------------------------------- PDF


@dataclass
class _Line:
    text: str
    size: float
    bold: bool
    y: float | None
    heading: bool = False
    level: int = 0


@dataclass
class _LineBuilder:
    """Accumulates visitor fragments into one line, weighting style by visible characters."""

    parts: list[str] = field(default_factory=list)
    sizes: Counter[float] = field(default_factory=Counter)
    bold_chars: int = 0
    chars: int = 0
    y: float | None = None

    def add(self, text: str, size: float, bold: bool, y: float) -> None:
        self.parts.append(text)
        visible = len(text.strip())
        if visible:
            self.sizes[round(size * 2) / 2] += visible
            self.chars += visible
            self.bold_chars += visible if bold else 0
            if self.y is None:
                self.y = y

    def close(self) -> _Line | None:
        text = collapse(normalise("".join(self.parts)))
        if not text:
            return None
        size = self.sizes.most_common(1)[0][0] if self.sizes else 0.0
        return _Line(text, size, self.chars > 0 and self.bold_chars * 2 > self.chars, self.y)


def _page_lines(page: object) -> list[_Line]:
    """Read one page's text lines with font size, boldness and vertical position."""
    lines: list[_Line] = []
    current = _LineBuilder()

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        nonlocal current
        scale = math.hypot(tm[0], tm[1]) * math.hypot(cm[0], cm[1]) or 1.0
        name = str(font.get("/BaseFont", "")) if isinstance(font, dict) else ""
        bold = any(w in name.lower() for w in ("bold", "black", "heavy", "semibold"))
        y = tm[5] * cm[3] + cm[5]
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                line = current.close()
                if line:
                    lines.append(line)
                current = _LineBuilder()
            if piece:
                current.add(piece, float(size) * scale, bold, y)

    page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    last = current.close()
    if last:
        lines.append(last)
    return lines


def _pdf_metadata_title(reader: object) -> str:
    meta = getattr(reader, "metadata", None)
    title = ""
    try:
        title = collapse(str(meta.title or "")) if meta else ""
    except Exception:
        title = ""
    title = re.sub(r"^Microsoft (Word|PowerPoint) - ", "", title)
    if re.fullmatch(r"(untitled|document\d*|.*\.(docx?|pptx?|indd|pdf))", title, re.I):
        return ""
    return title


def _pdf_date(meta: object, attr: str) -> str:
    try:
        value = getattr(meta, attr)
    except Exception:
        return ""
    return value.isoformat() if value else ""


def _parse_pdf(path: Path, data: bytes, digest: str, limits: ParseLimits) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise ParseError(f"encrypted PDF (cannot open: {exc})") from exc
            if not opened:
                raise ParseError("encrypted PDF (password required)")
        n_pages = len(reader.pages)
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"corrupt or unreadable PDF ({exc.__class__.__name__}: {exc})") from exc
    except Exception as exc:
        raise ParseError(f"corrupt or unreadable PDF ({exc.__class__.__name__})") from exc
    if n_pages == 0:
        raise ParseError("PDF has no pages")
    if n_pages > limits.max_pages:
        raise ParseError(f"too large ({n_pages} pages > limit {limits.max_pages})")

    page_lines: list[list[_Line]] = []
    failures = 0
    for page in reader.pages:
        try:
            page_lines.append(_page_lines(page))
        except Exception:
            failures += 1
            page_lines.append([])
    if failures == n_pages:
        raise ParseError("corrupt or unreadable PDF (no page could be read)")

    _drop_running_lines(page_lines)
    _mark_headings(page_lines)
    vocabulary = _vocabulary(page_lines)
    pages = [_build_pdf_page(i + 1, lines, vocabulary) for i, lines in enumerate(page_lines)]

    title = _pdf_metadata_title(reader)
    if not title:
        title = _largest_line(page_lines[0]) if page_lines and page_lines[0] else ""
    doc = _new_document(path, digest, title, pages, "pdf")
    meta = reader.metadata
    if meta is not None:
        try:
            doc.author = collapse(str(meta.author or ""))
        except Exception:
            doc.author = ""
        doc.created = _pdf_date(meta, "creation_date")
        doc.modified = _pdf_date(meta, "modification_date")
    return doc


def _largest_line(lines: list[_Line]) -> str:
    top = max(lines, key=lambda line: line.size)
    same = [line.text for line in lines if line.size == top.size][:3]
    return collapse(" ".join(same))[:200]


def _line_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def _drop_running_lines(page_lines: list[list[_Line]], edge: int = 3) -> None:
    """Remove page numbers and headers/footers that repeat near the top or bottom of pages."""
    n_pages = len(page_lines)
    counts: Counter[str] = Counter()
    for lines in page_lines:
        edges = {_line_key(line.text) for line in lines[:edge] + lines[-edge:]}
        counts.update(edges)
    threshold = max(2, math.ceil(0.3 * n_pages))
    body = _body_size(page_lines)
    for i, lines in enumerate(page_lines):
        keep: list[_Line] = []
        for j, line in enumerate(lines):
            at_edge = j < edge or j >= len(lines) - edge
            if at_edge and PAGE_NUMBER_RE.match(line.text):
                continue
            repeated = n_pages >= 2 and counts[_line_key(line.text)] >= threshold
            if at_edge and repeated and _set_apart(lines, j, body):
                continue
            keep.append(line)
        page_lines[i] = keep


def _body_size(page_lines: list[list[_Line]]) -> float:
    sizes: Counter[float] = Counter()
    for lines in page_lines:
        for line in lines:
            sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _set_apart(lines: list[_Line], j: int, body: float) -> bool:
    """Page furniture differs from the body in size or stands off it by a wide gap.

    A repeated line set like the body and spaced like the body (a widow such as "pilot
    schools." ending two pages) is text, not a running header or footer.
    """
    line = lines[j]
    if abs(line.size - body) >= 0.5:
        return True
    gaps = [
        abs(line.y - other.y)
        for other in (lines[j - 1] if j else None, lines[j + 1] if j + 1 < len(lines) else None)
        if other is not None and line.y is not None and other.y is not None
    ]
    return not gaps or min(gaps) > 1.8 * max(line.size, 1.0)


def _is_heading_text(text: str, max_words: int) -> bool:
    words = text.split()
    if not words or len(words) > max_words or len(text) > 160:
        return False
    if not re.search(r"[^\W\d_]", text) or BULLET_RE.match(text) or TOC_ENTRY_RE.match(text):
        return False
    return not PAGE_NUMBER_RE.match(text)


def _looks_like_title(text: str) -> bool:
    """Fallback for unstyled text: a short line, mostly capitalised words, no closing period."""
    if not _is_heading_text(text, 10) or text.endswith(SENTENCE_END):
        return False
    words = [w for w in re.findall(r"[^\W\d_][\w'-]*", text)]
    small = {"a", "an", "and", "the", "of", "in", "on", "for", "to", "with", "at", "by", "or"}
    big = [w for w in words if w.lower() not in small]
    return bool(big) and sum(w[0].isupper() for w in big) / len(big) >= 0.75


def _mark_headings(page_lines: list[list[_Line]]) -> None:
    """Tell headings by size or weight against the body text; fall back to title-case lines."""
    all_lines = [line for lines in page_lines for line in lines]
    if not all_lines:
        return
    body = _body_size(page_lines)
    total = sum(len(line.text) for line in all_lines)
    bold_chars = sum(len(line.text) for line in all_lines if line.bold)
    has_larger = any(line.size >= body + 1.0 for line in all_lines)
    styled = has_larger or 0 < bold_chars < total * 0.5
    for lines in page_lines:
        for j, line in enumerate(lines):
            if styled:
                bigger = line.size >= body + 1.0 and _is_heading_text(line.text, 20)
                bold = (
                    line.bold
                    and abs(line.size - body) < 1.0
                    and _is_heading_text(line.text, 12)
                    and not line.text.endswith(SENTENCE_END)
                )
                line.heading = bigger or bold
            else:
                before = lines[j - 1].text if j else ""
                after = lines[j + 1].text if j + 1 < len(lines) else ""
                inside_sentence = (before and not before.endswith((".", "?", "!", ":"))) or (
                    after[:1].islower()
                )
                line.heading = not inside_sentence and _looks_like_title(line.text)
    _demote_heading_runs(all_lines)
    ranked = sorted(
        {line.size for lines in page_lines for line in lines if line.heading}, reverse=True
    )
    for lines in page_lines:
        for line in lines:
            if line.heading:
                line.level = min(ranked.index(line.size) + 1, 4)


def _demote_heading_runs(lines: list[_Line], longest: int = 3) -> None:
    """Four or more styled lines in a row are a list (acronyms, a cover page), not headings."""
    run: list[_Line] = []
    for line in [*lines, None]:
        if line is not None and line.heading:
            run.append(line)
            continue
        if len(run) > longest:
            for item in run:
                item.heading = False
        run = []


def _vocabulary(page_lines: list[list[_Line]]) -> set[str]:
    """Words (and hyphenated compounds) seen inside lines, to decide line-end hyphens."""
    words: set[str] = set()
    for lines in page_lines:
        for line in lines:
            words.update(w.lower() for w in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", line.text))
    return words


def join_lines(lines: list[str], vocabulary: set[str] | None = None) -> str:
    """Join a paragraph's lines, mending words hyphenated across line breaks."""
    vocabulary = vocabulary or set()
    out = ""
    for line in lines:
        if not out:
            out = line
            continue
        m = re.search(r"([^\W\d_]+)[-\u00ad]$", out)
        n = re.match(r"([^\W\d_]+)", line)
        if m and n and line[0].islower():
            head, tail = m.group(1), n.group(1)
            compound = f"{head}-{tail}".lower()
            if compound in vocabulary or (
                tail.lower() in COMPOUND_TAILS and (head + tail).lower() not in vocabulary
            ):
                out = out[:-1] + "-" + line
            else:
                out = out[:-1] + line
        else:
            out = out + " " + line
    return collapse(out)


def _paragraph_breaks(lines: list[_Line]) -> list[bool]:
    """True where a line starts a new block: a gap wider than the usual line spacing, or a bullet.

    Body lines are compared with the page's typical spacing, heading lines with their own size,
    so a two-line title stays one heading while stacked cover-page lines do not.
    """
    gaps = [
        a.y - b.y
        for a, b in zip(lines, lines[1:], strict=False)
        if a.y is not None and b.y is not None and 0 < a.y - b.y < 3 * max(a.size, 1)
    ]
    typical = sorted(gaps)[len(gaps) // 2] if gaps else None
    breaks = [True] if lines else []
    for a, b in zip(lines, lines[1:], strict=False):
        gap = (a.y - b.y) if a.y is not None and b.y is not None else None
        if gap is None:
            wide = False
        elif a.heading and b.heading:
            wide = gap > 1.6 * max(a.size, b.size) or gap < 0
        else:
            wide = typical is not None and (gap > typical * 1.35 or gap < 0)
        breaks.append(bool(wide or BULLET_RE.match(b.text)))
    return breaks


def _build_pdf_page(number: int, lines: list[_Line], vocabulary: set[str]) -> Page:
    groups: list[tuple[str, int, list[str]]] = []
    breaks = _paragraph_breaks(lines)
    for line, brk in zip(lines, breaks, strict=True):
        kind = "heading" if line.heading else "body"
        last = groups[-1] if groups else None
        same_level = last is not None and (kind == "body" or last[1] == line.level)
        if last and last[0] == kind and same_level and not brk:
            last[2].append(line.text)
        else:
            groups.append((kind, line.level, [line.text]))
    return assemble_page(
        number, [(kind, level, join_lines(texts, vocabulary)) for kind, level, texts in groups]
    )


def assemble_page(number: int, blocks: list[tuple[str, int, str]]) -> Page:
    """Lay blocks out as the page text (blank line between) and record each block's offsets."""
    text_parts: list[str] = []
    out: list[Block] = []
    offset = 0
    for kind, level, text in blocks:
        text = collapse(text)
        if not text:
            continue
        if text_parts:
            text_parts.append("\n\n")
            offset += 2
        out.append(Block(kind, text, offset, offset + len(text), level))  # type: ignore[arg-type]
        text_parts.append(text)
        offset += len(text)
    return Page(number, "".join(text_parts), out)


# ---------------------------------------------------------------- text reports


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


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


def _strip_markup(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"(\*\*|__|`)", "", text)


def _text_blocks(body: str) -> list[tuple[str, int, str]]:
    blocks: list[tuple[str, int, str]] = []
    for para in re.split(r"\n\s*\n", body):
        lines = [collapse(line) for line in para.splitlines() if line.strip()]
        if not lines:
            continue
        if len(lines) == 1 and _looks_like_title(lines[0]):
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
        super().close()
        self._flush()


def _parse_text_report(path: Path, data: bytes, digest: str, suffix: str) -> Document:
    text = normalise(_decode(data)).replace("\r\n", "\n").replace("\r", "\n")
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
    doc = _new_document(path, digest, title, [assemble_page(1, blocks)], kind)
    doc.author = meta.get("author", "")
    doc.created = meta.get("date", "")
    return doc
