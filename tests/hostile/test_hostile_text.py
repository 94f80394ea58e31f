"""Odd but honest text and hostile PDF structure: each gets the right reason or the right text
(hostile inputs, round 3: the smaller items)."""

from __future__ import annotations

import io

import pytest
from nasty import run_synth, tree_pdf, within

from synth.ingest.chunk import MAX_CHUNK_CHARS, chunk_document
from synth.ingest.files import ParseError, ParseLimits
from synth.ingest.parse import parse_file


def _text(doc) -> str:
    return "\n".join(p.text for p in doc.pages)


@pytest.mark.parametrize(
    ("levels", "kids", "reason"),
    [
        (5000, 1, "page tree nested too deep (over 100 levels)"),
        (40, 2, "page tree too large (over 100,000 entries"),
    ],
)
def test_deep_and_doubling_page_trees_say_so(tmp_path, levels, kids, reason):
    path = tree_pdf(tmp_path / "tree.pdf", levels, kids)
    with within(60), pytest.raises(ParseError) as failed:
        parse_file(path)
    assert str(failed.value).startswith(reason)
    assert "decompression bomb" not in str(failed.value)


def test_a_shallow_page_tree_still_reads(tmp_path):
    doc = parse_file(tree_pdf(tmp_path / "tree.pdf", 20, 1))
    assert "Pupils read every day." in _text(doc)


@pytest.mark.parametrize(
    "data", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\n\n", "\u200b\u200b\n\ufeff".encode(), b"\x1b[0m\n"]
)
def test_a_file_of_nothing_visible_is_empty_not_scanned(tmp_path, data):
    path = tmp_path / "bom.md"
    path.write_bytes(data)
    with pytest.raises(ParseError, match="^empty file$"):
        parse_file(path)


@pytest.mark.parametrize(
    "body",
    [
        "x" * 1_000_000,  # one endless token
        "[" * 10_000 + "word" + "]" * 10_000,  # brackets the tokenizer split one at a time
        " ".join(["y" * 39] * 30_000),  # long words, many of them
    ],
)
def test_chunks_never_pass_the_documented_length(tmp_path, body):
    path = tmp_path / "long.md"
    path.write_text(f"# Long\n\n{body}\n\nA last sentence.\n")
    with within(120):
        chunks = chunk_document(parse_file(path))
    assert max(len(c.text) for c in chunks) <= MAX_CHUNK_CHARS == 8_000


def test_a_markdown_file_with_terminal_colours_is_read_without_them(tmp_path):
    path = tmp_path / "log.md"
    line = "\x1b[1;31mWarning:\x1b[0m pupils in \x1b[4mYear 5\x1b[24m read daily. "
    path.write_text("# Reading log\n\n" + line * 40 + "\x1b]0;a title\x07Done.\n")
    text = _text(parse_file(path))
    assert "\x1b" not in text and "[1;31m" not in text
    assert "Warning: pupils in Year 5 read daily." in text and "Done." in text


def test_half_utf8_half_latin1_reads_right_in_both_halves(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(
        "Les élèves de CE2 ont lu chaque jour.\n\n".encode()
        + "Les élèves de CM1 ont écrit chaque semaine.\n".encode("latin-1")
    )
    text = _text(parse_file(path))
    assert "Les élèves de CE2" in text and "Les élèves de CM1 ont écrit" in text
    assert "Ã" not in text


def test_a_windows_1252_file_still_reads(tmp_path):
    path = tmp_path / "cp1252.txt"
    path.write_bytes("Pupils’ “reading” corner – €5 a term.\n".encode("cp1252"))
    assert "Pupils’ “reading” corner – €5 a term." in _text(parse_file(path))


def test_text_after_an_unclosed_html_comment_is_not_indexed(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><body><h1>Homework</h1><p>Homework clubs met weekly.</p>"
        "<!-- draft notes <p>Secret reviewer notes nobody sees.</p></body></html>"
    )
    text = _text(parse_file(path))
    assert "Homework clubs met weekly." in text
    assert "Secret" not in text and "<!--" not in text


def test_ocr_stops_at_the_per_file_budget(tmp_path):
    from scans import scanned_pdf

    from synth.ingest.ocr import unavailable

    if unavailable():
        pytest.skip(unavailable())
    scan = scanned_pdf(tmp_path / "scan.pdf", [["Pupils read aloud every day."]] * 2)
    with pytest.raises(ParseError, match=r"too slow to OCR \(over 0 s for 0 of 2 scanned pages\)"):
        parse_file(scan, ParseLimits(ocr_file_seconds=0))


def test_a_huge_page_image_is_an_ocr_error_without_pillows_warning(recwarn):
    from PIL import Image

    from synth.ingest.ocr import OcrError, read_image

    buffer = io.BytesIO()
    Image.new("1", (12_000, 9_000)).save(buffer, "PNG")  # 108 M pixels: over Pillow's limit
    with pytest.raises(OcrError, match="page image too large"):
        read_image(buffer.getvalue(), 10)
    assert not [w for w in recwarn if "DecompressionBomb" in str(w.category)]


def test_metadata_warnings_print_once(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "coaching.md").write_text("# Coaching\n\nCoaching sessions ran monthly.\n")
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{a,\n title={Coaching},\n year={2020}\n}\n@article{b, title={Open\n")
    done = run_synth("ingest", str(docs), "--metadata", str(bib), "--index", str(tmp_path / "i"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("unclosed value at end of file") == 1, done.stderr


def test_tagging_and_brief_titles_read_bracket_runs_quickly(embedder):
    """The tagger and the brief's theme titles tokenize chunk text with spaCy too: one
    whitespace-free run of 60,000 brackets took over ten seconds per call there."""
    from synth.brief.titles import _phrases_parsed, phrase_pipeline
    from synth.ingest.tag import Tagger, label_vectors
    from synth.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    tagger = Tagger(taxonomy, label_vectors(taxonomy, embedder))
    run = "[" * 30_000 + "reading" + "]" * 30_000
    with within(20):
        tagger.mentions(f"Pupils in Kenya {run} read daily.", "Reading")
        if phrase_pipeline() is not None:
            _phrases_parsed(phrase_pipeline(), f"Reading corners {run} helped pupils.")
