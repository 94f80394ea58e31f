"""Study records: what a document is, where it took place and what it found.

In: a parsed `Document` and its `Chunk`s (their sentences keep page and offsets). Out: a
`StudyRecord` and each chunk's role (content, references, contents, acknowledgements). Rules
over the taxonomy's phrases (spaCy PhraseMatcher), weighed by where in the document a phrase
sits. Pure: no index, no model, so it runs wherever parsing runs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from synth.models import Chunk, Document, StudyRecord
from synth.taxonomy import Taxonomy, load_taxonomy

from ..tag import Tagger
from .findings import findings_of
from .kind import KindRules, kind_and_design
from .places import (
    PHASE_NOISE,
    SUBJECT,
    PlaceRules,
    chosen,
    find_sample,
    grade_phases,
    multi_country_stated,
    sentence_weight,
)
from .text import NON_CONTENT, Sentence, chunk_role, document_sentences

__all__ = ["STUDY_VERSION", "StudyRules", "build_record", "chunk_role"]

# Bumped whenever the rules change what a record says: stored records are rebuilt on ingest.
STUDY_VERSION = "1"
RECORD_FACETS = ("country", "phase", "setting", "design", "outcome")
YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")


@dataclass(frozen=True)
class StudyRules:
    places: PlaceRules = field(default_factory=PlaceRules)
    kinds: KindRules = field(default_factory=KindRules)


_TAGGERS: dict[str, Tagger] = {}


def _tagger(taxonomy: Taxonomy) -> Tagger:
    """Phrase rules for the record's facets, built once per taxonomy."""
    if taxonomy.digest not in _TAGGERS:
        facets = [f for f in RECORD_FACETS if f in taxonomy.facets]
        _TAGGERS[taxonomy.digest] = Tagger(taxonomy, facets=facets)
    return _TAGGERS[taxonomy.digest]


class _Mentions:
    """Taxonomy mentions of a text, counted once however many rules ask."""

    def __init__(self, tagger: Tagger) -> None:
        self.tagger = tagger
        self.cache: dict[str, Counter[tuple[str, str]]] = {}

    def __call__(self, text: str) -> Counter[tuple[str, str]]:
        if text not in self.cache:
            self.cache[text] = self.tagger.mentions(text)
        return self.cache[text]

    def of(self, text: str, facet: str) -> Counter[str]:
        return Counter({v: n for (f, v), n in self(text).items() if f == facet})


def _weighed(
    sentences: Sequence[Sentence],
    title: str,
    facet: str,
    mentions: _Mentions,
    rules: PlaceRules,
) -> Counter[str]:
    """A facet's values scored by where they are named: title, headings, own sentences."""
    scores: Counter[str] = Counter()
    for value, n in mentions.of(title, facet).items():
        scores[value] += rules.title_weight * n
    headings = {h for s in sentences if s.kind not in NON_CONTENT for h in s.section} - {title}
    for heading in headings:
        for value, n in mentions.of(heading, facet).items():
            scores[value] += rules.heading_weight * n
    for s in sentences:
        weight = sentence_weight(s, rules)
        if weight:
            noise = {"country": SUBJECT, "phase": PHASE_NOISE}.get(facet)
            text = noise.sub(" ", s.text) if noise else s.text
            found = mentions.of(text, facet)
            if facet == "phase":
                found.update(grade_phases(s.text))
            for value, n in found.items():
                scores[value] += weight * min(n, 2.0)
    return scores


def _one_setting(values: list[str]) -> list[str]:
    """A sample spread over urban and rural areas has neither setting."""
    if {"urban", "rural"} <= set(values):
        return [v for v in values if v not in ("urban", "rural")]
    return values


def _year(doc: Document, sentences: Sequence[Sentence]) -> int | None:
    """The document's date if it has one, else the latest year on its first page."""
    now = datetime.now(UTC).year
    if m := YEAR.search(doc.created or ""):
        return int(m.group(1))
    first = " ".join(s.text for s in sentences if s.page == 1)
    years = [int(y) for y in YEAR.findall(first) if int(y) <= now]
    return max(years) if years else None


def build_record(
    doc: Document,
    chunks: list[Chunk],
    taxonomy: Taxonomy | None = None,
    rules: StudyRules | None = None,
) -> StudyRecord:
    """The study record of one document; fields with no evidence stay empty."""
    taxonomy = taxonomy or load_taxonomy()
    rules = rules or StudyRules()
    mentions = _Mentions(_tagger(taxonomy))
    sentences = document_sentences(doc, chunks)
    kind, design, reviewed = kind_and_design(sentences, doc.title, mentions, rules.kinds)
    p = rules.places
    countries_scored = _weighed(sentences, doc.title, "country", mentions, p)
    short = sum(s.kind not in NON_CONTENT for s in sentences) < p.short_sentences
    share = p.review_country_share if kind == "systematic-review" else p.country_share
    countries = chosen(countries_scored, p.country_min_short if short else p.country_min, share)
    mentioned = Counter(
        v for s in sentences if s.kind not in NON_CONTENT for v in mentions.of(s.text, "country")
    )
    phase = chosen(_weighed(sentences, doc.title, "phase", mentions, p), p.phase_min, p.phase_share)
    setting = _one_setting(
        chosen(
            _weighed(sentences, doc.title, "setting", mentions, p), p.setting_min, p.setting_share
        )
    )
    review = kind == "systematic-review"

    def outcome_of(text: str) -> str | None:
        found = mentions.of(text, "outcome")
        return found.most_common(1)[0][0] if found else None

    findings = findings_of(sentences, review, outcome_of)
    return StudyRecord(
        doc_id=doc.doc_id,
        title=doc.title,
        year=_year(doc, sentences),
        kind=kind,
        design=design,
        reviewed_designs=reviewed,
        countries=countries,
        countries_mentioned=sorted(set(mentioned) | set(countries)),
        multi_country=len(countries) >= p.multi_country_min or multi_country_stated(sentences),
        phase=phase,
        setting=setting,
        sample=find_sample(sentences, review),
        outcomes=list(dict.fromkeys(f.outcome for f in findings if f.outcome)),
        findings=findings,
    )
