"""Nothing from a document acts on the reader's tools: the CLI prints no control characters,
report lines quote odd file names, exports drop what their formats forbid, and the app's
static route stops serving a document once it is removed."""

from __future__ import annotations

import io
import json

import pytest

from synth.brief.export import render_markdown_to
from synth.ingest.safeload import printable, quoted_name

HOSTILE = "Title \x01\x1b[2J\x1b]0;pwned\x07 \u202e \ud800 \ufffe end\x0c\x85"


def test_printable_and_quoted_names():
    assert printable("a\x1b[2Jb\nc\u2028d") == "a[2Jb c d"
    assert quoted_name("report.pdf") == "report.pdf"
    quoted = quoted_name("evil\nFAILED x.pdf: fine\x1b[2J.pdf")
    assert "\n" not in quoted and "\x1b" not in quoted
    assert json.loads(quoted) == "evil\nFAILED x.pdf: fine\x1b[2J.pdf"


@pytest.mark.parametrize("fmt", ["html", "pdf", "docx"])
def test_exports_drop_characters_their_format_forbids(fmt):
    md = f"# {HOSTILE}\n\nA paragraph with {HOSTILE}.\n\n| a | b |\n|---|---|\n| {HOSTILE} | x |\n"
    data = render_markdown_to(fmt, md, HOSTILE)
    if fmt == "html":
        text = data.decode()
        assert "\x1b" not in text and "\x01" not in text and "end" in text
    elif fmt == "docx":
        from docx import Document

        document = Document(io.BytesIO(data))
        assert document.paragraphs[0].text.startswith("Title")
    else:
        from pypdf import PdfReader

        assert "end" in PdfReader(io.BytesIO(data)).pages[0].extract_text()


def test_static_route_drops_removed_documents(
    tmp_path, monkeypatch, make_tiny_pdf, embedder_factory
):
    from synth.index import ingest, remove
    from synth.ui import static_docs

    pdfs = [make_tiny_pdf(k, tmp_path / f"{k}.pdf") for k in ("homework-clubs", "school-meals")]
    root = tmp_path / "index"
    report = ingest(pdfs, root, embedder=embedder_factory)
    folder = tmp_path / "static" / "docs"
    folder.mkdir(parents=True)
    for f in report.files:
        (folder / f"{f.doc_id}.pdf").write_bytes(b"%PDF")
    monkeypatch.setenv("SYNTH_INDEX", str(root))
    static_docs.prune(folder)
    assert len(list(folder.glob("*.pdf"))) == 2
    remove(["school-meals.pdf"], root)
    static_docs.prune(folder)
    assert [p.stem for p in folder.glob("*.pdf")] == [report.files[0].doc_id]
