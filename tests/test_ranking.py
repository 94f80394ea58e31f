"""Stable ranking: the top n of a `--k N` search is the same for every N >= n, ties by rowid,
and every keyword filter path returns exactly the allowed top k."""

from __future__ import annotations

import numpy as np
import pytest

from synth.index import Index, ingest, keyword_tantivy
from synth.index.topk import verified_top
from synth.ingest.chunk import ChunkSettings
from synth.search import SearchSettings, search, search_faceted

QUERIES = [
    "text messages to parents about attendance",
    "tutoring",
    "does feedback help primary pupils",
    "school",
]
DEPTHS = (1, 3, 10, 37, 60, 61, 100, 150)


@pytest.mark.parametrize("mode", ["fused", "dense", "keyword"])
def test_top_n_does_not_depend_on_k(corpus_index, embedder, mode):
    for query in QUERIES:
        deepest = search(corpus_index, embedder, query, SearchSettings(k=200, mode=mode))
        assert len(deepest) == corpus_index.dense.ntotal or (mode == "keyword" and deepest)
        ids = [h.chunk_id for h in deepest]
        assert len(set(ids)) == len(ids)
        for k in DEPTHS:
            hits = search(corpus_index, embedder, query, SearchSettings(k=k, mode=mode))
            assert [h.chunk_id for h in hits] == ids[:k], (query, k)
            assert [h.score for h in hits] == [h.score for h in deepest[:k]]


def test_facet_counts_do_not_change_the_hits(corpus_index, embedder):
    """Counting facets ranks 200 candidates; the top ten must still be search()'s."""
    for query in QUERIES:
        plain = search(corpus_index, embedder, query, SearchSettings(k=10))
        faceted = search_faceted(corpus_index, embedder, query, SearchSettings(k=10))
        assert [h.chunk_id for h in faceted.hits] == [h.chunk_id for h in plain]


# ---------------------------------------------------------------- ties


@pytest.fixture(scope="module")
def twins(tmp_path_factory, embedder_factory):
    """Six files that share two identical sections: identical chunks, identical scores."""
    folder = tmp_path_factory.mktemp("twins")
    shared = (
        "## Homework clubs\n\nVolunteers ran homework clubs after school twice a week. "
        "Pupils finished their homework in a quiet room with a volunteer nearby.\n\n"
        "## Breakfast\n\nEvery pupil could eat porridge before lessons began each day. "
        "Teachers said breakfast helped pupils settle before the first lesson.\n"
    )
    for i in range(6):
        (folder / f"school-{i}.md").write_text(
            f"# School report\n\n## Visit {i}\n\nInspectors visited school number {i} "
            f"in week {i + 3} of the spring term and met the head teacher.\n\n{shared}"
        )
    root = folder / "index"
    settings = ChunkSettings(min_words=5, max_words=40, overlap_sentences=0)
    report = ingest([folder], root, settings=settings, embedder=embedder_factory)
    assert report.count("added") == 6
    return root


@pytest.mark.parametrize("mode", ["fused", "dense", "keyword"])
def test_ties_are_broken_by_rowid_at_every_depth(twins, embedder, mode):
    with Index.open(twins) as index:
        deepest = search(index, embedder, "homework clubs", SearchSettings(k=50, mode=mode))
        rowids = index.rowids([h.chunk_id for h in deepest])
        for k in range(1, len(deepest) + 1):
            hits = search(index, embedder, "homework clubs", SearchSettings(k=k, mode=mode))
            assert [h.chunk_id for h in hits] == [h.chunk_id for h in deepest[:k]]
    tied = [(h.score, rowids[h.chunk_id]) for h in deepest]
    assert tied == sorted(tied, key=lambda t: (-t[0], t[1]))
    if mode != "fused":  # fused scores come from ranks, which the tie-break has already ordered
        assert len({s for s, _ in tied}) < len(tied), "the fixture must produce ties"


# ---------------------------------------------------------------- verified top-k


def test_verified_top_is_exact_whatever_the_engine_tie_order():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, 400).astype(float)  # many ties
    rowids = rng.permutation(400) + 1

    def fetch(m):  # an engine: best m by score, ties in arbitrary (shuffled) order
        order = np.lexsort((rng.random(400), -scores))[:m]
        return rowids[order], scores[order]

    truth = sorted(zip(rowids.tolist(), scores.tolist(), strict=True), key=lambda t: (-t[1], t[0]))
    for limit in (1, 7, 60, 399, 400, 500):
        assert verified_top(fetch, limit) == truth[:limit]
    allowed = np.sort(rng.choice(rowids, 30, replace=False))
    kept = [t for t in truth if t[0] in set(allowed.tolist())]
    for limit in (1, 10, 30, 40):
        assert verified_top(fetch, limit, allowed) == kept[:limit]
        # Starting deeper (as a filter's share suggests) changes the fetches, not the answer.
        for first in (2, 50, 133, 1000):
            assert verified_top(fetch, limit, allowed, first=first) == kept[:limit]
    assert verified_top(fetch, 10, allowed, max_depth=20) is None
    assert verified_top(fetch, 10, allowed, max_depth=20, first=400) is None


@pytest.mark.parametrize("depth_max", [keyword_tantivy.FILTER_DEPTH_MAX, 0])
def test_tantivy_filters_are_exact_on_both_paths(corpus_index, monkeypatch, depth_max):
    """Deepening (broad filters) and the in-engine rowid set (selective ones) agree with the
    full ranking restricted to the allowed chunks."""
    monkeypatch.setattr(keyword_tantivy, "FILTER_DEPTH_MAX", depth_max)
    engine = corpus_index.keyword
    assert isinstance(engine, keyword_tantivy.TantivyEngine)
    everything = engine.search("pupils reading feedback tutoring", engine.count())
    assert len(everything) > 60
    rng = np.random.default_rng(1)
    all_ids = np.array([r for r, _ in everything])
    for size in (1, 5, 40, len(all_ids) // 2):
        allowed = np.sort(rng.choice(all_ids, size, replace=False))
        expected = [(r, s) for r, s in everything if r in set(allowed.tolist())]
        for limit in (1, 10, 60):
            got = engine.search("pupils reading feedback tutoring", limit, allowed)
            assert got == expected[:limit], (size, limit)
