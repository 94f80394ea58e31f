"""The keyword engine: BM25 over chunk text, section and title, behind one small interface.

Two engines implement it: tantivy (the default, a Lucene-style index in the build's `keyword/`
folder) and SQLite FTS5 (in the build's database; builds made before tantivy use it). Which
one a build uses is its manifest's `keyword_index`. Each engine owns its query syntax: user
text becomes plain terms, never query language. Search returns (rowid, score) pairs, best
first, ties by rowid, restricted exactly to an allowed set of rowids when one is given.

Writers never call an engine. Triggers on `chunks` and `documents` record every rowid whose
keyword text changed in `keyword_pending`, inside the same transaction (so a rolled-back file
leaves no trace), and `apply_changes` brings the engine in line when a build is published.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from . import keyword_fts5, keyword_tantivy
from .files import clone_tree
from .keyword_fts5 import MAX_QUERY_TERMS, fts_query, query_terms
from .topk import verified_top

__all__ = ["MAX_QUERY_TERMS", "fts_query", "query_terms", "verified_top"]

TANTIVY = "tantivy"
FTS5 = "fts5"
ENGINES = (TANTIVY, FTS5)
DEFAULT_ENGINE = TANTIVY
FOLDER = "keyword"
# The manifest names: FTS5's is what builds have always recorded.
NAMES = {FTS5: keyword_fts5.NAME, TANTIVY: keyword_tantivy.NAME}
NAME = NAMES[DEFAULT_ENGINE]
# Past this share of the chunks changed in one build, the engine is rebuilt rather than patched.
REBUILD_SHARE = 0.5

SCHEMA = (
    keyword_fts5.SCHEMA
    + """
CREATE TABLE IF NOT EXISTS keyword_pending (rowid INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS keyword_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS keyword_chunk_added AFTER INSERT ON chunks BEGIN
    INSERT OR IGNORE INTO keyword_pending VALUES (new.id);
END;
CREATE TRIGGER IF NOT EXISTS keyword_chunk_removed AFTER DELETE ON chunks BEGIN
    INSERT OR IGNORE INTO keyword_pending VALUES (old.id);
END;
CREATE TRIGGER IF NOT EXISTS keyword_chunk_changed AFTER UPDATE OF text, section ON chunks BEGIN
    INSERT OR IGNORE INTO keyword_pending VALUES (new.id);
END;
CREATE TRIGGER IF NOT EXISTS keyword_title_changed AFTER UPDATE OF title ON documents BEGIN
    INSERT OR IGNORE INTO keyword_pending SELECT id FROM chunks WHERE doc_id = new.doc_id;
END;
"""
)

# A chunk's role changing (content, reference list, ...) changes whether it is indexed.
ROLE_SCHEMA = """
CREATE TRIGGER IF NOT EXISTS keyword_role_set AFTER INSERT ON chunk_roles BEGIN
    INSERT OR IGNORE INTO keyword_pending VALUES (new.chunk);
END;
"""


def indexed_sql() -> str:
    """What every engine indexes: each content chunk's text, section label and document title.

    Engines append "AND c.id IN (...)" to re-index some chunks only.
    """
    from .studies import CONTENT_SQL  # studies imports this module

    return (
        "SELECT c.id, c.text, c.section, d.title FROM chunks c "
        f"JOIN documents d ON d.doc_id = c.doc_id WHERE {CONTENT_SQL}"
    )


class KeywordEngine(Protocol):
    """What the reader and the search layer need from a keyword engine."""

    name: str

    def search(
        self, query: str, limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Best `limit` (rowid, score) pairs for user text; only `allowed` rowids when given."""
        ...

    def count(self) -> int:
        """Chunks the engine holds (equal to the build's chunks in a consistent build)."""
        ...

    def rowids(self) -> np.ndarray:
        """Every rowid the engine holds, sorted (consistency checks; costly at scale)."""
        ...

    def close(self) -> None: ...


def engine_of(manifest_name: str) -> str:
    """The engine a manifest's `keyword_index` names (anything not tantivy is FTS5)."""
    return TANTIVY if manifest_name.startswith(TANTIVY) else FTS5


def open_engine(
    manifest_name: str,
    build_dir: Path,
    db: sqlite3.Connection,
    lock: threading.Lock,
    tables: set[str],
) -> KeywordEngine:
    """The reading side of a build's keyword engine."""
    if engine_of(manifest_name) == TANTIVY:
        return keyword_tantivy.TantivyEngine(build_dir / FOLDER)
    return keyword_fts5.Fts5Engine(db, lock, tables)


# ---------------------------------------------------------------- writing (inside a staged build)


def stage(old: Path | None, tmp: Path) -> None:
    """Seed a staged build with a clone of the live build's engine folder.

    Clones, not hard links: a linked segment damaged in one build was damaged in both, so the
    build a reader falls back to was broken too. On a filesystem with reflinks a clone costs
    no space until written; elsewhere it is a copy (measured in benchmarks/README.md).
    """
    if old is not None and (old / FOLDER).is_dir():
        clone_tree(old / FOLDER, tmp / FOLDER)


def _current_engine(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT value FROM keyword_state WHERE key = 'engine'").fetchone()
    return row[0] if row else FTS5  # builds before keyword_state were all FTS5


def delete_chunks(db: sqlite3.Connection, rowids: list[int]) -> None:
    """Take chunks out of the keyword index (reference lists and such are never hits): their
    role, not this call, keeps them out; this makes sure the engine looks again."""
    db.executemany("INSERT OR IGNORE INTO keyword_pending VALUES (?)", [(r,) for r in rowids])


def apply_changes(db: sqlite3.Connection, build_dir: Path, manifest_name: str) -> None:
    """Make the build's engine hold exactly its chunks: patch the pending rowids, or rebuild.

    The engine is rebuilt from the chunks table when it is new to this build (another engine
    before, or its folder missing) or when most chunks changed; the other engine's data is
    dropped so a build carries one keyword index.
    """
    engine = engine_of(manifest_name)
    pending = [r[0] for r in db.execute("SELECT rowid FROM keyword_pending ORDER BY rowid")]
    n_chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    switched = _current_engine(db) != engine
    folder = build_dir / FOLDER
    full = switched or len(pending) > REBUILD_SHARE * max(n_chunks, 1)
    if engine == TANTIVY:
        full = full or not folder.is_dir()
        if switched:
            keyword_fts5.clear(db)
        keyword_tantivy.apply(db, folder, None if full else pending, indexed_sql())
    else:
        if folder.exists():
            shutil.rmtree(folder)
        keyword_fts5.apply(db, None if full else pending, indexed_sql())
    db.execute("DELETE FROM keyword_pending")
    db.execute("INSERT OR REPLACE INTO keyword_state VALUES ('engine', ?)", (engine,))


# ---------------------------------------------------------------- checking and repair


def _engine_in(db: sqlite3.Connection) -> str:
    """The engine a build's database says holds its keywords (FTS5 before keyword_state)."""
    has_state = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keyword_state'"
    ).fetchone()
    return _current_engine(db) if has_state else FTS5


def held_rowids(db: sqlite3.Connection, build_dir: Path) -> np.ndarray:
    """Every rowid the build's keyword index holds, whichever engine: for integrity checks
    and repair (a damaged engine raises; callers report it)."""
    if _engine_in(db) == TANTIVY:
        return keyword_tantivy.TantivyEngine(build_dir / FOLDER).rowids()
    rows = db.execute("SELECT rowid FROM chunks_fts_docsize ORDER BY rowid").fetchall()
    return np.array([r[0] for r in rows], dtype="int64")


def count_rows(db: sqlite3.Connection, build_dir: Path) -> int:
    """Rows in the build's keyword index (FTS5 keeps one docsize row per chunk)."""
    if _engine_in(db) == TANTIVY:
        return keyword_tantivy.TantivyEngine(build_dir / FOLDER).count()
    return int(db.execute("SELECT COUNT(*) FROM chunks_fts_docsize").fetchone()[0])


def rebuild(db: sqlite3.Connection, build_dir: Path) -> None:
    """Write the build's keyword index anew from the chunks table, in the engine it uses
    (`synth repair`); only content chunks, as at ingest."""
    if _engine_in(db) == TANTIVY:
        keyword_tantivy.apply(db, build_dir / FOLDER, None, indexed_sql())
        return
    for table in ("chunks_vocab", "chunks_fts"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    db.executescript(keyword_fts5.SCHEMA)
    keyword_fts5.apply(db, None, indexed_sql())
