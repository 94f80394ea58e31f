"""Synthesis internals on real embeddings: themes, near-duplicates, evidence counts, baskets,
extractive sections."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from synth.brief.basket import BasketError, hits_from_basket, read_basket
from synth.brief.cluster import choose_themes, kmeans, near_duplicates, silhouette
from synth.brief.quotes import depends_on_predecessor
from synth.brief.sections import SECTIONS, SECTIONS_BY_NAME
from synth.brief.synthesize import COUNT_FACETS, SKIP_SECTION, synthesize
from synth.index import Index, ingest
from synth.search import SearchSettings, search

QUESTION = "What helps pupils who have fallen behind in reading and maths catch up?"


@pytest.fixture(scope="module")
def corpus_brief(corpus_index, embedder):
    hits = search(corpus_index, embedder, QUESTION, SearchSettings(k=20))
    return hits, synthesize(corpus_index, embedder, QUESTION, hits)


# ---------------------------------------------------------------- clustering


def _blobs(centres: int, per: int, dim: int = 24, noise: float = 0.15) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(7)
    means = rng.normal(size=(centres, dim))
    x = np.vstack([m + noise * rng.normal(size=(per, dim)) for m in means])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, [c for c in range(centres) for _ in range(per)]


def _same_partition(a, b) -> bool:
    pairs = set(zip(a, b, strict=True))
    return len(pairs) == len(set(a)) == len(set(b))


def test_choose_themes_recovers_planted_groups():
    x, truth = _blobs(3, 6)
    labels = choose_themes(x, max_k=5)
    assert _same_partition(labels.tolist(), truth)
    assert silhouette(x, labels) > 0.5
    assert np.array_equal(kmeans(x, 3), kmeans(x, 3)), "seeded, so repeatable"


def test_too_few_passages_make_one_theme():
    x, _ = _blobs(2, 1)
    assert choose_themes(x, max_k=5).tolist() == [0, 0]
    assert silhouette(x, np.zeros(2, dtype=int)) == 0.0


def test_near_duplicates_on_real_embeddings(embedder):
    texts = [
        "Girls with a bicycle missed fewer days of school than girls who walked, especially "
        "during the rainy season.",
        "Kitchens in each school prepared the food, and parents volunteered to serve it.",
        "Girls with a bicycle missed fewer days of school than girls who walked, especially "
        "during the rainy season, the survey found.",
        "Teachers observed that hungry pupils found it hard to concentrate in the morning.",
    ]
    pairs = near_duplicates(texts, embedder.encode(texts), cosine=0.95, overlap=0.6)
    assert [(k, d) for k, d, _ in pairs] == [(0, 2)]
    assert pairs[0][2] >= 0.9


# ---------------------------------------------------------------- one study, two files


@pytest.fixture(scope="module")
def duplicate_index(tmp_path_factory, make_tiny_pdf, embedder_factory):
    """The same homework-club report twice (a re-titled copy) next to an unrelated report."""
    folder = tmp_path_factory.mktemp("dup-docs")
    make_tiny_pdf("homework-clubs", folder / "homework-original.pdf")
    make_tiny_pdf(
        "homework-clubs", folder / "homework-copy.pdf", title="Homework Clubs (Repository Copy)"
    )
    make_tiny_pdf("bicycle-loans", folder / "bicycles.pdf")
    root = tmp_path_factory.mktemp("dup-index")
    assert ingest([folder], root, embedder=embedder_factory).count("added") == 3
    index = Index.open(root)
    yield index
    index.close()


def test_a_near_duplicate_pair_is_counted_once(duplicate_index, embedder):
    question = "Do homework clubs help pupils finish their assignments?"
    hits = search(duplicate_index, embedder, question, SearchSettings(k=20))
    sources = {h.source for h in hits}
    assert {"homework-original.pdf", "homework-copy.pdf", "bicycles.pdf"} <= sources
    content = synthesize(duplicate_index, embedder, question, hits)
    evidence = content.evidence
    assert evidence.n_documents == 3
    assert evidence.n_studies == 2, "the copy is the same study"
    assert content.duplicates
    assert {d.kept_source for d in content.duplicates} | {
        d.dropped_source for d in content.duplicates
    } == {"homework-original.pdf", "homework-copy.pdf"}
    homework = [s for s in content.sources if "homework" in s.source]
    assert len(homework) == 1 and len(homework[0].also_in) == 1
    assert {homework[0].source, *homework[0].also_in} == {
        "homework-original.pdf",
        "homework-copy.pdf",
    }
    texts = [q.text for q in content.all_quotes()]
    assert len(texts) == len(set(texts)), "a sentence in both files is quoted once"
    assert evidence.n_passages == len(hits) - evidence.n_duplicates
    for theme in content.themes:
        assert theme.n_studies <= 2


# ---------------------------------------------------------------- evidence counts


def test_evidence_counts_distinct_documents_per_facet_value(corpus_brief, corpus_index):
    """Design, country and phase are what each study record says of its document (where it
    took place, not every country a passage mentions); evidence type is from the passages."""
    hits, content = corpus_brief
    usable = [h for h in hits if not SKIP_SECTION.search(h.section)]
    records = corpus_index.studies(list({h.doc_id for h in usable}))
    assert records, "the corpus documents have study records"
    own = {
        "design": lambda r: [r.design] if r.design else [],
        "country": lambda r: r.countries,
        "phase": lambda r: r.phase,
    }
    per_doc: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for hit in usable:
        record = records.get(hit.doc_id)
        for facet in COUNT_FACETS:
            if record is not None and facet in own:
                per_doc[hit.doc_id][facet].update(own[facet](record))
            else:
                per_doc[hit.doc_id][facet].update(hit.facets.get(facet, []))
    assert content.evidence.n_studies == len(per_doc) == content.evidence.n_documents
    for facet in COUNT_FACETS:
        expected = Counter(v for doc in per_doc.values() for v in doc[facet])
        got = {c.value: c.studies for c in content.evidence.by_facet[facet]}
        assert got == dict(expected), facet
        assert content.evidence.untagged[facet] == sum(1 for d in per_doc.values() if not d[facet])
    assert sum(c.studies for c in content.evidence.by_facet["phase"]) >= 1


# ---------------------------------------------------------------- sections and messages


def test_sections_follow_roles_and_no_sentence_is_printed_twice(corpus_brief):
    _, content = corpus_brief
    assert set(content.sections) == {s.name for s in SECTIONS}
    filled = 0
    for name, section in content.sections.items():
        assert len({q.doc_id for q in section.quotes[:3]}) == len(section.quotes[:3])
        for quote in section.quotes:
            assert quote.role in SECTIONS_BY_NAME[name].roles
        filled += bool(section.quotes)
    assert filled >= 4
    spans = [(q.doc_id, q.page, q.start) for q in content.all_quotes()]
    assert len(spans) == len(set(spans))
    texts = [q.text for q in content.all_quotes()]
    assert len(texts) == len(set(texts))


def test_key_messages_are_findings_and_quotes_are_not_fragments(corpus_brief):
    _, content = corpus_brief
    assert content.key_messages
    for quote in content.key_messages:  # a record's finding, or (no record) a finding sentence
        assert quote.finding is not None or quote.role == "finding"
    for quote in content.all_quotes():
        assert not depends_on_predecessor(quote.text), quote.text
        assert not quote.text.rstrip().endswith(":")


def test_key_messages_come_from_study_record_findings_strongest_design_first(
    corpus_brief, corpus_index
):
    _, content = corpus_brief
    records = corpus_index.studies()
    from synth.brief.findings import strength

    matched = [q for q in content.key_messages if q.finding is not None]
    assert len(matched) >= 0.8 * len(content.key_messages)
    for quote in matched:
        spans = [(f.page, f.start, f.end) for f in records[quote.doc_id].findings]
        assert (quote.finding.page, quote.finding.start, quote.finding.end) in spans
        assert quote.detail and quote.finding.start < quote.end and quote.start < quote.finding.end
        if quote.finding.effect is not None:
            assert quote.finding.effect.text in quote.detail
    order = [strength(records.get(q.doc_id)) for q in content.key_messages]
    assert order == sorted(order, reverse=True)


def test_every_passage_is_quoted_somewhere(corpus_brief, corpus_index):
    hits, content = corpus_brief
    usable = [h for h in hits if not SKIP_SECTION.search(h.section)]
    dropped = {d.dropped_chunk for d in content.duplicates}
    quoted = {q.chunk_id for q in content.all_quotes()}
    missing = [
        h.chunk_id
        for h in usable
        if h.chunk_id not in dropped
        and h.chunk_id not in quoted
        and h.chunk_id not in content.unquoted
    ]
    assert missing == []


# ---------------------------------------------------------------- baskets


def test_basket_hits_keep_order_and_facets(corpus_index, corpus_brief, tmp_path):
    hits, _ = corpus_brief
    chosen = [hits[3].chunk_id, hits[0].chunk_id, hits[7].chunk_id]
    path = tmp_path / "basket.txt"
    path.write_text(
        f"# picked for the brief\n{chosen[0]}\n\n{chosen[1]}  # strong\n{chosen[2]}\n{chosen[0]}\n"
    )
    assert read_basket(path) == chosen
    basket = hits_from_basket(corpus_index, read_basket(path))
    assert [h.chunk_id for h in basket] == chosen
    by_id = {h.chunk_id: h for h in hits}
    for hit in basket:
        assert (hit.text, hit.facets, hit.page) == (
            by_id[hit.chunk_id].text,
            by_id[hit.chunk_id].facets,
            by_id[hit.chunk_id].page,
        )
    with pytest.raises(BasketError, match="1 chunk id"):
        hits_from_basket(corpus_index, [chosen[0], "ffff-0000"])


def test_basket_without_a_question_still_synthesises(corpus_index, corpus_brief, embedder):
    hits, _ = corpus_brief
    picked = [h.chunk_id for h in hits[:8]]
    content = synthesize(
        corpus_index, embedder, "", hits_from_basket(corpus_index, picked), basket=picked
    )
    assert content.key_messages and content.provenance.basket == picked
    assert {q.chunk_id for q in content.all_quotes()} <= set(picked)
