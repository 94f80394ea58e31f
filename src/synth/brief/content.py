"""What a brief holds, before any template: themes, key messages, quotes with their page and
offsets, evidence counts, sources and provenance. `BriefContent.to_json` is the JSON export."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from synth import __version__
from synth.models import Finding

from .context import ContextFit
from .references import Reference


@dataclass(frozen=True)
class Quote:
    """A sentence as it stands on a page, with the offsets that prove it."""

    text: str
    doc_id: str
    source: str
    title: str
    page: int
    start: int
    end: int
    chunk_id: str
    score: float = 0.0
    cite: str = ""  # APA in-text citation of its source, e.g. "Banerjee et al., 2016"
    role: str = ""  # what the sentence does (synth.brief.roles), e.g. "finding"
    finding: Finding | None = None  # the study record's finding this sentence is, if any
    detail: str = ""  # "Positive, reading, 0.24 SD; from a trial in South Africa, primary"


@dataclass(frozen=True)
class Theme:
    """Passages that talk about the same thing, led by the finding that says it best.

    `key_message` is None when no passage of the theme states a finding: the brief says so
    rather than promote a background sentence. `label_source` says where the title came from
    (a taxonomy label or a noun phrase of the passages); `studies_text` counts the studies as
    a person would write it ("2 trials in Ghana and Kenya, both primary").
    """

    label: str
    key_message: Quote | None
    quotes: list[Quote]
    n_passages: int
    n_studies: int
    doc_ids: list[str]
    headings: list[str]
    label_source: str = ""
    studies_text: str = ""
    context_note: str = ""  # set when none of the theme's studies fits the asked context


@dataclass(frozen=True)
class ExtractedSection:
    """Sentences for one template section (implementation, cost...); empty means no evidence."""

    name: str
    title: str
    quotes: list[Quote]

    @property
    def empty(self) -> bool:
        return not self.quotes


@dataclass(frozen=True)
class EvidenceCount:
    value: str
    label: str
    studies: int


@dataclass
class EvidenceCounts:
    """How much evidence stands behind the brief, counting each study once."""

    n_studies: int = 0
    n_documents: int = 0
    n_passages: int = 0
    n_duplicates: int = 0
    by_facet: dict[str, list[EvidenceCount]] = field(default_factory=dict)
    untagged: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Duplicate:
    """A passage left out because an earlier hit says nearly the same."""

    kept_chunk: str
    kept_source: str
    dropped_chunk: str
    dropped_source: str
    similarity: float


@dataclass(frozen=True)
class QuoteCheck:
    """Verbatim checks: candidate sentences checked, passed, and quotes shown in the brief."""

    checked: int = 0
    passed: int = 0
    shown: int = 0
    fragments: int = 0  # sentences that lean on one the brief could not quote with them

    @property
    def failed(self) -> int:
        return self.checked - self.passed


@dataclass(frozen=True)
class SourceSummary:
    """One study's contribution: its best quote, pages, tags and citation."""

    doc_id: str
    source: str
    title: str
    author: str
    year: str
    pages: list[int]
    quote: Quote | None
    reference: Reference | None = None
    facets: dict[str, list[str]] = field(default_factory=dict)  # facet -> value labels
    also_in: list[str] = field(default_factory=list)  # files holding the same study


@dataclass(frozen=True)
class Provenance:
    query: str
    build_id: str
    model: str
    k: int
    created: str
    synth_version: str = __version__
    filters: dict[str, object] = field(default_factory=dict)
    basket: list[str] = field(default_factory=list)


@dataclass
class BriefContent:
    """Everything a brief template needs; templates format, they never compute."""

    question: str
    key_messages: list[Quote]
    sources: list[SourceSummary]
    provenance: Provenance
    dropped_quotes: list[str] = field(default_factory=list)
    themes: list[Theme] = field(default_factory=list)
    sections: dict[str, ExtractedSection] = field(default_factory=dict)
    evidence: EvidenceCounts = field(default_factory=EvidenceCounts)
    references: list[Reference] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    checks: QuoteCheck = field(default_factory=QuoteCheck)
    context: ContextFit | None = None
    template: str = ""  # the layout the sections were allocated for
    unquoted: list[str] = field(default_factory=list)  # passages with no quotable sentence

    @property
    def empty(self) -> bool:
        return not self.sources

    def all_quotes(self) -> list[Quote]:
        """Every quote the brief can print, each once."""
        quotes = list(self.key_messages)
        for theme in self.themes:
            quotes += [q for q in (theme.key_message, *theme.quotes) if q is not None]
        for section in self.sections.values():
            quotes += section.quotes
        quotes += [s.quote for s in self.sources if s.quote is not None]
        return list({(q.doc_id, q.page, q.start, q.end): q for q in quotes}.values())

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["references"] = [r.to_json() for r in self.references]
        for source, summary in zip(data["sources"], self.sources, strict=True):
            source["reference"] = summary.reference.to_json() if summary.reference else None
        data["checks"]["failed"] = self.checks.failed
        if self.context is not None:
            data["context"]["warning"] = self.context.warning
        return data
