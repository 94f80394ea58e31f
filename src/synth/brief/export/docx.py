"""Markdown to DOCX: real heading, list, quote and table styles, so brokers can edit the brief."""

from __future__ import annotations

import io

from .markdown import MdBlock, Run, format_safe, parse_markdown


def _docx_runs(paragraph, runs: list[Run]) -> None:
    for run in runs:
        r = paragraph.add_run(run.text)
        r.bold = run.bold or None
        r.italic = run.italic or None
        if run.code:
            r.font.name = "Consolas"


def _docx_table(document, block: MdBlock) -> None:
    width = max(len(r) for r in block.rows)
    table = document.add_table(rows=len(block.rows), cols=width)
    table.style = "Table Grid"
    for i, cells in enumerate(block.rows):
        for j in range(width):
            cell = table.cell(i, j)
            runs = cells[j] if j < len(cells) else []
            _docx_runs(cell.paragraphs[0], [Run(r.text, r.bold or i == 0, r.italic) for r in runs])


def markdown_to_docx(md: str, title: str) -> bytes:
    """A Word document with real heading, list, quote and table styles, so brokers can edit it."""
    from docx import Document

    document = Document()
    document.core_properties.title = format_safe(title)
    document.core_properties.author = "synth"
    for block in parse_markdown(md):
        if block.kind == "heading":
            paragraph = document.add_heading(level=min(block.level, 9))
            _docx_runs(paragraph, block.runs)
        elif block.kind in ("paragraph", "bullet", "number", "quote"):
            style = {
                "paragraph": None,
                "bullet": "List Bullet",
                "number": "List Number",
                "quote": "Quote",
            }[block.kind]
            _docx_runs(document.add_paragraph(style=style), block.runs)
        elif block.kind == "table" and block.rows:
            _docx_table(document, block)
        elif block.kind == "rule":
            document.add_paragraph("")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
