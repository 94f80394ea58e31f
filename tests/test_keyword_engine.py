"""The keyword engine inside builds: hard-linked from the previous build and never changed there,
kept in step with chunks by triggers (titles included), and switchable without re-embedding."""

from __future__ import annotations

import hashlib
from pathlib import Path

from synth.index import Index, ingest, keyword
from synth.ingest.metadata import DocMetadata
from synth.search import SearchSettings, search


def _sources(index: Index, query: str) -> set[str]:
    return {h.source for h in search(index, None, query, SearchSettings(k=50, mode="keyword"))}


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_a_new_build_never_changes_the_previous_builds_keyword_files(
    tmp_path, tiny_markdown_fn, embedder_factory
):
    (tmp_path / "a.md").write_text(tiny_markdown_fn("homework-clubs"))
    root = tmp_path / "index"
    ingest([tmp_path / "a.md"], root, embedder=embedder_factory)
    with Index.open(root) as index:
        first = index.path
        assert keyword.engine_of(index.manifest.keyword_index) == keyword.TANTIVY
        before = _digest(first / "keyword")
        n_before = index.keyword.count()
    (tmp_path / "b.md").write_text(tiny_markdown_fn("school-meals"))
    (tmp_path / "a.md").write_text(tiny_markdown_fn("homework-clubs", extra="Walruses visited."))
    report = ingest([tmp_path / "a.md", tmp_path / "b.md"], root, embedder=embedder_factory)
    assert report.count("added") == 1 and report.count("replaced") == 1
    assert _digest(first / "keyword") == before, "the live build's files were modified"
    with Index(root, first) as old:
        assert old.keyword.count() == n_before and _sources(old, "walruses") == set()
    with Index.open(root) as new:
        assert new.path != first
        assert _sources(new, "walruses") == {"a.md"}
        assert new.keyword.rowids().tolist() == [
            r[0] for r in new.query("SELECT id FROM chunks ORDER BY id")
        ]


def test_a_new_title_from_metadata_reaches_the_keyword_index(
    tmp_path, tiny_markdown_fn, embedder_factory
):
    path = tmp_path / "a.md"
    path.write_text(tiny_markdown_fn("homework-clubs"))
    root = tmp_path / "index"
    ingest([path], root, embedder=embedder_factory)
    meta = DocMetadata(title="Zeppelin Study of Homework", files=[str(path)])
    meta.resolved_files = [str(path.resolve())]
    ingest([path], root, embedder=embedder_factory, metadata=[meta])
    with Index.open(root) as index:
        assert index.documents()[0].title == "Zeppelin Study of Homework"
        assert _sources(index, "zeppelin") == {"a.md"}


def test_switching_engines_reindexes_keywords_without_re_embedding(
    tmp_path, tiny_markdown_fn, embedder_factory
):
    for key in ("homework-clubs", "school-meals"):
        (tmp_path / f"{key}.md").write_text(tiny_markdown_fn(key))
    root = tmp_path / "index"
    ingest([tmp_path], root, embedder=embedder_factory, keyword_engine="fts5")
    with Index.open(root) as index:
        assert not (index.path / "keyword").exists()
        fts5 = _sources(index, "porridge breakfast")
        assert index.keyword.count() == index.manifest.n_chunks
    report = ingest([tmp_path], root, embedder=embedder_factory, keyword_engine="tantivy")
    assert report.n_embedded == 0 and report.count("unchanged") == 2 and report.build_id
    with Index.open(root) as index:
        assert keyword.engine_of(index.manifest.keyword_index) == keyword.TANTIVY
        assert _sources(index, "porridge breakfast") == fts5 == {"school-meals.md"}
        assert index.query("SELECT COUNT(*) FROM chunks_fts")[0][0] == 0
        assert index.keyword.count() == index.manifest.n_chunks
    again = ingest([tmp_path], root, embedder=embedder_factory)  # keeps tantivy, nothing to do
    assert not again.changed and again.build_id == report.build_id
