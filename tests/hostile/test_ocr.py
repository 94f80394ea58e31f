"""Scanned reports are read by OCR: pages without a text layer are rendered and read by
Tesseract, marked `ocr` with their confidence, and `--no-ocr` turns it off with a clear reason.
The scans are made here (text drawn into a page image); skipped where Tesseract is absent."""

from __future__ import annotations

import pytest
from nasty import within
from scans import scanned_pdf

from synth.ingest import ocr
from synth.ingest.chunk import chunk_document
from synth.ingest.files import ParseError, ParseLimits
from synth.ingest.parse import parse_file

pytestmark = pytest.mark.skipif(bool(ocr.unavailable()), reason=ocr.unavailable() or "ok")

ENGLISH = [
    "# Breakfast Clubs and Punctuality",
    "Schools that opened a breakfast club before lessons saw fewer pupils arrive late. "
    "Staff said the calm start helped pupils settle, and the clubs were cheap to run.",
]
FRENCH = [
    "# Les clubs de devoirs",
    "Les écoles ont ouvert des clubs de devoirs après les cours. Les bénévoles aidaient les "
    "élèves à lire et à compter, et la fréquentation a augmenté pendant le trimestre.",
]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scans")
    return scanned_pdf(folder / "scan.pdf", [ENGLISH, FRENCH])


def test_scanned_pages_are_read_and_marked(scanned):
    with within(600):
        doc = parse_file(scanned)
    assert all(page.ocr for page in doc.pages)
    assert all(page.ocr_confidence and page.ocr_confidence > 60 for page in doc.pages)
    english, french = (page.text for page in doc.pages)
    assert "breakfast club before lessons" in english
    assert "élèves à lire et à compter" in french  # read again in French: accents kept
    headings = [b.text for page in doc.pages for b in page.blocks if b.kind == "heading"]
    assert headings == ["Breakfast Clubs and Punctuality", "Les clubs de devoirs"]
    assert all(chunk.ocr for chunk in chunk_document(doc))


def test_no_ocr_says_how_to_get_the_text(scanned):
    with pytest.raises(ParseError, match=r"no text layer \(scanned\?\); OCR is off"):
        parse_file(scanned, ParseLimits(ocr=False))


def test_a_page_over_the_time_limit_fails_alone(scanned):
    with pytest.raises(ParseError, match="OCR found no text .*took over"):
        parse_file(scanned, ParseLimits(ocr_page_seconds=0.01))


def test_ocr_marks_are_stored_and_shown(scanned, tmp_path, embedder_factory, capsys):
    from synth.cli import main
    from synth.index import Index, ingest

    report = ingest([scanned], tmp_path / "index", embedder=embedder_factory)
    assert report.count("added") == 1, report.files
    with Index.open(tmp_path / "index") as index:
        pages = index.ocr_pages()[report.files[0].doc_id]
        n_ocr = index.query("SELECT COUNT(*) FROM chunk_ocr")[0][0]
        n_chunks = index.manifest.n_chunks
    assert sorted(pages) == [1, 2] and all(c > 60 for c in pages.values())
    assert n_ocr == n_chunks > 0
    assert main(["info", "--index", str(tmp_path / "index")]) == 0
    assert '"ocr_pages": 2' in capsys.readouterr().out
