"""Exact top-k with a total order: score descending, then rowid, whatever the engine's tie order.

Search results must not depend on how many were asked for (a `--k 10` top ten is the top ten
of `--k 100`), so every retriever cuts its ranking where no unseen hit can tie or beat the
last one kept, and breaks ties by rowid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def verified_top(
    fetch: Callable[[int], tuple[np.ndarray, np.ndarray]],
    limit: int,
    allowed: np.ndarray | None = None,
    max_depth: int | None = None,
    first: int | None = None,
) -> list[tuple[int, float]] | None:
    """The exact best `limit` (rowid, score) pairs, ties broken by rowid, from a ranked fetch.

    `fetch(m)` returns an engine's best m hits as (rowids, scores), scores descending, any
    order among ties. Hits are fetched deeper until every hit that could rank in the top
    `limit` has been seen: the `limit`-th kept score is strictly above the last fetched score,
    or the fetch ran dry. With `allowed` (sorted rowids) only those are kept, and deepening
    until that proof holds makes the answer exactly the allowed top `limit`, never a
    post-filtered approximation. None if that would take more than `max_depth` hits (the
    caller then filters inside the engine). `first` is the depth to start at, when the caller
    can tell that `limit` + 1 will not be enough (a filter's share of the collection), held to
    `max_depth`; where the search starts never changes the answer, only how many fetches it
    takes (and, past `max_depth`, only which fetch gives up).
    """
    depth = max(limit + 1, first or 0)
    if max_depth is not None:
        depth = min(depth, max(max_depth, limit + 1))
    while True:
        ids, scores = fetch(depth)
        exhausted = len(ids) < depth
        if allowed is not None and len(ids):
            pos = np.minimum(np.searchsorted(allowed, ids), len(allowed) - 1)
            keep = allowed[pos] == ids
            kept_ids, kept_scores = ids[keep], scores[keep]
        else:
            kept_ids, kept_scores = ids, scores
        if exhausted or (len(kept_ids) >= limit and kept_scores[limit - 1] > scores[-1]):
            order = np.lexsort((kept_ids, -kept_scores))[:limit]
            return [(int(kept_ids[i]), float(kept_scores[i])) for i in order]
        if max_depth is not None and depth >= max_depth:
            return None
        share = max(len(kept_ids), 1) / len(ids)
        depth = max(2 * depth, int(1.5 * (limit + 1) / share))
        if max_depth is not None:
            depth = min(depth, max_depth)


def sorted_unique(rowids: np.ndarray | list[int]) -> np.ndarray:
    """Rowids sorted without repeats. A filter's allowed set already is, and passes through:
    np.unique (hashing, then sorting) took 95 ms for 250,000 rowids, a check takes 0.3 ms."""
    ids = np.asarray(rowids, dtype="int64")
    if ids.size < 2 or bool(np.all(ids[1:] > ids[:-1])):
        return ids
    return np.unique(ids)
