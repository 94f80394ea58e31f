"""A PDF page's lines in reading order: pypdf's visitor fragments joined into lines with their
font size, weight and position, and two-column pages read column by column. What enters: a
pypdf page; what leaves: `_Line` records for pdf.py to tell headers, headings and paragraphs
apart. Must not import synth.index or later stages."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from .pages import collapse, normalise


@dataclass
class _Line:
    text: str
    size: float
    bold: bool
    y: float | None
    heading: bool = False
    level: int = 0
    x: float | None = None


@dataclass
class _LineBuilder:
    """Accumulates visitor fragments into one line, weighting style by visible characters."""

    parts: list[str] = field(default_factory=list)
    sizes: Counter[float] = field(default_factory=Counter)
    bold_chars: int = 0
    chars: int = 0
    y: float | None = None
    x: float | None = None
    last_x: float = 0.0  # where the latest fragment started, its size and length
    last_size: float = 0.0
    last_chars: int = 0

    def add(self, text: str, size: float, bold: bool, y: float, x: float | None = None) -> None:
        self.parts.append(text)
        visible = len(text.strip())
        if visible:
            self.sizes[round(size * 2) / 2] += visible
            self.chars += visible
            self.bold_chars += visible if bold else 0
            if self.y is None:
                self.y, self.x = y, x
            if x is not None:
                self.last_x, self.last_size, self.last_chars = x, size, len(text)

    def jumps_column(self, x: float | None, width: float, size: float) -> bool:
        """A fragment far to the right of this line, across the page's middle: the same line
        of the other column, as content streams that interleave columns write it."""
        if x is None or self.x is None or not self.chars or not width:
            return False
        end = self.last_x + 0.45 * self.last_size * self.last_chars  # a rough right edge
        return self.x < width / 2 < x and x > end + 1.5 * size

    def close(self) -> _Line | None:
        text = collapse(normalise("".join(self.parts)))
        if not text:
            return None
        size = self.sizes.most_common(1)[0][0] if self.sizes else 0.0
        bold = self.chars > 0 and self.bold_chars * 2 > self.chars
        return _Line(text, size, bold, self.y, x=self.x)


def _page_lines(page: object) -> list[_Line]:
    """Read one page's text lines with font size, boldness and position, in reading order."""
    lines: list[_Line] = []
    current = _LineBuilder()
    try:
        width = float(page.mediabox.width)  # type: ignore[attr-defined]
    except Exception:
        width = 0.0

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        nonlocal current
        scale = math.hypot(tm[0], tm[1]) * math.hypot(cm[0], cm[1]) or 1.0
        name = str(font.get("/BaseFont", "")) if isinstance(font, dict) else ""
        bold = any(w in name.lower() for w in ("bold", "black", "heavy", "semibold"))
        y = tm[5] * cm[3] + cm[5]
        # Rotated text (a landscape table) has no left and right columns to speak of.
        x = tm[4] * cm[0] + cm[4] if abs(tm[1]) + abs(cm[1]) < 1e-6 else None
        for i, piece in enumerate(text.split("\n")):
            if i or current.jumps_column(x, width, float(size) * scale):
                line = current.close()
                if line:
                    lines.append(line)
                current = _LineBuilder()
            if piece:
                current.add(piece, float(size) * scale, bold, y, x)

    page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    last = current.close()
    if last:
        lines.append(last)
    return column_order(lines, width) if width else lines


# A page is read as two columns when at least this share of its lines sit wholly in each half.
COLUMN_SHARE = 0.25


def _aligned(lines: list[_Line], share: float = 0.6) -> bool:
    """Most of these lines start at one x (a column's margin), give or take 2 pt."""
    starts = Counter(round((line.x or 0.0) / 4) for line in lines)
    return bool(lines) and starts.most_common(1)[0][1] >= share * len(lines)


def column_order(lines: list[_Line], width: float) -> list[_Line]:
    """Lines of a two-column page in reading order: between full-width lines (titles, running
    heads), the left column top to bottom, then the right. Content streams that interleave the
    columns line by line read as mixed sentences otherwise; single-column pages are unchanged.
    """
    middle = width / 2

    def side(line: _Line) -> str:
        if line.x is None or line.y is None:
            return "span"
        if line.x > middle - line.size:
            return "right"
        # A rough right edge; only lines reaching well past the middle span both columns.
        right = line.x + 0.45 * line.size * len(line.text)
        return "left" if right < middle + 0.1 * width else "span"

    sides = [side(line) for line in lines]
    if min(sides.count("left"), sides.count("right")) < COLUMN_SHARE * len(lines):
        return lines
    pairs = list(zip(sides, lines, strict=True))
    if not all(_aligned([ln for s, ln in pairs if s == c]) for c in ("left", "right")):
        return lines  # many different starts: a table, not two columns of text
    ordered: list[_Line] = []
    band: list[tuple[str, _Line]] = []

    def flush() -> None:
        for column in ("left", "right"):
            part = [line for s, line in band if s == column]
            ordered.extend(sorted(part, key=lambda line: -(line.y or 0.0)))
        band.clear()

    for s, line in sorted(zip(sides, lines, strict=True), key=lambda p: -(p[1].y or 0.0)):
        if s == "span":
            flush()
            ordered.append(line)
        else:
            band.append((s, line))
    flush()
    return ordered
