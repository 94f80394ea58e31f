"""Results by study: one hit per document, its record, and its best passages beneath.

A teacher asks for studies, not passages: the ranked passages are grouped by document (a
document ranks by its best passage), each study shows what it is, where it took place and its
headline finding, and a relevance floor answers "no close match" instead of returning noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from synth.index import Index
from synth.index.facets import FacetCount, document_counts
from synth.ingest.embed import Embedder
from synth.models import Filters, Hit, StudyRecord
from synth.taxonomy import Taxonomy, load_taxonomy

from .hybrid import SearchSettings, _hits, _rank, allowed_ids, clean_query

# How many passages are ranked before grouping, and how many a study shows.
STUDY_POOL = 300
PASSAGES_PER_STUDY = 3


@dataclass(frozen=True)
class Floor:
    """When a passage is a close match: its cosine to the question. A keyword match says
    little here (common words match off-topic questions too). Calibrated on the tuning half of
    benchmarks/qa_dev.tsv by benchmarks/bench_floor.py; figures in benchmarks/README.md."""

    dense: float = 0.22

    def close(self, hit: Hit) -> bool:
        return (hit.dense_score if hit.dense_score is not None else 0.0) >= self.dense


@dataclass
class StudyHit:
    """One study in a result list: its record (None for builds without records), its place
    and score, and its best-matching passages."""

    doc_id: str
    title: str
    source: str
    rank: int
    score: float
    record: StudyRecord | None
    passages: list[Hit] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["record"] = self.record.to_json() if self.record else None
        headline = self.record.headline if self.record else None
        out["headline"] = asdict(headline) if headline else None
        return out


@dataclass
class StudyResult:
    studies: list[StudyHit]
    filters: Filters = field(default_factory=Filters)
    n_matching: int = 0
    no_close_match: bool = False
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "studies": [s.to_json() for s in self.studies],
            "filters": self.filters.to_json(),
            "n_matching": self.n_matching,
            "no_close_match": self.no_close_match,
            "facets": {f: [vars(c) for c in counts] for f, counts in self.facets.items()},
        }


def search_studies(
    index: Index,
    embedder: Embedder | None,
    query: str,
    settings: SearchSettings | None = None,
    filters: Filters | None = None,
    with_counts: bool = True,
    taxonomy: Taxonomy | None = None,
    floor: Floor | None = None,
) -> StudyResult:
    """Up to k studies for a question (all allowed studies, newest first, for no question).

    Facet counts are documents: every study above the floor (not only the first k), or every
    document the filters allow when there is no question.
    """
    settings = settings or SearchSettings()
    filters = filters or Filters()
    taxonomy = taxonomy or load_taxonomy()
    floor = floor or Floor()
    query = clean_query(query)
    allowed = allowed_ids(index, filters, settings, taxonomy)
    if not query:
        return _browse(index, filters, allowed, settings, with_counts, taxonomy)
    ranked, dense, keyword = _rank(index, embedder, query, settings, allowed, STUDY_POOL)
    hits = _hits(index, ranked, dense, keyword, settings)
    if settings.mode == "fused" and embedder is not None:
        hits = [h for h in hits if floor.close(h)]
    grouped: dict[str, list[Hit]] = {}
    for hit in hits:
        grouped.setdefault(hit.doc_id, []).append(hit)
    result = StudyResult([], filters, len(grouped), no_close_match=not grouped)
    records = index.studies(list(grouped)[: settings.k])
    for rank, (doc_id, passages) in enumerate(list(grouped.items())[: settings.k], start=1):
        best = passages[0]
        result.studies.append(
            StudyHit(
                doc_id,
                best.title,
                best.source,
                rank,
                best.score,
                records.get(doc_id),
                passages[:PASSAGES_PER_STUDY],
            )
        )
    if with_counts and index.has_facets:
        result.facets = document_counts(index.query, list(grouped), taxonomy)
    return result


def _browse(
    index: Index,
    filters: Filters,
    allowed: np.ndarray | None,
    settings: SearchSettings,
    with_counts: bool,
    taxonomy: Taxonomy,
) -> StudyResult:
    """No question: the studies the filters allow, newest first."""
    docs = index.documents()
    if allowed is not None:
        keep = index.documents_of(allowed)
        docs = [d for d in docs if d.doc_id in keep]
    records = index.studies([d.doc_id for d in docs])
    docs.sort(key=lambda d: (-(records[d.doc_id].year or 0) if d.doc_id in records else 0, d.title))
    result = StudyResult([], filters, len(docs))
    for rank, d in enumerate(docs[: settings.k], start=1):
        result.studies.append(
            StudyHit(d.doc_id, d.title, d.source, rank, 0.0, records.get(d.doc_id))
        )
    if with_counts and index.has_facets:
        result.facets = document_counts(index.query, [d.doc_id for d in docs], taxonomy)
    return result


def _labels(taxonomy: Taxonomy, facet: str, values: list[str]) -> list[str]:
    spec = taxonomy.facets.get(facet)
    return [spec.label_of(v) if spec else v for v in values]


def describe(record: StudyRecord, taxonomy: Taxonomy | None = None) -> str:
    """One line a reader can scan: "Randomised controlled trial · Chile · primary, secondary ·
    3,612 pupils · 2019"; what the record does not know is left out, never guessed."""
    taxonomy = taxonomy or load_taxonomy()
    parts = []
    design = _labels(taxonomy, "design", [record.design] if record.design else [])
    kind = _labels(taxonomy, "kind", [record.kind] if record.kind else [])
    what = design or kind
    if what:
        parts.append(what[0])
    if record.countries:
        countries = _labels(taxonomy, "country", record.countries)
        if record.multi_country and len(countries) > 3:
            countries = [f"{len(countries)} countries"]
        parts.append(", ".join(countries))
    elif record.multi_country:
        parts.append("several countries")
    if record.phase:
        parts.append(", ".join(_labels(taxonomy, "phase", record.phase)).lower())
    if record.sample:
        parts.append(f"{record.sample.size:,} {record.sample.unit}")
    if record.year:
        parts.append(str(record.year))
    return " · ".join(parts)


def headline_text(record: StudyRecord | None) -> str:
    """The headline finding as it stands in the document, or "" when it reports none."""
    finding = record.headline if record else None
    return finding.text if finding else ""
