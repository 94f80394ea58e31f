"""The keyword engine: BM25 over chunk text, section and title, behind one small interface.

Today the engine is SQLite FTS5 with the porter stemmer, in the build's own database. It owns
its query syntax: user text reaches FTS5 only as double-quoted word tokens joined by OR, so no
input can form an FTS5 expression. Search returns (rowid, score) pairs, best first, restricted
exactly to an allowed set of rowids when one is given.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading

import numpy as np

FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, section, title, tokenize = '{FTS_TOKENIZER}'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
CREATE TABLE IF NOT EXISTS common_terms (term TEXT PRIMARY KEY, docs INTEGER NOT NULL);
"""
NAME = "sqlite fts5 (porter unicode61)"
MAX_QUERY_TERMS = 48
# Terms in more than this share of chunks are dropped from keyword queries (once an index has
# COMMON_MIN_CHUNKS chunks): BM25 would score nearly every chunk for "in" or "schools", the
# cost of a keyword query at 100k chunks, while they barely move the ranking.
COMMON_SHARE = 0.5
COMMON_MIN_CHUNKS = 1000


def query_terms(query: str) -> list[str]:
    """Distinct lowercase word tokens of a query, in order, at most MAX_QUERY_TERMS."""
    return list(dict.fromkeys(re.findall(r"\w+", query.lower())))[:MAX_QUERY_TERMS]


def fts_query(query: str, drop: set[str] | frozenset[str] = frozenset()) -> str:
    """Build an FTS5 MATCH expression that cannot be a syntax error: quoted terms joined by OR.

    Only word characters survive, each term is wrapped in double quotes, so operators, quotes,
    brackets and column filters in user text are read as plain words (or dropped). Terms in
    `drop` (too common to help, see KeywordIndex.common_words) are left out unless nothing else
    is left.
    """
    terms = query_terms(query)
    kept = [t for t in terms if t not in drop] or terms
    return " OR ".join(f'"{term}"' for term in kept)


# ---------------------------------------------------------------- writing (inside a staged build)


def insert_chunk(
    db: sqlite3.Connection, rowid: int | None, text: str, section: str, title: str
) -> None:
    db.execute(
        "INSERT INTO chunks_fts (rowid, text, section, title) VALUES (?,?,?,?)",
        (rowid, text, section, title),
    )


def delete_document(db: sqlite3.Connection, doc_id: str) -> None:
    db.execute(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,)
    )


def delete_chunks(db: sqlite3.Connection, rowids: list[int]) -> None:
    """Drop chunks from the keyword index only (reference lists and such are never hits)."""
    db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(r,) for r in rowids])


def refresh_common_terms(db: sqlite3.Connection) -> None:
    """Record the stems too common to help a keyword query (see COMMON_SHARE)."""
    db.execute("DELETE FROM common_terms")
    n = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    if n >= COMMON_MIN_CHUNKS:
        db.execute(
            "INSERT INTO common_terms SELECT term, doc FROM chunks_vocab WHERE doc > ?",
            (COMMON_SHARE * n,),
        )


# ---------------------------------------------------------------- reading


class KeywordIndex:
    """BM25 search over one build's chunks; shares the reader's connection and lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, tables: set[str]) -> None:
        self.db = db
        self._lock = lock
        self._tables = tables
        self._stemmer_ready = False

    def search(
        self,
        query: str,
        limit: int,
        allowed: np.ndarray | None = None,
        drop_common: bool = True,
    ) -> list[tuple[int, float]]:
        """Best `limit` (rowid, BM25) pairs for user text, best first.

        With `allowed`, only those rowids are ranked, inside SQLite, so the best `limit` among
        them come back however few they are. `drop_common` leaves out stems found in over half
        the chunks (see COMMON_SHARE).
        """
        drop = self.common_words(query_terms(query)) if drop_common else set()
        return self.match(fts_query(query, drop), limit, allowed)

    def match(
        self, expression: str, limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Rank by an FTS5 expression that is already safe (built by `fts_query`)."""
        if not expression or limit <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        sql = (
            "SELECT rowid, bm25(chunks_fts, 1.0, 0.6, 0.3) AS s FROM chunks_fts "
            "WHERE chunks_fts MATCH ?"
        )
        params: list[object] = [expression]
        if allowed is not None:
            # The unary + keeps FTS5 from running the match once per allowed rowid (100x
            # slower for a broad filter); the match runs once and the set filters its rows.
            sql += " AND +rowid IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(allowed.tolist()))
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY s LIMIT ?", (*params, limit)).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

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


# ---------------------------------------------------------------- integrity and repair


def count_rows(db: sqlite3.Connection) -> int:
    """Rows in the keyword index (FTS5 keeps one docsize row per chunk), for integrity checks."""
    return int(db.execute("SELECT COUNT(*) FROM chunks_fts_docsize").fetchone()[0])


def rebuild(db: sqlite3.Connection, where: str = "1") -> None:
    """Write the keyword index anew from the chunks table (`synth repair`); `where` (SQL over
    chunks `c`) keeps out chunks that are never hits."""
    for table in ("chunks_vocab", "chunks_fts"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    db.executescript(SCHEMA)
    db.execute(
        "INSERT INTO chunks_fts (rowid, text, section, title) SELECT c.id, c.text, c.section, "
        f"d.title FROM chunks c JOIN documents d USING (doc_id) WHERE {where}"
    )
    refresh_common_terms(db)
