"""Write Markdown as real text PDFs: sample reports for the corpus and tests, and briefs.

`markdown_to_pdf` renders the shipped sample corpus and PDFs inside tests (core fonts, headings,
paragraphs, bullets, page furniture), so both exercise the parser on files shaped like real
reports. `blocks_to_pdf` renders a brief's parsed Markdown (lists, quotes, tables, inline
styles) in DejaVu Sans when the system has it, so any script prints; without it the core font
is used and characters outside Latin-1 are transliterated (see `unicode_font`).
"""

from __future__ import annotations

import contextlib
import unicodedata
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from synth.ingest.parse import front_matter

from .markdown import MdBlock, Run, format_safe, plain

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
    return "".join(_fold(ch) for ch in text)


def _fold(ch: str) -> str:
    """A Latin-1 stand-in for one character: itself, its base letter (e.g. s for s-caron), or ?."""
    if ord(ch) < 256:
        return ch
    base = unicodedata.normalize("NFKD", ch).encode("latin-1", errors="ignore").decode("latin-1")
    return base or "?"


class _ReportPDF(FPDF):
    running_title = ""
    family = "Helvetica"

    def header(self) -> None:
        if self.page_no() > 1 and self.running_title:
            self.set_font(self.family, "", 8)
            self.set_text_color(110)
            self.cell(0, 6, self.running_title, align="R")
            self.ln(10)
            self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(self.family, "", 8)
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


# ---------------------------------------------------------------- briefs

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu (fonts-dejavu-core)
    "/usr/share/fonts/dejavu",  # Fedora, Arch
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
)
FONT_FILES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}
MONO_FILE = "DejaVuSansMono.ttf"


@lru_cache(maxsize=1)
def unicode_font() -> dict[str, Path] | None:
    """DejaVu Sans files by style ('' B I BI, plus 'mono'), or None when the system lacks them."""
    for folder in map(Path, FONT_DIRS):
        files = {style: folder / name for style, name in FONT_FILES.items()}
        if all(p.is_file() for p in files.values()):
            mono = folder / MONO_FILE
            files["mono"] = mono if mono.is_file() else files[""]
            return files
    return None


class _BriefPDF(_ReportPDF):
    """Report furniture plus a font that is DejaVu when available, else Helvetica + Latin-1."""

    def setup_fonts(self) -> None:
        files = unicode_font()
        self.unicode = files is not None
        if files is None:
            self.family, self.mono = "Helvetica", "Courier"
            return
        for style in ("", "B", "I", "BI"):
            self.add_font("DejaVu", style, str(files[style]))
        self.add_font("DejaVuMono", "", str(files["mono"]))
        self.family, self.mono = "DejaVu", "DejaVuMono"

    def text_of(self, text: str) -> str:
        text = format_safe(text)
        return text if self.unicode else _latin1(text)

    def runs(self, runs: list[Run], size: float, height: float) -> None:
        for run in runs:
            if run.code:
                self.set_font(self.mono, "", size - 1)
            else:
                style = ("B" if run.bold else "") + ("I" if run.italic else "")
                self.set_font(self.family, style, size)
            self.write(height, self.text_of(run.text))
        self.ln(height)


def _pdf_table(pdf: _BriefPDF, block: MdBlock) -> None:
    if not block.rows:
        return
    pdf.set_font(pdf.family, "", 8.5)
    width = max(len(r) for r in block.rows)
    # Columns share the page by how much they hold (square root, so long cells do not starve
    # short ones); a floor keeps a narrow column readable.
    lengths = [
        max((len(plain(r[i])) for r in block.rows if i < len(r)), default=1) for i in range(width)
    ]
    weights = [max(4.0, n**0.5) for n in lengths]
    with pdf.table(
        line_height=4.4,
        text_align="LEFT",
        first_row_as_headings=True,
        padding=1.2,
        col_widths=tuple(weights),
    ) as table:
        for cells in block.rows:
            row = table.row()
            for i in range(width):
                row.cell(pdf.text_of(plain(cells[i])) if i < len(cells) else "")
    pdf.ln(3)


def _pdf_block(pdf: _BriefPDF, block: MdBlock) -> None:
    margin = pdf.l_margin
    if block.kind == "heading":
        size = SIZES.get(min(block.level, 3), 12)
        if pdf.get_y() > pdf.page_break_trigger - 30:  # keep a heading with what follows
            pdf.add_page()
        pdf.ln(3 if block.level > 1 else 0)
        pdf.set_font(pdf.family, "B", size)
        pdf.multi_cell(0, size * 0.5, pdf.text_of(block.text))
        pdf.ln(2)
    elif block.kind == "paragraph":
        pdf.runs(block.runs, 10.5, 5.4)
        pdf.ln(2)
    elif block.kind in ("bullet", "number"):
        marker = "\u2022" if block.kind == "bullet" and pdf.unicode else "-"
        label = f"{block.number}." if block.kind == "number" else marker
        pdf.set_font(pdf.family, "", 10.5)
        pdf.set_x(margin + 3)
        pdf.cell(7, 5.4, label)
        pdf.set_left_margin(margin + 10)
        pdf.runs(block.runs, 10.5, 5.4)
        pdf.set_left_margin(margin)
        pdf.ln(1.2)
    elif block.kind == "quote":
        top = pdf.get_y()
        pdf.set_left_margin(margin + 6)
        pdf.set_x(margin + 6)
        pdf.set_text_color(40)
        pdf.runs(block.runs, 10, 5.2)
        pdf.set_text_color(0)
        pdf.set_left_margin(margin)
        if pdf.get_y() > top:
            pdf.set_draw_color(43, 108, 176)
            pdf.set_line_width(0.8)
            pdf.line(margin + 2, top, margin + 2, pdf.get_y())
            pdf.set_draw_color(0)
        pdf.ln(2)
    elif block.kind == "rule":
        pdf.set_draw_color(180)
        pdf.line(margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.set_draw_color(0)
        pdf.ln(3)
    elif block.kind == "table":
        _pdf_table(pdf, block)


def blocks_to_pdf(blocks: list[MdBlock], title: str, author: str = "synth") -> bytes:
    """A brief as PDF bytes: A4, running title from page 2, page numbers, searchable text."""
    pdf = _BriefPDF(format="A4")
    pdf.setup_fonts()
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.running_title = pdf.text_of(title)
    pdf.set_title(pdf.text_of(title))
    pdf.set_author(pdf.text_of(author))
    pdf.set_creator("synth")
    pdf.add_page()
    for block in blocks:
        _pdf_block(pdf, block)
    return bytes(pdf.output())
