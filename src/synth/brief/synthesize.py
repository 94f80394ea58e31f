"""Extractive synthesis: themes, key messages, verified quotes and evidence counts from hits.

No language model runs here. Passages are grouped into themes by k-means on their embeddings;
each theme's key message is its most central sentence that is also close to the question,
chosen with maximal marginal relevance so themes do not repeat each other. Near-duplicate
passages are collapsed so a study that appears twice is counted once. Every quote is checked
verbatim against the stored page text and the matched chunk before it may be shown; a quote
that fails is dropped and listed, never printed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from synth.index import Index
from synth.ingest.embed import Embedder
from synth.models import Filters, Hit

from .cluster import choose_themes, distinctive_terms, near_duplicates
from .content import (
    BriefContent,
    Duplicate,
    EvidenceCount,
    EvidenceCounts,
    ExtractedSection,
    Provenance,
    Quote,
    QuoteCheck,
    SourceSummary,
    Theme,
)
from .references import Reference, finish_references, reference_for
from .sections import RULES, finding_weight, topicality

MIN_WORDS = 8
MAX_WORDS = 60
# Passages that cite, list or thank, and web-page furniture, are not evidence to quote or count.
SKIP_SECTION = re.compile(
    r"\b(references|bibliography|works cited|sources|contents|acknowledg\w*|further (blogs|"
    r"reading|posts)|related (posts|articles)|connect with us|subscribe|newsletter|follow us|"
    r"share this|is supported by)\b",
    re.I,
)
# A quote is a whole sentence: it ends with . ! or ? (perhaps a closing quote or bracket, or a
# footnote number), not mid-phrase where a text extract was cut.
SENTENCE_END = re.compile(r"[.!?][\"”’')\]]?\d{0,3}$")
# Kept for callers of the first version of this module.
REFERENCE_SECTION = SKIP_SECTION
COUNT_FACETS = ("evidence_type", "design", "country", "phase")
DUP_COSINE = 0.95
DUP_OVERLAP = 0.6
MAX_THEMES = 5
QUOTES_PER_THEME = 2
QUOTES_PER_SECTION = 3
MMR_REDUNDANCY = 0.5


# ---------------------------------------------------------------- quotes


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
    return letters >= 0.6 * len(text) and text[0].isupper() and bool(SENTENCE_END.search(text))


@dataclass
class _Candidates:
    quotes: list[Quote] = field(default_factory=list)
    hit_of: list[int] = field(default_factory=list)  # index into the kept hits
    checked: int = 0
    dropped: list[str] = field(default_factory=list)


def _candidates(index: Index, hits: list[Hit]) -> _Candidates:
    """Quotable sentences of the hits, each verified against its page and its chunk."""
    out = _Candidates()
    seen: set[tuple[str, int, int]] = set()
    pages: dict[tuple[str, int], str | None] = {}
    for i, hit in enumerate(hits):
        for page, start, end in index.chunk_sentences(hit.chunk_id):
            key = (hit.doc_id, page, start)
            if key in seen:
                continue
            seen.add(key)
            if (hit.doc_id, page) not in pages:
                pages[(hit.doc_id, page)] = index.page_text(hit.doc_id, page)
            text = (pages[(hit.doc_id, page)] or "")[start:end]
            if not _quotable(text):
                continue
            quote = Quote(text, hit.doc_id, hit.source, hit.title, page, start, end, hit.chunk_id)
            out.checked += 1
            if verify_quote(index, quote, hit.text):
                out.quotes.append(quote)
                out.hit_of.append(i)
            else:
                out.dropped.append(f"{quote.source} p.{quote.page}: {quote.text}")
    return out


def _mmr_pick(
    order: list[int], scores: np.ndarray, vectors: np.ndarray, chosen: list[int], lam: float
) -> int | None:
    """The best of `order` by relevance minus redundancy with what is already chosen."""
    best, best_value = None, -np.inf
    for i in order:
        redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
        value = lam * float(scores[i]) - (1 - lam) * redundancy
        if value > best_value:
            best, best_value = i, value
    return best


# ---------------------------------------------------------------- studies and counts


class _Studies:
    """Union-find over documents: the same study in two files is one study."""

    def __init__(self, doc_order: list[str]) -> None:
        self.rank = {d: i for i, d in enumerate(doc_order)}
        self.parent = {d: d for d in doc_order}

    def find(self, doc: str) -> str:
        while self.parent[doc] != doc:
            self.parent[doc] = self.parent[self.parent[doc]]
            doc = self.parent[doc]
        return doc

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            first, second = sorted((ra, rb), key=self.rank.__getitem__)
            self.parent[second] = first


def _same_work(a: Reference, b: Reference) -> bool:
    if a.doi and a.doi == b.doi:
        return True
    norm = [re.sub(r"\W+", " ", r.title.lower()).strip() for r in (a, b)]
    return len(norm[0]) > 20 and norm[0] == norm[1]


def _group_studies(
    hits: list[Hit], pairs: list[tuple[int, int, float]], refs: dict[str, Reference]
) -> _Studies:
    """Documents are one study when half of the smaller one's passages repeat the other's,
    or when they share a DOI or a long title."""
    docs = list(dict.fromkeys(h.doc_id for h in hits))
    studies = _Studies(docs)
    n_hits = Counter(h.doc_id for h in hits)
    links = Counter(
        tuple(sorted((hits[k].doc_id, hits[d].doc_id)))
        for k, d, _ in pairs
        if hits[k].doc_id != hits[d].doc_id
    )
    for (a, b), n in links.items():
        if n >= max(1, min(n_hits[a], n_hits[b]) / 2):
            studies.union(a, b)
    for i, a in enumerate(docs):
        for b in docs[i + 1 :]:
            if _same_work(refs[a], refs[b]):
                studies.union(a, b)
    return studies


def _facet_labels() -> tuple[dict[str, str], dict[str, object]]:
    from synth.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    facets = {name: taxonomy.facets[name] for name in COUNT_FACETS if name in taxonomy.facets}
    return {name: f.label for name, f in facets.items()}, facets


def _count_evidence(
    hits: list[Hit], studies: _Studies, n_duplicates: int
) -> tuple[EvidenceCounts, dict[str, dict[str, list[str]]]]:
    """Distinct studies per facet value, from the hits' facets; also each study's labels."""
    labels, facets = _facet_labels()
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for hit in hits:
        study = studies.find(hit.doc_id)
        for name in COUNT_FACETS:
            values[study][name].update(hit.facets.get(name, []))
    study_ids = list(dict.fromkeys(studies.find(h.doc_id) for h in hits))
    counts = EvidenceCounts(
        n_studies=len(study_ids),
        n_documents=len({h.doc_id for h in hits}),
        n_passages=len(hits) - n_duplicates,
        n_duplicates=n_duplicates,
        labels=labels,
    )
    per_study: dict[str, dict[str, list[str]]] = {}
    for name in COUNT_FACETS:
        tally = Counter(v for s in study_ids for v in values[s][name])
        facet = facets.get(name)
        label = facet.label_of if facet is not None else str  # type: ignore[attr-defined]
        counts.by_facet[name] = [
            EvidenceCount(v, label(v), n)
            for v, n in sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        ]
        counts.untagged[name] = sum(1 for s in study_ids if not values[s][name])
        for s in study_ids:
            per_study.setdefault(s, {})[name] = sorted(label(v) for v in values[s][name])
    return counts, per_study


# ---------------------------------------------------------------- themes and sections


@dataclass
class _Pool:
    """The verified candidate sentences with their vectors and scores."""

    quotes: list[Quote]
    hit_of: np.ndarray
    vectors: np.ndarray
    relevance: np.ndarray
    finding: np.ndarray  # bonus for stating a result, penalty for describing the document


def _themes(
    pool: _Pool, hits: list[Hit], passage_vectors: np.ndarray, studies: _Studies, n: int
) -> list[Theme]:
    """Cluster passages, then give each cluster its most central, relevant, novel sentence."""
    labels = choose_themes(passage_vectors, max_k=n)
    groups = sorted(set(labels.tolist()))
    words = distinctive_terms([[hits[i].text for i in np.flatnonzero(labels == g)] for g in groups])
    drafts = []
    for g, terms in zip(groups, words, strict=True):
        members = np.flatnonzero(labels == g)
        mine = [i for i in range(len(pool.quotes)) if labels[pool.hit_of[i]] == g]
        if not mine:
            continue
        centre = passage_vectors[members].sum(axis=0)
        centre = centre / (np.linalg.norm(centre) or 1.0)
        score = 0.45 * (pool.vectors @ centre) + 0.45 * pool.relevance + 0.1 * pool.finding
        docs = list(dict.fromkeys(hits[i].doc_id for i in members))
        drafts.append((members, mine, score, docs, terms))
    drafts.sort(key=lambda d: (-len({studies.find(x) for x in d[3]}), int(d[0].min())))
    themes: list[Theme] = []
    chosen: list[int] = []
    for members, mine, score, docs, terms in drafts:
        key = _mmr_pick(mine, score, pool.vectors, chosen, 1 - MMR_REDUNDANCY / 2)
        if key is None:
            continue
        chosen.append(key)
        support = _supporting(mine, key, score, pool)
        headings = Counter(hits[i].section.split(" > ")[-1] for i in members if hits[i].section)
        themes.append(
            Theme(
                label=", ".join(terms),
                key_message=pool.quotes[key],
                quotes=[pool.quotes[i] for i in support],
                n_passages=len(members),
                n_studies=len({studies.find(d) for d in docs}),
                doc_ids=docs,
                headings=[h for h, _ in headings.most_common(3)],
            )
        )
    return themes


def _supporting(mine: list[int], key: int, score: np.ndarray, pool: _Pool) -> list[int]:
    """Up to QUOTES_PER_THEME more quotes, from other documents than the key message's."""
    picked = [key]
    used_docs = {pool.quotes[key].doc_id}
    while len(picked) <= QUOTES_PER_THEME:
        order = [i for i in mine if pool.quotes[i].doc_id not in used_docs]
        best = _mmr_pick(order, score, pool.vectors, picked, 0.7)
        if best is None:
            break
        picked.append(best)
        used_docs.add(pool.quotes[best].doc_id)
    return picked[1:]


def _sections(pool: _Pool, hits: list[Hit], exclude: set[int]) -> dict[str, ExtractedSection]:
    """Fill each extractive section from sentences whose heading or wording fits it."""
    out: dict[str, ExtractedSection] = {}
    for rule in RULES:
        fit = np.array(
            [
                topicality(rule, hits[pool.hit_of[i]].section, q.text)
                for i, q in enumerate(pool.quotes)
            ]
        )
        score = fit + 0.5 * pool.relevance
        order = [i for i in range(len(pool.quotes)) if fit[i] > 0 and i not in exclude]
        picked: list[int] = []
        per_doc: Counter[str] = Counter()
        while len(picked) < QUOTES_PER_SECTION:
            allowed = [i for i in order if per_doc[pool.quotes[i].doc_id] < 1 and i not in picked]
            best = _mmr_pick(allowed, score, pool.vectors, picked, 0.7)
            if best is None:
                break
            picked.append(best)
            per_doc[pool.quotes[best].doc_id] += 1
        out[rule.name] = ExtractedSection(rule.name, rule.title, [pool.quotes[i] for i in picked])
    return out


# ---------------------------------------------------------------- assembly


def _passage_vectors(index: Index, embedder: Embedder, hits: list[Hit]) -> np.ndarray:
    """The vectors the index stored for these chunks (headings + text, as search saw them);
    any chunk without one is embedded now. Re-embedding every passage would double the cost."""
    ids = [h.chunk_id for h in hits]
    marks = ",".join("?" * len(ids))
    rows = index.query(
        "SELECT c.chunk_id, e.vector FROM chunks c JOIN embeddings e ON e.hash = c.embed_hash "
        f"WHERE c.chunk_id IN ({marks})",
        ids,
    )
    stored = {r[0]: np.frombuffer(r[1], dtype="float32") for r in rows}
    missing = [h.text for h in hits if h.chunk_id not in stored]
    fresh = iter(embedder.encode(missing)) if missing else iter(())
    vectors = np.array([stored[i] if i in stored else next(fresh) for i in ids], dtype="float32")
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _provenance(
    index: Index, question: str, hits: list[Hit], filters: Filters | None, basket: list[str]
) -> Provenance:
    return Provenance(
        query=question,
        build_id=index.build_id,
        model=index.manifest.model,
        k=len(hits),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        filters=filters.to_json() if filters is not None else {},
        basket=list(basket),
    )


def _cite_all(content: BriefContent, refs: dict[str, Reference]) -> None:
    """Give every quote its source's APA in-text citation."""

    def cite(q: Quote) -> Quote:
        return replace(q, cite=refs[q.doc_id].in_text)

    content.key_messages = [cite(q) for q in content.key_messages]
    content.themes = [
        replace(t, key_message=cite(t.key_message), quotes=[cite(q) for q in t.quotes])
        for t in content.themes
    ]
    content.sections = {
        name: replace(s, quotes=[cite(q) for q in s.quotes]) for name, s in content.sections.items()
    }
    content.sources = [
        replace(s, quote=cite(s.quote) if s.quote else None, reference=refs[s.doc_id])
        for s in content.sources
    ]


def _sources(
    hits: list[Hit],
    pool: _Pool,
    studies: _Studies,
    refs: dict[str, Reference],
    per_study: dict[str, dict[str, list[str]]],
) -> list[SourceSummary]:
    """One entry per study, in the order search ranked them; merged files listed as also_in."""
    out = []
    for doc_id in dict.fromkeys(studies.find(h.doc_id) for h in hits):
        members = [d for d in dict.fromkeys(h.doc_id for h in hits) if studies.find(d) == doc_id]
        mine = [i for i, q in enumerate(pool.quotes) if q.doc_id == doc_id]
        best = max(mine, key=lambda i: pool.relevance[i]) if mine else None
        ref = refs[doc_id]
        first = next(h for h in hits if h.doc_id == doc_id)
        out.append(
            SourceSummary(
                doc_id=doc_id,
                source=first.source,
                title=first.title,
                author="; ".join(ref.authors),
                year=ref.year_label,
                pages=sorted({h.page for h in hits if h.doc_id == doc_id}),
                quote=pool.quotes[best] if best is not None else None,
                reference=ref,
                facets=per_study.get(doc_id, {}),
                also_in=[refs[d].source for d in members if d != doc_id],
            )
        )
    return out


def synthesize(
    index: Index,
    embedder: Embedder,
    question: str,
    hits: list[Hit],
    n_messages: int = MAX_THEMES,
    filters: Filters | None = None,
    basket: list[str] | None = None,
) -> BriefContent:
    """Build the content of a brief from search hits (or a hand-picked basket of chunks)."""
    content = BriefContent(
        question, [], [], _provenance(index, question, hits, filters, basket or [])
    )
    usable = [h for h in hits if not SKIP_SECTION.search(h.section)]
    if not usable:
        return content
    passage_vectors = _passage_vectors(index, embedder, usable)
    pairs = near_duplicates([h.text for h in usable], passage_vectors, DUP_COSINE, DUP_OVERLAP)
    dropped = {d for _, d, _ in pairs}
    content.duplicates = [
        Duplicate(usable[k].chunk_id, usable[k].source, usable[d].chunk_id, usable[d].source, s)
        for k, d, s in pairs
    ]
    refs = {d: reference_for(index, d) for d in dict.fromkeys(h.doc_id for h in usable)}
    refs = {r.doc_id: r for r in finish_references(list(refs.values()))}
    studies = _group_studies(usable, pairs, refs)
    content.evidence, per_study = _count_evidence(usable, studies, len(pairs))
    kept = [h for i, h in enumerate(usable) if i not in dropped]
    kept_vectors = passage_vectors[[i for i in range(len(usable)) if i not in dropped]]
    found = _candidates(index, kept)
    content.dropped_quotes = found.dropped
    if found.quotes:
        vectors = embedder.encode([q.text for q in found.quotes])
        target = embedder.encode_query(question) if question.strip() else kept_vectors.mean(0)
        target = target / (np.linalg.norm(target) or 1.0)
        relevance = vectors @ target
        quotes = [
            replace(q, score=round(float(s), 4))
            for q, s in zip(found.quotes, relevance, strict=True)
        ]
        finding = np.array(
            [
                finding_weight(kept[i].section, q.text)
                for i, q in zip(found.hit_of, quotes, strict=True)
            ]
        )
        pool = _Pool(quotes, np.array(found.hit_of), vectors, relevance, finding)
        content.themes = _themes(pool, kept, kept_vectors, studies, n_messages)
        content.key_messages = [t.key_message for t in content.themes]
        used = {i for i, q in enumerate(pool.quotes) if q in content.key_messages}
        content.sections = _sections(pool, kept, used)
    else:
        pool = _Pool([], np.zeros(0, dtype=int), np.zeros((0, 1)), np.zeros(0), np.zeros(0))
        content.sections = {r.name: ExtractedSection(r.name, r.title, []) for r in RULES}
    content.sources = _sources(usable, pool, studies, refs, per_study)
    shown_docs = {s.doc_id for s in content.sources} | {q.doc_id for q in pool.quotes}
    content.references = [r for r in refs.values() if r.doc_id in shown_docs]
    _cite_all(content, refs)
    content.checks = QuoteCheck(found.checked, len(found.quotes), len(content.all_quotes()))
    return content
