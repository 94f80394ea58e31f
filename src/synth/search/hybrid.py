"""Hybrid search: dense (FAISS) and keyword (BM25) candidates, fused by reciprocal rank.

Each retriever returns scored rowids from the index; fusion and turning rowids into hits
happen here, so a query goes down the layers once and comes back once.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from synth.index import Index
from synth.index.facets import FacetCount, facet_counts
from synth.ingest.embed import Embedder
from synth.models import Filters, Hit
from synth.taxonomy import Taxonomy, load_taxonomy

Mode = Literal["fused", "dense", "keyword"]
Fusion = Literal["weighted", "rrf"]
MAX_QUERY_CHARS = 4000
# Fused search runs the keyword side on this pool while the calling thread embeds the query
# and searches FAISS: tantivy, FAISS and torch release the GIL, so on two cores the two sides
# overlap (benchmarks/README.md, "Past one machine"). Shared by every caller (the app's sessions).
_KEYWORD_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="synth-keyword")


@dataclass(frozen=True)
class SearchSettings:
    """Fusion method and candidate pool; `alpha` (dense share) applies to "weighted" fusion."""

    k: int = 10
    mode: Mode = "fused"
    alpha: float = 0.5
    pool: int = 60
    # "rrf": reciprocal rank fusion, sum of 1 / (rrf_k + rank); "weighted": alpha-weighted sum of
    # min-max normalised scores. RRF won on the dev QA set (benchmarks/README.md, "Retrieval
    # quality"); k = 60 is the literature's default, not tuned.
    fusion: Fusion = "rrf"
    rrf_k: int = 60
    # Chunk-level tags below this confidence do not count for filters and facet chips.
    min_confidence: float = 0.6
    # Facet counts are taken over this many of the best fused candidates.
    facet_pool: int = 200
    # A document covering many countries fills at most this share of a page of passages, so
    # one multi-country review cannot crowd out the single-country studies.
    multi_country_share: float = 0.25


@dataclass
class SearchResult:
    """Hits plus what a faceted interface needs: counts per value and the filter's reach."""

    hits: list[Hit]
    filters: Filters = field(default_factory=Filters)
    n_allowed: int | None = None
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"hits": [h.to_json() for h in self.hits]}
        out["filters"] = self.filters.to_json()
        if self.n_allowed is not None:
            out["n_allowed"] = self.n_allowed
        if self.facets:
            out["facets"] = {
                facet: [vars(c) for c in counts] for facet, counts in self.facets.items()
            }
        return out


def clean_query(query: str) -> str:
    """Drop control characters and cap the length: a pasted report should not stall search."""
    query = "".join(ch if ch.isprintable() else " " for ch in query or "")
    return re.sub(r"\s+", " ", query).strip()[:MAX_QUERY_CHARS]


def _normalise(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-9:
        return {key: 1.0 for key in scores}
    return {key: (value - lo) / (hi - lo) for key, value in scores.items()}


def _rrf(scores: dict[int, float], k: int) -> dict[int, float]:
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return {key: 1.0 / (k + rank) for rank, (key, _) in enumerate(ranked, start=1)}


def _fuse(
    dense: dict[int, float], keyword: dict[int, float], settings: SearchSettings
) -> dict[int, float]:
    """Combine the two candidate lists; a chunk missing from one list gets 0 from it."""
    if settings.fusion == "rrf":
        d, kw = _rrf(dense, settings.rrf_k), _rrf(keyword, settings.rrf_k)
        return {key: d.get(key, 0.0) + kw.get(key, 0.0) for key in set(d) | set(kw)}
    d, kw = _normalise(dense), _normalise(keyword)
    return {
        key: settings.alpha * d.get(key, 0.0) + (1 - settings.alpha) * kw.get(key, 0.0)
        for key in set(d) | set(kw)
    }


def _rank(
    index: Index,
    embedder: Embedder | None,
    query: str,
    settings: SearchSettings,
    allowed: np.ndarray | None,
    depth: int,
) -> tuple[list[tuple[int, float]], dict[int, float], dict[int, float]]:
    """Fused ranking of up to `depth` chunks among `allowed` (all when None).

    Fusion always sees each retriever's top `settings.pool`, whatever `depth` is, so the top n
    never depends on how many were asked for. Past the fused candidates (only when `depth`
    asks for more), chunks follow by their best rank in either list, dense first on a tie:
    an order that more depth only extends.
    """
    fetch = max(settings.pool, depth)
    dense_list: list[tuple[int, float]] = []
    keyword_list: list[tuple[int, float]] = []
    embed = embedder if settings.mode in ("fused", "dense") else None
    run_keyword = settings.mode in ("fused", "keyword")
    keyword = None
    if embed is not None and run_keyword:  # both sides: the keyword side overlaps the dense one
        keyword = _KEYWORD_POOL.submit(index.keyword_search, query, fetch, allowed)
    elif run_keyword:
        keyword_list = index.keyword_search(query, fetch, allowed)
    if embed is not None:
        try:
            dense_list = index.dense_search(embed.encode_query(query), fetch, allowed)
        except BaseException:
            if keyword is not None:
                keyword.cancel()
            raise
    if keyword is not None:
        keyword_list = keyword.result()
    if settings.mode != "fused":
        ranked = (dense_list if settings.mode == "dense" else keyword_list)[:depth]
        return ranked, dict(dense_list[:depth]), dict(keyword_list[:depth])
    pool = settings.pool
    fused = _fuse(dict(dense_list[:pool]), dict(keyword_list[:pool]), settings)
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:depth]
    if len(ranked) < depth:
        ranked += _beyond_pool(dense_list, keyword_list, settings, set(fused), depth - len(ranked))
    # Each hit shows the side scores that were fetched (a cosine is a cosine at any depth).
    return ranked, dict(dense_list), dict(keyword_list)


def _beyond_pool(
    dense_list: list[tuple[int, float]],
    keyword_list: list[tuple[int, float]],
    settings: SearchSettings,
    seen: set[int],
    wanted: int,
) -> list[tuple[int, float]]:
    """Chunks ranked past the pool in both lists, interleaved by rank (dense first)."""
    out: list[tuple[int, float]] = []
    for rank in range(settings.pool, max(len(dense_list), len(keyword_list))):
        for found in (dense_list, keyword_list):
            if rank < len(found) and found[rank][0] not in seen and len(out) < wanted:
                seen.add(found[rank][0])
                score = 1.0 / (settings.rrf_k + rank + 1) if settings.fusion == "rrf" else 0.0
                out.append((found[rank][0], score))
    return out


def search(
    index: Index,
    embedder: Embedder | None,
    query: str,
    settings: SearchSettings | None = None,
    filters: Filters | None = None,
) -> list[Hit]:
    """Return up to k hits; odd input (empty, huge, operators, any script) gives [] or hits."""
    return search_faceted(index, embedder, query, settings, filters, with_counts=False).hits


def search_faceted(
    index: Index,
    embedder: Embedder | None,
    query: str,
    settings: SearchSettings | None = None,
    filters: Filters | None = None,
    with_counts: bool = True,
    taxonomy: Taxonomy | None = None,
) -> SearchResult:
    """Exact filtered search: both retrievers rank only the chunks the filter allows.

    Facet counts cover the best `facet_pool` fused candidates, or every allowed chunk when the
    query is empty (browsing by facet).
    """
    settings = settings or SearchSettings()
    filters = filters or Filters()
    taxonomy = taxonomy or load_taxonomy()
    query = clean_query(query)
    allowed = allowed_ids(index, filters, settings, taxonomy)
    result = SearchResult([], filters, None if allowed is None else len(allowed))
    if query and settings.k > 0:
        depth = max(settings.k * 2, settings.facet_pool if with_counts else 0)
        ranked, dense, keyword = _rank(index, embedder, query, settings, allowed, depth)
        page = _capped(index, ranked, settings)
        result.hits = _hits(index, page, dense, keyword, settings)
        counted = [key for key, _ in ranked]
    elif allowed is not None:
        counted = allowed.tolist()
    else:
        counted = None
    if with_counts and index.has_facets:
        if counted is None:
            counted = [r[0] for r in index.query("SELECT id FROM chunks")]
        result.facets = facet_counts(index.query, counted, taxonomy, settings.min_confidence)
    return result


def expand_groups(filters: Filters, taxonomy: Taxonomy) -> Filters:
    """Filters with group values (income lmic) replaced by their members."""
    values = {facet: taxonomy.expand(facet, items) for facet, items in filters.values.items()}
    return replace(filters, values=values)


def allowed_ids(
    index: Index, filters: Filters, settings: SearchSettings, taxonomy: Taxonomy
) -> np.ndarray | None:
    """The chunk rowids a filter allows, or None when there is no filter."""
    if filters.empty:
        return None
    return index.filter_ids(expand_groups(filters, taxonomy), settings.min_confidence)


def _capped(
    index: Index, ranked: list[tuple[int, float]], settings: SearchSettings
) -> list[tuple[int, float]]:
    """The first k of `ranked`, with each multi-country document held to its share."""
    multi = index.multi_country_docs()
    if not multi:
        return ranked[: settings.k]
    cap = max(1, int(settings.k * settings.multi_country_share))
    doc_of = {r.rowid: r.doc_id for r in index.chunks([key for key, _ in ranked]).values()}
    taken: dict[str, int] = {}
    page = []
    for key, score in ranked:
        doc = doc_of.get(key, "")
        if doc in multi:
            if taken.get(doc, 0) >= cap:
                continue
            taken[doc] = taken.get(doc, 0) + 1
        page.append((key, score))
        if len(page) == settings.k:
            break
    return page


def _hits(
    index: Index,
    ranked: list[tuple[int, float]],
    dense: dict[int, float],
    keyword: dict[int, float],
    settings: SearchSettings,
) -> list[Hit]:
    records = index.chunks([key for key, _ in ranked])
    tags = index.chunk_facets([key for key, _ in ranked], settings.min_confidence)
    hits = []
    for rank, (key, score) in enumerate(ranked, start=1):
        rec = records.get(key)
        if rec is None:
            continue
        scores = {"dense_score": dense.get(key), "keyword_score": keyword.get(key)}
        found = {name: value for name, value in scores.items() if value is not None}
        hits.append(rec.hit(rank, score, tags.get(key, {}), **found))
    return hits
