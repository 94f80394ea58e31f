"""Reading scanned pages: render a PDF page (poppler's `pdftoppm`) and OCR it with Tesseract.

Both are Debian packages (`poppler-utils`, `tesseract-ocr` plus a language pack per language),
driven as subprocesses with a time limit per page, so a page that would take too long fails
alone. Lines come back with their height and position, so the PDF reader can tell headings
and paragraphs on a scanned page as it does on a born-digital one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Rendering resolution: Tesseract reads 10-12 pt text best at about 300 dpi.
OCR_DPI = 300
# Languages read, if their packs are installed. A page is read in English first (one language
# reads 2.3x faster than four at once); when its words are mostly another language's, it is
# read again in that language (benchmarks/README.md has the accuracy of both ways).
OCR_LANGUAGES = ("eng", "fra", "spa", "por")
_STOPWORDS = {
    "eng": "the and of to in is that for with are was on by this from be as at",
    "fra": "le la les des et est une dans pour que qui du sur au par pas sont ce",
    "spa": "el la los las y es una en que del por para con se al lo como sus",
    "por": "o os e é uma em que do da dos das para com não ao se pelo pela",
}
# Words Tesseract is less sure of than this (0-100) are dropped: specks and rules read as text.
MIN_WORD_CONFIDENCE = 30
INSTALL_HINT = (
    "OCR needs Tesseract and poppler: apt-get install tesseract-ocr tesseract-ocr-eng "
    "poppler-utils (and pip install pytesseract)"
)


class OcrError(Exception):
    """A page that could not be read by OCR; the message is the reason."""


@dataclass(frozen=True)
class OcrLine:
    """One line read from a page image: text, top edge and height in points."""

    text: str
    top: float
    height: float


@dataclass(frozen=True)
class OcrPage:
    lines: list[OcrLine]
    confidence: float  # mean word confidence, 0-100
    seconds: float


@lru_cache(maxsize=1)
def unavailable() -> str:
    """Why OCR cannot run here ("" when it can)."""
    if shutil.which("pdftoppm") is None or shutil.which("tesseract") is None:
        return INSTALL_HINT
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return "" if languages() else INSTALL_HINT


@lru_cache(maxsize=1)
def languages() -> str:
    """The OCR_LANGUAGES whose packs are installed, joined for Tesseract ("eng+fra")."""
    try:
        out = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    installed = set(out.split())
    return "+".join(lang for lang in OCR_LANGUAGES if lang in installed)


def render_page(pdf: Path, number: int, seconds: float, dpi: int = OCR_DPI) -> bytes:
    """One page (1-based) as a grayscale PNG, rendered by pdftoppm within `seconds`."""
    with tempfile.TemporaryDirectory(prefix="synth-ocr-") as tmp:
        out = Path(tmp) / "page"
        cmd = ["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile"]
        cmd += ["-f", str(number), "-l", str(number), str(pdf), str(out)]
        try:
            subprocess.run(cmd, capture_output=True, timeout=seconds, check=True)
        except subprocess.TimeoutExpired:
            raise OcrError(f"page {number}: rendering took over {seconds:g} s") from None
        except (OSError, subprocess.CalledProcessError) as exc:
            raise OcrError(f"page {number}: could not be rendered ({exc})") from None
        png = out.with_suffix(".png")
        if not png.is_file():
            raise OcrError(f"page {number}: could not be rendered")
        return png.read_bytes()


def read_image(png: bytes, seconds: float, dpi: int = OCR_DPI) -> tuple[list[OcrLine], float]:
    """Tesseract's words grouped into lines (with positions) and their mean confidence."""
    import io

    from PIL import Image

    with warnings.catch_warnings():  # Pillow's two-line warning reached the user's terminal
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(png))
            image.load()
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise OcrError(f"page image too large to OCR ({exc.__class__.__name__})") from None
    end = time.monotonic() + seconds
    lines, confidence = _tesseract(image, "eng", seconds, dpi)
    guess = guess_language(" ".join(line.text for line in lines))
    if guess != "eng" and guess in languages().split("+"):
        lines, confidence = _tesseract(image, f"{guess}+eng", end - time.monotonic(), dpi)
    return lines, confidence


def guess_language(text: str) -> str:
    """The OCR language whose common words are most frequent in `text` (English on a tie)."""
    words = text.lower().split()
    scores = {lang: sum(w in set(s.split()) for w in words) for lang, s in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "eng"))
    return best if scores[best] > scores["eng"] else "eng"


def _tesseract(image: object, lang: str, seconds: float, dpi: int) -> tuple[list[OcrLine], float]:
    import pytesseract

    if seconds <= 0:
        raise OcrError("OCR ran out of time")
    try:
        data = pytesseract.image_to_data(
            image,
            lang=lang,
            config="--psm 3",
            output_type=pytesseract.Output.DICT,
            timeout=max(1.0, seconds),
        )
    except RuntimeError as exc:  # pytesseract's timeout
        raise OcrError(f"OCR took over {seconds:.0f} s") from exc
    except pytesseract.TesseractError as exc:
        raise OcrError(f"Tesseract failed ({exc.message[:120]})") from exc
    return _lines(data, 72.0 / dpi)


def _lines(data: dict[str, list], scale: float) -> tuple[list[OcrLine], float]:
    words: dict[tuple[int, int, int], list[tuple[str, int, int]]] = {}
    confidences: list[float] = []
    for i, text in enumerate(data["text"]):
        conf = float(data["conf"][i])
        if not text.strip() or conf < MIN_WORD_CONFIDENCE:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        words.setdefault(key, []).append((text, data["top"][i], data["height"][i]))
        confidences.append(conf)
    lines = []
    for key in sorted(words, key=lambda k: (k[0], k[1], k[2])):
        group = words[key]
        top = min(w[1] for w in group)
        heights = sorted(w[2] for w in group)
        lines.append(
            OcrLine(" ".join(w[0] for w in group), top * scale, heights[len(heights) // 2] * scale)
        )
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return lines, round(mean, 1)


def ocr_page(pdf: Path, number: int, seconds: float) -> OcrPage:
    """Render and read one page within `seconds` in all; OcrError says why it could not."""
    started = time.monotonic()
    png = render_page(pdf, number, seconds)
    left = seconds - (time.monotonic() - started)
    if left <= 0:
        raise OcrError(f"page {number}: OCR took over {seconds:g} s")
    lines, confidence = read_image(png, left)
    return OcrPage(lines, confidence, time.monotonic() - started)
