"""Finding input files and their limits: which files synth reads, their content hash, and the
guards that fail one file (never the batch) when it would swamp memory or time."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PDF_EXTENSIONS = {".pdf"}
TEXT_EXTENSIONS = {".txt", ".md", ".markdown", ".html", ".htm"}
SUPPORTED_EXTENSIONS = PDF_EXTENSIONS | TEXT_EXTENSIONS


class ParseError(Exception):
    """A file that cannot be indexed; the message is shown to the user as the reason."""


@dataclass(frozen=True)
class ParseLimits:
    """Guards against files that would swamp memory or time; exceeding one fails that file only."""

    max_bytes: int = 250 * 1024 * 1024
    max_pages: int = 3000
    # Text after parsing: 3,000 dense pages; about 25 minutes of ingest on two cores.
    max_chars: int = 10_000_000
    # OCR of pages without a text layer (Tesseract); seconds allowed for one page: a clean page
    # takes 7-25 s here, up to 60 s when the machine is loaded (benchmarks/README.md).
    ocr: bool = True
    ocr_page_seconds: float = 180.0
    # Scanned pages OCR'd per file, and seconds of OCR per file in all: a page of noise takes
    # about 24 s, so 300 such pages would have taken two hours.
    ocr_max_pages: int = 300
    ocr_file_seconds: float = 1800.0
    # Each file is parsed, chunked and described (study record, chunk roles) in a child process
    # (guard.py) stopped past this much CPU time or memory grown while on the file; tagging,
    # which needs the model, has a deadline of its own (tag.py). The slowest real PDF
    # measured parses 31,000 characters a second, so a file at max_chars needs about 320 s.
    file_seconds: float = 600.0
    file_memory_mb: int = 4096


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


IGNORE_MARKER = ".synthignore"


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Expand folders to the supported files below them, in a stable order.

    Hidden folders and folders holding a `.synthignore` file (such as the Markdown sources the
    sample corpus is rendered from) are skipped, so a folder is not indexed twice over.
    """
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        for child in sorted(path.rglob("*")):
            parents = child.relative_to(path).parents
            skipped = any(
                p.name.startswith(".") or (path / p / IGNORE_MARKER).exists()
                for p in parents
                if str(p) != "."
            )
            if not skipped and child.is_file() and child.suffix.lower() in SUPPORTED_EXTENSIONS:
                yield child
