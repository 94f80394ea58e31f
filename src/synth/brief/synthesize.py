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
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from synth.index import Index
from synth.ingest.embed import Embedder
from synth.models import Filters, Hit, StudyRecord
from synth.taxonomy import load_taxonomy

from .allocate import Allocation, Pool, allocate
from .cluster import choose_themes, near_duplicates
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
from .context import context_fit, theme_note
from .findings import describe_theme, finding_detail, match_findings, profile, strength
from .quotes import Units, candidate_units, verify_quote
from .references import Reference, finish_references, reference_for
from .roles import ROLES, role_scores, roles_from_scores
from .sections import SECTIONS, layout_for
from .titles import named_topics, theme_titles

# Passages that cite, list or thank, and web-page furniture, are not evidence to quote or count.
SKIP_SECTION = re.compile(
    r"\b(references|bibliography|works cited|sources|contents|acknowledg\w*|further (blogs|"
    r"reading|posts)|related (posts|articles)|connect with us|subscribe|newsletter|follow us|"
    r"share this|is supported by)\b",
    re.I,
)
COUNT_FACETS = ("evidence_type", "design", "country", "phase")
DUP_COSINE = 0.95
DUP_OVERLAP = 0.6
MAX_THEMES = 5
__all__ = ["SKIP_SECTION", "COUNT_FACETS", "synthesize", "verify_quote"]


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


# What a study record says of its document outranks what a passage mentions: a review that
# cites an Indian trial took place where its record says, not in India.
RECORD_VALUES: dict[str, Callable[[StudyRecord], list[str]]] = {
    "design": lambda r: [r.design] if r.design else [],
    "country": lambda r: list(r.countries),
    "phase": lambda r: list(r.phase),
}


def _count_evidence(
    hits: list[Hit], studies: _Studies, n_duplicates: int, records: dict[str, StudyRecord]
) -> tuple[EvidenceCounts, dict[str, dict[str, list[str]]]]:
    """Distinct studies per facet value, from the study records where a document has one and
    the hits' facets otherwise; also each study's labels."""
    labels, facets = _facet_labels()
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for hit in hits:
        study = studies.find(hit.doc_id)
        record = records.get(hit.doc_id)
        for name in COUNT_FACETS:
            if record is not None and name in RECORD_VALUES:
                values[study][name].update(RECORD_VALUES[name](record))
            else:
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


# ---------------------------------------------------------------- context, sources, citations


def _fit_context(
    content: BriefContent,
    index: Index,
    question: str,
    filters: Filters | None,
    studies: _Studies,
    refs: dict[str, Reference],
) -> None:
    """The brief's context fit, and a note on each theme none of whose studies fit."""
    study_ids = list(dict.fromkeys(s.doc_id for s in content.sources))
    cites = {d: refs[d].in_text for d in study_ids}
    top = study_ids[0] if study_ids else None  # sources follow search's ranking
    fit, asked, contexts = context_fit(index, question, filters, study_ids, cites, top)
    content.context = fit
    content.themes = [
        replace(t, context_note=theme_note(asked, contexts, [studies.find(d) for d in t.doc_ids]))
        for t in content.themes
    ]


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


def _cite(q: Quote | None, refs: dict[str, Reference]) -> Quote | None:
    return replace(q, cite=refs[q.doc_id].in_text) if q is not None else None


def _cite_all(content: BriefContent, refs: dict[str, Reference]) -> None:
    """Give every quote its source's APA in-text citation."""
    content.key_messages = [_cite(q, refs) for q in content.key_messages]
    content.themes = [
        replace(
            t, key_message=_cite(t.key_message, refs), quotes=[_cite(q, refs) for q in t.quotes]
        )
        for t in content.themes
    ]
    content.sections = {
        name: replace(s, quotes=[_cite(q, refs) for q in s.quotes])
        for name, s in content.sections.items()
    }
    content.sources = [
        replace(s, quote=_cite(s.quote, refs), reference=refs[s.doc_id]) for s in content.sources
    ]


def _sources(
    hits: list[Hit],
    pool: Pool | None,
    used: set[int],
    studies: _Studies,
    refs: dict[str, Reference],
    per_study: dict[str, dict[str, list[str]]],
) -> list[SourceSummary]:
    """One entry per study, in the order search ranked them; merged files listed as also_in.
    A study's quote is its most relevant one among those the brief prints."""
    out = []
    for doc_id in dict.fromkeys(studies.find(h.doc_id) for h in hits):
        members = [d for d in dict.fromkeys(h.doc_id for h in hits) if studies.find(d) == doc_id]
        mine = [i for i in used if pool.units[i].quote.doc_id == doc_id] if pool else []
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
                quote=pool.units[best].quote if best is not None else None,
                reference=ref,
                facets=per_study.get(doc_id, {}),
                also_in=[refs[d].source for d in members if d != doc_id],
            )
        )
    return out


# ---------------------------------------------------------------- themes


def _pool(
    embedder: Embedder,
    question: str,
    kept: list[Hit],
    kept_vectors: np.ndarray,
    found: Units,
    labels: np.ndarray,
    records: dict[str, StudyRecord],
) -> Pool:
    """Embed each unit, give it a role and a relevance to the question. A unit that is one of
    its study record's findings is a finding, carries the record's direction, outcome and size,
    and weighs more as a key message the stronger its design and when a size is printed."""
    units = found.units
    vectors = _unit(embedder.encode([u.quote.text for u in units]))
    mains = [u.main for u in units]
    paired = [i for i, u in enumerate(units) if u.paired]
    main_vectors = vectors.copy()
    if paired:
        main_vectors[paired] = _unit(embedder.encode([mains[i] for i in paired]))
    scores = role_scores(mains, [kept[u.hit].section for u in units], main_vectors, embedder)
    roles = roles_from_scores(scores)
    classified = list(roles)
    own = scores[np.arange(len(units)), [ROLES.index(r) for r in roles]]
    matched = match_findings(units, records)
    evidence = np.zeros(len(units), dtype="float32")
    may_lead = np.array([u.quote.doc_id not in records for u in units], dtype=bool)
    taxonomy = load_taxonomy()
    for i, unit in enumerate(units):
        record = records.get(unit.quote.doc_id)
        finding = matched.get(i)
        if finding is not None:
            roles[i], own[i], may_lead[i] = "finding", max(float(own[i]), 3.0), True
            evidence[i] = 0.4 + 0.4 * (finding.effect is not None) + 0.2 * strength(record) / 4
            # The record's headline (what its study card leads with) outranks its side results.
            evidence[i] += 0.3 * (record is not None and finding == record.headline)
        detail = finding_detail(finding, profile(record, taxonomy))
        unit.quote = replace(unit.quote, role=classified[i], finding=finding, detail=detail)
    target = embedder.encode_query(question) if question.strip() else kept_vectors.mean(0)
    target = target / (np.linalg.norm(target) or 1.0)
    return Pool(
        units, roles, np.tanh(own / 3), vectors, vectors @ target,
        labels[[u.hit for u in units]], len(kept), evidence, may_lead, classified,
    )  # fmt: skip


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _themes(
    pool: Pool,
    kept: list[Hit],
    kept_vectors: np.ndarray,
    labels: np.ndarray,
    studies: _Studies,
    layout: tuple[str, ...],
    records: dict[str, StudyRecord],
) -> tuple[list[Theme], Allocation]:
    """Allocate units, then build the themes: lead finding, support, title, study counts."""
    groups = sorted(set(labels.tolist()))
    centres = {g: _unit(kept_vectors[labels == g].sum(axis=0, keepdims=True))[0] for g in groups}
    n_studies = {
        g: len({studies.find(kept[i].doc_id) for i in np.flatnonzero(labels == g)}) for g in groups
    }
    order = sorted(groups, key=lambda g: (-n_studies[g], int(np.flatnonzero(labels == g)[0])))
    alloc = allocate(pool, order, centres, layout)
    titles = theme_titles([h.text for h in kept], labels.tolist(), named_topics(kept))
    themes = []
    for g in order:
        members = np.flatnonzero(labels == g)
        docs = list(dict.fromkeys(kept[i].doc_id for i in members))
        lead = alloc.leads.get(g)
        headings = Counter(kept[i].section.split(" > ")[-1] for i in members if kept[i].section)
        title = titles.get(g)
        themes.append(
            Theme(
                label=title.text if title else "Other evidence",
                key_message=pool.units[lead].quote if lead is not None else None,
                quotes=[pool.units[i].quote for i in alloc.support.get(g, [])],
                n_passages=len(members),
                n_studies=n_studies[g],
                doc_ids=docs,
                headings=[h for h, _ in headings.most_common(3)],
                label_source=title.source if title else "",
                studies_text=describe_theme(
                    list(dict.fromkeys(studies.find(d) for d in docs)), kept, records
                ),
            )
        )
    # Themes with a finding first: the strongest design, then the most relevant finding.
    rank: dict[int, tuple[float, float]] = {}
    for g, theme in zip(order, themes, strict=True):
        lead = alloc.leads.get(g)
        if lead is None:
            rank[id(theme)] = (-1.0, -9.0)
            continue
        record = records.get(pool.units[lead].quote.doc_id)
        rank[id(theme)] = (float(strength(record)), float(pool.relevance[lead]))
    themes.sort(key=lambda t: (-rank[id(t)][0], -rank[id(t)][1]))
    return themes, alloc


# ---------------------------------------------------------------- assembly


def synthesize(
    index: Index,
    embedder: Embedder,
    question: str,
    hits: list[Hit],
    n_messages: int = MAX_THEMES,
    filters: Filters | None = None,
    basket: list[str] | None = None,
    template: str | None = None,
) -> BriefContent:
    """Build the content of a brief from search hits (or a hand-picked basket of chunks).

    `template` names the layout the sections are allocated for (see `sections.LAYOUTS`), so
    that every passage appears in a section that template prints and no sentence twice.
    """
    layout = layout_for(template)
    content = BriefContent(
        question, [], [], _provenance(index, question, hits, filters, basket or []),
        template=template or "",
    )  # fmt: skip
    content.sections = {s.name: ExtractedSection(s.name, s.title, []) for s in SECTIONS}
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
    records = index.studies(list({h.doc_id for h in usable}))
    content.evidence, per_study = _count_evidence(usable, studies, len(pairs), records)
    kept = [h for i, h in enumerate(usable) if i not in dropped]
    kept_vectors = passage_vectors[[i for i in range(len(usable)) if i not in dropped]]
    found = candidate_units(index, kept)
    content.dropped_quotes = found.dropped
    content.unquoted = [kept[i].chunk_id for i in found.passages_without_units]
    pool, used = None, set()
    if found.units:
        labels = choose_themes(kept_vectors, max_k=n_messages)
        pool = _pool(embedder, question, kept, kept_vectors, found, labels, records)
        content.themes, alloc = _themes(pool, kept, kept_vectors, labels, studies, layout, records)
        content.key_messages = [t.key_message for t in content.themes if t.key_message is not None]
        used = alloc.used
        for name, units in alloc.sections.items():
            spec = content.sections[name]
            content.sections[name] = replace(spec, quotes=[pool.units[i].quote for i in units])
    content.sources = _sources(usable, pool, used, studies, refs, per_study)
    shown_docs = {s.doc_id for s in content.sources}
    content.references = [r for r in refs.values() if r.doc_id in shown_docs]
    _cite_all(content, refs)
    _fit_context(content, index, question, filters, studies, refs)
    n_units = len(found.units)
    content.checks = QuoteCheck(
        found.checked,
        found.checked - len(found.dropped),
        len(content.all_quotes()),
        found.fragments,
    )
    del n_units
    return content
