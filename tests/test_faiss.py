"""FAISS: index type by size, and dense search restricted to allowed rowids is exact.

Every result is checked against brute-force numpy over the same vectors, for the flat index and
for IVF (forced at small N through the size threshold), on both filtered-search paths (numpy
over reconstructed vectors for small filters, a FAISS bitmap-selector scan for large ones).
Broad filters on IVF are the one approximate case, like no filter: only allowed chunks, recall
measured.
"""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from synth.index import vectors as vectors_mod
from synth.index.vectors import FLAT_NAME, DenseIndex, build_faiss

N = 1000
DIM = 64


def clustered(n: int, dim: int, seed: int, centres: int = 20) -> np.ndarray:
    """Unit vectors in clusters, like embeddings of a corpus on a few topics."""
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centres, dim))
    x = middle[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """Vectors with rowids that have gaps and are not in insertion order."""
    rng = np.random.default_rng(7)
    ids = rng.choice(np.arange(1, 50 * N), size=N, replace=False).astype("int64")
    return ids, clustered(N, DIM, seed=1)


@pytest.fixture(scope="module", params=["flat", "ivf"])
def dense(request, data) -> DenseIndex:
    ids, x = data
    flat_max = N if request.param == "flat" else N // 2
    index, name = build_faiss(ids, x, flat_max=flat_max)
    assert (name == FLAT_NAME) == (request.param == "flat")
    return DenseIndex(index)


def brute_force(data, query: np.ndarray, limit: int, allowed: np.ndarray) -> list[int]:
    ids, x = data
    keep = np.isin(ids, allowed)
    scores = x[keep] @ query
    order = np.lexsort((ids[keep], -scores))[:limit]
    return [int(i) for i in ids[keep][order]]


def test_index_type_follows_the_size_threshold(data):
    ids, x = data
    flat, name = build_faiss(ids, x, flat_max=N)
    assert name == FLAT_NAME
    assert isinstance(faiss.downcast_index(flat.index), faiss.IndexFlatIP)
    ivf, name = build_faiss(ids, x, flat_max=N - 1)
    assert name.startswith("IndexIDMap2(IndexIVFFlat(")
    inner = faiss.downcast_index(ivf.index)
    assert isinstance(inner, faiss.IndexIVFFlat)
    assert inner.nlist == vectors_mod.ivf_lists(N) and 1 < inner.nprobe < inner.nlist
    assert flat.ntotal == ivf.ntotal == N


def test_module_threshold_is_the_default(data, monkeypatch):
    ids, x = data
    monkeypatch.setattr(vectors_mod, "FLAT_MAX_VECTORS", 10)
    assert "IVF" in build_faiss(ids, x)[1]
    monkeypatch.setattr(vectors_mod, "FLAT_MAX_VECTORS", N)
    assert build_faiss(ids, x)[1] == FLAT_NAME


@pytest.mark.parametrize("gather_max", [vectors_mod.GATHER_MAX, 0], ids=["gather", "selector"])
@pytest.mark.parametrize("size", [1, 3, 10, 57, 400, N])
@pytest.mark.parametrize("limit", [1, 10, 60])
def test_filtered_search_is_exact(dense, data, monkeypatch, gather_max, size, limit):
    monkeypatch.setattr(vectors_mod, "GATHER_MAX", gather_max)
    ids, _ = data
    rng = np.random.default_rng(size * 1000 + limit)
    queries = clustered(5, DIM, seed=size + limit)
    for query in queries:
        allowed = rng.choice(ids, size=size, replace=False)
        got = dense.search(query, limit, allowed)
        expected = brute_force(data, query, limit, allowed)
        assert [rowid for rowid, _ in got] == expected
        assert len(got) == min(limit, size)
        scores = [s for _, s in got]
        assert scores == sorted(scores, reverse=True)
        true = {int(i): float(v @ query) for i, v in zip(*data, strict=True) if i in expected}
        assert scores == pytest.approx([true[i] for i in expected], abs=1e-5)


def test_filter_matching_three_of_a_thousand_returns_those_three_ranked(dense, data):
    ids, x = data
    query = clustered(1, DIM, seed=99)[0]
    # The three allowed chunks are the ones least like the query: over-fetching would miss them.
    worst = ids[np.argsort(x @ query)[:3]]
    got = dense.search(query, 10, worst.copy())
    assert sorted(rowid for rowid, _ in got) == sorted(int(i) for i in worst)
    by_id = dict(zip(ids.tolist(), (x @ query).tolist(), strict=True))
    assert [rowid for rowid, _ in got] == sorted(worst.tolist(), key=lambda i: -by_id[i])
    for rowid, score in got:
        assert score == pytest.approx(by_id[rowid], abs=1e-5)


def test_unknown_duplicate_and_empty_filters(dense, data):
    ids, _ = data
    query = clustered(1, DIM, seed=5)[0]
    assert dense.search(query, 10, np.array([], dtype="int64")) == []
    missing = np.array([-1, 0, 10**9], dtype="int64")  # never rowids here
    assert dense.search(query, 10, missing) == []
    one = int(ids[17])
    got = dense.search(query, 10, np.array([one, one, 10**9, one], dtype="int64"))
    assert [rowid for rowid, _ in got] == [one]
    assert dense.search(query, 0, ids) == []


def test_unfiltered_flat_search_is_exact(data):
    ids, x = data
    dense = DenseIndex(build_faiss(ids, x, flat_max=N)[0])
    for query in clustered(10, DIM, seed=3):
        got = [rowid for rowid, _ in dense.search(query, 10)]
        assert got == brute_force(data, query, 10, ids)


def test_unfiltered_ivf_recall_at_10(data):
    """IVF is approximate unfiltered; on clustered data it still finds nearly all the top 10."""
    ids, x = data
    dense = DenseIndex(build_faiss(ids, x, flat_max=0)[0])
    queries = clustered(50, DIM, seed=11)
    found = sum(
        len({r for r, _ in dense.search(q, 10)} & set(brute_force(data, q, 10, ids)))
        for q in queries
    )
    assert found / (10 * len(queries)) >= 0.9


def test_ivf_survives_write_and_read(data, tmp_path):
    ids, x = data
    index, _ = build_faiss(ids, x, flat_max=0)
    faiss.write_index(index, str(tmp_path / "v.faiss"))
    dense = DenseIndex.read(str(tmp_path / "v.faiss"))
    inner = faiss.downcast_index(dense.index.index)
    assert isinstance(inner, faiss.IndexIVFFlat)
    assert inner.nprobe == vectors_mod.ivf_probes(inner.nlist)
    assert inner.direct_map.type != faiss.DirectMap.NoMap
    query = clustered(1, DIM, seed=21)[0]
    allowed = ids[::7]
    got = [rowid for rowid, _ in dense.search(query, 25, allowed)]
    assert got == brute_force(data, query, 25, allowed)


@pytest.fixture
def probes_seen(monkeypatch) -> list[int]:
    """The nprobe of every filtered IVF scan (a spy: the real FAISS search still runs)."""
    seen: list[int] = []
    real = DenseIndex._filtered_top

    def spy(self, query, limit, params, least=0):
        seen.append(getattr(params, "nprobe", 0))
        return real(self, query, limit, params, least)

    monkeypatch.setattr(DenseIndex, "_filtered_top", spy)
    return seen


def test_broad_ivf_filter_probes_more_lists_and_returns_only_allowed_chunks(
    data, monkeypatch, probes_seen
):
    """A filter allowing half the chunks is searched like no filter (more lists, approximate),
    yet every hit is allowed, scored exactly, and the top 10 nearly all found."""
    ids, x = data
    dense = DenseIndex(build_faiss(ids, x, flat_max=0)[0])
    inner = faiss.downcast_index(dense.index.index)
    monkeypatch.setattr(vectors_mod, "GATHER_MAX", 0)
    monkeypatch.setattr(vectors_mod, "BROAD_PROBE_FACTOR", 1)  # half of the 16 lists
    monkeypatch.setattr(vectors_mod, "BROAD_MIN_FOUND", 10)
    allowed = np.sort(np.random.default_rng(8).choice(ids, N // 2, replace=False))
    by_id = dict(zip(ids.tolist(), x, strict=True))
    found = 0
    queries = clustered(30, DIM, seed=13)
    for query in queries:
        got = dense.search(query, 10, allowed)
        assert len(got) == 10 and {r for r, _ in got} <= set(allowed.tolist())
        for rowid, score in got:
            assert score == pytest.approx(float(by_id[rowid] @ query), abs=1e-5)
        found += len({r for r, _ in got} & set(brute_force(data, query, 10, allowed)))
    assert set(probes_seen) == {inner.nprobe} and inner.nprobe < inner.nlist
    assert found / (10 * len(queries)) >= 0.9


def test_broad_ivf_filter_scans_every_list_when_probing_finds_too_few(
    data, monkeypatch, probes_seen
):
    """When the probed lists hold fewer allowed chunks than BROAD_MIN_FOUND, the exact scan
    answers: the same top as brute force for every query."""
    ids, x = data
    dense = DenseIndex(build_faiss(ids, x, flat_max=0)[0])
    inner = faiss.downcast_index(dense.index.index)
    monkeypatch.setattr(vectors_mod, "GATHER_MAX", 0)
    monkeypatch.setattr(vectors_mod, "BROAD_PROBE_FACTOR", 1)
    monkeypatch.setattr(vectors_mod, "BROAD_MIN_FOUND", 10**6)  # never enough
    allowed = np.sort(np.random.default_rng(9).choice(ids, N // 2, replace=False))
    for query in clustered(10, DIM, seed=17):
        got = [rowid for rowid, _ in dense.search(query, 10, allowed)]
        assert got == brute_force(data, query, 10, allowed)
    assert probes_seen[:2] == [inner.nprobe, inner.nlist]


def test_selective_ivf_filter_scans_every_list(data, monkeypatch, probes_seen):
    """Below BROAD_SHARE of the chunks a filter is never probed approximately."""
    ids, x = data
    dense = DenseIndex(build_faiss(ids, x, flat_max=0)[0])
    inner = faiss.downcast_index(dense.index.index)
    monkeypatch.setattr(vectors_mod, "GATHER_MAX", 0)
    allowed = np.sort(np.random.default_rng(10).choice(ids, N // 20, replace=False))
    query = clustered(1, DIM, seed=19)[0]
    got = [rowid for rowid, _ in dense.search(query, 10, allowed)]
    assert got == brute_force(data, query, 10, allowed)
    assert probes_seen == [inner.nlist]


def test_corpus_index_filter_by_document_is_exact(corpus_index, embedder):
    """Through Index.dense_search on the real corpus index: restrict to one document's chunks."""
    rows = corpus_index.query("SELECT id, doc_id FROM chunks ORDER BY id")
    doc_id = rows[len(rows) // 2]["doc_id"]
    allowed = np.array([r["id"] for r in rows if r["doc_id"] == doc_id], dtype="int64")
    query = embedder.encode_query("how much does tutoring cost per pupil")
    got = corpus_index.dense_search(query, 5, allowed)
    vectors = corpus_index.vectors.index.reconstruct_n(0, corpus_index.vectors.ntotal)
    all_ids = faiss.vector_to_array(corpus_index.vectors.id_map)
    keep = np.isin(all_ids, allowed)
    scores = vectors[keep] @ query
    expected = all_ids[keep][np.argsort(-scores)][: min(5, len(allowed))]
    assert [rowid for rowid, _ in got] == [int(i) for i in expected]
    assert corpus_index.manifest.faiss_index == FLAT_NAME


# ---------------------------------------------------------------- the compressed tier (IVF-PQ)


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    """3,000 vectors past a lowered threshold: IVF-PQ, memory-mapped, float vectors beside it."""
    from synth.index import vectors_pq

    n, dim = 3000, 32
    rng = np.random.default_rng(3)
    ids = np.sort(rng.choice(np.arange(1, 20 * n), n, replace=False)).astype("int64")
    x = clustered(n, dim, seed=5)
    path = tmp_path_factory.mktemp("pq") / "vectors.faiss"
    saved = vectors_pq.PQ_M
    vectors_pq.PQ_M = 8  # 32 dimensions: 8 sub-vectors of 4
    try:
        batches = lambda: iter([(ids[:1700], x[:1700]), (ids[1700:], x[1700:])])  # noqa: E731
        written, name = vectors_mod.write_index_batches(n, dim, batches, path, pq_min=1000)
    finally:
        vectors_pq.PQ_M = saved
    assert written == n and name.startswith("IVF") and "PQ8" in name
    return (ids, x), vectors_mod.read_dense(path)


def test_compressed_index_is_memory_mapped_and_recalls_the_exact_top_10(compressed):
    from synth.index.vectors_pq import CompressedDenseIndex

    data, dense = compressed
    assert isinstance(dense, CompressedDenseIndex) and dense.ntotal == 3000
    assert type(faiss.downcast_InvertedLists(dense._ivf.invlists)).__name__ == (
        "OnDiskInvertedLists"  # what IO_FLAG_MMAP gives: lists paged in from the file
    )
    queries = clustered(30, 32, seed=9)
    found = 0
    for query in queries:
        got = dense.search(query, 10)
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        found += len({r for r, _ in got} & set(brute_force(data, query, 10, data[0])))
    assert found / 300 >= 0.9  # re-scored exactly from the float vectors


def test_compressed_index_filters_exactly_when_selective(compressed, monkeypatch):
    from synth.index import vectors_pq

    data, dense = compressed
    rng = np.random.default_rng(4)
    query = clustered(1, 32, seed=11)[0]
    for size in (1, 7, 200, 1500):
        allowed = np.sort(rng.choice(data[0], size, replace=False))
        got = [r for r, _ in dense.search(query, 25, allowed)]
        assert got == brute_force(data, query, 25, allowed)
    # Past GATHER_MAX the compressed codes are scanned with a selector: only allowed rowids.
    monkeypatch.setattr(vectors_pq, "GATHER_MAX", 10)
    allowed = np.sort(rng.choice(data[0], 1500, replace=False))
    got = [r for r, _ in dense.search(query, 25, allowed)]
    assert set(got) <= set(allowed.tolist())
    assert len(set(got) & set(brute_force(data, query, 25, allowed))) >= 20


def test_compressed_index_with_no_allowed_chunk_probed_returns_nothing(compressed, monkeypatch):
    """A broad filter whose rowids are none of the index's: no candidates, no error."""
    from synth.index import vectors_pq

    _, dense = compressed
    monkeypatch.setattr(vectors_pq, "GATHER_MAX", 10)
    unknown = np.arange(10**9, 10**9 + 50, dtype="int64")
    assert dense.search(clustered(1, 32, seed=12)[0], 10, unknown) == []


def test_truncated_float_vectors_refuse_the_build_at_open(compressed, tmp_path):
    """A short vectors.f32 is found when the index opens (Index.open then falls back to an
    older build), not by the first query that reads past its end."""
    import shutil

    from synth.index import vectors_pq

    _, dense = compressed
    folder = tmp_path / "copy"
    shutil.copytree(dense.folder, folder)
    raw = folder / vectors_pq.RAW
    raw.write_bytes(raw.read_bytes()[:-4])
    with pytest.raises(ValueError, match="does not match"):
        vectors_mod.read_dense(folder / "vectors.faiss")


def test_compressed_broad_filter_scans_every_list_when_probing_finds_too_few(
    compressed, monkeypatch
):
    """Allowed chunks the probed lists miss (the ones least like the query) are still found."""
    from synth.index import vectors_pq

    data, dense = compressed
    ids, x = data
    query = clustered(1, 32, seed=14)[0]
    worst = np.sort(ids[np.argsort(x @ query)[:40]])  # far from the query: unprobed lists
    monkeypatch.setattr(vectors_pq, "GATHER_MAX", 10)
    got = [r for r, _ in dense.search(query, 10, worst)]
    assert got == brute_force(data, query, 10, worst)
