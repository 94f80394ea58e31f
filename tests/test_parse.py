"""Parsing: PDFs built here, text reports, broken files, and the real reports in ../shared."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from synth.brief.export.pdf import markdown_to_pdf
from synth.ingest.files import ParseError, ParseLimits
from synth.ingest.pages import join_lines
from synth.ingest.parse import parse_file


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _lines_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF whose lines are drawn one by one, body size, one list of lines per page."""
    pdf = FPDF(format="A4")
    for lines in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def _assert_blocks_consistent(doc) -> None:
    """Every block is found at its offsets in its page text; pages are numbered 1..n."""
    assert [p.number for p in doc.pages] == list(range(1, doc.n_pages + 1))
    for page in doc.pages:
        last_end = -1
        for block in page.blocks:
            assert page.text[block.start : block.end] == block.text, (page.number, block)
            assert block.start > last_end, f"blocks overlap or are out of order on p.{page.number}"
            assert block.kind in ("heading", "body")
            last_end = block.end
        # the page text is exactly the blocks separated by blank lines
        assert page.text == "\n\n".join(b.text for b in page.blocks)


# ---------------------------------------------------------------- a PDF built by the test


def test_structured_pdf_metadata(structured_report):
    doc = parse_file(structured_report.path)
    data = structured_report.path.read_bytes()
    assert doc.kind == "pdf"
    assert doc.title == structured_report.title
    assert doc.author == "Test Evidence Unit"
    assert doc.created.startswith("2021-04-01")
    assert doc.content_hash == hashlib.sha256(data).hexdigest()
    assert doc.doc_id == doc.content_hash[:16]
    assert doc.source == "riverside-report.pdf"
    assert doc.n_pages == len(structured_report.raw_pages)
    _assert_blocks_consistent(doc)


def test_running_header_dropped_from_pages_after_the_first(structured_report):
    doc = parse_file(structured_report.path)
    header = structured_report.running_title
    for number in range(2, doc.n_pages + 1):
        # precondition: the header really is in the PDF's text layer on this page
        assert structured_report.raw_lines[number][0] == header
        assert header not in doc.pages[number - 1].text, f"running header left on p.{number}"
    assert all(header not in page.text for page in doc.pages)


def test_bare_page_numbers_dropped(structured_report):
    doc = parse_file(structured_report.path)
    for page in doc.pages:
        # precondition: the footer's page number is the last line of the text layer
        assert structured_report.raw_lines[page.number][-1] == str(page.number)
        assert not any(re.fullmatch(r"\d+", b.text) for b in page.blocks), page.number
        assert not page.text.rstrip().endswith(f"school. {page.number}")
        assert not page.text.endswith(f"\n{page.number}")


def test_words_that_look_like_roman_numerals_are_not_page_numbers(tmp_path):
    """Only real page numbers go: a line 'CLI' or 'Mix' at a page edge is text."""
    lines = [
        "Pupils were asked which tools they used most often.",
        "Most named the calculator; a few named the",
        "CLI",
        "and one named MIDI software.",
        "Answers were coded by two researchers.",
        "The most common answer was",
        "Mix",
    ]
    path = _lines_pdf(tmp_path / "roman.pdf", [lines])
    text = parse_file(path).pages[0].text
    assert "a few named the CLI and one named MIDI software." in text
    assert text.endswith("The most common answer was Mix")


def test_every_sentence_is_kept_on_its_own_page(structured_report):
    """Sentences that sit wholly on one page in the PDF are found on that page, no other."""
    doc = parse_file(structured_report.path)
    located = 0
    for sentences in structured_report.sentences.values():
        for sentence in sentences:
            pages = structured_report.pages_of(sentence)
            if len(pages) != 1:
                continue  # split by a page break
            located += 1
            found = [p.number for p in doc.pages if sentence in p.text]
            assert found == pages, sentence
    assert located >= 100


def test_headings_detected_with_levels(structured_report):
    doc = parse_file(structured_report.path)
    headings = [(b.level, b.text) for p in doc.pages for b in p.blocks if b.kind == "heading"]
    assert headings == structured_report.headings
    heading_texts = {text for _, text in structured_report.headings}
    for page in doc.pages:
        for block in page.blocks:
            if block.kind == "body":
                assert block.text not in heading_texts
                assert not any(h in block.text for h in heading_texts if len(h.split()) > 1)


def test_repeated_body_line_at_page_edges_is_kept(tmp_path):
    """Only furniture repeats at page edges; a widow line that happens to recur is body text.

    Two pages of a three-page report end with the same short line ("pilot schools.");
    it is the end of a sentence on each page, not a running footer.
    """
    subjects = ["teachers", "pupils", "parents", "schools", "lessons", "reading", "writing"]
    subjects += ["numbers", "science"]
    pdf = FPDF(format="A4")

    def page(seed: int, closing: list[str]) -> None:
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        for i in range(8):
            a, b = subjects[(seed + i) % 9], subjects[(seed + 2 * i + 1) % 9]
            line = f"Observers noted that {a} and {b} shaped page {seed} in week {'abcdefgh'[i]}."
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        for line in closing:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")

    page(1, ["Attendance rose in the first year, above all among pupils in the", "pilot schools."])
    page(2, ["Reading scores improved for the youngest pupils taught in the", "pilot schools."])
    page(3, ["Costs were modest because volunteers delivered most sessions."])
    path = tmp_path / "widows.pdf"
    pdf.output(str(path))
    doc = parse_file(path)
    assert doc.pages[0].text.endswith("above all among pupils in the pilot schools.")
    assert doc.pages[1].text.endswith("youngest pupils taught in the pilot schools.")


def test_sample_corpus_pdfs_parse_consistently(corpus_pdfs):
    for path in corpus_pdfs:
        doc = parse_file(path)
        _assert_blocks_consistent(doc)
        reader = PdfReader(path)
        assert doc.n_pages == len(reader.pages)
        assert doc.title == reader.metadata.title
        # the running header (the metadata title) is gone from pages 2+
        for page in doc.pages[1:]:
            assert doc.title not in page.text, (path.name, page.number)
        headings = [b for p in doc.pages for b in p.blocks if b.kind == "heading"]
        assert headings and headings[0].level == 1


# ---------------------------------------------------------------- line joining


@pytest.mark.parametrize(
    ("lines", "vocabulary", "expected"),
    [
        (
            ["Teachers used an evidence-", "based approach."],
            None,
            "Teachers used an evidence-based approach.",
        ),
        (
            ["The programme was care-", "fully planned."],
            None,
            "The programme was carefully planned.",
        ),
        (["We looked at long-", "term effects."], None, "We looked at long-term effects."),
        (
            ["It used self-", "regulation strategies."],
            {"self-regulation"},
            "It used self-regulation strategies.",
        ),
        (["It used self-", "regulation strategies."], None, "It used selfregulation strategies."),
        (["An inter\u00ad", "vention for all."], None, "An intervention for all."),
        (["a well-", "known result"], {"well-known"}, "a well-known result"),
        (["the up-", "to-date figures"], None, "the up-to-date figures"),
        (["first line", "second line"], None, "first line second line"),
        (["ends with a dash -", "next"], None, "ends with a dash - next"),
        (["Year 2019-", "2020 results"], None, "Year 2019- 2020 results"),
        (["Chapter on maths-", "English links"], None, "Chapter on maths- English links"),
        (["  spaced   out ", "  words  "], None, "spaced out words"),
        ([], None, ""),
    ],
)
def test_join_lines(lines, vocabulary, expected):
    assert join_lines(lines, vocabulary) == expected


def test_hyphenated_line_breaks_are_mended_in_a_pdf(tmp_path):
    """Lines drawn one by one with words hyphenated at the break, as typeset reports do."""
    lines = [
        "The district ran an evidence-",
        "based reading programme that was care-",
        "fully planned and included long-",
        "term follow-up of every pupil in the pro-",
        "gramme schools.",
    ]
    path = _lines_pdf(tmp_path / "hyphens.pdf", [lines])
    # precondition: the text layer really has the hyphens at line ends
    raw = PdfReader(path).pages[0].extract_text()
    assert "care-\n" in raw and "pro-\n" in raw
    doc = parse_file(path)
    assert doc.pages[0].text == (
        "The district ran an evidence-based reading programme that was carefully planned and "
        "included long-term follow-up of every pupil in the programme schools."
    )


# ---------------------------------------------------------------- text reports


def test_markdown_report(tmp_path):
    path = tmp_path / "note.md"
    path.write_text(
        "---\ntitle: 'A Note on Reading Corners'\nauthor: Jo Bloggs\ndate: 2022-05-01\n---\n\n"
        "# Reading Corners\n\nSchools set up **reading corners** in every\nclassroom. "
        "See [the guide](https://example.org/guide) for details.\n\n"
        "## What changed\n\n- Pupils borrowed more books.\n- Teachers read aloud daily.\n\n"
        "### Costs ###\n\nBooks cost `little` money.\n",
        encoding="utf-8",
    )
    doc = parse_file(path)
    assert doc.kind == "markdown"
    assert doc.title == "A Note on Reading Corners"
    assert doc.author == "Jo Bloggs"
    assert doc.created == "2022-05-01"
    assert doc.n_pages == 1
    blocks = [(b.kind, b.level, b.text) for b in doc.pages[0].blocks]
    assert blocks == [
        ("heading", 1, "Reading Corners"),
        (
            "body",
            0,
            "Schools set up reading corners in every classroom. See the guide for details.",
        ),
        ("heading", 2, "What changed"),
        ("body", 0, "Pupils borrowed more books."),
        ("body", 0, "Teachers read aloud daily."),
        ("heading", 3, "Costs"),
        ("body", 0, "Books cost little money."),
    ]
    _assert_blocks_consistent(doc)


def test_markdown_without_front_matter_takes_title_from_first_heading(tmp_path):
    path = tmp_path / "plain.markdown"
    path.write_text("Intro line before.\n\n# Small Schools Study\n\nBody text here.\n")
    doc = parse_file(path)
    assert doc.title == "Small Schools Study"


def test_text_report(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text(
        "Community Reading Camps\n\n"
        "Volunteers ran reading camps in the evenings. The camps used an evidence-\n"
        "based method and were care-\nfully organised.\n\n"
        "Main Findings\n\n"
        "Children who attended read more fluently.\n",
        encoding="utf-8",
    )
    doc = parse_file(path)
    assert doc.kind == "text"
    assert doc.title == "Community Reading Camps"
    blocks = [(b.kind, b.text) for b in doc.pages[0].blocks]
    assert blocks == [
        ("heading", "Community Reading Camps"),
        (
            "body",
            "Volunteers ran reading camps in the evenings. The camps used an evidence-based "
            "method and were carefully organised.",
        ),
        ("heading", "Main Findings"),
        ("body", "Children who attended read more fluently."),
    ]
    _assert_blocks_consistent(doc)


def test_text_report_in_cp1252_and_crlf(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes(
        "Caf\u00e9 Study\r\n\r\nPupils\u2019 caf\u00e9 visits were \u2013 rare.\r\n".encode(
            "cp1252"
        )
    )
    doc = parse_file(path)
    assert doc.pages[0].text == "Caf\u00e9 Study\n\nPupils\u2019 caf\u00e9 visits were \u2013 rare."


def test_html_report(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html><html><head><title>Maths &amp; Play</title>"
        "<style>p { color: red }</style><script>var secret = 'do not index';</script></head>"
        "<body><h1>Maths &amp; Play</h1><p>Games helped pupils &lt;learn&gt; number facts.</p>"
        "<div>Second <b>block</b> of text.<br>After a break.</div>"
        "<h2>Cost</h2><ul><li>Cheap dice.</li><li>Free cards.</li></ul>"
        "<script>alert('x')</script><noscript>enable js</noscript></body></html>",
        encoding="utf-8",
    )
    doc = parse_file(path)
    assert doc.kind == "html"
    assert doc.title == "Maths & Play"
    blocks = [(b.kind, b.level, b.text) for b in doc.pages[0].blocks]
    assert blocks == [
        ("heading", 1, "Maths & Play"),
        ("body", 0, "Games helped pupils <learn> number facts."),
        ("body", 0, "Second block of text."),
        ("body", 0, "After a break."),
        ("heading", 2, "Cost"),
        ("body", 0, "Cheap dice."),
        ("body", 0, "Free cards."),
    ]
    text = doc.pages[0].text
    assert "secret" not in text and "alert" not in text and "color" not in text
    assert "enable js" not in text


# ---------------------------------------------------------------- files that cannot be indexed


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("scanned", "no text layer"),
        ("random", "corrupt or unreadable PDF"),
        ("random-with-header", "corrupt or unreadable PDF"),
        ("truncated", "corrupt or unreadable PDF"),
        ("empty", "empty file"),
        ("blank", "empty file"),
        ("encrypted", "encrypted PDF"),
    ],
)
def test_unreadable_pdfs_raise_parse_error_with_reason(make_bad_file, tmp_path, kind, reason):
    path = make_bad_file(kind, tmp_path / f"{kind}.pdf")
    with pytest.raises(ParseError) as info:
        parse_file(path)
    assert reason in str(info.value)


def test_empty_text_files_are_reported(tmp_path):
    for name in ("empty.txt", "empty.md", "empty.html"):
        (tmp_path / name).write_text("")
        with pytest.raises(ParseError, match="empty file"):
            parse_file(tmp_path / name)
    (tmp_path / "tags-only.html").write_text("<html><body><script>x()</script></body></html>")
    with pytest.raises(ParseError, match="no text layer"):
        parse_file(tmp_path / "tags-only.html")


def test_pdf_with_a_blank_page_keeps_its_text_pages(tmp_path):
    """A report with an image-only page (cover, figure, blank verso) must still parse."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Pupils in the pilot schools read more books. Teachers kept reading logs.")
    pdf.add_page()
    pdf.rect(20, 20, 150, 200)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "The final page summarises the costs of the pilot.")
    path = tmp_path / "with-blank-page.pdf"
    pdf.output(str(path))
    doc = parse_file(path)
    assert doc.n_pages == 3
    assert doc.pages[0].text.startswith("Pupils in the pilot schools")
    assert doc.pages[1].text == ""
    assert doc.pages[2].text == "The final page summarises the costs of the pilot."


def test_encrypted_pdf_with_empty_user_password_opens(tmp_path):
    source = markdown_to_pdf(
        "# Open Report\n\nThis report is encrypted but anyone may open it.\n", tmp_path / "src.pdf"
    )
    writer = PdfWriter(clone_from=str(source))
    writer.encrypt(user_password="", owner_password="owner-only")
    path = tmp_path / "owner-locked.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    assert PdfReader(path).is_encrypted
    doc = parse_file(path)
    assert "This report is encrypted but anyone may open it." in doc.pages[0].text


def test_missing_unsupported_and_folder_inputs(tmp_path):
    with pytest.raises(ParseError, match="file not found"):
        parse_file(tmp_path / "nope.pdf")
    with pytest.raises(ParseError, match="not a regular file"):
        parse_file(tmp_path)
    (tmp_path / "slides.pptx").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ParseError, match="unsupported file type '.pptx'"):
        parse_file(tmp_path / "slides.pptx")


def test_size_and_page_limits(structured_report):
    size = structured_report.path.stat().st_size
    with pytest.raises(ParseError, match="too large"):
        parse_file(structured_report.path, ParseLimits(max_bytes=size - 1))
    with pytest.raises(ParseError, match="too large"):
        parse_file(structured_report.path, ParseLimits(max_pages=2))
    # exactly at the limits is fine
    n_pages = len(structured_report.raw_pages)
    doc = parse_file(structured_report.path, ParseLimits(max_bytes=size, max_pages=n_pages))
    assert doc.n_pages == n_pages


# ---------------------------------------------------------------- real reports in ../shared


def _raw_lines(path: Path) -> list[list[str]]:
    pages = []
    for page in PdfReader(path).pages:
        pages.append([_collapse(line) for line in page.extract_text().splitlines() if line.strip()])
    return pages


def test_shared_reports_parse(shared_report_docs):
    for name, (path, doc) in shared_report_docs.items():
        assert doc.n_pages == len(PdfReader(path).pages) >= 2, name
        _assert_blocks_consistent(doc)
        assert all(page.text.strip() for page in doc.pages), f"{name}: a page lost all its text"
        assert doc.title and not doc.title.isupper(), (name, doc.title)
        assert any(b.kind == "heading" for p in doc.pages for b in p.blocks), name


def test_shared_reports_lose_running_headers_and_page_numbers(shared_report_docs):
    checked_headers = checked_numbers = 0
    for name, (path, doc) in shared_report_docs.items():
        raw = _raw_lines(path)
        firsts = [lines[0] for lines in raw if lines]
        header = max(set(firsts), key=firsts.count)
        assert firsts.count(header) == len(raw), f"{name}: expected a header on every page"
        for page, lines in zip(doc.pages, raw, strict=True):
            raw_text = "\n".join(lines)
            if raw_text.count(header) == 1:  # only the running-header copy is on this page
                assert header not in page.text, (name, page.number)
                checked_headers += 1
            if lines[-1] == str(page.number):
                assert not any(b.text == str(page.number) for b in page.blocks), (name, page.number)
                assert not page.text.endswith(str(page.number)), (name, page.number)
                checked_numbers += 1
    assert checked_headers >= 10 and checked_numbers >= 10


def test_campbell_reviews_parse(shared_campbell_docs):
    expected = {
        "class-size-special-education-review-2019.pdf": "class sizes",
        "ecec-caregiver-child-ratio-qualitative-review.pdf": "Caregiver/child ratio",
    }
    for name, (path, doc) in shared_campbell_docs.items():
        reader = PdfReader(path)
        assert doc.n_pages == len(reader.pages) >= 30, name
        _assert_blocks_consistent(doc)
        text = "\n".join(p.text for p in doc.pages)
        # ligatures and Unicode hyphens/no-break spaces are folded for quoting and search
        for ch in ("\ufb01", "\ufb02", "\ufb00", "\u2010", "\u2011", "\u00a0"):
            assert ch not in text, (name, hex(ord(ch)))
        assert sum(1 for p in doc.pages if p.text.strip()) == doc.n_pages, name
        assert len(text.split()) > 5000, name
        if name in expected:
            assert expected[name] in doc.title, (name, doc.title)
        assert sum(1 for p in doc.pages for b in p.blocks if b.kind == "heading") >= 5, name
