"""Result cards: the chunk's sentences with the one that best answers the query highlighted.

The best sentence is chosen by query-term overlap weighted by rarity among the sentences on
screen, not by embedding every sentence: that measured 2-3 s for ~100 sentences on two cores,
too slow for each keystroke. Everything from a document is HTML-escaped before it is shown.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from synth.index import Index
from synth.models import Hit
from synth.taxonomy import Taxonomy
from synth.toolkit.baskets import pages_label
from synth.ui.text import html_text

# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "in", "is", "it", "its", "of", "on", "or", "that", "the", "their", "there",
    "these", "this", "to", "was", "were", "what", "when", "where", "which", "who", "why",
    "will", "with",
})
# fmt: on
_SUFFIXES = ("ing", "ies", "ed", "es", "s")


def stem(word: str) -> str:
    """A crude suffix stripper: enough for 'messages' to meet 'message' and 'tutoring' 'tutor'."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS}


def best_sentence(query: str, sentences: Sequence[str], pool: Sequence[str] = ()) -> int:
    """Index of the sentence sharing the most (rarity-weighted) query terms; 0 when none do.

    `pool` is every sentence the weights are taken over (the page's results); rarer terms there
    say more about the query than a word every sentence contains.
    """
    wanted = terms(query)
    if not sentences or not wanted:
        return 0
    bags = [terms(s) for s in sentences]
    df = Counter(t for bag in (bags + [terms(s) for s in pool]) for t in bag & wanted)
    n = len(bags) + len(pool)
    scores = [sum(math.log(1 + n / df[t]) for t in bag & wanted) for bag in bags]
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return best if scores[best] > 0 else 0


def hit_sentences(index: Index, hit: Hit) -> list[str]:
    """The chunk's sentences from their stored page offsets; one block if they do not add up."""
    pages: dict[int, str] = {}
    out = []
    for page, start, end in index.chunk_sentences(hit.chunk_id):
        if page not in pages:
            pages[page] = index.page_text(hit.doc_id, page) or ""
        out.append(pages[page][start:end])
    return out if out and " ".join(out) == hit.text else [hit.text]


def page_label(hit: Hit) -> str:
    return pages_label(hit.page, hit.page_end)


def chips(hit: Hit, taxonomy: Taxonomy) -> list[tuple[str, str]]:
    """(facet label, value label) for each facet value of the hit, in taxonomy order."""
    out = []
    for name, facet in taxonomy.facets.items():
        for value in hit.facets.get(name, ()):
            out.append((facet.label, facet.label_of(value)))
    return out


def card_html(
    number: int,
    hit: Hit,
    sentences: Sequence[str],
    best: int,
    taxonomy: Taxonomy,
    pdf_url: str | None = None,
) -> str:
    """The card body as HTML in which every piece of document text is escaped. With the PDF's
    URL, the card links to it at the cited page and offers it as a download: plain links, not
    widgets, so a page of results stays quick to draw."""
    esc = html_text
    body = " ".join(
        f'<mark class="synth-best">{esc(s)}</mark>' if i == best else esc(s)
        for i, s in enumerate(sentences)
    )
    where = " · ".join([hit.source, page_label(hit), hit.section or "no section"])
    tags = "".join(
        f'<span class="synth-chip" title="{esc(facet)}">{esc(value)}</span>'
        for facet, value in chips(hit, taxonomy)
    )
    return (
        f'<div class="synth-card">'
        f'<div style="font-weight:600;font-size:1.05rem">{number}. {esc(hit.title)}</div>'
        f'<div class="synth-where synth-muted" style="font-size:.85rem">{esc(where)}</div>'
        f'<p style="margin:.5rem 0">{body}</p>'
        f"<div>{tags}</div>{_pdf_links(hit, pdf_url)}</div>"
    )


def _pdf_links(hit: Hit, url: str | None) -> str:
    if not url:
        return ""
    esc = html_text
    return (
        f'<div class="synth-links" style="margin-top:.5rem;display:flex;gap:1.2rem;'
        f'flex-wrap:wrap"><a href="{esc(url)}#page={hit.page}" target="_blank" rel="noopener">'
        f'Open PDF at {esc(page_label(hit))}</a><a href="{esc(url)}" download="{esc(hit.source)}">'
        f"Download PDF</a></div>"
    )
