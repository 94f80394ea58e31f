"""Text cleaning and page assembly shared by every input format: Unicode folding, line joining
with hyphen repair, heading heuristics, and the Page/Document records they produce."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from synth.models import Block, Document, Page

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


# Control characters carry no text: dropped at parse, so no escape sequence reaches a terminal,
# an export or the index (form feed and vertical tab are line breaks).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def normalise(text: str) -> str:
    """NFKC folds ligatures and compatibility forms so quotes match what readers type."""
    text = unicodedata.normalize("NFKC", _CONTROL_RE.sub("", text))
    return text.replace("\u2010", "-").replace("\u2011", "-").replace("\u00a0", " ")


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# Longest title or author kept from a file's own metadata (a PDF /Title can hold megabytes; the
# title is stored with every chunk for keyword search).
MAX_TITLE_CHARS = 500


def clip(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """Text cut to `limit` characters at a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip() + "…"


def new_document(path: Path, digest: str, title: str, pages: list[Page], kind: str) -> Document:
    return Document(
        doc_id=digest[:16],
        source=path.name,
        path=str(path.resolve()),
        content_hash=digest,
        title=clip(collapse(_CONTROL_RE.sub("", title))) or path.stem,
        pages=pages,
        kind=kind,
    )


def is_heading_text(text: str, max_words: int) -> bool:
    words = text.split()
    if not words or len(words) > max_words or len(text) > 160:
        return False
    if not re.search(r"[^\W\d_]", text) or BULLET_RE.match(text) or TOC_ENTRY_RE.match(text):
        return False
    return not PAGE_NUMBER_RE.match(text)


def looks_like_title(text: str) -> bool:
    """Fallback for unstyled text: a short line, mostly capitalised words, no closing period."""
    if not is_heading_text(text, 10) or text.endswith(SENTENCE_END):
        return False
    words = [w for w in re.findall(r"[^\W\d_][\w'-]*", text)]
    small = {"a", "an", "and", "the", "of", "in", "on", "for", "to", "with", "at", "by", "or"}
    big = [w for w in words if w.lower() not in small]
    return bool(big) and sum(w[0].isupper() for w in big) / len(big) >= 0.75


def join_lines(lines: list[str], vocabulary: set[str] | None = None) -> str:
    """Join a paragraph's lines, mending words hyphenated across line breaks.

    Linear in the number of lines: each line looks only at the end of the one before it (a
    10,000-line page joined by re-searching the growing text took over ten minutes).
    """
    vocabulary = vocabulary or set()
    parts: list[str] = []
    for line in lines:
        if not parts:
            parts.append(line)
            continue
        m = _HYPHEN_END.search(parts[-1][-_TAIL:])
        n = _WORD_START.match(line)
        if m and n and line[0].islower():
            head, tail = m.group(1), n.group(1)
            compound = f"{head}-{tail}".lower()
            keep = compound in vocabulary or (
                tail.lower() in COMPOUND_TAILS and (head + tail).lower() not in vocabulary
            )
            parts[-1] = parts[-1][:-1] + ("-" if keep else "")
            parts.append(line)
        else:
            parts.append(" " + line)
    return collapse("".join(parts))


# A hyphenated word is looked for in the last _TAIL characters of the line before.
_TAIL = 200
_HYPHEN_END = re.compile(r"([^\W\d_]+)[-\u00ad]$")
_WORD_START = re.compile(r"([^\W\d_]+)")


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
