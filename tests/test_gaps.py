"""Evidence gap maps over the real sample-corpus index, checked against each document's tags.

The oracle reads tags through Index.document_tags (synth tag show's path), not gaps.py's query.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from synth.index import Index, update_tags
from synth.models import Filters
from synth.search.gaps import gap_map
from synth.taxonomy import TaxonomyError, load_taxonomy


def _oracle(index: Index) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for doc in index.documents():
        tags: dict[str, set[str]] = defaultdict(set)
        for tag in index.document_tags(doc.doc_id).tags:
            tags[tag.facet].add(tag.value)
        out[doc.doc_id] = tags
    return out


def _expected(docs: dict[str, dict[str, set[str]]], rows: str, cols: str) -> dict:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for tags in docs.values():
        for r in tags[rows]:
            for c in tags[cols]:
                counts[(r, c)] += 1
    return counts


def test_topic_by_country_counts_documents(corpus_index: Index) -> None:
    taxonomy = load_taxonomy()
    docs = _oracle(corpus_index)
    gm = gap_map(corpus_index, rows="topic", cols="country")
    assert gm.row_facet == "topic" and gm.col_facet == "country"
    assert [r for r, _ in gm.rows] == [v.id for v in taxonomy.facets["topic"].values]
    countries = {c for tags in docs.values() for c in tags["country"]}
    assert {c for c, _ in gm.cols} == countries and len(countries) >= 5
    labels = [label for _, label in gm.cols]
    assert labels == sorted(labels, key=str.casefold)
    expected = _expected(docs, "topic", "country")
    assert len(gm.counts) == len(gm.rows) * len(gm.cols)
    for (r, c), n in gm.counts.items():
        assert n == expected.get((r, c), 0), (r, c)
    assert sum(gm.counts.values()) == sum(expected.values()) > 0
    assert gm.gaps and all(gm.count(r, c) == 0 for r, c in gm.gaps)
    assert gm.n_documents == len(docs)
    assert gm.n_unplaced == sum(1 for t in docs.values() if not t["topic"] or not t["country"])


def test_filters_restrict_documents(corpus_index: Index) -> None:
    docs = _oracle(corpus_index)
    country = max(
        {c for t in docs.values() for c in t["country"]},
        key=lambda c: sum(c in t["country"] for t in docs.values()),
    )
    kept = {d: t for d, t in docs.items() if country in t["country"]}
    gm = gap_map(corpus_index, rows="topic", cols="phase", filters=Filters({"country": (country,)}))
    assert gm.n_documents == len(kept) < len(docs)
    expected = _expected(kept, "topic", "phase")
    assert {c for c, _ in gm.cols} == {p for t in kept.values() for p in t["phase"]}
    for (r, c), n in gm.counts.items():
        assert n == expected.get((r, c), 0)


def test_year_range_filter(corpus_index: Index) -> None:
    docs = _oracle(corpus_index)
    in_range = {d for d, t in docs.items() if any(2020 <= int(y) <= 2022 for y in t["year"])}
    gm = gap_map(corpus_index, cols="evidence_type", filters=Filters(year_from=2020, year_to=2022))
    assert 0 < gm.n_documents == len(in_range) < len(docs)


def test_all_columns_and_unknown_facets(corpus_index: Index) -> None:
    taxonomy = load_taxonomy()
    gm = gap_map(corpus_index, cols="phase", all_cols=True)
    assert [c for c, _ in gm.cols] == [v.id for v in taxonomy.facets["phase"].values]
    with pytest.raises(TaxonomyError):
        gap_map(corpus_index, cols="colour")


def test_a_curator_tag_fills_a_gap(corpus_index_root: Path, tmp_path: Path) -> None:
    """Tagging a document with a topic turns that topic's empty cell into a count of one."""
    root = tmp_path / "index"
    shutil.copytree(corpus_index_root, root)
    with Index.open(root) as index:
        before = gap_map(index)
        docs = _oracle(index)
    doc_id, tags = next((d, t) for d, t in sorted(docs.items()) if len(t["country"]) == 1)
    country = next(iter(tags["country"]))
    topic = next(r for r, _ in before.rows if before.count(r, country) == 0)
    update_tags(doc_id, [("topic", topic, "set")], root)
    with Index.open(root) as index:
        after = gap_map(index)
    assert after.count(topic, country) == 1
    changed = {cell for cell in after.counts if after.counts[cell] != before.counts.get(cell)}
    assert changed == {(topic, country)}


MULTI_COUNTRY_REVIEW = """---
title: "Early Grade Reading Programmes in Five Countries: A Systematic Review"
author: Reading Evidence Unit
date: 2022-03-01
---

# Early Grade Reading Programmes in Five Countries: A Systematic Review

## Abstract

This systematic review synthesises 24 evaluations of structured early grade reading programmes
in Kenya, Uganda, Tanzania, Nigeria and Ghana. We searched six databases and screened 1,900
records. Included studies were randomised controlled trials in primary schools. Across the
included studies, structured reading programmes improved oral reading fluency by 0.25 standard
deviations on average.

## Methods

Our review followed a registered protocol. Two reviewers screened every record and extracted
effect sizes independently. We pooled effects with a random-effects meta-analysis.
"""


def test_a_multi_country_review_counts_once_under_multi_country(
    corpus_index_root: Path, tmp_path: Path, embedder
) -> None:
    root = tmp_path / "index"
    shutil.copytree(corpus_index_root, root)
    review = tmp_path / "review-reading-five-countries.md"
    review.write_text(MULTI_COUNTRY_REVIEW, encoding="utf-8")
    from synth.index import ingest

    assert ingest([review], root, embedder=lambda: embedder).count("added") == 1
    with Index.open(root) as index:
        doc = next(d for d in index.documents() if d.source == review.name)
        record = index.study(doc.doc_id)
        assert record.multi_country and record.kind == "systematic-review"
        by_country = gap_map(index, rows="topic", cols="country")
        by_phase = gap_map(index, rows="topic", cols="phase")
    cells = [cell for cell, docs in by_country.documents.items() if doc.doc_id in docs]
    assert cells and all(col == "multi-country" for _, col in cells)
    assert by_country.cols[-1] == ("multi-country", "Multi-country")
    assert not any(col == "multi-country" for col, _ in by_phase.cols)
    assert any(doc.doc_id in docs for docs in by_phase.documents.values())
