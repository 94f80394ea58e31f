"""Records that cross module boundaries: files -> documents -> chunks -> hits -> brief."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol

BlockKind = Literal["heading", "body"]


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph on one page, located by offsets into that page's text."""

    kind: BlockKind
    text: str
    start: int
    end: int
    level: int = 0


@dataclass
class Page:
    """One page as the reader numbers it (1-based), with its cleaned text and its blocks."""

    number: int
    text: str
    blocks: list[Block] = field(default_factory=list)
    ocr: bool = False  # the text was read from the page image by OCR
    ocr_confidence: float | None = None  # Tesseract's mean word confidence, 0-100


@dataclass
class Document:
    """A parsed file: metadata plus pages; `doc_id` is derived from the content hash."""

    doc_id: str
    source: str
    path: str
    content_hash: str
    title: str
    pages: list[Page]
    author: str = ""
    created: str = ""
    modified: str = ""
    kind: str = "pdf"

    @property
    def n_pages(self) -> int:
        return len(self.pages)


@dataclass(frozen=True)
class SentenceSpan:
    """Where one sentence of a chunk sits: page number and character offsets in its text."""

    page: int
    start: int
    end: int


@dataclass
class Chunk:
    """Whole sentences from one section of one document, with their page locations."""

    chunk_id: str
    doc_id: str
    seq: int
    section: list[str]
    page_start: int
    page_end: int
    text: str
    sentences: list[SentenceSpan]
    ocr: bool = False  # some of its sentences come from an OCR'd page

    @property
    def section_label(self) -> str:
        return " > ".join(self.section)

    @property
    def n_words(self) -> int:
        return len(self.text.split())


@dataclass
class Hit:
    """One search result, with everything needed to cite it."""

    chunk_id: str
    doc_id: str
    text: str
    source: str
    title: str
    page: int
    page_end: int
    section: str
    score: float
    dense_score: float | None = None
    keyword_score: float | None = None
    rank: int = 0
    facets: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Tag:
    """One facet value on a chunk or document, with where it came from and how sure it is."""

    facet: str
    value: str
    origin: Literal["manifest", "rule", "model", "curator"]
    confidence: float


@dataclass(frozen=True)
class Filters:
    """A search restriction: values of one facet OR together, different facets AND."""

    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None

    @property
    def empty(self) -> bool:
        return not self.values and self.year_from is None and self.year_to is None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {k: list(v) for k, v in self.values.items()}
        if self.year_from is not None:
            out["year_from"] = self.year_from
        if self.year_to is not None:
            out["year_to"] = self.year_to
        return out


StudyKind = Literal[
    "primary-study",
    "systematic-review",
    "evaluation-report",
    "data-brief",
    "practice-guide",
    "programme-description",
    "policy-document",
]
Direction = Literal["positive", "negative", "no-effect", "mixed"]


@dataclass(frozen=True)
class Effect:
    """A size printed beside a finding, never computed: `unit` is one of "d", "g", "sd",
    "pp" (percentage points), "percent", "months", "odds-ratio"; `text` is as printed."""

    value: float
    unit: str
    text: str


@dataclass(frozen=True)
class Finding:
    """A sentence that reports a result, located and checkable like a brief quote.

    `effects` are every size the sentence prints ("0.24 SD for coaching, 0.12 SD for
    training"); `effect` is the first, or None when the sentence prints none.
    """

    text: str
    page: int
    start: int
    end: int
    direction: Direction | None = None
    outcome: str | None = None
    effects: tuple[Effect, ...] = ()
    section: str = ""

    @property
    def effect(self) -> Effect | None:
        return self.effects[0] if self.effects else None


@dataclass(frozen=True)
class Sample:
    """How many of what the study covered (pupils, schools, teachers, ...), as printed."""

    size: int
    unit: str
    text: str


@dataclass
class StudyRecord:
    """What one document is, where it took place and what it found.

    Built at ingest from the document's own text: `design` is the document's own method (a
    review's is "systematic-review", the designs it reviews go to `reviewed_designs`);
    `countries` are where it took place, `countries_mentioned` every country it names. Fields
    with no evidence stay empty: a record never guesses.
    """

    doc_id: str
    title: str = ""
    year: int | None = None
    kind: StudyKind | None = None
    design: str | None = None
    reviewed_designs: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    countries_mentioned: list[str] = field(default_factory=list)
    multi_country: bool = False
    phase: list[str] = field(default_factory=list)
    setting: list[str] = field(default_factory=list)
    sample: Sample | None = None
    outcomes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def headline(self) -> Finding | None:
        """The finding a card leads with: findings are kept best first (own results, with a
        printed size, in a results section), so the first."""
        return self.findings[0] if self.findings else None

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> StudyRecord:
        raw = dict(data)
        sample = raw.get("sample")
        findings = []
        for f in raw.get("findings") or []:
            f = dict(f)  # type: ignore[arg-type]
            f["effects"] = tuple(Effect(**e) for e in f.get("effects") or [])
            findings.append(Finding(**f))
        raw["sample"] = Sample(**sample) if isinstance(sample, dict) else None
        raw["findings"] = findings
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})  # type: ignore[arg-type]


FileStatus = Literal["added", "unchanged", "replaced", "failed"]


@dataclass
class FileResult:
    """What happened to one input file during ingest; `reason` says why it failed."""

    path: str
    status: FileStatus
    reason: str = ""
    doc_id: str = ""
    n_chunks: int = 0


@dataclass
class IngestReport:
    """The closing summary of an ingest run."""

    files: list[FileResult] = field(default_factory=list)
    build_id: str = ""
    n_embedded: int = 0
    n_cached: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def changed(self) -> bool:
        return any(f.status in ("added", "replaced") for f in self.files)


class Progress(Protocol):
    """Where long work reports how far it has got: a tqdm bar in the CLI, st.progress in the app."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class NullProgress:
    """Progress that goes nowhere, for library callers who do not want it."""

    def start(self, stage: str, total: int) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None
