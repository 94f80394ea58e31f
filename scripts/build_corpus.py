"""Render the sample corpus: corpus/src/*.md -> corpus/*.pdf with synth's own PDF writer."""

from __future__ import annotations

import sys
from pathlib import Path

from synth.brief.export.pdf import markdown_to_pdf

ROOT = Path(__file__).resolve().parents[1] / "corpus"


def main() -> int:
    sources = sorted((ROOT / "src").glob("*.md"))
    for src in sources:
        out = markdown_to_pdf(src.read_text(encoding="utf-8"), ROOT / f"{src.stem}.pdf")
        print(f"{src.name} -> {out.relative_to(ROOT.parent)}")
    return 0 if sources else 1


if __name__ == "__main__":
    sys.exit(main())
