"""Automatic tagging: spaCy phrase rules over the taxonomy's terms, plus embedding similarity.

Rules find what text names outright (countries and demonyms, designs, phases, settings, the
strategies' own names). Topics and evidence types are also judged by how close a chunk's vector
sits to each value's description, because passages rarely name their topic. Document tags are
aggregated from chunk tags with thresholds, so a passing mention does not tag a whole report.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from synth.models import Tag
from synth.taxonomy import DERIVED_FROM_COUNTRY, Taxonomy

from .chunk import pieces, tokenizer_view

if TYPE_CHECKING:
    from .embed import Embedder

TAGGER_VERSION = "6"
# Facets the embedding tagger judges; the others are named outright in text or not at all.
MODEL_FACETS = ("topic",)
# A reference list names other studies' countries and designs, not this document's.
REFERENCE_SECTION = re.compile(r"\b(references|bibliography|works cited|sources)\b", re.I)
# Citation furniture; a chunk dense with it is a reference list whatever its heading says.
CITATION = re.compile(r"\(\d{4}[a-z]?\)|\bdoi\b|https?://|\bet al\.|\bpp?\. ?\d|\d+\(\d+\)", re.I)
CITATIONS_PER_100_WORDS = 3.0
# How much one mention counts: a demonym is often a language or a proper noun ("plain
# Spanish", "American Psychologist"); a heading names what the whole section is about.
DEMONYM_WEIGHT = 0.5
CUE_WEIGHT = 0.5
# A state or city ("Pernambuco", "California") places a study in its country, a little less
# surely than the country's own name.
PLACE_WEIGHT = 0.75
KIND_WEIGHT = {"demonym": DEMONYM_WEIGHT, "cue": CUE_WEIGHT, "place": PLACE_WEIGHT}
HEADING_WEIGHT = 2.0
# Confidence of a lone chunk mention that the document's own tags confirm.
CONFIRMED = 0.7
# Designs that make a passage research evidence, sector data or a practitioner's account.
TYPE_OF_DESIGN = {
    "systematic-review": "research-evidence",
    "rct": "research-evidence",
    "quasi-experimental": "research-evidence",
    "qualitative": "research-evidence",
    "survey-admin": "sector-data",
    "practitioner-account": "practice-advice",
}
# Short names with capitals ("RCT", "TaRL", "US") must match case-sensitively: "us" is a word.
CASE_SENSITIVE_MAX_LEN = 5
YEAR_RE = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")


@dataclass(frozen=True)
class TagThresholds:
    """Where a score becomes a tag; chosen on benchmarks/tagging_gold.yaml (see its README)."""

    chunk_topic_similarity: float = 0.42
    chunk_topic_margin: float = 0.05
    doc_topic_max: int = 4
    doc_topic_score: float = 0.36
    doc_topic_relative: float = 0.85
    # Share of a document's chunks tagged with a topic that supports it without its name.
    doc_topic_share: float = 0.3
    # A topic the title names leads one the text only resembles.
    doc_topic_title: float = 0.1
    doc_topic_named: float = 0.1
    doc_type_relative: float = 0.5
    doc_mention_min: float = 2.0
    doc_mention_share: float = 0.25


@dataclass
class ChunkInput:
    """What the tagger needs of a chunk: its text, heading path and vector (if embedded)."""

    text: str
    section: str
    vector: np.ndarray | None = None

    @property
    def is_reference(self) -> bool:
        if REFERENCE_SECTION.search(self.section.rsplit(" > ", 1)[-1]):
            return True
        words = max(len(self.text.split()), 1)
        return len(CITATION.findall(self.text)) * 100 / words >= CITATIONS_PER_100_WORDS


@dataclass
class _DocEvidence:
    mentions: Counter[tuple[str, str]] = field(default_factory=Counter)
    chunk_hits: Counter[tuple[str, str]] = field(default_factory=Counter)
    n_chunks: int = 0


def _mention_confidence(weight: float) -> float:
    """One plain mention gives 0.5 (below the filter bar), two give 0.75, a heading 0.75."""
    return round(1 - 0.5**weight, 3)


class Tagger:
    """Tags chunks and documents against one taxonomy; build once, reuse for a whole ingest."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        label_vectors: dict[str, np.ndarray] | None = None,
        thresholds: TagThresholds | None = None,
        facets: Sequence[str] | None = None,
    ) -> None:
        """`facets` limits the phrase rules to those facets (default: every text facet)."""
        self.taxonomy = taxonomy
        self.facet_names = (
            tuple(facets)
            if facets is not None
            else tuple(
                f.name
                for f in taxonomy.facets.values()
                if f.source == "text" and f.name not in DERIVED_FROM_COUNTRY
            )
        )
        import spacy  # imported here: an unchanged re-ingest never needs it
        from spacy.matcher import PhraseMatcher

        self.thresholds = thresholds or TagThresholds()
        self.nlp = spacy.blank("en")
        self._lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._exact = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        self._build_matchers()
        self.label_vectors = label_vectors or {}

    def _build_matchers(self) -> None:
        lower: dict[str, list[str]] = defaultdict(list)
        exact: dict[str, list[str]] = defaultdict(list)
        for name in self.facet_names:
            facet = self.taxonomy.facets[name]
            for value in facet.values:
                names = [(p, "name") for p in (value.label, *value.synonyms)]
                names += [(d, "demonym") for d in value.demonyms]
                names += [(p, "place") for p in value.places]
                for phrase, kind in names + [(c, "cue") for c in value.cues]:
                    case_sensitive = value.ambiguous or (
                        len(phrase) <= CASE_SENSITIVE_MAX_LEN and phrase != phrase.lower()
                    )
                    key = f"{facet.name}\t{value.id}\t{kind}"
                    (exact if case_sensitive else lower)[key].append(phrase)
        for matcher, table in ((self._lower, lower), (self._exact, exact)):
            for key, phrases in table.items():
                matcher.add(key, list(self.nlp.tokenizer.pipe(dict.fromkeys(phrases))))

    @staticmethod
    def descriptions(taxonomy: Taxonomy) -> dict[str, list[tuple[str, str]]]:
        """(value id, text to embed) per model-judged facet: label and description together."""
        return {
            name: [(v.id, f"{v.label}. {v.description}") for v in taxonomy.facets[name].values]
            for name in MODEL_FACETS
            if name in taxonomy.facets
        }

    def mentions(self, text: str, section: str = "") -> Counter[tuple[str, str]]:
        """Weighted mentions of each (facet, value); the longest overlapping name wins.

        A demonym counts half a name; a name in the section heading counts double.
        """
        counts = self._count(text)
        for key, weight in self._count(section.rsplit(" > ", 1)[-1]).items():
            counts[key] += HEADING_WEIGHT * weight
        return counts

    def _count(self, text: str) -> Counter[tuple[str, str]]:
        from spacy.util import filter_spans

        counts: Counter[tuple[str, str]] = Counter()
        for _, piece in pieces(text):  # bounded pieces: no spaCy max_length on long text
            doc = self.nlp.make_doc(tokenizer_view(piece))  # same offsets, no long runs
            spans = []
            for matcher in (self._lower, self._exact):
                for match_id, start, end in matcher(doc):
                    span = doc[start:end]
                    span.label_ = self.nlp.vocab.strings[match_id]
                    spans.append(span)
            for span in filter_spans(spans):
                facet, value, kind = span.label_.split("\t")
                counts[(facet, value)] += KIND_WEIGHT.get(kind, 1.0)
        return counts

    def _with_derived(self, tags: dict[tuple[str, str], Tag]) -> list[Tag]:
        """Add region and income for every country tag, with the country's origin and confidence."""
        out = dict(tags)
        for (facet, value), tag in tags.items():
            country = self.taxonomy.country(value) if facet == "country" else None
            if country is None:
                continue
            for derived in DERIVED_FROM_COUNTRY:
                target = getattr(country, derived, None)
                if target and (
                    (derived, target) not in out
                    or out[(derived, target)].confidence < tag.confidence
                ):
                    out[(derived, target)] = Tag(derived, target, tag.origin, tag.confidence)
        return sorted(out.values(), key=lambda t: (t.facet, -t.confidence, t.value))

    def _model_scores(self, vector: np.ndarray | None, facet: str) -> list[tuple[str, float]]:
        matrix = self.label_vectors.get(facet)
        if vector is None or matrix is None:
            return []
        ids = [v.id for v in self.taxonomy.facets[facet].values]
        sims = matrix @ vector.astype("float32")
        order = np.argsort(-sims)
        return [(ids[i], float(sims[i])) for i in order]

    def tag_chunk(self, chunk: ChunkInput) -> list[Tag]:
        """Rule tags for every facet, model tags for topics and evidence types."""
        if chunk.is_reference:
            return []
        tags: dict[tuple[str, str], Tag] = {}
        for (facet, value), weight in self.mentions(chunk.text, chunk.section).items():
            tags[(facet, value)] = Tag(facet, value, "rule", _mention_confidence(weight))
        t = self.thresholds
        scores = self._model_scores(chunk.vector, "topic")
        top = scores[0][1] if scores else 0.0
        for value, sim in scores[:2]:
            if sim < t.chunk_topic_similarity or sim < top - t.chunk_topic_margin:
                break
            current = tags.get(("topic", value))
            if current is None or current.confidence < sim:
                tags[("topic", value)] = Tag("topic", value, "model", round(sim, 3))
        _types_from_designs(tags)
        return self._with_derived(tags)

    def tag_document(
        self,
        chunks: Sequence[ChunkInput],
        chunk_tags: Sequence[Sequence[Tag]],
        title: str = "",
        first_pages: str = "",
    ) -> list[Tag]:
        """Aggregate chunk evidence into document tags; passing mentions do not count."""
        t = self.thresholds
        ev = _DocEvidence()
        content = [c for c in chunks if not c.is_reference]
        ev.n_chunks = max(len(content), 1)
        for chunk, tags in zip(chunks, chunk_tags, strict=True):
            if chunk.is_reference:
                continue
            for (facet, value), weight in self.mentions(chunk.text, chunk.section).items():
                ev.mentions[(facet, value)] += weight
            for tag in tags:
                ev.chunk_hits[(tag.facet, tag.value)] += 1
        in_title = self.mentions(title)
        up_front = self.mentions(first_pages)
        tags: dict[tuple[str, str], Tag] = {}
        most: Counter[str] = Counter()
        for (facet, _), count in ev.mentions.items():
            most[facet] = max(most[facet], count)
        for (facet, value), count in ev.mentions.items():
            if facet in (*MODEL_FACETS, "evidence_type"):
                continue
            strong = count >= t.doc_mention_min and count >= t.doc_mention_share * most[facet]
            # A document states its own design in its title or on its first pages.
            own_design = facet == "design" and up_front[(facet, value)] >= 1
            if strong or own_design or (facet, value) in in_title:
                tags[(facet, value)] = Tag(facet, value, "rule", _mention_confidence(count))
        support = in_title + up_front
        for chunk in content:
            support.update(self.mentions(chunk.section.rsplit(" > ", 1)[-1]))
        for tag in self._doc_model_tags(content, ev, support, in_title):
            tags[(tag.facet, tag.value)] = tag
        for tag in self._doc_evidence_types(ev):
            tags[(tag.facet, tag.value)] = tag
        year = self.year(first_pages)
        if year:
            tags[("year", year)] = Tag("year", year, "rule", 0.6)
        return self._with_derived(tags)

    def _doc_evidence_types(self, ev: _DocEvidence) -> list[Tag]:
        """Evidence types from their cues plus the designs that imply them, against the best.

        A review of trials mentions surveys in passing; only types scoring at least half the
        leading type's weight are the document's.
        """
        t = self.thresholds
        scores: Counter[str] = Counter()
        for (facet, value), count in ev.mentions.items():
            if facet == "evidence_type":
                scores[value] += count
            elif facet == "design" and value in TYPE_OF_DESIGN:
                scores[TYPE_OF_DESIGN[value]] += count
        top = max(scores.values(), default=0.0)
        return [
            Tag("evidence_type", value, "rule", _mention_confidence(score))
            for value, score in scores.items()
            if score >= t.doc_mention_min and score >= t.doc_type_relative * top
        ]

    def _doc_model_tags(
        self,
        content: Sequence[ChunkInput],
        ev: _DocEvidence,
        support: Counter[tuple[str, str]],
        in_title: Counter[tuple[str, str]],
    ) -> list[Tag]:
        """Topics: mean similarity over the chunks plus the share of chunks tagged with them.

        A topic needs textual support: its names in the title, the first pages or a heading,
        or a strong share of the chunks; similarity alone never tags a document. The best
        supported topic always counts; others only when they score close to it, so a report
        about one strategy is not also tagged with its three nearest neighbours.
        """
        t = self.thresholds
        vectors = [c.vector for c in content if c.vector is not None]
        matrix = self.label_vectors.get("topic")
        if "topic" not in self.taxonomy.facets:
            return []
        ids = [v.id for v in self.taxonomy.facets["topic"].values]
        sims = (
            (np.stack(vectors) @ matrix.T).mean(axis=0)
            if vectors and matrix is not None
            else np.zeros(len(ids))
        )
        scored = []
        for i, value in enumerate(ids):
            share = ev.chunk_hits[("topic", value)] / ev.n_chunks
            if not support[("topic", value)] and share < t.doc_topic_share:
                continue
            named = ev.mentions[("topic", value)] >= t.doc_mention_min
            # Named where a reader looks first (title, opening, a heading) beats resembling.
            named_up_front = t.doc_topic_named if support[("topic", value)] else 0.0
            titled = t.doc_topic_title if in_title[("topic", value)] else 0.0
            score = float(sims[i]) + 0.3 * share + (0.05 if named else 0.0) + named_up_front
            score += titled
            scored.append((score, value))
        scored.sort(reverse=True)
        top = scored[0][0] if scored else 0.0
        origin = "model" if vectors else "rule"
        return [
            Tag("topic", value, origin, round(min(score, 0.99), 3))
            for rank, (score, value) in enumerate(scored[: t.doc_topic_max])
            if score >= t.doc_topic_score and (rank == 0 or score >= t.doc_topic_relative * top)
        ]

    @staticmethod
    def confirm(chunk_tags: Sequence[Sequence[Tag]], doc_tags: Sequence[Tag]) -> list[list[Tag]]:
        """Raise a single passing mention to a real chunk tag when the document agrees.

        "In Chile, a study by ..." in a report about Chile is about Chile; the same lone
        mention in a report about Kenya stays below the filter bar.
        """
        agreed = {(t.facet, t.value) for t in doc_tags}
        return [
            [
                Tag(t.facet, t.value, t.origin, CONFIRMED)
                if t.origin == "rule" and t.confidence < CONFIRMED and (t.facet, t.value) in agreed
                else t
                for t in tags
            ]
            for tags in chunk_tags
        ]

    @staticmethod
    def year(text: str) -> str | None:
        """The latest plausible year on a document's first pages: usually its publication year."""
        now = datetime.now(UTC).year
        years = sorted({int(y) for y in YEAR_RE.findall(text) if int(y) <= now})
        return str(years[-1]) if years else None


def label_vectors(taxonomy: Taxonomy, embedder: Embedder) -> dict[str, np.ndarray]:
    """Embed each model-judged value's label and description once per ingest."""
    out = {}
    for facet, items in Tagger.descriptions(taxonomy).items():
        out[facet] = embedder.encode([text for _, text in items]).astype("float32")
    return out


def _types_from_designs(tags: dict[tuple[str, str], Tag]) -> None:
    """A trial or a review is research evidence, a survey sector data, an account practice."""
    for (facet, value), tag in list(tags.items()):
        kind = TYPE_OF_DESIGN.get(value) if facet == "design" else None
        if kind and tags.get(("evidence_type", kind), tag).confidence <= tag.confidence:
            tags[("evidence_type", kind)] = Tag("evidence_type", kind, "rule", tag.confidence)


# Tagging needs the model, so it runs in the ingest process rather than the parsing child
# (guard.py): a deadline per document, checked between chunks (each at most 8,000
# characters), keeps a hostile document from stalling the batch; it then fails alone.
TAG_BASE_SECONDS = 60.0
TAG_CHUNK_SECONDS = 0.05


class TaggingTooSlow(ValueError):
    """A document's tagging ran past its deadline."""


def tag_chunks_in_time(tagger: Tagger, inputs: list[ChunkInput]) -> list[list[Tag]]:
    """Each chunk's tags, or TaggingTooSlow once the document's deadline has passed."""
    limit = TAG_BASE_SECONDS + TAG_CHUNK_SECONDS * len(inputs)
    deadline = time.monotonic() + limit
    tagged = []
    for chunk in inputs:
        if tagged and time.monotonic() > deadline:
            raise TaggingTooSlow(f"too slow to tag (over {limit:g} s)")
        tagged.append(tagger.tag_chunk(chunk))
    return tagged
