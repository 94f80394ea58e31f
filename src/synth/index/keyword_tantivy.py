"""The tantivy keyword engine: Lucene-style BM25 (k1 1.2, b 0.75) in the build's `keyword/` folder.

Each chunk is one tantivy document: its rowid (indexed and a fast field) and one text field
holding the document title, the section label and the chunk text, analysed by one analyzer
(word tokens, lowercased, ASCII-folded, English Snowball stems). One field, like FTS5's BM25
that sums weighted frequencies over columns before saturating: separate BM25 per field (title,
section and text scored apart) lost 0.06 MRR@10 on the dev set's tuning half
(benchmarks/README.md). Queries never go through tantivy's query parser: the same analyzer
turns user text into terms, each one a term query, so no input can be query syntax. Top-k
uses tantivy's block-max WAND, which skips most of what a common term matches: that, not
tuning, is why it stays fast at millions of chunks (benchmarks/README.md).
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import tantivy

from .keyword_fts5 import COMMON_MIN_CHUNKS, COMMON_SHARE, MAX_QUERY_TERMS
from .topk import verified_top

NAME = "tantivy bm25 (snowball english)"
TOKENIZER = "synth_en"
WRITER_HEAP = 128_000_000
# A filter is applied by ranking the whole collection and keeping allowed rowids, fetching
# deeper until the allowed top k is proven (topk.verified_top), when that should take at most
# this many hits (a filter allowing over ~3% of the chunks, for 61 hits); more selective filters
# run inside tantivy as a term set of the allowed rowids, whose cost grows with the set. At 1M
# chunks, 2,048 rather than 8,192 took a 1% filter from 202 to 45 ms p50 (bench_scale.py).
FILTER_DEPTH_MAX = 2048


@functools.cache
def analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("rowid", indexed=True, fast=True)
    builder.add_text_field("text", tokenizer_name=TOKENIZER, index_option="freq")
    return builder.build()


def _open(folder: Path, create: bool) -> tantivy.Index:
    if create:
        folder.mkdir(parents=True)
        index = tantivy.Index(schema(), path=str(folder))
    else:
        index = tantivy.Index.open(str(folder))
    index.register_tokenizer(TOKENIZER, analyzer())
    return index


# ---------------------------------------------------------------- writing (inside a staged build)


def apply(
    db: sqlite3.Connection, folder: Path, pending: list[int] | None, indexed_sql: str
) -> None:
    """Re-index the pending rowids (delete, then add those still present), or rebuild (None).

    Runs when a build is published; deletes and adds go to new segment files, so the previous
    build's hard-linked files are never touched.
    """
    if pending is None and folder.exists():
        shutil.rmtree(folder)
    index = _open(folder, create=pending is None)
    writer = index.writer(heap_size=WRITER_HEAP, num_threads=min(2, os.cpu_count() or 1))
    try:
        if pending is None:
            _add_rows(writer, db.execute(indexed_sql))
        for lo in range(0, len(pending or []), 10_000):
            part = pending[lo : lo + 10_000]  # type: ignore[index]
            for rowid in part:
                writer.delete_documents_by_term("rowid", rowid)
            rows = db.execute(
                f"{indexed_sql} AND c.id IN (SELECT value FROM json_each(?))", (json.dumps(part),)
            )
            _add_rows(writer, rows)
        writer.commit()
    except BaseException:
        writer.rollback()
        raise
    writer.wait_merging_threads()


def _add_rows(writer: tantivy.IndexWriter, rows: sqlite3.Cursor) -> None:
    for rowid, text, section, title in rows:
        writer.add_document(tantivy.Document(rowid=rowid, text=f"{title}\n{section}\n{text}"))


# ---------------------------------------------------------------- reading


class TantivyEngine:
    """BM25 search over one build's tantivy index; thread-safe (tantivy's searcher is)."""

    name = NAME

    def __init__(self, folder: Path) -> None:
        self.index = _open(folder, create=False)
        self.schema = self.index.schema
        self.searcher = self.index.searcher()
        self.n_docs = int(self.searcher.num_docs)

    def close(self) -> None:
        """Nothing to release: tantivy unmaps its files when the index is collected."""

    def count(self) -> int:
        return self.n_docs

    def rowids(self) -> np.ndarray:
        """Every rowid the engine holds, sorted: for consistency checks, not for search."""
        if not self.n_docs:
            return np.empty(0, dtype="int64")
        hits = self.searcher.search(tantivy.Query.all_query(), self.n_docs, count=False).hits
        return np.sort(self._rowids(hits))

    def terms(self, query: str) -> list[str]:
        """The query's distinct analysed terms, in order, at most MAX_QUERY_TERMS."""
        return list(dict.fromkeys(analyzer().analyze(query)))[:MAX_QUERY_TERMS]

    def common_words(self, words: list[str]) -> set[str]:
        """The words whose stem is in more than COMMON_SHARE of the chunks (once there are
        COMMON_MIN_CHUNKS), judged by the index's own analyzer as FTS5's engine does."""
        stems = {word: analyzer().analyze(word) for word in words}
        common = self._common({stem for terms in stems.values() for stem in terms})
        return {word for word, terms in stems.items() if terms and set(terms) <= common}

    def _common(self, terms: set[str]) -> set[str]:
        if self.n_docs < COMMON_MIN_CHUNKS:
            return set()
        return {t for t in terms if self.searcher.doc_freq("text", t) > COMMON_SHARE * self.n_docs}

    def search(
        self,
        query: str,
        limit: int,
        allowed: np.ndarray | None = None,
        drop_common: bool = True,
    ) -> list[tuple[int, float]]:
        """Best `limit` (rowid, BM25) pairs for user text, best first, ties by rowid.

        With `allowed` (sorted rowids), exactly the best `limit` among them.
        """
        terms = self.terms(query)
        if drop_common:
            common = self._common(set(terms))
            terms = [t for t in terms if t not in common] or terms
        if not terms or limit <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        query_ = self._query(terms)
        if allowed is None:
            return verified_top(lambda m: self._fetch(query_, m), limit) or []
        if limit * self.n_docs <= FILTER_DEPTH_MAX * len(allowed):
            # Start where the filter's share says the allowed top `limit` should be: each fetch
            # ranks from scratch, and starting at limit + 1 cost a wasted first fetch (at 10M
            # chunks and a quarter allowed, the keyword side took twice the unfiltered time).
            first = math.ceil(1.5 * (limit + 1) * self.n_docs / len(allowed))
            fetch = functools.partial(self._fetch, query_)
            found = verified_top(fetch, limit, allowed, FILTER_DEPTH_MAX, first)
            if found is not None:
                return found
        within = tantivy.Query.const_score_query(
            tantivy.Query.term_set_query(self.schema, "rowid", allowed.tolist()), 0.0
        )
        filtered = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, within), (tantivy.Occur.Must, query_)]
        )
        return verified_top(lambda m: self._fetch(filtered, m), limit) or []

    def _query(self, terms: list[str]) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [
                (
                    tantivy.Occur.Should,
                    tantivy.Query.term_query(self.schema, "text", term, index_option="freq"),
                )
                for term in terms
            ]
        )

    def _fetch(self, query: tantivy.Query, limit: int) -> tuple[np.ndarray, np.ndarray]:
        hits = self.searcher.search(query, limit, count=False).hits
        if not hits:
            return np.empty(0, dtype="int64"), np.empty(0, dtype="float64")
        scores = np.fromiter((score for score, _ in hits), dtype="float64", count=len(hits))
        return self._rowids(hits), scores

    def _rowids(self, hits: list[tuple[float, tantivy.DocAddress]]) -> np.ndarray:
        rowids = self.searcher.fast_field_values("rowid", [address for _, address in hits])
        return np.asarray(rowids, dtype="int64")
