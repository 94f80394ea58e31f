"""Embedding a staged build's chunks: cached vectors are reused, the rest are computed on a
worker thread while the main thread parses the next files."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from synth.ingest.embed import Embedder, torch_threads, usable_cores
from synth.ingest.pipeline import EncoderPool, embedding_text
from synth.models import Progress

from .store import MISSING_SQL, has_vector, store_vectors

# Locally, chunks go to the background thread once 16 wait, at most 32 a batch: small batches,
# so the last one still running when parsing ends (on one thread) is short. The rest is
# embedded at the end on all cores, length-sorted (benchmarks/README.md).
EMBED_FEED_MIN = 16
EMBED_FEED_MAX = 32


class BackgroundEmbedder:
    """Embeds stored chunks while the main thread parses (or stores) the next files.

    Locally, one worker thread: torch releases the GIL while it computes, so parsing (pure
    Python) overlaps embedding; the worker leaves one core to the parser, since OpenMP threads
    sharing a core with it stall. With an `EncoderPool` (Ray actors), up to `pool.slots`
    batches are in flight, and feeding blocks once 4 batches a slot wait, so memory stays
    bounded however many files come. Results are written by the main thread, which owns the
    database. A failed batch is re-raised at the next feed or at finish.
    """

    def __init__(
        self, get_embedder: Callable[[], Embedder], model: str, pool: EncoderPool | None = None
    ) -> None:
        self.get_embedder = get_embedder
        self.model = model
        self.remote = pool
        self.slots = pool.slots if pool else 1
        self.feed_min, self.feed_max = (
            (pool.batch, pool.batch) if pool else (EMBED_FEED_MIN, EMBED_FEED_MAX)
        )
        self.pending: dict[str, str] = {}
        self.seen: set[str] = set()
        self.done = 0
        self.running: list[tuple[list[str], Future[np.ndarray]]] = []
        self.pool: ThreadPoolExecutor | None = None

    def feed(self, db: sqlite3.Connection, doc_id: str) -> None:
        """Queue a stored document's uncached chunks; start batches while workers are free."""
        for r in db.execute(MISSING_SQL + " AND c.doc_id = ?", (doc_id,)):
            if r["embed_hash"] not in self.seen:
                self.seen.add(r["embed_hash"])
                section = r["section"].split(" > ")
                self.pending[r["embed_hash"]] = embedding_text(r["title"], section, r["text"])
        for item in [item for item in self.running if item[1].done()]:
            self._collect(db, item)
        while len(self.running) < self.slots and len(self.pending) >= self.feed_min:
            self._submit()
        while self.remote and self.running and len(self.pending) > 4 * self.slots * self.feed_max:
            self._collect(db, self.running[0])  # back-pressure: wait for the oldest batch
            self._submit()

    def _submit(self) -> None:
        order = sorted(self.pending, key=lambda h: len(self.pending[h]))[: self.feed_max]
        texts = [self.pending.pop(h) for h in order]
        if self.remote is not None:
            self.running.append((order, self.remote.submit(texts)))
            return
        self.pool = self.pool or ThreadPoolExecutor(1, thread_name_prefix="synth-embed")
        self.running.append((order, self.pool.submit(self._encode, texts)))

    def _encode(self, texts: list[str]) -> np.ndarray:
        embedder = self.get_embedder()
        with torch_threads(max(1, usable_cores() - 1)):
            return embedder.encode(texts)

    def _collect(
        self,
        db: sqlite3.Connection,
        item: tuple[list[str], Future[np.ndarray]],
        progress: Progress | None = None,
    ) -> None:
        self.running.remove(item)
        hashes, future = item
        vectors = future.result()
        store_vectors(db, hashes, vectors, self.model)
        self.done += len(hashes)
        if progress is not None:
            progress.advance(len(hashes))

    def finish(self, db: sqlite3.Connection, progress: Progress) -> tuple[int, int]:
        """Wait for the workers, then embed whatever is still missing; return (new, cached)."""
        try:
            rows = {r["embed_hash"]: r for r in db.execute(MISSING_SQL)}
            if self.done or rows:
                progress.start("embed", self.done + len(rows))
                progress.advance(self.done)
            while self.running:
                self._collect(db, self.running[0], progress)
            rows = {h: r for h, r in rows.items() if not has_vector(db, h)}
            texts = {
                h: embedding_text(r["title"], r["section"].split(" > "), r["text"])
                for h, r in rows.items()
            }
            if texts and self.remote is not None:
                self.pending = texts
                while self.pending or self.running:
                    while len(self.running) < self.slots and self.pending:
                        self._submit()
                    self._collect(db, self.running[0], progress)
            elif texts:
                embedder = self.get_embedder()
                vectors = embedder.encode(list(texts.values()), progress=progress.advance)
                store_vectors(db, list(texts), vectors, self.model)
            new = self.done + (len(texts) if self.remote is None else 0)
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
