"""Scanned pages made at test time: text drawn into a grayscale image, wrapped in a PDF with no
text layer, as a flatbed scanner would produce it. Used by the hostile tests and bench_ocr."""

from __future__ import annotations

import textwrap
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"


def scanned_pdf(
    path: Path,
    pages: list[list[str]],
    dpi: int = 300,
    size_pt: float = 11.0,
    columns: int = 1,
    noise: float = 0.0,
) -> Path:
    """A PDF of page images. Each page is a list of paragraphs; a paragraph starting with '# '
    is drawn as a bold heading. `columns` lays paragraphs out in that many columns; `noise`
    adds that share of random grey specks, like a poor scan."""
    import random

    from PIL import Image, ImageDraw, ImageFont

    width, height = int(8.27 * dpi), int(11.69 * dpi)  # A4
    body = ImageFont.truetype(FONT, int(size_pt * dpi / 72))
    bold = ImageFont.truetype(FONT_BOLD, int(size_pt * 1.5 * dpi / 72))
    margin, gap = int(0.9 * dpi), int(0.3 * dpi)
    col_width = (width - 2 * margin - gap * (columns - 1)) // columns
    chars = int(col_width / (size_pt * dpi / 72 * 0.5))
    line_h = int(size_pt * 1.45 * dpi / 72)
    images = []
    rng = random.Random(0)
    for paragraphs in pages:
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        col, y = 0, margin
        for para in paragraphs:
            heading = para.startswith("# ")
            font = bold if heading else body
            lines = [para[2:]] if heading else textwrap.wrap(para, chars)
            for line in lines:
                if y + line_h > height - margin and col + 1 < columns:
                    col, y = col + 1, margin
                x = margin + col * (col_width + gap)
                draw.text((x, y), line, font=font, fill=0)
                y += int(line_h * (1.6 if heading else 1.0))
            y += line_h // 2
        for _ in range(int(noise * width * height / 100)):
            draw.point((rng.randrange(width), rng.randrange(height)), fill=rng.randrange(90, 200))
        images.append(image)
    images[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return path
