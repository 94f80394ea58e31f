"""Evidence behind a strand, read from the index: linked documents as studies, padlock
suggestions with their reasons, and contexts from the documents' tags."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .entries import (
    CONTEXT_FACETS,
    MIN_RANDOMISED_SHARE,
    MIN_RECENT_SHARE,
    PADLOCK_BANDS,
    RANDOMISED_DESIGNS,
    RECENT_YEAR,
    REVIEW_DESIGNS,
    STUDY_DESIGNS,
    LinkedEvidence,
    ToolkitEntry,
    ToolkitError,
)

if TYPE_CHECKING:
    from synth.index import Index


@dataclass(frozen=True)
class StudyDocument:
    """A linked document counted as a study: its design tags, year and independence."""

    doc_id: str
    source: str
    designs: tuple[str, ...]
    year: int | None
    independent: bool


@dataclass(frozen=True)
class EvidenceSummary:
    """What the linked passages' documents show; the input of `suggest_padlocks`."""

    n_documents: int
    studies: tuple[StudyDocument, ...] = ()
    reported_studies: int | None = None
    contexts: dict[str, list[str]] = field(default_factory=dict)

    def count(self, designs: Iterable[str]) -> int:
        wanted = set(designs)
        return sum(1 for s in self.studies if wanted & set(s.designs))


@dataclass(frozen=True)
class PadlockSuggestion:
    padlocks: int
    reasons: list[str]


def padlocks_for_studies(n: int) -> int:
    """0 studies -> 0, 1-2 -> 1, 3-4 -> 2, 5-9 -> 3, 10-24 -> 4, 25 or more -> 5."""
    return next((p for top, p in PADLOCK_BANDS if n <= top), 5)


def _base_count(summary: EvidenceSummary) -> tuple[int, list[str]]:
    linked = len(summary.studies)
    reported = summary.reported_studies
    reviews = summary.count(REVIEW_DESIGNS)
    if reported is not None and reported > linked:
        if reviews:
            return reported, [
                f"{reported} studies as entered, backed by {reviews} linked review(s)"
            ]
        return linked, [
            f"{reported} studies entered but no linked systematic review backs that count: "
            f"capped at the {linked} linked study document(s)"
        ]
    return linked, [f"{linked} distinct linked study document(s) of {summary.n_documents} linked"]


def _threats(summary: EvidenceSummary) -> list[str]:
    studies = summary.studies
    threats = []
    primary = [s for s in studies if not set(s.designs) <= set(REVIEW_DESIGNS)]
    randomised = sum(1 for s in primary if set(s.designs) & set(RANDOMISED_DESIGNS))
    if primary and randomised / len(primary) < MIN_RANDOMISED_SHARE:
        threats.append(f"-1: only {randomised} of {len(primary)} primary studies randomised (<50%)")
    recent = sum(1 for s in studies if s.year is not None and s.year >= RECENT_YEAR)
    if recent / len(studies) < MIN_RECENT_SHARE:
        threats.append(
            f"-1: only {recent} of {len(studies)} studies from {RECENT_YEAR} on (<30%; "
            "undated studies count as older)"
        )
    if not any(s.independent for s in studies):
        threats.append(
            "-1: no linked study marked as an independent evaluation "
            "(mark one with `synth toolkit edit ID --independent DOC`)"
        )
    return threats


def suggest_padlocks(summary: EvidenceSummary) -> PadlockSuggestion:
    """Suggest 0-5 padlocks from the linked evidence; the curator decides.

    Rule: count the distinct linked documents tagged with a study design (RCT, quasi-experimental,
    systematic review). A larger number of studies entered by the curator is used only when a
    linked systematic review backs it; otherwise the count is capped at what the linked documents
    show. Padlocks from the count: 0 -> 0, 1-2 -> 1, 3-4 -> 2, 5-9 -> 3, 10-24 -> 4, >=25 -> 5.
    Then lose one padlock for each threat: under 50% of primary (non-review) studies randomised;
    under 30% of studies published 2015 or later (undated count as older); no linked study marked
    as an independent evaluation. Never below 0.
    """
    n, reasons = _base_count(summary)
    base = padlocks_for_studies(n)
    reasons.append(f"{base} padlock(s) for {n} studies")
    if base == 0:
        return PadlockSuggestion(0, [*reasons, "no study designs among the linked documents"])
    threats = _threats(summary)
    return PadlockSuggestion(max(0, base - len(threats)), reasons + threats)


def _year(tags: Iterable[object], metadata: object) -> int | None:
    year = getattr(metadata, "year", None)
    if year:
        return int(year)
    years = [int(t.value) for t in tags if t.facet == "year" and str(t.value).isdigit()]  # type: ignore[attr-defined]
    return min(years) if years else None


def summarise_evidence(entry: ToolkitEntry, index: Index) -> EvidenceSummary:
    """Read each linked document's design, year and context tags from the index."""
    doc_ids = list(dict.fromkeys(link.doc_id for link in entry.links))
    independent = {link.doc_id for link in entry.links if link.independent}
    contexts: dict[str, set[str]] = {}
    studies = []
    for doc_id in doc_ids:
        tags = index.document_tags(doc_id)
        for tag in tags.tags:
            if tag.facet in CONTEXT_FACETS:
                contexts.setdefault(tag.facet, set()).add(tag.value)
        designs = tuple(sorted({t.value for t in tags.tags if t.facet == "design"}))
        if set(designs) & set(STUDY_DESIGNS):
            year = _year(tags.tags, tags.metadata)
            studies.append(StudyDocument(doc_id, tags.source, designs, year, doc_id in independent))
    return EvidenceSummary(
        n_documents=len(doc_ids),
        studies=tuple(studies),
        reported_studies=entry.studies,
        contexts={f: sorted(contexts[f]) for f in CONTEXT_FACETS if f in contexts},
    )


# Sizes that read straight through the EEF table; others (percentage points, per cent, months,
# odds ratios) are listed beside the suggestion but never pooled into it.
STANDARDISED_UNITS = ("d", "g", "sd")


@dataclass(frozen=True)
class EffectSource:
    """One printed effect size from a linked study record's finding, with where it stands."""

    value: float
    unit: str
    text: str  # as printed
    source: str
    page: int
    sentence: str


@dataclass(frozen=True)
class EffectSuggestion:
    """An effect-size range proposed from the linked studies' findings; the curator decides."""

    low: float | None
    high: float | None
    n_studies: int  # linked studies printing a standardised effect size
    n_records: int  # linked documents with a study record
    effects: tuple[EffectSource, ...] = ()
    other_units: tuple[EffectSource, ...] = ()

    @property
    def text(self) -> str:
        if self.low is None or self.high is None:
            return (
                f"no standardised effect size (SD, d or g) printed in the findings of the "
                f"{self.n_records} linked stud{'y' if self.n_records == 1 else 'ies'} with a record"
            )
        span = f"{self.low:.2f}" if self.low == self.high else f"{self.low:.2f} to {self.high:.2f}"
        n = self.n_studies
        return f"{span}, from {n} linked stud{'y' if n == 1 else 'ies'} (a suggestion: not entered)"


def suggest_effect_size(entry: ToolkitEntry, index: Index) -> EffectSuggestion:
    """The range of standardised effect sizes printed in the linked documents' study-record
    findings, each with its source and page; other units are listed, not pooled."""
    doc_ids = list(dict.fromkeys(link.doc_id for link in entry.links if link.doc_id))
    records = index.studies(doc_ids)
    sources = {d.doc_id: d.source for d in index.find_documents(doc_ids)} if doc_ids else {}
    standard: list[EffectSource] = []
    other: list[EffectSource] = []
    with_size: set[str] = set()
    for doc_id, record in records.items():
        for finding in record.findings:
            for effect in finding.effects:
                item = EffectSource(
                    effect.value,
                    effect.unit,
                    effect.text,
                    sources.get(doc_id, doc_id),
                    finding.page,
                    finding.text,
                )
                if effect.unit in STANDARDISED_UNITS:
                    standard.append(item)
                    with_size.add(doc_id)
                else:
                    other.append(item)
    values = [e.value for e in standard]
    return EffectSuggestion(
        min(values) if values else None,
        max(values) if values else None,
        len(with_size),
        len(records),
        tuple(standard),
        tuple(other),
    )


def resolve_links(links: Iterable[LinkedEvidence], index: Index) -> list[LinkedEvidence]:
    """Fill document, source and page of each link from the index; unknown ids or quotes raise."""
    links = list(links)
    if not links:
        return []
    marks = ",".join("?" * len(links))
    rows = index.query(
        "SELECT c.chunk_id, c.doc_id, c.page_start, c.text, d.source FROM chunks c "
        f"JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id IN ({marks})",
        [link.chunk_id for link in links],
    )
    found = {r["chunk_id"]: r for r in rows}
    missing = [link.chunk_id for link in links if link.chunk_id not in found]
    if missing:
        raise ToolkitError(
            f"unknown chunk id(s) in index build {index.build_id}: {', '.join(missing)}"
        )
    out = []
    for link in links:
        row = found[link.chunk_id]
        if link.quote and _squash(link.quote) not in _squash(row["text"]):
            raise ToolkitError(f"quote not found in chunk {link.chunk_id}: '{link.quote[:60]}'")
        out.append(
            replace(link, doc_id=row["doc_id"], source=row["source"], page=row["page_start"])
        )
    return out


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def refresh_from_index(entry: ToolkitEntry, index: Index) -> ToolkitEntry:
    """Check links against an index build and recompute contexts and the padlock suggestion."""
    links = resolve_links(entry.links, index)
    updated = replace(entry, links=links, index_build=index.build_id)
    summary = summarise_evidence(updated, index)
    suggestion = suggest_padlocks(summary)
    return replace(
        updated,
        contexts=summary.contexts,
        suggested_padlocks=suggestion.padlocks,
        padlock_reasons=suggestion.reasons,
    )
