"""Turn a rendered Markdown brief (or toolkit card) into HTML, PDF or DOCX bytes.

In: Markdown text from `synth.brief.render` or a toolkit card. Out: the file's bytes.
Every format starts from the same Markdown, parsed once by `markdown.py`, so the four outputs
carry the same words. Must not import: synth.search, synth.index, synth.toolkit, synth.ui.
"""

from __future__ import annotations

from typing import Literal

from .docx import markdown_to_docx
from .html import markdown_to_html
from .markdown import parse_markdown
from .pdf import blocks_to_pdf, unicode_font

ExportFormat = Literal["md", "html", "pdf", "docx"]
BINARY_FORMATS = ("pdf", "docx")


def markdown_to_pdf_bytes(md: str, title: str) -> bytes:
    return blocks_to_pdf(parse_markdown(md), title)


def pdf_transliterates() -> bool:
    """True when no Unicode font was found and PDF text outside Latin-1 will be folded."""
    return unicode_font() is None


def render_markdown_to(fmt: ExportFormat, md: str, title: str) -> bytes:
    """One entry point for every exporter: Markdown text in, the file's bytes out."""
    if fmt == "md":
        return md.encode("utf-8")
    if fmt == "html":
        return markdown_to_html(md, title).encode("utf-8")
    if fmt == "pdf":
        return markdown_to_pdf_bytes(md, title)
    if fmt == "docx":
        return markdown_to_docx(md, title)
    raise ValueError(f"unknown export format '{fmt}' (md, html, pdf, docx)")
