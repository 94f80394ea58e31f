"""Chunking: whole sentences, correct pages and offsets, and never across a heading."""

from __future__ import annotations

import pytest

from synth.ingest.chunk import ChunkSettings, chunk_document
from synth.ingest.parse import parse_file
from synth.models import Document


def _heading_paths(doc: Document) -> dict[tuple[int, int], list[str]]:
    """Heading path above every body block, keyed by (page, block start), computed from blocks."""
    paths: dict[tuple[int, int], list[str]] = {}
    stack: list[tuple[int, str]] = []
    for page in doc.pages:
        for block in page.blocks:
            if block.kind == "heading":
                while stack and stack[-1][0] >= block.level:
                    stack.pop()
                stack.append((block.level, block.text))
            else:
                paths[(page.number, block.start)] = [text for _, text in stack]
    return paths


def _enclosing_block(doc: Document, span):
    page = doc.pages[span.page - 1]
    for block in page.blocks:
        if block.start <= span.start and span.end <= block.end:
            return block
    return None


def assert_chunks_consistent(doc: Document, chunks) -> None:
    """The invariants every chunk must keep, checked against the parsed page texts."""
    assert chunks, doc.source
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert [c.chunk_id for c in chunks] == [f"{doc.doc_id}-{i:04d}" for i in range(len(chunks))]
    paths = _heading_paths(doc)
    for chunk in chunks:
        assert chunk.doc_id == doc.doc_id
        assert chunk.sentences
        texts = []
        for span in chunk.sentences:
            assert 1 <= span.page <= doc.n_pages
            page_text = doc.pages[span.page - 1].text
            sentence = page_text[span.start : span.end]
            assert sentence and sentence == sentence.strip(), (chunk.chunk_id, span)
            assert sentence in chunk.text
            texts.append(sentence)
            block = _enclosing_block(doc, span)
            assert block is not None and block.kind == "body", (chunk.chunk_id, span)
            # the section recorded on the chunk is the heading path this sentence sits under
            assert paths[(span.page, block.start)] == chunk.section, (chunk.chunk_id, sentence)
        assert chunk.text == " ".join(texts)
        assert chunk.page_start == min(s.page for s in chunk.sentences)
        assert chunk.page_end == max(s.page for s in chunk.sentences)
        order = [(s.page, s.start) for s in chunk.sentences]
        assert order == sorted(order) and len(set(order)) == len(order)


# ---------------------------------------------------------------- the structured test PDF


@pytest.fixture(scope="module")
def structured(structured_report):
    doc = parse_file(structured_report.path)
    return doc, chunk_document(doc, ChunkSettings())


def test_chunk_invariants_on_built_pdf(structured):
    doc, chunks = structured
    assert_chunks_consistent(doc, chunks)
    assert any(c.page_start < c.page_end for c in chunks), "expected a chunk across a page break"


def test_phrase_known_to_be_on_page_3_is_cited_on_page_3(structured, structured_report):
    doc, chunks = structured
    on_page_3 = [
        s
        for sents in structured_report.sentences.values()
        for s in sents
        if structured_report.pages_of(s) == [3]
    ]
    assert len(on_page_3) >= 5, "precondition: the built PDF has whole sentences on page 3"
    page_3 = doc.pages[2].text
    for sentence in on_page_3:
        holders = [
            (chunk, span)
            for chunk in chunks
            for span in chunk.sentences
            if doc.pages[span.page - 1].text[span.start : span.end] == sentence
        ]
        assert holders, f"sentence not found as a chunk sentence: {sentence}"
        for chunk, span in holders:
            assert span.page == 3
            assert page_3[span.start : span.end] == sentence
            assert sentence in chunk.text
            assert chunk.page_start <= 3 <= chunk.page_end


def test_chunks_never_cross_a_heading(structured, structured_report):
    doc, chunks = structured
    keywords = list(structured_report.sentences)
    seen_sections = set()
    for chunk in chunks:
        present = {kw for kw in keywords if kw in chunk.text}
        assert len(present) == 1, f"{chunk.chunk_id} mixes sections {present}"
        (kw,) = present
        assert chunk.section == structured_report.section_path[kw], (chunk.chunk_id, kw)
        seen_sections.add(kw)
    assert seen_sections == set(keywords)
    # the H3 subsections carry their full heading path
    sampling = [c for c in chunks if "harbour" in c.text]
    assert sampling[0].section == ["Riverside Homework Clubs Evaluation", "Methods", "Sampling"]
    assert sampling[0].section_label == "Riverside Homework Clubs Evaluation > Methods > Sampling"


def test_no_sentence_is_lost_in_chunking(structured, structured_report):
    doc, chunks = structured
    everything = " ".join(c.text for c in chunks)
    for sents in structured_report.sentences.values():
        for sentence in sents:
            if len(structured_report.pages_of(sentence)) == 1:
                assert sentence in everything


@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_window_sizes_and_sentence_overlap(structured_report, overlap):
    doc = parse_file(structured_report.path)
    settings = ChunkSettings(min_words=30, max_words=60, overlap_sentences=overlap)
    chunks = chunk_document(doc, settings)
    assert_chunks_consistent(doc, chunks)
    assert len(chunks) > len(structured_report.sentences) * 2, "small windows -> many chunks"
    for chunk in chunks:
        assert chunk.n_words <= settings.max_words * 1.25, (chunk.chunk_id, chunk.n_words)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        if prev.section != nxt.section:
            assert not set(prev.sentences) & set(nxt.sentences)
            continue
        shared = [s for s in nxt.sentences if s in prev.sentences]
        assert shared == prev.sentences[len(prev.sentences) - len(shared) :]
        assert len(shared) == min(overlap, len(prev.sentences) - 1) if overlap else not shared


def test_default_chunks_fit_the_model_window(structured):
    doc, chunks = structured
    settings = ChunkSettings()
    assert all(c.n_words <= settings.max_words * 1.25 for c in chunks)
    # within a section, only the last chunk may fall below min_words
    by_section: dict[str, list] = {}
    for chunk in chunks:
        by_section.setdefault(chunk.section_label, []).append(chunk)
    for group in by_section.values():
        for chunk in group[:-1]:
            assert chunk.n_words >= settings.min_words, chunk.chunk_id


# ---------------------------------------------------------------- text reports


def test_run_on_sentence_is_cut_into_word_windows(tmp_path):
    words = [f"item{i}" for i in range(450)]
    path = tmp_path / "table-dump.md"
    path.write_text("# Appendix Table\n\n" + " ".join(words) + "\n")
    doc = parse_file(path)
    settings = ChunkSettings(min_words=20, max_words=100, overlap_sentences=0)
    chunks = chunk_document(doc, settings)
    assert_chunks_consistent(doc, chunks)
    spans = [s for c in chunks for s in c.sentences]
    page = doc.pages[0].text
    pieces = [page[s.start : s.end] for s in spans]
    assert all(len(p.split()) <= 100 for p in pieces)
    assert " ".join(pieces).split() == words
    assert all(c.section == ["Appendix Table"] for c in chunks)


def test_markdown_sections_and_preamble(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(
        "Preamble sentence before any heading appears here.\n\n"
        "# Guide\n\nIntro text for the guide. It has two sentences.\n\n"
        "## Part A\n\nAlpha facts live here. More alpha facts follow.\n\n"
        "### Detail\n\nDeep alpha detail.\n\n"
        "## Part B\n\nBeta facts live here.\n\n"
        "# Annex\n\nAnnex text.\n"
    )
    doc = parse_file(path)
    chunks = chunk_document(doc)
    assert_chunks_consistent(doc, chunks)
    assert [(c.section, c.text) for c in chunks] == [
        ([], "Preamble sentence before any heading appears here."),
        (["Guide"], "Intro text for the guide. It has two sentences."),
        (["Guide", "Part A"], "Alpha facts live here. More alpha facts follow."),
        (["Guide", "Part A", "Detail"], "Deep alpha detail."),
        (["Guide", "Part B"], "Beta facts live here."),
        (["Annex"], "Annex text."),
    ]


def test_headings_only_document_has_no_chunks(tmp_path):
    path = tmp_path / "toc.md"
    path.write_text("# Contents\n\n## One\n\n## Two\n")
    assert chunk_document(parse_file(path)) == []


# ---------------------------------------------------------------- corpus and ../shared reports


def test_sample_corpus_chunks(corpus_pdfs):
    for path in corpus_pdfs:
        doc = parse_file(path)
        chunks = chunk_document(doc)
        assert_chunks_consistent(doc, chunks)
        assert chunks[0].section[0] == next(
            b.text for p in doc.pages for b in p.blocks if b.kind == "heading"
        )


def test_shared_report_chunks(shared_report_docs):
    for name, (_, doc) in shared_report_docs.items():
        chunks = chunk_document(doc)
        assert_chunks_consistent(doc, chunks)
        # every page with body text is cited by some chunk
        cited = {s.page for c in chunks for s in c.sentences}
        with_body = {p.number for p in doc.pages if any(b.kind == "body" for b in p.blocks)}
        assert with_body <= cited, (name, sorted(with_body - cited))
