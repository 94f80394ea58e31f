"""The SQLite side of a build: documents, pages, chunks, sentences and the embedding cache.

Writers call these functions inside a staged build; readers get typed records back. The
keyword engine's and the facets' tables live in the same database (see keyword.py, facets.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from synth.ingest.embed import text_hash
from synth.ingest.pipeline import embedding_text
from synth.models import Chunk, Document, Hit

from . import facets, keyword, studies

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
-- OCR marks live in tables of their own, so builds made before OCR open unchanged.
CREATE TABLE IF NOT EXISTS page_ocr (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    page INTEGER NOT NULL,
    confidence REAL,
    PRIMARY KEY (doc_id, page)
);
CREATE TABLE IF NOT EXISTS chunk_ocr (
    chunk INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS embeddings (
    hash TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""


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


CHUNK_SQL = (
    "SELECT c.id, c.chunk_id, c.doc_id, c.section, c.page_start, c.page_end, c.text, "
    "d.source, d.title, d.author, d.created FROM chunks c "
    "JOIN documents d ON d.doc_id = c.doc_id"
)
DOCUMENT_SQL = (
    "SELECT d.doc_id, d.source, d.path, d.title, d.author, d.created, d.kind, d.n_pages, "
    "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id), d.ingested_at "
    "FROM documents d ORDER BY d.source"
)


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
    conn.row_factory = sqlite3.Row
    return conn


def create_schema(db: sqlite3.Connection) -> None:
    """Every table a build holds; a no-op on tables an older build already has."""
    db.executescript(SCHEMA)
    db.executescript(keyword.SCHEMA)
    db.executescript(facets.SCHEMA)
    db.executescript(studies.SCHEMA)


def counts(db: sqlite3.Connection) -> tuple[int, int]:
    """(documents, chunks) in a build."""
    n_docs = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    n_chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return n_docs, n_chunks


def content_count(db: sqlite3.Connection) -> int:
    """Chunks that can be hits: every chunk but reference lists, contents and the like."""
    return db.execute(f"SELECT COUNT(*) FROM chunks c WHERE {studies.CONTENT_SQL}").fetchone()[0]


def names(targets: Iterable[str]) -> Callable[[str, str, str], bool]:
    """Whether a document (doc id, file name, path) is one of `targets`: a doc id, a file name
    or a path, as `synth remove` and `synth tag` accept."""
    wanted = set(targets)
    resolved = {str(Path(t).resolve()) for t in wanted}
    return lambda doc_id, source, path: doc_id in wanted or source in wanted or path in resolved


def head_text(db: sqlite3.Connection, doc_id: str) -> tuple[str, str]:
    """A document's title and its first two pages: what metadata is matched against."""
    title = db.execute("SELECT title FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
    pages = db.execute(
        "SELECT text FROM pages WHERE doc_id = ? ORDER BY page LIMIT 2", (doc_id,)
    ).fetchall()
    return (title[0] if title else ""), " ".join(r[0] for r in pages)


# ---------------------------------------------------------------- writing


def insert_document(
    db: sqlite3.Connection,
    doc: Document,
    chunks: list[Chunk],
    model: str,
    roles: list[str] | None = None,
) -> list[int]:
    """Store a document and its chunks; only content chunks enter the keyword index.

    Returns the chunks' rowids, in order.
    """
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
    db.executemany(
        "INSERT INTO page_ocr VALUES (?,?,?)",
        [(doc.doc_id, p.number, p.ocr_confidence) for p in doc.pages if p.ocr],
    )
    roles = roles or [studies.CONTENT] * len(chunks)
    rowids = []
    for chunk, role in zip(chunks, roles, strict=True):
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
        rowid = int(cur.lastrowid or 0)
        rowids.append(rowid)
        if chunk.ocr:
            db.execute("INSERT INTO chunk_ocr VALUES (?)", (rowid,))
        db.executemany(
            "INSERT INTO sentences VALUES (?,?,?,?,?)",
            [(rowid, i, s.page, s.start, s.end) for i, s in enumerate(chunk.sentences)],
        )
        if role == studies.CONTENT:
            keyword.insert_chunk(db, rowid, chunk.text, chunk.section_label, doc.title)
    studies.store_roles(db, rowids, roles)
    return rowids


def delete_document(db: sqlite3.Connection, doc_id: str) -> None:
    keyword.delete_document(db, doc_id)
    db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))


# ---------------------------------------------------------------- the embedding cache

MISSING_SQL = (
    "SELECT c.embed_hash, c.section, c.text, d.title FROM chunks c "
    "JOIN documents d ON d.doc_id = c.doc_id "
    "WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.hash = c.embed_hash) "
    f"AND {studies.CONTENT_SQL}"
)


def has_vector(db: sqlite3.Connection, embed_hash: str) -> bool:
    row = db.execute("SELECT 1 FROM embeddings WHERE hash = ?", (embed_hash,)).fetchone()
    return row is not None


def store_vectors(
    db: sqlite3.Connection, hashes: list[str], vectors: np.ndarray, model: str
) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
        [(h, model, v.astype("float32").tobytes()) for h, v in zip(hashes, vectors, strict=True)],
    )


def chunk_vectors(db: sqlite3.Connection, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """(rowids, vectors) of every content chunk with a cached vector, in rowid order."""
    join = "FROM chunks c JOIN embeddings e ON e.hash = c.embed_hash WHERE " + studies.CONTENT_SQL
    n = db.execute(f"SELECT COUNT(*) {join}").fetchone()[0]
    ids = np.empty(n, dtype="int64")
    vectors = np.empty((n, dimension), dtype="float32")
    for i, (rowid, blob) in enumerate(db.execute(f"SELECT c.id, e.vector {join} ORDER BY c.id")):
        ids[i] = rowid
        vectors[i] = np.frombuffer(blob, dtype="float32")
    return ids, vectors


def stored_dimension(db: sqlite3.Connection) -> int | None:
    row = db.execute("SELECT vector FROM embeddings LIMIT 1").fetchone()
    return len(row[0]) // 4 if row is not None else None
