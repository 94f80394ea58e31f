"""Hybrid search: FAISS dense scores and FTS5 BM25 scores, min-max normalised and mixed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .embed import Embedder
from .index import Index
from .models import Hit

Mode = Literal["fused", "dense", "keyword"]
MAX_QUERY_TERMS = 48
MAX_QUERY_CHARS = 4000


@dataclass(frozen=True)
class SearchSettings:
    """Fusion weight and candidate pool; `alpha` is the dense share of the fused score."""

    k: int = 10
    mode: Mode = "fused"
    alpha: float = 0.5
    pool: int = 60


def clean_query(query: str) -> str:
    """Drop control characters and cap the length: a pasted report should not stall search."""
    query = "".join(ch if ch.isprintable() else " " for ch in query or "")
    return re.sub(r"\s+", " ", query).strip()[:MAX_QUERY_CHARS]


def fts_query(query: str) -> str:
    """Build an FTS5 MATCH expression that cannot be a syntax error: quoted terms joined by OR.

    Only word characters survive, each term is wrapped in double quotes, so operators, quotes,
    brackets and column filters in user text are read as plain words (or dropped).
    """
    seen: dict[str, None] = {}
    for term in re.findall(r"\w+", query.lower()):
        if term not in seen:
            seen[term] = None
        if len(seen) >= MAX_QUERY_TERMS:
            break
    return " OR ".join(f'"{term}"' for term in seen)


def _normalise(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-9:
        return {key: 1.0 for key in scores}
    return {key: (value - lo) / (hi - lo) for key, value in scores.items()}


def search(
    index: Index,
    embedder: Embedder | None,
    query: str,
    settings: SearchSettings | None = None,
) -> list[Hit]:
    """Return up to k hits; odd input (empty, huge, operators, any script) gives [] or hits."""
    settings = settings or SearchSettings()
    query = clean_query(query)
    if not query or settings.k <= 0:
        return []
    pool = max(settings.pool, settings.k)
    dense: dict[int, float] = {}
    keyword: dict[int, float] = {}
    if settings.mode in ("fused", "dense") and embedder is not None:
        dense = dict(index.dense_search(embedder.encode_query(query), pool))
    if settings.mode in ("fused", "keyword"):
        keyword = dict(index.keyword_search(fts_query(query), pool))
    if settings.mode == "dense":
        fused = dense
    elif settings.mode == "keyword":
        fused = keyword
    else:
        d, kw = _normalise(dense), _normalise(keyword)
        fused = {
            key: settings.alpha * d.get(key, 0.0) + (1 - settings.alpha) * kw.get(key, 0.0)
            for key in set(d) | set(kw)
        }
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[: settings.k]
    records = index.chunks([key for key, _ in ranked])
    hits = []
    for rank, (key, score) in enumerate(ranked, start=1):
        rec = records.get(key)
        if rec is None:
            continue
        hits.append(
            Hit(
                chunk_id=rec.chunk_id,
                doc_id=rec.doc_id,
                text=rec.text,
                source=rec.source,
                title=rec.title,
                page=rec.page_start,
                page_end=rec.page_end,
                section=rec.section,
                score=round(float(score), 6),
                dense_score=round(dense[key], 6) if key in dense else None,
                keyword_score=round(keyword[key], 6) if key in keyword else None,
                rank=rank,
            )
        )
    return hits
