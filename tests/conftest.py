"""Shared fixtures: one embedder and one corpus index per session, and builders for tiny files.

Everything here uses the real components (pypdf, spaCy, FAISS, the packaged MiniLM model).
Test PDFs are rendered with synth's own `markdown_to_pdf` (running header + page-number footer)
or drawn directly with fpdf2 when a test needs a file markdown_to_pdf cannot make.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
CORPUS_SRC = CORPUS / "src"
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_REPORTS = SHARED / "corpora" / "reports"
SHARED_CAMPBELL = SHARED / "corpora" / "campbell"


# The app lets page errors through to AppTest (it shows users one line instead).
os.environ.setdefault("SYNTH_APP_RAISE", "1")


@pytest.fixture(autouse=True)
def _private_baskets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own basket store: none writes toolkit/baskets.sqlite."""
    monkeypatch.setenv("SYNTH_BASKETS", str(tmp_path / "baskets.sqlite"))


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- model and corpus index


@pytest.fixture(scope="session")
def embedder():
    """The real packaged MiniLM model, loaded once for the whole session.

    Called with the model name as a positional argument, exactly as synth.index.ingest and the
    CLI call it, so in-process CLI runs hit the same lru_cache entry instead of reloading.
    """
    from synth.ingest.embed import DEFAULT_MODEL, load_embedder

    return load_embedder(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def embedder_factory(embedder) -> Callable[[], object]:
    """What `ingest(embedder=...)` expects: a factory returning the already-loaded model."""
    return lambda: embedder


@pytest.fixture(scope="session")
def corpus_pdfs() -> list[Path]:
    pdfs = sorted(CORPUS.glob("*.pdf"))
    assert len(pdfs) == 14, f"expected the 14 sample PDFs in {CORPUS}, found {len(pdfs)}"
    return pdfs


@pytest.fixture(scope="session")
def corpus_index_root(tmp_path_factory, corpus_pdfs, embedder_factory) -> Path:
    """ONE index of the shipped sample corpus, built once per session. Treat it as read-only."""
    from synth.index import ingest

    root = tmp_path_factory.mktemp("corpus-index")
    report = ingest(corpus_pdfs, root, embedder=embedder_factory)
    assert report.count("added") == len(corpus_pdfs), [
        (f.path, f.status, f.reason) for f in report.files
    ]
    return root


@pytest.fixture(scope="session")
def corpus_index(corpus_index_root):
    from synth.index import Index

    index = Index.open(corpus_index_root)
    yield index
    index.close()


# ---------------------------------------------------------------- ../shared corpora


def _require(path: Path, what: str) -> None:
    if not path.is_dir():
        pytest.skip(
            f"{what} not available: {path} is absent (../shared is only on dev/CI machines)"
        )


def _shared_pdfs(folder: Path, what: str) -> list[Path]:
    _require(folder, what)
    pdfs = sorted(folder.glob("*.pdf"))
    if not pdfs:
        pytest.skip(f"no PDFs in {folder}")
    return pdfs


@pytest.fixture(scope="session")
def shared_report_pdfs() -> list[Path]:
    return _shared_pdfs(SHARED_REPORTS, "shared report PDFs")


@pytest.fixture(scope="session")
def shared_campbell_pdfs() -> list[Path]:
    return _shared_pdfs(SHARED_CAMPBELL, "Campbell review PDFs")


@pytest.fixture(scope="session")
def shared_report_docs(shared_report_pdfs):
    """Each shared report parsed once: {file name: (path, Document)}."""
    from synth.ingest.parse import parse_file

    return {p.name: (p, parse_file(p)) for p in shared_report_pdfs}


@pytest.fixture(scope="session")
def shared_campbell_docs(shared_campbell_pdfs):
    from synth.ingest.parse import parse_file

    return {p.name: (p, parse_file(p)) for p in shared_campbell_pdfs}


# ---------------------------------------------------------------- a multi-page structured report

# (heading level, heading text, keyword used in every sentence of that section; None = no body)
STRUCTURE: list[tuple[int, str, str | None]] = [
    (1, "Riverside Homework Clubs Evaluation", "opening"),
    (2, "Background", "lantern"),
    (2, "Methods", None),
    (3, "Sampling", "harbour"),
    (3, "Measures", "meadow"),
    (2, "Findings", "orchard"),
    (2, "Costs", "quarry"),
    (2, "Implementation", "willow"),
    (2, "Conclusions", "summit"),
]
KEYWORDS = [kw for _, _, kw in STRUCTURE if kw]
TOPICS = [
    "mathematics",
    "reading",
    "science",
    "history",
    "geography",
    "spelling",
    "writing",
    "music",
]
RUNNING_TITLE = "Riverside Evaluation Series Running Header"


@dataclass
class StructuredReport:
    """A PDF built by the tests, with what we know about it independently of synth's parser."""

    path: Path
    markdown: str
    title: str
    running_title: str
    headings: list[tuple[int, str]]
    # heading path (list of heading texts) for every section keyword
    section_path: dict[str, list[str]]
    sentences: dict[str, list[str]]
    # raw page texts from pypdf (whitespace collapsed), 1-based page -> text
    raw_pages: dict[int, str] = field(default_factory=dict)
    raw_lines: dict[int, list[str]] = field(default_factory=dict)

    def pages_of(self, sentence: str) -> list[int]:
        return [n for n, text in self.raw_pages.items() if sentence in text]


NUMBERS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
]


def _sentence(kw: str, i: int) -> str:
    """Unique sentences that name their section's keyword three times (so every line does).

    Numbers are spelled out and the keyword recurs so that no two pages start or end with
    the same line: synth drops lines repeated at page edges as running headers (see
    test_repeated_body_line_at_page_edges_is_kept for that bug), which this fixture avoids.
    """
    topic = TOPICS[i % len(TOPICS)]
    return (
        f"In the {kw} strand, observation {NUMBERS[i]} found {kw} pupils finishing {topic} "
        f"homework with {kw} volunteers after school."
    )


def structured_markdown(n_sentences: int = 14) -> tuple[str, dict[str, list[str]]]:
    lines = [
        "---",
        "title: Riverside Homework Clubs Evaluation: Final Report",
        "author: Test Evidence Unit",
        "date: 2021-04-01",
        "---",
        "",
    ]
    sentences: dict[str, list[str]] = {}
    for level, heading, kw in STRUCTURE:
        lines += ["#" * level + " " + heading, ""]
        if not kw:
            continue
        sents = [_sentence(kw, i) for i in range(n_sentences)]
        sentences[kw] = sents
        for lo in range(0, len(sents), 5):
            lines += [" ".join(sents[lo : lo + 5]), ""]
    return "\n".join(lines), sentences


@pytest.fixture(scope="session")
def structured_report(tmp_path_factory) -> StructuredReport:
    from pypdf import PdfReader

    from synth.brief.export.pdf import markdown_to_pdf

    markdown, sentences = structured_markdown()
    path = markdown_to_pdf(
        markdown,
        tmp_path_factory.mktemp("structured") / "riverside-report.pdf",
        running_title=RUNNING_TITLE,
    )
    section_path: dict[str, list[str]] = {}
    stack: list[tuple[int, str]] = []
    for level, heading, kw in STRUCTURE:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
        if kw:
            section_path[kw] = [h for _, h in stack]
    report = StructuredReport(
        path=path,
        markdown=markdown,
        title="Riverside Homework Clubs Evaluation: Final Report",
        running_title=RUNNING_TITLE,
        headings=[(level, heading) for level, heading, _ in STRUCTURE],
        section_path=section_path,
        sentences=sentences,
    )
    reader = PdfReader(path)
    for i, page in enumerate(reader.pages, start=1):
        raw = page.extract_text()
        report.raw_pages[i] = collapse(raw)
        report.raw_lines[i] = [collapse(line) for line in raw.splitlines() if line.strip()]
    # Preconditions that make the page tests meaningful.
    assert len(report.raw_pages) >= 4, "the structured report should span at least 4 pages"
    edge_keys: dict[str, int] = {}
    for lines in report.raw_lines.values():
        for key in {re.sub(r"\d+", "#", line.lower()) for line in lines[:3] + lines[-3:]}:
            edge_keys[key] = edge_keys.get(key, 0) + 1
    repeated = {k for k, n in edge_keys.items() if n > 1}
    assert repeated <= {"#", RUNNING_TITLE.lower()}, f"body lines repeat at page edges: {repeated}"
    return report


# ---------------------------------------------------------------- tiny files for own indexes

TINY_REPORTS: dict[str, tuple[str, list[tuple[str, list[str]]]]] = {
    "homework-clubs": (
        "After-School Homework Clubs in Rural Schools",
        [
            (
                "What the clubs offered",
                [
                    "Rural schools opened homework clubs staffed by volunteers after the last "
                    "lesson of the day.",
                    "Pupils could stay for an hour to finish assignments with help from an adult.",
                    "Attendance at the homework clubs was highest among pupils in the final year "
                    "of primary school.",
                ],
            ),
            (
                "Results",
                [
                    "Teachers reported that homework completion rose after the clubs opened.",
                    "Pupils who attended the clubs regularly handed in more complete assignments "
                    "than classmates who did not attend.",
                ],
            ),
        ],
    ),
    "school-meals": (
        "Free Breakfast and Concentration in Class",
        [
            (
                "The breakfast programme",
                [
                    "Every pupil was offered a free breakfast of porridge and fruit before the "
                    "first lesson.",
                    "Kitchens in each school prepared the food, and parents volunteered to "
                    "serve it in the hall.",
                ],
            ),
            (
                "Effects on concentration",
                [
                    "Teachers observed that hungry pupils found it hard to concentrate during "
                    "morning lessons.",
                    "After the breakfast programme began, fewer pupils complained of hunger and "
                    "morning behaviour improved in most classes.",
                ],
            ),
        ],
    ),
    "bicycle-loans": (
        "Bicycle Loans and Secondary School Attendance for Girls",
        [
            (
                "The bicycle scheme",
                [
                    "Girls who lived far from the secondary school were lent a bicycle for the "
                    "whole school year.",
                    "Long walking distances had been a major reason why girls stopped attending "
                    "secondary school.",
                ],
            ),
            (
                "Attendance",
                [
                    "Girls with a bicycle missed fewer days of school than girls who walked, "
                    "especially during the rainy season.",
                    "Families said the journey to school felt safer when girls rode bicycles "
                    "together in groups.",
                ],
            ),
        ],
    ),
}


def tiny_markdown(key: str, extra: str = "", title: str | None = None) -> str:
    doc_title, sections = TINY_REPORTS[key]
    lines = ["---", f"title: {title or doc_title}", "author: Tiny Test Authors", "date: 2020-01-01"]
    lines += ["---", "", f"# {title or doc_title}", ""]
    for heading, sents in sections:
        lines += [f"## {heading}", "", " ".join(sents), ""]
    if extra:
        lines += ["## Update", "", extra, ""]
    return "\n".join(lines)


@pytest.fixture(scope="session")
def tiny_markdown_fn() -> Callable[..., str]:
    """The Markdown text of one of TINY_REPORTS: tiny_markdown(key, extra='', title=None)."""
    return tiny_markdown


@pytest.fixture(scope="session")
def make_tiny_pdf() -> Callable[..., Path]:
    """Render one of TINY_REPORTS as a real PDF: make_tiny_pdf(key, path, extra='', title=None)."""
    from synth.brief.export.pdf import markdown_to_pdf

    def make(key: str, path: Path, extra: str = "", title: str | None = None) -> Path:
        return markdown_to_pdf(tiny_markdown(key, extra, title), path)

    return make


def _scanned_pdf(path: Path) -> Path:
    """A PDF with a page that has only a drawn rectangle: no text layer at all."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_fill_color(180, 180, 180)
    pdf.rect(20, 20, 150, 200, style="DF")
    pdf.output(str(path))
    return path


BAD_KINDS = ("scanned", "random", "random-with-header", "truncated", "empty", "blank", "encrypted")


@pytest.fixture(scope="session")
def make_bad_file() -> Callable[[str, Path], Path]:
    """Write one broken input of a kind (see BAD_KINDS) at path: make_bad_file(kind, path)."""
    from pypdf import PdfWriter

    from synth.brief.export.pdf import markdown_to_pdf

    def make(kind: str, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "scanned":
            return _scanned_pdf(path)
        if kind == "random":
            path.write_bytes(os.urandom(4096))
        elif kind == "random-with-header":
            path.write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
        elif kind in ("truncated", "encrypted"):
            good = markdown_to_pdf(
                tiny_markdown("homework-clubs", title="Source For A Broken Copy"),
                path.with_name(path.name + ".source.pdf"),
            )
            if kind == "truncated":
                data = good.read_bytes()
                path.write_bytes(data[: len(data) // 2])
            else:
                writer = PdfWriter(clone_from=str(good))
                writer.encrypt(user_password="secret-pass", owner_password="owner-pass")
                with open(path, "wb") as handle:
                    writer.write(handle)
            good.unlink()
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "blank":
            path.write_bytes(b"  \n\t\n ")
        else:
            raise ValueError(kind)
        return path

    return make


# ---------------------------------------------------------------- browser (Chromium + Playwright)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium for one test module; skips when it or Playwright is missing."""
    from browser_support import chromium

    with chromium() as instance:
        yield instance


@pytest.fixture
def page(browser):
    from browser_support import new_page

    with new_page(browser) as instance:
        yield instance
