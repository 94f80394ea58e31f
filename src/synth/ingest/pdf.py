"""PDF pages to text: pypdf's visitor gives each line's font size, weight and position, from
which running headers, page numbers, headings and paragraphs are told apart."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from pathlib import Path

from synth.models import Document, Page

from . import ocr
from .files import ParseError, ParseLimits
from .pages import (
    BULLET_RE,
    PAGE_NUMBER_RE,
    SENTENCE_END,
    assemble_page,
    clip,
    collapse,
    is_heading_text,
    join_lines,
    looks_like_title,
    new_document,
    normalise,
)
from .pdf_lines import _Line, _page_lines


def _pdf_metadata_title(reader: object) -> str:
    meta = getattr(reader, "metadata", None)
    title = ""
    try:
        title = clip(collapse(str(meta.title or "")[:100_000])) if meta else ""
    except Exception:
        title = ""
    title = re.sub(r"^Microsoft (Word|PowerPoint) - ", "", title)
    if re.fullmatch(r"(untitled|document\d*|.*\.(docx?|pptx?|indd|pdf))", title, re.I):
        return ""
    return title


def _pdf_date(meta: object, attr: str) -> str:
    try:
        value = getattr(meta, attr)
    except Exception:
        return ""
    return value.isoformat() if value else ""


BOMB_REASON = "decompression bomb / stream too large"


def _limit_reason(exc: BaseException) -> str:
    """What a pypdf limit says about the file: a page tree too deep or too large (nested or
    doubling /Kids), else a stream that inflates too far."""
    text = str(exc)
    if "page tree depth" in text:
        return "page tree nested too deep (over 100 levels)"
    if "page tree entry" in text:
        return "page tree too large (over 100,000 entries: doubling /Kids?)"
    return BOMB_REASON


def _decrypt(reader: object) -> None:
    """Open a PDF encrypted with an empty user password (as many 'protected' reports are)."""
    from pypdf.errors import DependencyError

    try:
        opened = reader.decrypt("")  # type: ignore[attr-defined]
    except DependencyError as exc:
        raise ParseError("encrypted (AES, needs the cryptography package)") from exc
    except Exception as exc:
        raise ParseError(f"encrypted PDF (cannot open: {exc})") from exc
    if not opened:
        raise ParseError("encrypted PDF (password required)")


def _read_pages(reader: object) -> list[list[_Line]]:
    """Every page's lines; a page that cannot be read is empty, and if none can, the file
    fails with the reason of the first failure."""
    from pypdf.errors import LimitReachedError

    page_lines: list[list[_Line]] = []
    errors: list[BaseException] = []
    for page in reader.pages:  # type: ignore[attr-defined]
        try:
            lines = _page_lines(page)
            if not lines:  # pypdf's text extraction swallows a bomb; decoding it does not
                contents = page.get_contents()
                if contents is not None:
                    contents.get_data()
            page_lines.append(lines)
        except (LimitReachedError, MemoryError) as exc:
            raise ParseError(_limit_reason(exc)) from exc
        except Exception as exc:
            errors.append(exc)
            page_lines.append([])
    if errors and len(errors) == len(page_lines):
        first = errors[0]
        raise ParseError(f"corrupt or unreadable PDF (no page could be read: {first!r:.120})")
    return page_lines


def _has_images(page: object) -> bool:
    """A page with an XObject (an image, or a form that may hold one): worth OCR if textless."""
    try:
        resources = page.get("/Resources") or {}  # type: ignore[attr-defined]
        return "/XObject" in resources.get_object()
    except Exception:
        return False


def _ocr_scanned_pages(
    path: Path, reader: object, page_lines: list[list[_Line]], limits: ParseLimits
) -> dict[int, float]:
    """OCR the pages that have an image but no text layer, in place; page -> confidence.

    A file with no text at all fails with the reason OCR could not help (off, not installed,
    too many pages, or every page failed); a page that fails in a file with text stays empty.
    """
    pages = reader.pages  # type: ignore[attr-defined]
    scanned = [i for i, lines in enumerate(page_lines) if not lines and _has_images(pages[i])]
    textless = not any(page_lines)
    if not scanned:
        return {}
    why = "" if limits.ocr else "OCR is off (--no-ocr)"
    why = why or ocr.unavailable()
    if not why and len(scanned) > limits.ocr_max_pages:
        why = f"{len(scanned)} scanned pages > OCR limit {limits.ocr_max_pages}"
    if why:
        if textless:
            raise ParseError(f"no text layer (scanned?); {why}")
        return {}
    confidence: dict[int, float] = {}
    errors: list[str] = []
    end = time.monotonic() + limits.ocr_file_seconds
    for n, i in enumerate(scanned):
        left = end - time.monotonic()
        if left <= 0:  # noise pages take ~24 s each: 300 of them would be two hours
            raise ParseError(
                f"too slow to OCR (over {limits.ocr_file_seconds:g} s for {n} of "
                f"{len(scanned)} scanned pages)"
            )
        try:
            page = ocr.ocr_page(path, i + 1, min(limits.ocr_page_seconds, left))
        except ocr.OcrError as exc:
            errors.append(str(exc))
            continue
        page_lines[i] = [_ocr_line(line) for line in page.lines]
        confidence[i + 1] = page.confidence
    if textless and not any(page_lines):
        raise ParseError(
            f"no text layer, and OCR found no text ({'; '.join(errors[:2]) or 'blank'})"
        )
    return confidence


def _ocr_line(line: ocr.OcrLine) -> _Line:
    """An OCR'd line as the text reader's line: size from its height, y growing upwards."""
    return _Line(collapse(normalise(line.text)), round(line.height * 2) / 2, False, -line.top)


def parse_pdf(path: Path, data: bytes, digest: str, limits: ParseLimits) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _decrypt(reader)
        n_pages = len(reader.pages)
    except ParseError:
        raise
    except (LimitReachedError, MemoryError) as exc:
        raise ParseError(_limit_reason(exc)) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"corrupt or unreadable PDF ({exc.__class__.__name__}: {exc})") from exc
    except Exception as exc:
        raise ParseError(f"corrupt or unreadable PDF ({exc.__class__.__name__})") from exc
    if n_pages == 0:
        raise ParseError("PDF has no pages")
    if n_pages > limits.max_pages:
        raise ParseError(f"too large ({n_pages} pages > limit {limits.max_pages})")

    page_lines = _read_pages(reader)
    ocr = _ocr_scanned_pages(path, reader, page_lines, limits)
    n_chars = sum(len(line.text) for lines in page_lines for line in lines)
    if n_chars > limits.max_chars:
        raise ParseError(f"too large ({n_chars:,} characters > limit {limits.max_chars:,})")

    _drop_running_lines(page_lines)
    _mark_headings(page_lines)
    vocabulary = _vocabulary(page_lines)
    pages = [_build_pdf_page(i + 1, lines, vocabulary) for i, lines in enumerate(page_lines)]
    for page in pages:
        if page.number in ocr:
            page.ocr, page.ocr_confidence = True, ocr[page.number]

    title = _pdf_metadata_title(reader)
    if not title:
        title = _largest_line(page_lines[0]) if page_lines and page_lines[0] else ""
    doc = new_document(path, digest, title, pages, "pdf")
    meta = reader.metadata
    if meta is not None:
        try:
            doc.author = clip(collapse(str(meta.author or "")))
        except Exception:
            doc.author = ""
        doc.created = _pdf_date(meta, "creation_date")
        doc.modified = _pdf_date(meta, "modification_date")
    return doc


def _largest_line(lines: list[_Line]) -> str:
    top = max(lines, key=lambda line: line.size)
    same = [line.text for line in lines if line.size == top.size][:3]
    return collapse(" ".join(same))[:200]


def _line_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def _drop_running_lines(page_lines: list[list[_Line]], edge: int = 3) -> None:
    """Remove page numbers and headers/footers that repeat near the top or bottom of pages."""
    n_pages = len(page_lines)
    counts: Counter[str] = Counter()
    for lines in page_lines:
        edges = {_line_key(line.text) for line in lines[:edge] + lines[-edge:]}
        counts.update(edges)
    threshold = max(2, math.ceil(0.3 * n_pages))
    body = _body_size(page_lines)
    for i, lines in enumerate(page_lines):
        keep: list[_Line] = []
        for j, line in enumerate(lines):
            at_edge = j < edge or j >= len(lines) - edge
            if at_edge and PAGE_NUMBER_RE.match(line.text):
                continue
            repeated = n_pages >= 2 and counts[_line_key(line.text)] >= threshold
            if at_edge and repeated and _set_apart(lines, j, body):
                continue
            keep.append(line)
        page_lines[i] = keep


def _body_size(page_lines: list[list[_Line]]) -> float:
    sizes: Counter[float] = Counter()
    for lines in page_lines:
        for line in lines:
            sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _set_apart(lines: list[_Line], j: int, body: float) -> bool:
    """Page furniture differs from the body in size or stands off it by a wide gap.

    A repeated line set like the body and spaced like the body (a widow such as "pilot
    schools." ending two pages) is text, not a running header or footer.
    """
    line = lines[j]
    if abs(line.size - body) >= 0.5:
        return True
    gaps = [
        abs(line.y - other.y)
        for other in (lines[j - 1] if j else None, lines[j + 1] if j + 1 < len(lines) else None)
        if other is not None and line.y is not None and other.y is not None
    ]
    return not gaps or min(gaps) > 1.8 * max(line.size, 1.0)


def _mark_headings(page_lines: list[list[_Line]]) -> None:
    """Tell headings by size or weight against the body text; fall back to title-case lines."""
    all_lines = [line for lines in page_lines for line in lines]
    if not all_lines:
        return
    body = _body_size(page_lines)
    total = sum(len(line.text) for line in all_lines)
    bold_chars = sum(len(line.text) for line in all_lines if line.bold)
    has_larger = any(line.size >= body + 1.0 for line in all_lines)
    styled = has_larger or 0 < bold_chars < total * 0.5
    for lines in page_lines:
        for j, line in enumerate(lines):
            if styled:
                bigger = line.size >= body + 1.0 and is_heading_text(line.text, 20)
                bold = (
                    line.bold
                    and abs(line.size - body) < 1.0
                    and is_heading_text(line.text, 12)
                    and not line.text.endswith(SENTENCE_END)
                )
                line.heading = bigger or bold
            else:
                before = lines[j - 1].text if j else ""
                after = lines[j + 1].text if j + 1 < len(lines) else ""
                inside_sentence = (before and not before.endswith((".", "?", "!", ":"))) or (
                    after[:1].islower()
                )
                line.heading = not inside_sentence and looks_like_title(line.text)
    _demote_heading_runs(all_lines)
    ranked = sorted(
        {line.size for lines in page_lines for line in lines if line.heading}, reverse=True
    )
    for lines in page_lines:
        for line in lines:
            if line.heading:
                line.level = min(ranked.index(line.size) + 1, 4)


def _demote_heading_runs(lines: list[_Line], longest: int = 3) -> None:
    """Four or more styled lines in a row are a list (acronyms, a cover page), not headings."""
    run: list[_Line] = []
    for line in [*lines, None]:
        if line is not None and line.heading:
            run.append(line)
            continue
        if len(run) > longest:
            for item in run:
                item.heading = False
        run = []


def _vocabulary(page_lines: list[list[_Line]]) -> set[str]:
    """Words (and hyphenated compounds) seen inside lines, to decide line-end hyphens."""
    words: set[str] = set()
    for lines in page_lines:
        for line in lines:
            words.update(w.lower() for w in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", line.text))
    return words


def _paragraph_breaks(lines: list[_Line]) -> list[bool]:
    """True where a line starts a new block: a gap wider than the usual line spacing, or a bullet.

    Body lines are compared with the page's typical spacing, heading lines with their own size,
    so a two-line title stays one heading while stacked cover-page lines do not.
    """
    gaps = [
        a.y - b.y
        for a, b in zip(lines, lines[1:], strict=False)
        if a.y is not None and b.y is not None and 0 < a.y - b.y < 3 * max(a.size, 1)
    ]
    typical = sorted(gaps)[len(gaps) // 2] if gaps else None
    breaks = [True] if lines else []
    for a, b in zip(lines, lines[1:], strict=False):
        gap = (a.y - b.y) if a.y is not None and b.y is not None else None
        if gap is None:
            wide = False
        elif a.heading and b.heading:
            wide = gap > 1.6 * max(a.size, b.size) or gap < 0
        elif gap < 0 and not a.text.endswith((".", "?", "!", ":")) and b.text[:1].islower():
            wide = False  # a sentence running on at the top of the next column
        else:
            wide = typical is not None and (gap > typical * 1.35 or gap < 0)
        breaks.append(bool(wide or BULLET_RE.match(b.text)))
    return breaks


def _build_pdf_page(number: int, lines: list[_Line], vocabulary: set[str]) -> Page:
    groups: list[tuple[str, int, list[str]]] = []
    breaks = _paragraph_breaks(lines)
    for line, brk in zip(lines, breaks, strict=True):
        kind = "heading" if line.heading else "body"
        last = groups[-1] if groups else None
        same_level = last is not None and (kind == "body" or last[1] == line.level)
        if last and last[0] == kind and same_level and not brk:
            last[2].append(line.text)
        else:
            groups.append((kind, line.level, [line.text]))
    return assemble_page(
        number, [(kind, level, join_lines(texts, vocabulary)) for kind, level, texts in groups]
    )
