"""Write simple Markdown reports as real text PDFs (headings, paragraphs, bullets, page furniture).

Used to render the shipped sample corpus and to build PDFs inside tests, so both exercise the
parser on files with running headers, page numbers and styled headings, as real reports have.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

from .parse import front_matter

SIZES = {1: 18, 2: 14, 3: 12}
BODY_SIZE = 11


def _latin1(text: str) -> str:
    """The PDF core fonts are Latin-1; fold the few typographic characters that are not."""
    table = {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u2022": "-",
        "\u20ac": "EUR",
    }
    text = "".join(table.get(ch, ch) for ch in text)
    return text.encode("latin-1", errors="replace").decode("latin-1")


class _ReportPDF(FPDF):
    running_title = ""

    def header(self) -> None:
        if self.page_no() > 1 and self.running_title:
            self.set_font("Helvetica", "", 8)
            self.set_text_color(110)
            self.cell(0, 6, self.running_title, align="R")
            self.ln(10)
            self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110)
        self.cell(0, 8, str(self.page_no()), align="C")
        self.set_text_color(0)


def markdown_to_pdf(markdown: str, out: str | Path, running_title: str | None = None) -> Path:
    """Render front matter as PDF metadata and the body as styled text; returns the path."""
    meta, body = front_matter(markdown)
    pdf = _ReportPDF(format="A4")
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(True, margin=20)
    title = _latin1(meta.get("title", ""))
    pdf.running_title = _latin1(running_title if running_title is not None else title)
    pdf.set_title(title)
    pdf.set_author(_latin1(meta.get("author", "")))
    pdf.set_subject(_latin1(meta.get("subject", "")))
    pdf.set_keywords(_latin1(meta.get("keywords", "")))
    pdf.set_creator("synth")
    if meta.get("date"):
        with contextlib.suppress(ValueError):
            pdf.set_creation_date(datetime.fromisoformat(meta["date"]).replace(tzinfo=UTC))
    pdf.add_page()
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            pdf.set_font("Helvetica", "", BODY_SIZE)
            pdf.multi_cell(0, 5.6, _latin1(" ".join(paragraph)))
            pdf.ln(3)
            paragraph.clear()

    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            flush()
            level = min(len(line) - len(line.lstrip("#")), 3)
            size = SIZES[level]
            pdf.ln(2 if level > 1 else 0)
            pdf.set_font("Helvetica", "B", size)
            pdf.multi_cell(0, size * 0.5, _latin1(line.lstrip("#").strip()))
            pdf.ln(2)
        elif line.startswith(("- ", "* ")):
            flush()
            pdf.set_font("Helvetica", "", BODY_SIZE)
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(0, 5.6, _latin1("- " + line[2:].strip()))
            pdf.ln(1.5)
        elif not line:
            flush()
        else:
            paragraph.append(line)
    flush()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out
