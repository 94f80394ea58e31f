"""The FAISS side of an index: which index type for how many vectors, and filtered search.

Up to FLAT_MAX_VECTORS chunks the index is exact (IndexFlatIP). Beyond, an inverted file
(IndexIVFFlat) keeps warm queries fast; its recall@10 against exact search is measured in
benchmarks/bench_faiss_scale.py. IVF rather than HNSW: at 1M vectors on two cores it built in
94 s where HNSW took 267 s for lower recall, it needs no graph memory, and with every list probed
it is an exact scan, so filtered search needs no second copy of the vectors.

Either way the ids are chunk rowids (IndexIDMap2), and a search restricted to a set of rowids
only ever scores allowed vectors, never by over-fetching and dropping. It is exact unless the
filter is broad (BROAD_SHARE of the chunks or more): such a filter is searched like no filter,
probing BROAD_PROBE_FACTOR times the usual lists with the filter as a selector, since an exact
scan of a quarter of 1M chunks took 280 ms (recall measured in benchmarks/README.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from . import vectors_pq
from .files import clone_file
from .topk import sorted_unique, verified_top

# Exact flat search up to this many vectors (about 15 ms a query on one core at 200k); IVF beyond.
FLAT_MAX_VECTORS = 200_000
# Past this many, the compressed, memory-mapped IVF-PQ index of vectors_pq.py (IVFFlat holds
# 1.5 kB a chunk in memory: 3 GB at 2M; benchmarks/README.md, "Index for 10M chunks").
PQ_MIN_VECTORS = 2_000_000
# IVF: about 2*sqrt(N) lists (a power of two, at least 39 training points each), 10 k-means
# iterations on at most 64 points a list, and 1/16 of the lists probed (recall@10 ~0.99 at 1M).
IVF_TRAIN_PER_LIST = 64
IVF_MIN_PER_LIST = 39
IVF_NITER = 10
IVF_PROBE_SHARE = 16
IVF_MIN_PROBE = 8
# Filters down to this many vectors are scored by reconstructing them and one numpy matmul;
# larger ones by a FAISS scan with a bitmap selector (every IVF list probed, so still exact).
GATHER_MAX = 4096
# Filters allowing at least this share of an IVF index probe BROAD_PROBE_FACTOR x the usual
# lists instead of all of them, and fall back to the full scan if that finds fewer than
# BROAD_MIN_FOUND allowed vectors (a fixed count, so the choice never depends on k).
BROAD_SHARE = 1 / 16
BROAD_PROBE_FACTOR = 2
BROAD_MIN_FOUND = 1024

FLAT_NAME = "IndexIDMap2(IndexFlatIP)"


def ivf_lists(n: int) -> int:
    """Number of IVF lists for n vectors: ~2*sqrt(n), rounded to a power of two."""
    nlist = 2 ** max(0, round(math.log2(2 * math.sqrt(max(n, 1)))))
    while nlist > 1 and nlist * IVF_MIN_PER_LIST > n:
        nlist //= 2
    return nlist


def ivf_probes(nlist: int) -> int:
    return min(nlist, max(IVF_MIN_PROBE, nlist // IVF_PROBE_SHARE))


def ivf_name(nlist: int) -> str:
    return f"IndexIDMap2(IndexIVFFlat(nlist={nlist}, nprobe={ivf_probes(nlist)}))"


def build_faiss(
    ids: np.ndarray, vectors: np.ndarray, flat_max: int | None = None
) -> tuple[faiss.Index, str]:
    """An index over L2-normalised `vectors` with chunk rowids `ids`; returns it and its name.

    `flat_max` (default FLAT_MAX_VECTORS) is the most vectors still given an exact flat index.
    """
    n, dimension = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype="float32")
    if n <= (FLAT_MAX_VECTORS if flat_max is None else flat_max):
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        name = FLAT_NAME
    else:
        inner = _trained_ivf(vectors)
        index = faiss.IndexIDMap2(inner)
        name = ivf_name(inner.nlist)
    if n:
        index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype="int64"))
    if name != FLAT_NAME:
        faiss.downcast_index(index.index).make_direct_map()
    return index, name


def write_index(ids: np.ndarray, vectors: np.ndarray, path: Path) -> tuple[int, str]:
    """Write the FAISS index chosen for this many vectors; return (vectors written, its name)."""
    index, name = build_faiss(ids, vectors)
    faiss.write_index(index, str(path))
    return index.ntotal, name


def write_index_batches(
    n: int, dimension: int, batches: vectors_pq.Batches, path: Path, pq_min: int | None = None
) -> tuple[int, str]:
    """Write the index for `n` vectors that `batches()` streams as (rowids, vectors) in rowid
    order: in memory up to `pq_min` (default PQ_MIN_VECTORS), compressed and streamed beyond."""
    if n > (PQ_MIN_VECTORS if pq_min is None else pq_min):
        return vectors_pq.write_index(n, dimension, batches, path)
    ids = np.empty(n, dtype="int64")
    x = np.empty((n, dimension), dtype="float32")
    filled = 0
    for block_ids, block in batches():  # filled in place: one copy of the vectors, not two
        ids[filled : filled + len(block_ids)] = block_ids
        x[filled : filled + len(block_ids)] = block
        filled += len(block_ids)
    return write_index(ids[:filled], x[:filled], path)


def copy_index(old: Path, new: Path) -> None:
    """Carry a build's vector files into a new build unchanged, as clones that share nothing
    writable with the old build (files.py)."""
    for name in ("vectors.faiss", vectors_pq.RAW, vectors_pq.RAW_IDS):
        if (old / name).is_file():
            clone_file(old / name, new / name)


def read_dense(path: Path) -> DenseIndex | vectors_pq.CompressedDenseIndex:
    """The reading side of a build's vectors, whichever kind of index they are in."""
    if vectors_pq.is_compressed(path):
        return vectors_pq.CompressedDenseIndex(path)
    return DenseIndex.read(str(path))


def _trained_ivf(vectors: np.ndarray) -> faiss.IndexIVFFlat:
    n, dimension = vectors.shape
    nlist = ivf_lists(n)
    quantizer = faiss.IndexFlatIP(dimension)
    inner = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    inner.cp.niter = IVF_NITER
    inner.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST
    sample = np.random.default_rng(0).choice(n, min(n, nlist * IVF_TRAIN_PER_LIST), replace=False)
    inner.train(vectors[np.sort(sample)])
    inner.nprobe = ivf_probes(nlist)
    return inner


class DenseIndex:
    """Top-k inner-product search over chunk rowids, optionally restricted to allowed rowids."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        self._inner = faiss.downcast_index(index.index)
        if isinstance(self._inner, faiss.IndexIVF):
            self._inner.nprobe = ivf_probes(self._inner.nlist)
            if self._inner.direct_map.type == faiss.DirectMap.NoMap:
                self._inner.make_direct_map()
        elif not isinstance(self._inner, faiss.IndexFlat):
            raise TypeError(f"unsupported FAISS index for synth: {type(self._inner).__name__}")
        self._ids = faiss.vector_to_array(index.id_map).astype("int64", copy=False)
        self._order = np.argsort(self._ids, kind="stable")
        self._sorted_ids = self._ids[self._order]

    @classmethod
    def read(cls, path: str) -> DenseIndex:
        return cls(faiss.read_index(path))

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def close(self) -> None:
        """Nothing to release: the index is in memory (the compressed tier holds a file)."""

    def search(
        self, vector: np.ndarray, limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The best `limit` (rowid, score) pairs, best first; with `allowed`, only those, exact
        unless the filter is broad on IVF (module docstring)."""
        if self.ntotal == 0 or limit <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype="float32").reshape(1, -1)
        if allowed is None:
            return verified_top(lambda m: self._scan(self.index, query, m), limit) or []
        internal = self._internal(allowed)
        if internal.size == 0:
            return []
        if internal.size <= GATHER_MAX:
            return self._gather_search(query[0], limit, internal)
        return self._selector_search(query, limit, internal)

    def _internal(self, allowed: np.ndarray) -> np.ndarray:
        """FAISS positions of the allowed rowids that are in the index (unknown ones ignored)."""
        wanted = sorted_unique(allowed)
        pos = np.searchsorted(self._sorted_ids, wanted)
        pos = np.minimum(pos, len(self._sorted_ids) - 1)
        present = self._sorted_ids[pos] == wanted
        return self._order[pos[present]]

    def _gather_search(
        self, query: np.ndarray, limit: int, internal: np.ndarray
    ) -> list[tuple[int, float]]:
        # Above 1,000 ids FAISS reconstructs on OpenMP threads: 11.9 ms against 0.24 ms on one
        # thread for 1,300 ids in a process with the model loaded (bench_scale, 100k).
        with vectors_pq.one_thread():
            gathered = self._inner.reconstruct_batch(internal)
        scores = gathered @ query
        rowids = self._ids[internal]
        best = np.lexsort((rowids, -scores))[:limit]
        return [(int(rowids[i]), float(scores[i])) for i in best]

    def _selector_search(
        self, query: np.ndarray, limit: int, internal: np.ndarray
    ) -> list[tuple[int, float]]:
        mask = np.zeros(self.ntotal, dtype=bool)
        mask[internal] = True
        selector = faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
        if not isinstance(self._inner, faiss.IndexIVF):
            return self._filtered_top(query, limit, faiss.SearchParameters(sel=selector))[0]
        nlist = self._inner.nlist
        if internal.size >= BROAD_SHARE * self.ntotal:
            nprobe = min(nlist, BROAD_PROBE_FACTOR * self._inner.nprobe)
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            found, seen = self._filtered_top(query, limit, params, BROAD_MIN_FOUND)
            if seen >= min(BROAD_MIN_FOUND, internal.size):
                return found
        # Every list probed: an exact scan of the allowed vectors.
        params = faiss.SearchParametersIVF(sel=selector, nprobe=nlist)
        return self._filtered_top(query, limit, params)[0]

    def _filtered_top(
        self, query: np.ndarray, limit: int, params: faiss.SearchParameters, least: int = 0
    ) -> tuple[list[tuple[int, float]], int]:
        """The top `limit` FAISS finds under `params` (fetching at least `least`), and how
        many allowed vectors its first fetch returned."""
        seen: list[int] = []

        def fetch(m: int) -> tuple[np.ndarray, np.ndarray]:
            found = self._scan(self._inner, query, max(m, least), params, self._ids)
            seen.append(len(found[0]))
            return found

        return verified_top(fetch, limit) or [], seen[0] if seen else 0

    @staticmethod
    def _scan(
        index: faiss.Index,
        query: np.ndarray,
        limit: int,
        params: faiss.SearchParameters | None = None,
        labels: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's best `limit` as (rowids, scores); `labels` maps positions to rowids."""
        with vectors_pq.one_thread():
            scores, found = index.search(query, limit, params=params)
        keep = found[0] >= 0
        ids = found[0][keep]
        return (labels[ids] if labels is not None else ids), scores[0][keep].astype("float64")
