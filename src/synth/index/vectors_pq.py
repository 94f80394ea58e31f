"""The FAISS index past PQ_MIN_VECTORS chunks: compressed, memory-mapped, re-scored exactly.

At 10M chunks float32 vectors take 15 GB, more than a machine should hold for search. Here the
index is IVF with product quantization (PQ_M bytes a vector plus an 8-byte rowid in
its inverted list), trained on a sample, written with FAISS's own format and read with
IO_FLAG_MMAP, so the operating system pages in only the lists a query probes. The float32
vectors sit beside it on disk (`vectors.f32`, rows in rowid order, read with pread, and
`vectors.ids`, memory-mapped), for two jobs: re-scoring the best RERANK compressed candidates
exactly (recall), and scoring every allowed chunk exactly when a filter allows at most
GATHER_MAX chunks, which keeps the exact filtered-search guarantee. Broader filters scan the
compressed codes with a bitmap selector over more lists (every list when those hold fewer
allowed chunks than are wanted), then re-score exactly; their recall is measured, not exact.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import faiss
import numpy as np

from .topk import sorted_unique

PQ_M = 64
# An OPQ rotation before PQ: off, as it did not pay (benchmarks/bench_opq.py, 1M vectors:
# recall@10 0.983 against 0.982 with the best 256 re-scored, for four times the build time).
OPQ = False
TRAIN_SAMPLE = 262_144
IVF_NITER = 10
# 1/8 of the lists probed: at 10M chunks recall@10 was 0.786 probing 1/32, 0.897 at 1/16,
# 0.960 at 1/8 (114 ms a query on one core); re-scoring more than 256 added nothing.
PROBE_SHARE = 8
MIN_PROBE = 16
# Filters past GATHER_MAX probe twice the lists (at 10M: recall@10 0.93-0.96 against 0.85-0.89).
BROAD_PROBE_FACTOR = 2
RERANK = 256
GATHER_MAX = 16_384
RAW = "vectors.f32"
RAW_IDS = "vectors.ids"
Batches = Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]


def pq_lists(n: int) -> int:
    """About sqrt(n) inverted lists, a power of two (4,096 at 10M): assigning 10M vectors to
    8,192 centroids cost twice the time on two cores for no recall we could measure."""
    return 2 ** max(4, round(math.log2(math.sqrt(max(n, 1)))))


def probes(nlist: int) -> int:
    return min(nlist, max(MIN_PROBE, nlist // PROBE_SHARE))


def factory(nlist: int) -> str:
    return f"{f'OPQ{PQ_M},' if OPQ else ''}IVF{nlist},PQ{PQ_M}"


def index_name(nlist: int) -> str:
    return f"{factory(nlist)} (nprobe={probes(nlist)}, mmap, top {RERANK} re-scored exactly)"


def _sample(n: int, dimension: int, batches: Batches) -> np.ndarray:
    """A random sample of the vectors, drawn while streaming them once."""
    size = min(n, TRAIN_SAMPLE)
    chosen = np.sort(np.random.default_rng(0).choice(n, size, replace=False))
    out = np.empty((size, dimension), dtype="float32")
    seen = filled = 0
    for _, block in batches():
        lo, hi = np.searchsorted(chosen, [seen, seen + len(block)])
        out[filled : filled + hi - lo] = block[chosen[lo:hi] - seen]
        filled += hi - lo
        seen += len(block)
    return out[:filled]


def write_index(n: int, dimension: int, batches: Batches, path: Path) -> tuple[int, str]:
    """Train on a sample, then add and write every vector in batches: memory stays bounded by
    the sample and one batch. Writes `path`, and the float vectors beside it."""
    nlist = pq_lists(n)
    index = faiss.index_factory(dimension, factory(nlist), faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    ivf.cp.niter = IVF_NITER
    # The factory turns on polysemous training (code reordering by simulated annealing): it
    # made training 40x slower here and serves Hamming filtering, which synth does not use.
    ivf.do_polysemous_training = False
    index.train(_sample(n, dimension, batches))
    added = 0
    with (
        open(path.with_name(RAW), "wb") as raw,
        open(path.with_name(RAW_IDS), "wb") as raw_ids,
    ):
        for ids, block in batches():
            block = np.ascontiguousarray(block, dtype="float32")
            ids = np.ascontiguousarray(ids, dtype="int64")
            index.add_with_ids(block, ids)
            raw.write(block.tobytes())
            raw_ids.write(ids.tobytes())
            added += len(ids)
    faiss.write_index(index, str(path))
    return added, index_name(nlist)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One query is searched on one core: OpenMP threads fighting for busy cores cost more
    (measured 5x slower at 1M flat with 2 threads on a shared 2-core machine) than they gain."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def is_compressed(path: Path) -> bool:
    return path.with_name(RAW).is_file()


class CompressedDenseIndex:
    """Top-k inner product over a memory-mapped IVF-PQ index, re-scored from the float vectors."""

    def __init__(self, path: Path) -> None:
        self.folder = path.parent
        self.index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        self._ivf = faiss.extract_index_ivf(self.index)
        self._ivf.nprobe = probes(self._ivf.nlist)
        self._ids = np.memmap(path.with_name(RAW_IDS), dtype="int64", mode="r")
        # Float rows are read with pread, not mapped: mapping them, each row touched brought a
        # whole page-cache folio into the process (24 queries: 1.6 GB resident at 10M chunks).
        self._raw = open(path.with_name(RAW), "rb", buffering=0)  # noqa: SIM115 (held open)
        expected = len(self._ids) * self.index.d * 4
        if os.fstat(self._raw.fileno()).st_size != expected or len(self._ids) != self.ntotal:
            self._raw.close()  # a damaged build is refused at open, as a short memmap was
            raise ValueError(f"{RAW} or {RAW_IDS} does not match {path.name} (truncated?)")

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(
        self, vector: np.ndarray, limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The best `limit` (rowid, score) pairs; exact for filters of up to GATHER_MAX chunks."""
        if self.ntotal == 0 or limit <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype="float32").reshape(1, -1)
        if allowed is None:
            return self._rescored(query, self._candidates(query, max(RERANK, limit)), limit)
        allowed = np.asarray(allowed, dtype="int64")
        if allowed.size <= GATHER_MAX:
            positions = self._positions(allowed)
            return self._exact(query[0], positions, limit) if positions.size else []
        # The selector tests rowids, so it is made from the allowed rowids themselves: finding
        # 2.5M of them in `vectors.ids` first cost more than the search.
        top = int(self._ids[-1])
        mask = np.zeros(top + 1, dtype=bool)
        mask[allowed[(allowed >= 0) & (allowed <= top)]] = True
        selector = faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
        wanted = max(RERANK, limit)
        nprobe = min(self._ivf.nlist, BROAD_PROBE_FACTOR * self._ivf.nprobe)
        found = self._candidates(query, wanted, self._selecting(selector, nprobe))
        if len(found) < min(wanted, int(mask.sum())) and nprobe < self._ivf.nlist:
            # The probed lists held too few allowed chunks: scan every list's codes instead.
            found = self._candidates(query, wanted, self._selecting(selector, self._ivf.nlist))
        return self._rescored(query, found, limit)

    def _selecting(self, selector: faiss.IDSelector, nprobe: int) -> faiss.SearchParameters:
        params: faiss.SearchParameters = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        if isinstance(self.index, faiss.IndexPreTransform):  # OPQ in front of the IVF
            outer = faiss.SearchParametersPreTransform()
            outer.index_params = params
            params = outer
        return params

    def _candidates(
        self, query: np.ndarray, k: int, params: faiss.SearchParameters | None = None
    ) -> np.ndarray:
        with one_thread():
            _, found = self.index.search(query, k, params=params)
        return found[0][found[0] >= 0]

    def _positions(self, rowids: np.ndarray) -> np.ndarray:
        """Rows of `vectors.f32` holding these rowids (unknown ones ignored)."""
        wanted = sorted_unique(rowids)
        pos = np.minimum(np.searchsorted(self._ids, wanted), len(self._ids) - 1)
        return pos[np.asarray(self._ids[pos]) == wanted]

    def _exact(
        self, query: np.ndarray, positions: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        scores = self._rows(positions) @ query
        rowids = np.asarray(self._ids[positions])
        best = np.lexsort((rowids, -scores))[:limit]
        return [(int(rowids[i]), float(scores[i])) for i in best]

    def _rows(self, positions: np.ndarray) -> np.ndarray:
        """The float vectors at these row positions, one read per run of adjacent rows (a
        filter's chunks come in runs, one per document)."""
        width = self.index.d * 4
        out = np.empty((len(positions), self.index.d), dtype="float32")
        if not len(positions):  # a probe that found no allowed chunk
            return out
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        cuts = np.flatnonzero(np.diff(ordered) != 1) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(ordered)], strict=True):
            data = os.pread(self._raw.fileno(), int(hi - lo) * width, int(ordered[lo]) * width)
            out[order[lo:hi]] = np.frombuffer(data, dtype="float32").reshape(-1, self.index.d)
        return out

    def close(self) -> None:
        self._raw.close()

    def _rescored(
        self, query: np.ndarray, rowids: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        return self._exact(query[0], self._positions(rowids), limit)
