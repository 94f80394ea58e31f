"""Quotable units: whole sentences, or a sentence with the one it leans on, each verified.

A sentence that opens with "This", "These", "They", "However", "Finally"... means nothing
without the sentence before it, and one that ends in a colon promises a list it does not hold.
Such a sentence is quoted together with its predecessor (both verified on their page) or not at
all; a sentence ending in a colon is never quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synth.index import Index
from synth.models import Hit

from .content import Quote

MIN_WORDS = 8
MAX_WORDS = 60
MAX_PAIR_WORDS = 90
# A quote is a whole sentence: it ends with . ! or ? (perhaps a closing quote or bracket, or a
# footnote number), not mid-phrase where a text extract was cut.
SENTENCE_END = re.compile(r"[.!?][\"”’')\]]?\d{0,3}$")
# Openers that point back to an earlier sentence (anaphora, sequence and contrast markers).
DEPENDENT_OPENER = re.compile(
    r"^(this|these|that|those|it|its|they|them|their|theirs|he|she|his|her|such|"
    r"finally|however|but|yet|also|moreover|furthermore|further|in addition|additionally|"
    r"in other words|in turn|in contrast|by contrast|on the other hand|instead|similarly|"
    r"likewise|nevertheless|nonetheless|even so|still|thus|therefore|hence|consequently|"
    r"as a result|because of this|for this reason|for example|for instance|here|there|"
    r"then|next|second|secondly|third|thirdly|fourth|lastly|both|neither|either|"
    r"the (?:same|latter|former|other|second|third|rest|remainder)|"
    r"another|others|at the same time|meanwhile|otherwise|so|and|or|not only)\b",
    re.I,
)
# "It is important to...", "There is/are..." are impersonal, not anaphoric.
IMPERSONAL = re.compile(
    r"^(it (is|was|has been|may be|can be|seems|appears|remains) (important|essential|"
    r"worth|not|likely|unlikely|clear|possible|difficult|hard|easy|common|tempting|"
    r"useful|helpful|vital|crucial|necessary|notable)\b|there (is|are|was|were|has|have)\b|"
    r"here is\b)",
    re.I,
)


# "Over a term, this amounts to...": a short introductory phrase, then the real opener.
LEAD_IN = re.compile(r"^(?:[^,;:.]{1,40}),\s+(?=\w)")
# Pronouns that point back wherever they stand as the subject after a lead-in.
BACK_POINTING = re.compile(
    r"^(this|these|that|those|it|its|they|their|such|he|she)\b(?! (is|was) (important|"
    r"essential|worth|clear|likely)\b)",
    re.I,
)


def depends_on_predecessor(text: str) -> bool:
    """True when a sentence leans on the one before it (This/They/However..., or lowercase),
    also after a short lead-in ("Over a term, this amounts to...")."""
    stripped = text.lstrip("“\"'‘(- ")
    if not stripped:
        return False
    if stripped[0].islower():
        return True
    if DEPENDENT_OPENER.match(stripped) and not IMPERSONAL.match(stripped):
        return True
    lead = LEAD_IN.match(stripped)
    return bool(lead) and bool(BACK_POINTING.match(stripped[lead.end() :]))


def introduces_list(text: str) -> bool:
    """A sentence that ends in a colon promises what follows; alone it is a fragment."""
    return text.rstrip().endswith(":")


def quotable(text: str, max_words: int = MAX_WORDS) -> bool:
    """A full sentence of a sensible length, mostly letters, no links."""
    words = text.split()
    if not MIN_WORDS <= len(words) <= max_words:
        return False
    if re.search(r"https?://|www\.|doi\.org", text):
        return False
    letters = sum(ch.isalpha() for ch in text)
    return letters >= 0.6 * len(text) and text[0].isupper() and bool(SENTENCE_END.search(text))


def verify_quote(index: Index, quote: Quote, chunk_text: str | None = None) -> bool:
    """True only if the quote stands at its offsets on its cited page and in the matched chunk.

    Two independent records must agree: the page text the citation points into, and the
    chunk text that search matched; a quote that is on one but not the other is not shown.
    """
    page = index.page_text(quote.doc_id, quote.page)
    on_page = page is not None and page[quote.start : quote.end] == quote.text
    return on_page and (chunk_text is None or quote.text in chunk_text)


@dataclass(frozen=True)
class Span:
    """One sentence of a document: page and offsets, with the section it sits in."""

    page: int
    start: int
    end: int
    section: str

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.page, self.start, self.end)


@dataclass
class Unit:
    """What may be quoted: one sentence, or a sentence with the predecessor it needs."""

    quote: Quote
    hit: int  # index into the hits the unit came from
    sentences: tuple[tuple[int, int, int], ...]  # (page, start, end) of each sentence
    main: str  # the sentence that carries the unit's meaning (the last one)
    paired: bool = False


@dataclass
class Units:
    units: list[Unit] = field(default_factory=list)
    checked: int = 0
    dropped: list[str] = field(default_factory=list)
    fragments: int = 0  # dependent sentences that could not be paired, so were not used
    passages_without_units: list[int] = field(default_factory=list)


def _doc_sentences(index: Index, doc_id: str) -> list[Span]:
    """Every sentence of a document in reading order, once (chunks overlap by a sentence)."""
    rows = index.query(
        "SELECT s.page, s.start, s.end, c.section FROM sentences s JOIN chunks c "
        "ON c.id = s.chunk WHERE c.doc_id = ? ORDER BY c.seq, s.idx",
        (doc_id,),
    )
    seen: dict[tuple[int, int, int], Span] = {}
    for r in rows:
        span = Span(r["page"], r["start"], r["end"], r["section"])
        seen.setdefault(span.key, span)
    return sorted(seen.values(), key=lambda s: (s.page, s.start))


class _Pages:
    def __init__(self, index: Index) -> None:
        self.index = index
        self.cache: dict[tuple[str, int], str] = {}

    def text(self, doc_id: str, page: int) -> str:
        if (doc_id, page) not in self.cache:
            self.cache[(doc_id, page)] = self.index.page_text(doc_id, page) or ""
        return self.cache[(doc_id, page)]


def _pair(
    pages: _Pages, hit: Hit, spans: list[Span], at: int
) -> tuple[Quote, tuple[tuple[int, int, int], ...]] | None:
    """The sentence at `at` with its predecessor, when both are on one page, in one section,
    and the predecessor stands on its own; None when that cannot be done."""
    if at == 0:
        return None
    prev, cur = spans[at - 1], spans[at]
    if prev.page != cur.page or prev.section != cur.section:
        return None
    page = pages.text(hit.doc_id, cur.page)
    first = page[prev.start : prev.end]
    if depends_on_predecessor(first) or introduces_list(first):
        return None
    text = page[prev.start : cur.end]
    if "\n\n" in text or not quotable(text, MAX_PAIR_WORDS):
        return None
    quote = Quote(
        text, hit.doc_id, hit.source, hit.title, cur.page, prev.start, cur.end, hit.chunk_id
    )
    return quote, (prev.key, cur.key)


def candidate_units(index: Index, hits: list[Hit]) -> Units:
    """Quotable units of the hits' sentences, each verified against its page.

    A sentence that stands alone is verified against its page and its chunk; a dependent one
    is quoted with its predecessor, each part checked on the page and the dependent sentence
    in the chunk that search matched.
    """
    out = Units()
    pages = _Pages(index)
    doc_spans: dict[str, list[Span]] = {}
    seen: set[tuple[str, int, int]] = set()
    for i, hit in enumerate(hits):
        if hit.doc_id not in doc_spans:
            doc_spans[hit.doc_id] = _doc_sentences(index, hit.doc_id)
        spans = doc_spans[hit.doc_id]
        position = {s.key: n for n, s in enumerate(spans)}
        before = len(out.units)
        for page, start, end in index.chunk_sentences(hit.chunk_id):
            if (hit.doc_id, page, start) in seen:
                continue
            seen.add((hit.doc_id, page, start))
            text = pages.text(hit.doc_id, page)[start:end]
            if introduces_list(text) or not quotable(text):
                continue
            quote = Quote(text, hit.doc_id, hit.source, hit.title, page, start, end, hit.chunk_id)
            out.checked += 1
            if not verify_quote(index, quote, hit.text):
                out.dropped.append(f"{quote.source} p.{quote.page}: {quote.text}")
                continue
            if not depends_on_predecessor(text):
                out.units.append(Unit(quote, i, ((page, start, end),), text))
                continue
            paired = _pair(pages, hit, spans, position.get((page, start, end), 0))
            if paired is None or not verify_quote(index, paired[0]):
                out.fragments += 1
                continue
            out.units.append(Unit(paired[0], i, paired[1], text, paired=True))
        if len(out.units) == before:
            out.passages_without_units.append(i)
    return out
