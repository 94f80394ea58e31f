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


def normalise(text: str) -> str:
    """NFKC folds ligatures and compatibility forms so quotes match what readers type."""
    text = unicodedata.normalize("NFKC", text)
    return text.replace("\u2010", "-").replace("\u2011", "-").replace("\u00a0", " ")


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def new_document(path: Path, digest: str, title: str, pages: list[Page], kind: str) -> Document:
    return Document(
        doc_id=digest[:16],
        source=path.name,
        path=str(path.resolve()),
        content_hash=digest,
        title=title or path.stem,
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
