"""The on-disk index: SQLite (documents, pages, chunks, FTS5) beside FAISS, swapped in atomically.

Layout of an index directory::

    index/CURRENT                  the live build id, replaced atomically
    index/builds/<id>/manifest.json
    index/builds/<id>/synth.sqlite
    index/builds/<id>/vectors.faiss

Every ingest that changes anything writes a whole new build next to the live one and only then
points CURRENT at it, so a crash at any moment leaves the previous build usable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from . import __version__, facets
from .chunk import ChunkSettings, chunk_document
from .embed import DEFAULT_MODEL, Embedder, resolve_model, text_hash, torch_threads
from .metadata import DocMetadata, match_record, sidecar_for
from .models import (
    Chunk,
    Document,
    FileResult,
    Filters,
    Hit,
    IngestReport,
    NullProgress,
    Progress,
)
from .parse import ParseError, ParseLimits, content_hash, iter_input_files, parse_file
from .vectors import FLAT_NAME, DenseIndex, build_faiss

FORMAT_VERSION = 1
DEFAULT_INDEX_DIR = Path("index")
KEEP_PREVIOUS_BUILDS = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL DEFAULT '',
    modified TEXT NOT NULL DEFAULT '',
    n_pages INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    page INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (doc_id, page)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    section TEXT NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS sentences (
    chunk INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    page INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    PRIMARY KEY (chunk, idx)
);
CREATE TABLE IF NOT EXISTS embeddings (
    hash TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, section, title, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
CREATE TABLE IF NOT EXISTS common_terms (term TEXT PRIMARY KEY, docs INTEGER NOT NULL);
"""
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
# Terms in more than this share of chunks are dropped from keyword queries (once an index has
# COMMON_MIN_CHUNKS chunks): BM25 would score nearly every chunk for "in" or "schools", the
# cost of a keyword query at 100k chunks, while they barely move the ranking.
COMMON_SHARE = 0.5
COMMON_MIN_CHUNKS = 1000


class IndexNotFound(FileNotFoundError):
    """No built index at the given directory; the message says how to build one."""


class IndexBusy(RuntimeError):
    """Another ingest holds the index lock."""


@dataclass
class Manifest:
    """What makes a build self-describing: model, dimension, chunker, counts and its id."""

    build_id: str
    created: str
    model: str
    dimension: int
    chunker: dict[str, object]
    n_documents: int
    n_chunks: int
    synth_version: str = __version__
    format_version: int = FORMAT_VERSION
    faiss_index: str = FLAT_NAME
    keyword_index: str = "sqlite fts5 (porter unicode61)"

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Manifest:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk as stored, joined with its document: what search turns into hits."""

    rowid: int
    chunk_id: str
    doc_id: str
    section: str
    page_start: int
    page_end: int
    text: str
    source: str
    title: str
    author: str
    created: str

    def hit(self, rank: int, score: float, facets: dict[str, list[str]], **scores: float) -> Hit:
        """This chunk as a search result; `scores` may add dense_score and keyword_score."""
        return Hit(
            chunk_id=self.chunk_id,
            doc_id=self.doc_id,
            text=self.text,
            source=self.source,
            title=self.title,
            page=self.page_start,
            page_end=self.page_end,
            section=self.section,
            score=round(float(score), 6),
            rank=rank,
            facets=facets,
            **{name: round(value, 6) for name, value in scores.items()},
        )


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    source: str
    path: str
    title: str
    author: str
    created: str
    kind: str
    n_pages: int
    n_chunks: int
    ingested_at: str


@dataclass
class IndexStats:
    manifest: Manifest
    path: Path
    bytes_on_disk: int
    documents: list[DocumentRecord] = field(default_factory=list)


EmbedStyle = Literal["headings", "text", "title_headings"]


def embedding_text(
    title: str, section: list[str], text: str, style: EmbedStyle = "headings"
) -> str:
    """The string the dense index sees for a chunk: its nearest headings give the topic.

    `style` lets benchmarks/bench_retrieval.py compare text alone and title + headings.
    """
    if style == "text":
        return text
    heads = section[-2:]
    if style == "title_headings":
        heads = [h for h in heads if h]
        heads = heads if not title or heads[:1] == [title] else [title, *heads]
    heading = " > ".join(heads)
    return f"{heading}\n{text}" if heading else text


# ---------------------------------------------------------------- reading


def _build_dir(root: Path) -> Path | None:
    current = root / "CURRENT"
    if not current.is_file():
        return None
    build_id = current.read_text().strip()
    if not re.fullmatch(r"[0-9A-Za-z_-]+", build_id):
        return None
    path = root / "builds" / build_id
    return path if (path / "manifest.json").is_file() else None


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
    conn.row_factory = sqlite3.Row
    return conn


class Index:
    """A read-only view of one build; safe to share between threads (Streamlit reruns)."""

    def __init__(self, root: Path, build_dir: Path) -> None:
        self.root = root
        self.path = build_dir
        self.manifest = _read_manifest(build_dir)
        self.db = _connect(build_dir / "synth.sqlite", readonly=True)
        self.dense = DenseIndex.read(str(build_dir / "vectors.faiss"))
        self.vectors = self.dense.index
        self._lock = threading.Lock()
        self._stemmer_ready = False
        # A build never changes, so which tables it has is read once, not on every search.
        self._tables = {r[0] for r in self.query("SELECT name FROM sqlite_master")}

    @classmethod
    def open(cls, root: str | Path = DEFAULT_INDEX_DIR) -> Index:
        root = Path(root)
        build = _build_dir(root)
        if build is None:
            raise IndexNotFound(
                f"no index at '{root}': build one with `synth ingest corpus/ --index {root}`"
            )
        return cls(root, build)

    @property
    def build_id(self) -> str:
        return self.manifest.build_id

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, tuple(params)).fetchall()

    def dense_search(
        self, vector: np.ndarray, limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Best `limit` (rowid, cosine) pairs; with `allowed` (int64 rowids), exactly the best
        `limit` among those rowids (all of them if fewer), whatever the FAISS index type."""
        return self.dense.search(vector, limit, allowed)

    def keyword_search(
        self, match: str, limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over chunks; `match` must already be a safe FTS5 expression (search.fts_query).

        With `allowed`, only those rowids are ranked, inside SQLite, so the best `limit` among
        them come back however few they are.
        """
        if not match or limit <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        sql = (
            "SELECT rowid, bm25(chunks_fts, 1.0, 0.6, 0.3) AS s FROM chunks_fts "
            "WHERE chunks_fts MATCH ?"
        )
        params: list[object] = [match]
        if allowed is not None:
            # The unary + keeps FTS5 from running the match once per allowed rowid (100x
            # slower for a broad filter); the match runs once and the set filters its rows.
            sql += " AND +rowid IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(allowed.tolist()))
        rows = self.query(sql + " ORDER BY s LIMIT ?", (*params, limit))
        return [(int(r["rowid"]), -float(r["s"])) for r in rows]

    def common_words(self, words: list[str]) -> set[str]:
        """The query words whose stem is in more than COMMON_SHARE of this build's chunks.

        Words are stemmed by FTS5's own tokenizer in a temporary table, so "Schools" and
        "school" are judged by the stem the index stores.
        """
        if not words or "common_terms" not in self._tables:
            return set()
        with self._lock:
            if not self._stemmer_ready:
                self.db.execute(
                    "CREATE VIRTUAL TABLE temp.query_words USING fts5("
                    f"w, tokenize = '{FTS_TOKENIZER}')"
                )
                self.db.execute(
                    "CREATE VIRTUAL TABLE temp.query_stems USING fts5vocab("
                    "temp, query_words, 'instance')"
                )
                self._stemmer_ready = True
            self.db.execute("DELETE FROM temp.query_words")
            self.db.executemany(
                "INSERT INTO temp.query_words (rowid, w) VALUES (?, ?)", list(enumerate(words))
            )
            rows = self.db.execute(
                "SELECT s.doc FROM temp.query_stems s JOIN common_terms c ON c.term = s.term"
            ).fetchall()
        return {words[r[0]] for r in rows}

    @property
    def has_facets(self) -> bool:
        """Builds made before tagging existed have no tag tables; they answer unfiltered only."""
        return "doc_tags" in self._tables

    def filter_ids(self, filters: Filters, min_confidence: float) -> np.ndarray:
        """Rowids of the chunks a filter allows, sorted; the exact set both retrievers use."""
        if not self.has_facets:
            return np.empty(0, dtype="int64")
        sql, params = facets.filter_sql(filters, min_confidence)
        # One string rather than a Row per chunk: tens of thousands of small objects set off
        # full garbage collections (250 ms with a model loaded) on broad filters.
        text = self.query(f"SELECT group_concat(id) FROM ({sql})", params)[0][0]
        return np.sort(np.fromstring(text or "", dtype="int64", sep=","))

    def chunk_facets(
        self, rowids: list[int], min_confidence: float
    ) -> dict[int, dict[str, list[str]]]:
        if not self.has_facets:
            return {}
        return facets.chunk_facets(self.query, rowids, min_confidence)

    def find_documents(self, targets: Iterable[str]) -> list[DocumentRecord]:
        """Documents named by doc id, file name or path (as `synth remove` and `tag` accept)."""
        return _match_documents(self.documents(), targets)

    def chunks(self, rowids: list[int]) -> dict[int, ChunkRecord]:
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        rows = self.query(
            "SELECT c.id, c.chunk_id, c.doc_id, c.section, c.page_start, c.page_end, c.text, "
            "d.source, d.title, d.author, d.created FROM chunks c "
            f"JOIN documents d ON d.doc_id = c.doc_id WHERE c.id IN ({marks})",
            rowids,
        )
        return {r["id"]: ChunkRecord(*tuple(r)) for r in rows}

    def rowids(self, chunk_ids: list[str]) -> dict[str, int]:
        """Rowids of the given chunk ids that exist in this build (a basket may be stale)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.query(f"SELECT id, chunk_id FROM chunks WHERE chunk_id IN ({marks})", chunk_ids)
        return {r["chunk_id"]: r["id"] for r in rows}

    def chunk_sentences(self, chunk_id: str) -> list[tuple[int, int, int]]:
        rows = self.query(
            "SELECT s.page, s.start, s.end FROM sentences s JOIN chunks c ON c.id = s.chunk "
            "WHERE c.chunk_id = ? ORDER BY s.idx",
            (chunk_id,),
        )
        return [(r["page"], r["start"], r["end"]) for r in rows]

    def page_text(self, doc_id: str, page: int) -> str | None:
        rows = self.query("SELECT text FROM pages WHERE doc_id = ? AND page = ?", (doc_id, page))
        return rows[0]["text"] if rows else None

    def documents(self) -> list[DocumentRecord]:
        rows = self.query(
            "SELECT d.doc_id, d.source, d.path, d.title, d.author, d.created, d.kind, d.n_pages, "
            "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id), d.ingested_at "
            "FROM documents d ORDER BY d.source"
        )
        return [DocumentRecord(*tuple(r)) for r in rows]

    def document_tags(self, doc_id: str) -> facets.DocTags:
        return facets.document_tags(self.query, doc_id)

    def stats(self) -> IndexStats:
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        return IndexStats(self.manifest, self.path, size, self.documents())


# ---------------------------------------------------------------- writing


@contextlib.contextmanager
def _locked(root: Path, wait: bool = True) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise IndexBusy(f"another ingest is writing to '{root}'") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_build_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def _clean_builds(root: Path, keep: str) -> None:
    """Drop half-written builds and all but the newest previous build."""
    builds = root / "builds"
    if not builds.is_dir():
        return
    done = sorted((p for p in builds.iterdir() if p.is_dir() and p.suffix != ".tmp"), reverse=True)
    for path in builds.iterdir():
        if path.is_dir() and path.suffix == ".tmp":
            shutil.rmtree(path, ignore_errors=True)
    previous = [p for p in done if p.name != keep]
    for path in previous[KEEP_PREVIOUS_BUILDS:]:
        shutil.rmtree(path, ignore_errors=True)


def _insert_document(
    db: sqlite3.Connection, doc: Document, chunks: list[Chunk], model: str
) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    db.execute(
        "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            doc.doc_id,
            doc.source,
            doc.path,
            doc.content_hash,
            doc.kind,
            doc.title,
            doc.author,
            doc.created,
            doc.modified,
            doc.n_pages,
            now,
        ),
    )
    db.executemany(
        "INSERT INTO pages VALUES (?,?,?)", [(doc.doc_id, p.number, p.text) for p in doc.pages]
    )
    for chunk in chunks:
        embed = embedding_text(doc.title, chunk.section, chunk.text)
        cur = db.execute(
            "INSERT INTO chunks (chunk_id, doc_id, seq, section, page_start, page_end, text, "
            "embed_hash) VALUES (?,?,?,?,?,?,?,?)",
            (
                chunk.chunk_id,
                doc.doc_id,
                chunk.seq,
                chunk.section_label,
                chunk.page_start,
                chunk.page_end,
                chunk.text,
                text_hash(embed, model),
            ),
        )
        rowid = cur.lastrowid
        db.executemany(
            "INSERT INTO sentences VALUES (?,?,?,?,?)",
            [(rowid, i, s.page, s.start, s.end) for i, s in enumerate(chunk.sentences)],
        )
        db.execute(
            "INSERT INTO chunks_fts (rowid, text, section, title) VALUES (?,?,?,?)",
            (rowid, chunk.text, chunk.section_label, doc.title),
        )


def _delete_document(db: sqlite3.Connection, doc_id: str) -> None:
    db.execute(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,)
    )
    db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))


MISSING_SQL = (
    "SELECT c.embed_hash, c.section, c.text, d.title FROM chunks c "
    "JOIN documents d ON d.doc_id = c.doc_id "
    "WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.hash = c.embed_hash)"
)
# Chunks go to the background embedder once this many wait, at most EMBED_FEED_MAX a batch:
# small batches, so the last one still running when parsing ends (on one thread) is short.
# The rest is embedded at the end on all cores, length-sorted (benchmarks/README.md).
EMBED_FEED_MIN = 16
EMBED_FEED_MAX = 32


class _BackgroundEmbedder:
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
        _store_vectors(db, hashes, vectors, self.model)
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
            rows = {h: r for h, r in rows.items() if not _has_vector(db, h)}
            if rows:
                texts = [
                    embedding_text(r["title"], r["section"].split(" > "), r["text"])
                    for r in rows.values()
                ]
                vectors = self.get_embedder().encode(texts, progress=progress.advance)
                _store_vectors(db, list(rows), vectors, self.model)
            new = self.done + len(rows)
            total = db.execute("SELECT COUNT(DISTINCT embed_hash) FROM chunks").fetchone()[0]
            return new, max(0, total - new)
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _has_vector(db: sqlite3.Connection, embed_hash: str) -> bool:
    row = db.execute("SELECT 1 FROM embeddings WHERE hash = ?", (embed_hash,)).fetchone()
    return row is not None


def _store_vectors(
    db: sqlite3.Connection, hashes: list[str], vectors: np.ndarray, model: str
) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
        [(h, model, v.astype("float32").tobytes()) for h, v in zip(hashes, vectors, strict=True)],
    )


def _write_faiss(db: sqlite3.Connection, dimension: int, path: Path) -> tuple[int, str]:
    """Write the FAISS index chosen for this many chunks; return (vectors written, index name)."""
    join = "FROM chunks c JOIN embeddings e ON e.hash = c.embed_hash"
    n = db.execute(f"SELECT COUNT(*) {join}").fetchone()[0]
    ids = np.empty(n, dtype="int64")
    vectors = np.empty((n, dimension), dtype="float32")
    for i, (rowid, blob) in enumerate(db.execute(f"SELECT c.id, e.vector {join} ORDER BY c.id")):
        ids[i] = rowid
        vectors[i] = np.frombuffer(blob, dtype="float32")
    index, name = build_faiss(ids, vectors)
    del vectors
    faiss.write_index(index, str(path))
    return index.ntotal, name


@contextlib.contextmanager
def _staged_build(root: Path, old: Path | None) -> Iterator[tuple[str, Path, sqlite3.Connection]]:
    """A new build directory seeded with a copy of the live database; removed if anything fails."""
    build_id = _new_build_id()
    tmp = root / "builds" / f"{build_id}.tmp"
    tmp.mkdir(parents=True)
    db = _connect(tmp / "synth.sqlite", readonly=False)
    try:
        if old is not None:
            with contextlib.closing(_connect(old / "synth.sqlite", readonly=True)) as src:
                src.backup(db)
        db.executescript(SCHEMA)
        db.executescript(facets.SCHEMA)
        yield build_id, tmp, db
    except BaseException:
        db.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _refresh_common_terms(db: sqlite3.Connection) -> None:
    """Record the stems too common to help a keyword query (see COMMON_SHARE)."""
    db.execute("DELETE FROM common_terms")
    n = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    if n >= COMMON_MIN_CHUNKS:
        db.execute(
            "INSERT INTO common_terms SELECT term, doc FROM chunks_vocab WHERE doc > ?",
            (COMMON_SHARE * n,),
        )


def _publish(root: Path, tmp: Path, db: sqlite3.Connection, manifest: Manifest) -> None:
    """Finish a staged build: write the manifest, fsync, rename, then swap CURRENT atomically."""
    manifest.n_documents = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    manifest.n_chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    db.commit()
    db.close()
    (tmp / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2))
    for path in tmp.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    final = tmp.with_suffix("")
    tmp.rename(final)
    _fsync_dir(final.parent)
    pointer = root / "CURRENT.tmp"
    pointer.write_text(manifest.build_id + "\n")
    with open(pointer, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer, root / "CURRENT")
    _fsync_dir(root)
    _clean_builds(root, manifest.build_id)


def _read_manifest(build: Path) -> Manifest:
    return Manifest.from_json(json.loads((build / "manifest.json").read_text()))


def _match_documents(docs: list[DocumentRecord], targets: Iterable[str]) -> list[DocumentRecord]:
    wanted = set(targets)
    resolved = {str(Path(t).resolve()) for t in wanted}
    return [d for d in docs if d.doc_id in wanted or d.source in wanted or d.path in resolved]


@dataclass
class _Curation:
    """Metadata and tagging work for a build: records to match, updates for unchanged files."""

    records: list[DocMetadata]
    taxonomy: Path | None
    updates: dict[str, DocMetadata] = field(default_factory=dict)
    retag: bool = False

    @property
    def pending(self) -> bool:
        return self.retag or bool(self.updates)

    def match(self, path: Path, title: str, head: str) -> DocMetadata | None:
        """A sidecar beside the file wins over an imported library record."""
        return sidecar_for(path) or match_record(self.records, path, title, head)


def _head_text(db: sqlite3.Connection, doc_id: str) -> tuple[str, str]:
    title = db.execute("SELECT title FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
    pages = db.execute(
        "SELECT text FROM pages WHERE doc_id = ? ORDER BY page LIMIT 2", (doc_id,)
    ).fetchall()
    return (title[0] if title else ""), " ".join(r[0] for r in pages)


def _pending_curation(old: Path, report: IngestReport, curation: _Curation) -> None:
    """For files that did not change: new metadata to apply, and whether the tagger changed."""
    from .taxonomy import load_taxonomy

    with contextlib.closing(_connect(old / "synth.sqlite", readonly=True)) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        if "tag_state" not in tables:
            curation.retag = True
            return
        row = db.execute("SELECT value FROM tag_state WHERE key = 'digest'").fetchone()
        taxonomy = load_taxonomy(curation.taxonomy)
        curation.retag = row is None or row[0] != facets.tag_digest(taxonomy)
        for result in report.files:
            if result.status != "unchanged" or not result.doc_id:
                continue
            title, head = _head_text(db, result.doc_id)
            meta = curation.match(Path(result.path), title, head)
            if meta is None:
                continue
            stored = db.execute(
                "SELECT data FROM doc_meta WHERE doc_id = ?", (result.doc_id,)
            ).fetchone()
            if stored is None or json.loads(stored[0]) != meta.to_json():
                curation.updates[result.doc_id] = meta


class _NothingNew(Exception):
    """Every planned file failed: keep the live build instead of publishing a copy of it."""


@dataclass
class _Plan:
    path: Path
    digest: str
    replaces: str | None
    duplicate_of: str = ""


def ingest(
    paths: Iterable[str | Path],
    root: str | Path = DEFAULT_INDEX_DIR,
    *,
    model: str | None = None,
    settings: ChunkSettings | None = None,
    limits: ParseLimits | None = None,
    progress: Progress | None = None,
    embedder: Callable[[], Embedder] | None = None,
    metadata: Iterable[DocMetadata] = (),
    taxonomy: str | Path | None = None,
) -> IngestReport:
    """Add new files, replace changed ones, skip unchanged ones; report every file's fate.

    `metadata` are library records (RIS, BibTeX, CSL-JSON, manifest) matched to files by
    attachment name, DOI or title; a YAML sidecar beside a file wins. Tags are recomputed when
    the taxonomy changes, and metadata re-applied to unchanged files when it changed.
    `model` None keeps the index's model (the default model for a new index); naming another
    model ("fast" included) re-embeds everything with it.
    """
    from .embed import load_embedder

    started = time.perf_counter()
    root = Path(root)
    settings = settings or ChunkSettings()
    limits = limits or ParseLimits()
    progress = progress or NullProgress()
    get_embedder = embedder or (lambda: load_embedder(model))
    report = IngestReport()
    with _locked(root):
        old = _build_dir(root)
        current = _read_manifest(old).model if old is not None else DEFAULT_MODEL
        model = resolve_model(model or current)  # "fast" is recorded as the precision it means
        known: dict[str, tuple[str, str]] = {}
        by_hash: dict[str, str] = {}
        files = list(iter_input_files(paths))
        rebuild = False
        if old is not None:
            manifest = _read_manifest(old)
            with contextlib.closing(_connect(old / "synth.sqlite", readonly=True)) as db:
                for r in db.execute("SELECT doc_id, path, content_hash, source FROM documents"):
                    known[r["path"]] = (r["doc_id"], r["content_hash"])
                    by_hash[r["content_hash"]] = r["source"]
            if manifest.chunker != settings.to_json() or manifest.model != model:
                # New chunker or model: every indexed file is read again, not just these paths.
                rebuild = True
                given = {str(f.resolve()) for f in files}
                files += [Path(p) for p in known if p not in given]
                known, by_hash = {}, {}
        plans: list[_Plan] = []
        progress.start("scan", len(files))
        for path in files:
            progress.advance()
            key = str(path.resolve())
            try:
                digest = content_hash(path.read_bytes())
            except OSError as exc:
                report.files.append(FileResult(str(path), "failed", f"cannot read: {exc.strerror}"))
                continue
            previous = known.get(key)
            if previous and previous[1] == digest:
                report.files.append(FileResult(str(path), "unchanged", doc_id=previous[0]))
            elif digest in by_hash:
                note = f"same content as {by_hash[digest]}"
                if previous:  # this path's old text must go; its new text is already indexed
                    plans.append(_Plan(path, digest, previous[0], duplicate_of=by_hash[digest]))
                else:
                    report.files.append(
                        FileResult(str(path), "unchanged", note, doc_id=digest[:16])
                    )
            else:
                by_hash[digest] = path.name
                plans.append(_Plan(path, digest, previous[0] if previous else None))
        curation = _Curation(list(metadata), Path(taxonomy) if taxonomy else None)
        if old is not None and not rebuild:
            _pending_curation(old, report, curation)
        if old is not None and not plans and not rebuild and not curation.pending:
            report.build_id = old.name
            report.seconds = time.perf_counter() - started
            return report
        try:
            report.build_id = _write_build(
                root,
                old,
                plans,
                report,
                settings,
                limits,
                model,
                progress,
                get_embedder,
                rebuild,
                curation,
            )
        except _NothingNew:
            report.build_id = old.name if old else ""
    report.seconds = time.perf_counter() - started
    return report


def _write_build(
    root: Path,
    old: Path | None,
    plans: list[_Plan],
    report: IngestReport,
    settings: ChunkSettings,
    limits: ParseLimits,
    model: str,
    progress: Progress,
    get_embedder: Callable[[], Embedder],
    rebuild: bool,
    curation: _Curation,
) -> str:
    """Write a complete new build beside the live one, then point CURRENT at it."""
    from .taxonomy import load_taxonomy

    background = _BackgroundEmbedder(get_embedder, model)
    with _staged_build(root, old) as (build_id, tmp, db), contextlib.closing(background):
        kept = _kept_metadata(db, plans)
        if rebuild:
            for (doc_id,) in db.execute("SELECT doc_id FROM documents").fetchall():
                _delete_document(db, doc_id)
        progress.start("parse", len(plans))
        for plan in plans:
            result = _ingest_one(db, plan, settings, limits, model)
            report.files.append(result)
            if result.status in ("added", "replaced") and result.doc_id:
                title, head = _head_text(db, result.doc_id)
                meta = curation.match(plan.path, title, head) or kept.get(str(plan.path.resolve()))
                facets.store_metadata(db, result.doc_id, meta)
                background.feed(db, result.doc_id)
            progress.advance()
        for doc_id, meta in curation.updates.items():
            facets.store_metadata(db, doc_id, meta)
        if old is not None and not rebuild and not report.changed and not curation.pending:
            raise _NothingNew
        db.commit()
        report.n_embedded, report.n_cached = background.finish(db, progress)
        db.commit()
        facets.tag_build(db, load_taxonomy(curation.taxonomy), get_embedder)
        db.commit()
        dimension = _dimension(db, get_embedder)
        n_vectors, faiss_name = _write_faiss(db, dimension, tmp / "vectors.faiss")
        n_chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        if n_vectors != n_chunks:
            raise RuntimeError(f"index mismatch: {n_vectors} vectors for {n_chunks} chunks")
        manifest = Manifest(
            build_id=build_id,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            model=model,
            dimension=dimension,
            chunker=settings.to_json(),
            n_documents=0,
            n_chunks=0,
            faiss_index=faiss_name,
        )
        _refresh_common_terms(db)
        _publish(root, tmp, db, manifest)
    return build_id


def _kept_metadata(db: sqlite3.Connection, plans: list[_Plan]) -> dict[str, DocMetadata]:
    """Metadata of documents about to be replaced, by path: a new version keeps its record."""
    kept = {}
    for row in db.execute(
        "SELECT d.path, m.data FROM doc_meta m JOIN documents d ON d.doc_id = m.doc_id"
    ):
        kept[row[0]] = DocMetadata.from_json(json.loads(row[1]))
    wanted = {str(p.path.resolve()) for p in plans}
    return {k: v for k, v in kept.items() if k in wanted}


def _dimension(db: sqlite3.Connection, get_embedder: Callable[[], Embedder]) -> int:
    row = db.execute("SELECT vector FROM embeddings LIMIT 1").fetchone()
    if row is not None:
        return len(row[0]) // 4
    return get_embedder().dimension


def _ingest_one(
    db: sqlite3.Connection,
    plan: _Plan,
    settings: ChunkSettings,
    limits: ParseLimits,
    model: str,
) -> FileResult:
    """Parse, chunk and store one file inside a savepoint, so a failure leaves no trace."""
    name = str(plan.path)
    if plan.duplicate_of and plan.replaces:
        _delete_document(db, plan.replaces)
        reason = f"now the same content as {plan.duplicate_of}; its old text was removed"
        return FileResult(name, "replaced", reason, doc_id=plan.digest[:16])
    try:
        doc = parse_file(plan.path, limits)
        if doc.content_hash != plan.digest:
            raise ParseError("file changed while it was being read")
        chunks = chunk_document(doc, settings)
        if not chunks:
            raise ParseError("no text to index (no sentences found)")
    except ParseError as exc:
        return FileResult(name, "failed", str(exc))
    except Exception as exc:  # a parser bug on one file must not sink the batch
        return FileResult(name, "failed", f"unexpected error: {exc.__class__.__name__}: {exc}")
    db.execute("SAVEPOINT doc")
    try:
        if plan.replaces:
            _delete_document(db, plan.replaces)
        existing = db.execute("SELECT doc_id FROM documents WHERE path = ?", (doc.path,)).fetchone()
        if existing:
            _delete_document(db, existing[0])
        _insert_document(db, doc, chunks, model)
    except Exception as exc:
        db.execute("ROLLBACK TO doc")
        db.execute("RELEASE doc")
        return FileResult(name, "failed", f"could not store: {exc}")
    db.execute("RELEASE doc")
    status = "replaced" if plan.replaces or existing else "added"
    return FileResult(name, status, doc_id=doc.doc_id, n_chunks=len(chunks))


def remove(targets: Iterable[str], root: str | Path = DEFAULT_INDEX_DIR) -> list[str]:
    """Drop documents by file name, path or doc id; returns the sources removed."""
    root = Path(root)
    with _locked(root):
        old = _build_dir(root)
        if old is None:
            raise IndexNotFound(f"no index at '{root}'")
        manifest = _read_manifest(old)
        with contextlib.closing(_connect(old / "synth.sqlite", readonly=True)) as db:
            docs = db.execute("SELECT doc_id, source, path FROM documents").fetchall()
        wanted = set(targets)
        resolved = {str(Path(t).resolve()) for t in wanted}
        hits = [
            (r["doc_id"], r["source"])
            for r in docs
            if r["doc_id"] in wanted or r["source"] in wanted or r["path"] in resolved
        ]
        if not hits:
            return []
        with _staged_build(root, old) as (build_id, tmp, db):
            for doc_id, _ in hits:
                _delete_document(db, doc_id)
            _, manifest.faiss_index = _write_faiss(db, manifest.dimension, tmp / "vectors.faiss")
            _refresh_common_terms(db)
            manifest.build_id = build_id
            manifest.created = datetime.now(UTC).isoformat(timespec="seconds")
            _publish(root, tmp, db, manifest)
    return [source for _, source in hits]


def update_tags(
    target: str,
    changes: Iterable[tuple[str, str, str]],
    root: str | Path = DEFAULT_INDEX_DIR,
    note: str = "",
    taxonomy: str | Path | None = None,
) -> str:
    """Record curator tag changes for one document in a new build; returns its doc id.

    `changes` are (facet, value id, "set" | "unset"). They are stored by file path, so they
    survive re-ingest, a changed file and a rebuild.
    """
    from .taxonomy import load_taxonomy

    root = Path(root)
    with _locked(root):
        old = _build_dir(root)
        if old is None:
            raise IndexNotFound(f"no index at '{root}'")
        with contextlib.closing(Index(root, old)) as index:
            docs = index.find_documents([target])
        if len(docs) != 1:
            found = "no document" if not docs else f"{len(docs)} documents"
            raise KeyError(f"{found} matches '{target}' (use a doc id from `synth info`)")
        doc_id = docs[0].doc_id
        manifest = _read_manifest(old)
        with _staged_build(root, old) as (build_id, tmp, db):
            facets.record_curator(db, doc_id, changes, note)
            facets.refresh_effective(db, load_taxonomy(Path(taxonomy) if taxonomy else None))
            shutil.copyfile(old / "vectors.faiss", tmp / "vectors.faiss")
            manifest.build_id = build_id
            manifest.created = datetime.now(UTC).isoformat(timespec="seconds")
            _publish(root, tmp, db, manifest)
    return doc_id
