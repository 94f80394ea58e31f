"""Embedding a staged build's chunks: cached vectors are reused, the rest are computed on a
worker thread while the main thread parses the next files."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from synth.ingest.embed import Embedder, torch_threads
from synth.ingest.pipeline import embedding_text
from synth.models import Progress

from .store import MISSING_SQL, has_vector, store_vectors

# Chunks go to the background embedder once this many wait, at most EMBED_FEED_MAX a batch:
# small batches, so the last one still running when parsing ends (on one thread) is short.
# The rest is embedded at the end on all cores, length-sorted (benchmarks/README.md).
EMBED_FEED_MIN = 16
EMBED_FEED_MAX = 32


class BackgroundEmbedder:
    """Embeds stored chunks on one worker thread while the main thread parses the next files.

    torch releases the GIL while it computes, so parsing (pure Python) overlaps embedding; the
    worker leaves one core to the parser, since OpenMP threads sharing a core with it stall.
    One batch is in flight at a time; results are written by the main thread, which owns the
    database. A failed batch is re-raised at the next feed or at finish.
    """

    def __init__(self, get_embedder: Callable[[], Embedder], model: str) -> None:
        self.get_embedder = get_embedder
        self.model = model
        self.pending: dict[str, str] = {}
        self.seen: set[str] = set()
        self.done = 0
        self.running: tuple[list[str], Future[np.ndarray]] | None = None
        self.pool: ThreadPoolExecutor | None = None

    def feed(self, db: sqlite3.Connection, doc_id: str) -> None:
        """Queue a stored document's uncached chunks; start a batch if the worker is free."""
        for r in db.execute(MISSING_SQL + " AND c.doc_id = ?", (doc_id,)):
            if r["embed_hash"] not in self.seen:
                self.seen.add(r["embed_hash"])
                section = r["section"].split(" > ")
                self.pending[r["embed_hash"]] = embedding_text(r["title"], section, r["text"])
        if self.running is not None and self.running[1].done():
            self._collect(db)
        if self.running is None and len(self.pending) >= EMBED_FEED_MIN:
            self._submit()

    def _submit(self) -> None:
        order = sorted(self.pending, key=lambda h: len(self.pending[h]))[:EMBED_FEED_MAX]
        texts = [self.pending.pop(h) for h in order]
        self.pool = self.pool or ThreadPoolExecutor(1, thread_name_prefix="synth-embed")
        self.running = (order, self.pool.submit(self._encode, texts))

    def _encode(self, texts: list[str]) -> np.ndarray:
        embedder = self.get_embedder()
        with torch_threads(max(1, (os.cpu_count() or 1) - 1)):
            return embedder.encode(texts)

    def _collect(self, db: sqlite3.Connection, progress: Progress | None = None) -> None:
        assert self.running is not None
        hashes, future = self.running
        self.running = None
        vectors = future.result()
        store_vectors(db, hashes, vectors, self.model)
        self.done += len(hashes)
        if progress is not None:
            progress.advance(len(hashes))

    def finish(self, db: sqlite3.Connection, progress: Progress) -> tuple[int, int]:
        """Wait for the worker, then embed whatever is still missing; return (new, cached)."""
        try:
            rows = {r["embed_hash"]: r for r in db.execute(MISSING_SQL)}
            if self.done or rows:
                progress.start("embed", self.done + len(rows))
                progress.advance(self.done)
            if self.running is not None:
                self._collect(db, progress)
            rows = {h: r for h, r in rows.items() if not has_vector(db, h)}
            if rows:
                texts = [
                    embedding_text(r["title"], r["section"].split(" > "), r["text"])
                    for r in rows.values()
                ]
                vectors = self.get_embedder().encode(texts, progress=progress.advance)
                store_vectors(db, list(rows), vectors, self.model)
            new = self.done + len(rows)
            total = db.execute("SELECT COUNT(DISTINCT embed_hash) FROM chunks").fetchone()[0]
            return new, max(0, total - new)
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def embed_each_document(
    db: sqlite3.Connection, get_embedder: Callable[[], Embedder], model: str
) -> tuple[int, dict[str, Exception]]:
    """Embed missing chunks one document at a time: (chunks embedded, failures by doc id).

    The fallback when a batch fails, so one file whose chunks cannot be embedded fails alone.
    """
    docs = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT c.doc_id FROM chunks c "
            "WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.hash = c.embed_hash)"
        )
    ]
    done = 0
    failures: dict[str, Exception] = {}
    for doc_id in docs:
        rows = {
            r["embed_hash"]: r for r in db.execute(MISSING_SQL + " AND c.doc_id = ?", (doc_id,))
        }
        texts = [
            embedding_text(r["title"], r["section"].split(" > "), r["text"]) for r in rows.values()
        ]
        try:
            vectors = get_embedder().encode(texts)
        except Exception as exc:
            failures[doc_id] = exc
            continue
        store_vectors(db, list(rows), vectors, model)
        done += len(rows)
    return done, failures
