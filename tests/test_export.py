"""Exporters and references: the Markdown subset, self-contained HTML, DOCX and PDF that open,
APA strings, and RIS/BibTeX that synth's own metadata reader reads back."""

from __future__ import annotations

import io
import re

import pytest
from docx import Document
from pypdf import PdfReader

from synth.brief.export import render_markdown_to
from synth.brief.export.docx import markdown_to_docx
from synth.brief.export.html import markdown_to_html
from synth.brief.export.markdown import markdown_escape, parse_inline, parse_markdown
from synth.brief.export.pdf import unicode_font
from synth.brief.references import (
    Reference,
    finish_references,
    reference_for,
    split_author_field,
    to_bibtex,
    to_ris,
)
from synth.index import Index, ingest
from synth.ingest.metadata import load_metadata

SAMPLE = """# Brief: what **works**?

*Built by synth* on `build-1`.

## Key messages

1. “Pupils in Łódź & São Paulo read more — 20% more.” (Smith & Jones, 2020, p. 3)
2. Second \\<script\\> item \\*not italic\\* &lt;b&gt;

> “A quote that wraps over
> two lines.” (Org, 2021, p. 4)

| Source | Country |
|---|---|
| Smith 2020 | Ελλάδα |
| Org \\| Co | Ghana |

- bullet one
continues here
- bullet two
"""


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- Markdown subset


def test_parse_markdown_blocks():
    blocks = parse_markdown(SAMPLE)
    kinds = [b.kind for b in blocks]
    assert kinds == [
        "heading",
        "paragraph",
        "heading",
        "number",
        "number",
        "quote",
        "table",
        "bullet",
        "bullet",
    ]
    assert blocks[0].text == "Brief: what works?" and blocks[0].runs[1].bold
    assert blocks[4].text == "Second <script> item *not italic* <b>"
    assert blocks[5].text == "“A quote that wraps over two lines.” (Org, 2021, p. 4)"
    assert [[c[0].text if c else "" for c in row] for row in blocks[6].rows] == [
        ["Source", "Country"],
        ["Smith 2020", "Ελλάδα"],
        ["Org | Co", "Ghana"],
    ]
    assert blocks[7].text == "bullet one continues here"


def test_markdown_escape_round_trips_through_the_parser():
    nasty = "a <b>x</b> & *y* _z_ [l](u) # | \\ ` &amp; done"
    runs = parse_inline(markdown_escape(nasty))
    assert "".join(r.text for r in runs) == nasty
    assert not any(r.bold or r.italic or r.code for r in runs)


# ---------------------------------------------------------------- HTML, DOCX, PDF


def test_html_is_escaped_self_contained_and_printable():
    page = markdown_to_html(SAMPLE + "\n<script>alert(1)</script>\n", "A <title>")
    assert page.startswith("<!DOCTYPE html>") and "<title>A &lt;title&gt;</title>" in page
    assert "@media print" in page and "<style>" in page
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"(src|href)=|@import|url\(", page)
    assert "<ol>" in page and "<blockquote>" in page and "<th>Source</th>" in page
    assert "<td>Ελλάδα</td>" in page and "<strong>works</strong>" in page


def test_docx_has_real_styles():
    document = Document(io.BytesIO(markdown_to_docx(SAMPLE, "Sample brief")))
    styles = [(p.style.name, p.text) for p in document.paragraphs]
    assert styles[0] == ("Heading 1", "Brief: what works?")
    assert ("List Number", "Second <script> item *not italic* <b>") in styles
    assert ("Quote", "“A quote that wraps over two lines.” (Org, 2021, p. 4)") in styles
    assert ("List Bullet", "bullet one continues here") in styles
    table = document.tables[0]
    assert [c.text for c in table.rows[1].cells] == ["Smith 2020", "Ελλάδα"]
    assert document.core_properties.title == "Sample brief"


def test_pdf_opens_with_searchable_text():
    reader = PdfReader(io.BytesIO(render_markdown_to("pdf", SAMPLE, "Sample brief")))
    text = _collapse(" ".join(p.extract_text() for p in reader.pages))
    assert reader.metadata.title == "Sample brief"
    assert "Second <script> item *not italic* <b>" in text
    assert "A quote that wraps over two lines." in text
    if unicode_font() is not None:
        assert "Pupils in Łódź & São Paulo read more — 20% more." in text
        assert "Ελλάδα" in text
    else:  # core fonts: characters outside Latin-1 are folded, never dropped silently
        assert "Pupils in Lodz & Sao Paulo read more - 20% more." in text


def test_render_markdown_to_every_format():
    assert render_markdown_to("md", SAMPLE, "t") == SAMPLE.encode()
    assert render_markdown_to("html", SAMPLE, "t").startswith(b"<!DOCTYPE html>")
    assert render_markdown_to("pdf", SAMPLE, "t").startswith(b"%PDF")
    assert render_markdown_to("docx", SAMPLE, "t").startswith(b"PK")
    with pytest.raises(ValueError, match="unknown export format"):
        render_markdown_to("rtf", SAMPLE, "t")  # type: ignore[arg-type]


# ---------------------------------------------------------------- references

ARTICLE = Reference(
    "d1",
    "remedying.pdf",
    "Remedying education: Evidence from two randomized experiments in India",
    ["Banerjee, Abhijit V.", "Cole, Shawn", "Duflo, Esther", "Linden, Leigh"],
    2007,
    "Quarterly Journal of Economics",
    "10.1162/qjec.122.3.1235",
    item_type="article-journal",
)
ORG = Reference(
    "d2", "zambia.pdf", "Catch Up in Zambia", ["Copperbelt Learning Collaborative"], 2021
)
ORG_SAME_YEAR = Reference(
    "d3", "zambia-2.pdf", "Catch Up costs", ["Copperbelt Learning Collaborative"], 2021
)
UNDATED = Reference("d4", "notes.pdf", "Field notes_on *tutoring*", [], None, url="https://x.org/a")


def test_apa_strings():
    assert ARTICLE.apa == (
        "Banerjee, A. V., Cole, S., Duflo, E., & Linden, L. (2007). Remedying education: "
        "Evidence from two randomized experiments in India. *Quarterly Journal of Economics*. "
        "https://doi.org/10.1162/qjec.122.3.1235"
    )
    assert ARTICLE.in_text == "Banerjee et al., 2007"
    assert ORG.apa == "Copperbelt Learning Collaborative. (2021). *Catch Up in Zambia*."
    assert UNDATED.apa == r"*Field notes\_on \*tutoring\**. (n.d.). https://x.org/a"
    assert UNDATED.in_text == "Field notes_on *tutoring*, n.d."
    assert UNDATED.apa_text == "Field notes_on *tutoring*. (n.d.). https://x.org/a"
    two = Reference("d5", "f", "T", ["Kim, Ji-Woo", "Lee, Min"], 2020)
    assert two.in_text == "Kim & Lee, 2020" and two.apa.startswith("Kim, J.-W., & Lee, M. (2020).")


def test_same_author_and_year_get_suffixes_in_apa_order():
    refs = finish_references([UNDATED, ORG_SAME_YEAR, ARTICLE, ORG])
    assert [r.doc_id for r in refs] == ["d1", "d3", "d2", "d4"]
    assert [r.in_text for r in refs[1:3]] == [
        "Copperbelt Learning Collaborative, 2021a",
        "Copperbelt Learning Collaborative, 2021b",
    ]
    assert "(2021a)" in refs[1].apa


def test_author_field_of_a_pdf():
    assert split_author_field("Jane A. Smith; Kofi Mensah") == ["Smith, Jane A.", "Mensah, Kofi"]
    assert split_author_field("Jane Smith and Kofi Mensah") == ["Smith, Jane", "Mensah, Kofi"]
    assert split_author_field("Centre for Education Research and Evaluation") == [
        "Centre for Education Research and Evaluation"
    ]
    assert split_author_field("Rethinking Assessment") == ["Rethinking Assessment"]
    assert split_author_field("") == []


@pytest.mark.parametrize("fmt", ["ris", "bib"])
def test_ris_and_bibtex_read_back(tmp_path, fmt):
    refs = [ARTICLE, ORG, UNDATED]
    path = tmp_path / f"refs.{fmt}"
    path.write_text(to_ris(refs) if fmt == "ris" else to_bibtex(refs), encoding="utf-8")
    loaded = load_metadata(path)
    assert loaded.warnings == []
    got = [(m.title, m.authors, m.year, m.doi, m.item_type) for m in loaded]
    assert got == [
        (r.title, r.authors, r.year, r.doi, "article-journal" if r is ARTICLE else "report")
        for r in refs
    ]
    assert loaded[0].publisher == "Quarterly Journal of Economics"


def test_bibtex_escapes_tex_specials():
    ref = Reference("d", "a.pdf", "50% of {pupils} & R_1 #1", ["Org & Co Trust"], 2020)
    text = to_bibtex([ref])
    assert r"title = {{50\% of \{pupils\} \& R\_1 \#1}}" in text
    assert r"author = {{Org \& Co Trust}}" in text
    assert text.startswith("@techreport{org2020pupils,")


def test_reference_prefers_curated_metadata(tmp_path, make_tiny_pdf, embedder_factory):
    folder = tmp_path / "docs"
    folder.mkdir()
    make_tiny_pdf("bicycle-loans", folder / "bicycles.pdf")
    make_tiny_pdf("school-meals", folder / "meals.pdf")
    ris = tmp_path / "library.ris"
    ris.write_text(
        "TY  - RPRT\nAU  - Mensah, Kofi\nAU  - Owusu, Ama\n"
        "TI  - Bicycle Loans and Secondary School Attendance for Girls\nPY  - 2019\n"
        "PB  - Volta Evidence Partnership\nDO  - 10.1234/bikes.2019\nL1  - bicycles.pdf\nER  - \n",
        encoding="utf-8",
    )
    root = tmp_path / "index"
    ingest([folder], root, embedder=embedder_factory, metadata=load_metadata(ris))
    with Index.open(root) as index:
        docs = {d.source: d.doc_id for d in index.documents()}
        curated = reference_for(index, docs["bicycles.pdf"])
        parsed = reference_for(index, docs["meals.pdf"])
    assert curated.curated and curated.authors == ["Mensah, Kofi", "Owusu, Ama"]
    assert curated.apa == (
        "Mensah, K., & Owusu, A. (2019). *Bicycle Loans and Secondary School Attendance for "
        "Girls*. Volta Evidence Partnership. https://doi.org/10.1234/bikes.2019"
    )
    assert not parsed.curated
    assert parsed.title == "Free Breakfast and Concentration in Class"
    assert parsed.authors == ["Tiny Test Authors"] and parsed.year == 2020
