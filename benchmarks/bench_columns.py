"""Reading order on two-column pages: the share of sentences whose words come out in order.

For each sentence synth's parser and chunker produce, its words must appear, contiguous and in
the same order, in a reference reading of its page. References:

- the two Campbell reviews in ../shared/corpora/campbell (Wiley's two-column layout): pypdf's
  plain `extract_text`, which follows the content stream; for these files that is column
  order (checked by eye on several pages), so a sentence broken or merged across columns by
  synth's own page assembly counts as out of order;
- a two-column PDF made here whose content stream interleaves the columns line by line (left
  line 1, right line 1, left line 2, ...), as some generators write: the reference is the text
  it was made from, left column first.

Run it on any checkout to compare (`PYTHONPATH=OTHER/src .venv/bin/python ...` for before):

    .venv/bin/python benchmarks/bench_columns.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import textwrap
import unicodedata
from pathlib import Path

from synth.ingest.chunk import chunk_document
from synth.ingest.parse import parse_file

CAMPBELL = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "campbell"
LEFT = (
    "Schools in the trial grouped pupils by what they could read rather than by their age. "
    "Each group met for an hour a day with a teacher who had been shown how to run the "
    "activities, and groups changed every few weeks as pupils moved on. After two terms the "
    "share of pupils who could read a short paragraph had doubled in the trial schools, while "
    "in comparison schools it rose by a third."
)
RIGHT = (
    "The cost was mostly teacher time and printed materials. Head teachers said the hardest "
    "part was the timetable: the hour had to be protected from other lessons and from "
    "assemblies. Where it was, attendance at the sessions stayed high through the year, and "
    "teachers asked to keep the groups after the trial ended."
)


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text)  # a word hyphenated across lines
    return re.findall(r"[^\W_]+", text)


def in_order_share(path: Path, reference: dict[int, str]) -> tuple[float, int]:
    """(share of sentences found contiguously in their page's reference, sentences)."""
    doc = parse_file(path)
    pages = {p.number: p.text for p in doc.pages}
    ref = {n: " " + " ".join(words(t)) + " " for n, t in reference.items()}
    found = total = 0
    for chunk in chunk_document(doc):
        for s in chunk.sentences:
            tokens = words(pages[s.page][s.start : s.end])
            if len(tokens) < 4:
                continue
            total += 1
            found += (" " + " ".join(tokens) + " ") in ref.get(s.page, "")
    return (found / total if total else 0.0), total


def pypdf_reference(path: Path) -> dict[int, str]:
    from pypdf import PdfReader

    return {i + 1: page.extract_text() or "" for i, page in enumerate(PdfReader(path).pages)}


def interleaved_pdf(path: Path) -> Path:
    """Two columns written line by line across the page, in one content stream."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    left, right = textwrap.wrap(LEFT, 48), textwrap.wrap(RIGHT, 48)
    for i in range(max(len(left), len(right))):
        y = 30 + i * 5
        if i < len(left):
            pdf.text(20, y, left[i])
        if i < len(right):
            pdf.text(110, y, right[i])
    pdf.output(str(path))
    return path


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        made = interleaved_pdf(Path(tmp) / "interleaved.pdf")
        rows.append(
            ("interleaved two-column (made here)", *in_order_share(made, {1: LEFT + " " + RIGHT}))
        )
    for pdf in sorted(CAMPBELL.glob("*.pdf")) if CAMPBELL.is_dir() else []:
        rows.append((pdf.name, *in_order_share(pdf, pypdf_reference(pdf))))
    print("| file | sentences in order | sentences |")
    print("|---|---|---|")
    for name, share, total in rows:
        print(f"| {name} | {share:.1%} | {total} |")
    if not CAMPBELL.is_dir():
        print(f"(Campbell reviews skipped: {CAMPBELL} is absent)", file=sys.stderr)


if __name__ == "__main__":
    main()
