"""Extractive synthesis: pick key sentences from hits and quote them with verified page citations.

No language model runs here. Every message is a sentence that exists in a source, chosen by
similarity to the question with maximal marginal relevance for variety, and every quote is
checked verbatim against the stored page text before it may be shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from . import __version__
from .embed import Embedder
from .index import Index
from .models import Hit

MIN_WORDS = 8
MAX_WORDS = 60
# A reference list cites other work; its entries are not findings to quote as messages.
REFERENCE_SECTION = re.compile(r"\b(references|bibliography|works cited|sources)\b", re.I)


@dataclass(frozen=True)
class Quote:
    """A sentence as it stands on a page, with the offsets that prove it."""

    text: str
    doc_id: str
    source: str
    title: str
    page: int
    start: int
    end: int
    chunk_id: str
    score: float = 0.0


@dataclass(frozen=True)
class SourceSummary:
    """One document's contribution to a brief: its best quote and where it was found."""

    doc_id: str
    source: str
    title: str
    author: str
    year: str
    pages: list[int]
    quote: Quote | None


@dataclass(frozen=True)
class Provenance:
    query: str
    build_id: str
    model: str
    k: int
    created: str
    synth_version: str = __version__


@dataclass
class BriefContent:
    """Everything a brief template needs; templates format, they never compute."""

    question: str
    key_messages: list[Quote]
    sources: list[SourceSummary]
    provenance: Provenance
    dropped_quotes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.sources


def verify_quote(index: Index, quote: Quote, chunk_text: str | None = None) -> bool:
    """True only if the quote stands at its offsets on its cited page and in the matched chunk.

    Two independent records must agree: the page text the citation points into, and the
    chunk text that search matched; a quote that is on one but not the other is not shown.
    """
    page = index.page_text(quote.doc_id, quote.page)
    on_page = page is not None and page[quote.start : quote.end] == quote.text
    return on_page and (chunk_text is None or quote.text in chunk_text)


def _quotable(text: str) -> bool:
    words = text.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    if re.search(r"https?://|www\.|doi\.org", text):
        return False
    letters = sum(ch.isalpha() for ch in text)
    return letters >= 0.6 * len(text) and text[0].isupper()


def _candidates(index: Index, hits: list[Hit]) -> list[Quote]:
    seen: set[tuple[str, int, int]] = set()
    out: list[Quote] = []
    pages: dict[tuple[str, int], str | None] = {}
    for hit in hits:
        if REFERENCE_SECTION.search(hit.section):
            continue
        for page, start, end in index.chunk_sentences(hit.chunk_id):
            key = (hit.doc_id, page, start)
            if key in seen:
                continue
            seen.add(key)
            if (hit.doc_id, page) not in pages:
                pages[(hit.doc_id, page)] = index.page_text(hit.doc_id, page)
            text = (pages[(hit.doc_id, page)] or "")[start:end]
            if _quotable(text):
                out.append(
                    Quote(text, hit.doc_id, hit.source, hit.title, page, start, end, hit.chunk_id)
                )
    return out


def _mmr(
    scores: np.ndarray, vectors: np.ndarray, n: int, lam: float, groups: list[str], per_group: int
) -> list[int]:
    """Maximal marginal relevance, with a cap on picks per source so one report cannot dominate."""
    chosen: list[int] = []
    counts: dict[str, int] = {}
    remaining = list(range(len(scores)))
    while remaining and len(chosen) < n:
        best, best_value = None, -np.inf
        for i in remaining:
            if counts.get(groups[i], 0) >= per_group:
                continue
            redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            value = lam * float(scores[i]) - (1 - lam) * redundancy
            if value > best_value:
                best, best_value = i, value
        if best is None:
            break
        chosen.append(best)
        counts[groups[best]] = counts.get(groups[best], 0) + 1
        remaining.remove(best)
    return chosen


def synthesize(
    index: Index,
    embedder: Embedder,
    question: str,
    hits: list[Hit],
    n_messages: int = 5,
) -> BriefContent:
    """Build the content of a brief from search hits: key messages, one quote per source."""
    provenance = Provenance(
        query=question,
        build_id=index.build_id,
        model=index.manifest.model,
        k=len(hits),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    candidates = _candidates(index, hits)
    content = BriefContent(question, [], [], provenance)
    if not candidates:
        return content
    vectors = embedder.encode([c.text for c in candidates])
    query_vector = embedder.encode_query(question or " ")
    scores = vectors @ query_vector
    scored = [
        Quote(**{**c.__dict__, "score": round(float(s), 4)})
        for c, s in zip(candidates, scores, strict=True)
    ]
    chunk_texts = {hit.chunk_id: hit.text for hit in hits}
    verified: list[Quote] = []
    for quote in scored:
        if verify_quote(index, quote, chunk_texts.get(quote.chunk_id, "")):
            verified.append(quote)
        else:
            content.dropped_quotes.append(f"{quote.source} p.{quote.page}: {quote.text}")
    if not verified:
        return content
    keep = [scored.index(q) for q in verified]
    picks = _mmr(
        scores[keep], vectors[keep], n_messages, 0.7, [q.doc_id for q in verified], per_group=2
    )
    content.key_messages = [verified[i] for i in picks]
    documents = {d.doc_id: d for d in index.documents()}
    order: list[str] = []
    for hit in hits:
        if hit.doc_id not in order:
            order.append(hit.doc_id)
    for doc_id in order:
        mine = [q for q in verified if q.doc_id == doc_id]
        doc = documents.get(doc_id)
        if doc is None:
            continue
        pages = sorted({h.page for h in hits if h.doc_id == doc_id})
        best = max(mine, key=lambda q: q.score) if mine else None
        year = doc.created[:4] if re.match(r"\d{4}", doc.created or "") else "n.d."
        content.sources.append(
            SourceSummary(doc_id, doc.source, doc.title, doc.author, year, pages, best)
        )
    return content
