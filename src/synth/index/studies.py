"""Study records and chunk roles in the index: stored at ingest, rebuilt when the rules change,
read back with curator and manifest corrections applied.

A build made before study records existed gets them on its next ingest, from the pages and
sentences it already stores: no file is parsed again and no vector is recomputed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace

from synth.ingest.study import STUDY_VERSION, build_record, chunk_role
from synth.models import Chunk, Document, Page, SentenceSpan, StudyRecord, Tag
from synth.taxonomy import Taxonomy

from . import keyword

SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    doc_id TEXT PRIMARY KEY REFERENCES documents(doc_id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    kind TEXT,
    design TEXT,
    multi_country INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunk_roles (
    chunk INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    role TEXT NOT NULL
);
"""
CONTENT = "content"
# Chunks that are never hits: reference lists, tables of contents, acknowledgements.
CONTENT_SQL = (
    "NOT EXISTS (SELECT 1 FROM chunk_roles r WHERE r.chunk = c.id AND r.role != 'content')"
)
Query = Callable[[str, Sequence[object]], list[sqlite3.Row]]
# Facets a curator or a manifest may correct on a record, and the record field each sets.
OVERRIDABLE = {"kind": "kind", "design": "design", "country": "countries", "phase": "phase",
               "setting": "setting"}  # fmt: skip


def store_record(db: sqlite3.Connection, record: StudyRecord) -> None:
    db.execute(
        "INSERT OR REPLACE INTO studies VALUES (?,?,?,?,?,?)",
        (
            record.doc_id,
            STUDY_VERSION,
            record.kind,
            record.design,
            int(record.multi_country),
            json.dumps(record.to_json(), ensure_ascii=False),
        ),
    )


def store_roles(db: sqlite3.Connection, rowids: Sequence[int], roles: Sequence[str]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO chunk_roles VALUES (?,?)", list(zip(rowids, roles, strict=True))
    )


def load_document(db: sqlite3.Connection, doc_id: str) -> tuple[Document, list[Chunk], list[int]]:
    """A stored document rebuilt from its pages and sentences, with its chunks' rowids."""
    row = db.execute(
        "SELECT doc_id, source, path, content_hash, title, author, created, modified, kind "
        "FROM documents WHERE doc_id = ?",
        (doc_id,),
    ).fetchone()
    pages = [
        Page(r[0], r[1])
        for r in db.execute(
            "SELECT page, text FROM pages WHERE doc_id = ? ORDER BY page", (doc_id,)
        )
    ]
    doc = Document(row[0], row[1], row[2], row[3], row[4], pages, row[5], row[6], row[7], row[8])
    spans: dict[int, list[SentenceSpan]] = {}
    for chunk, page, start, end in db.execute(
        "SELECT s.chunk, s.page, s.start, s.end FROM sentences s JOIN chunks c ON c.id = s.chunk "
        "WHERE c.doc_id = ? ORDER BY s.chunk, s.idx",
        (doc_id,),
    ):
        spans.setdefault(chunk, []).append(SentenceSpan(page, start, end))
    chunks, rowids = [], []
    for rowid, chunk_id, seq, section, p0, p1, text in db.execute(
        "SELECT id, chunk_id, seq, section, page_start, page_end, text FROM chunks "
        "WHERE doc_id = ? ORDER BY seq",
        (doc_id,),
    ):
        path = section.split(" > ") if section else []
        chunks.append(Chunk(chunk_id, doc_id, seq, path, p0, p1, text, spans.get(rowid, [])))
        rowids.append(rowid)
    return doc, chunks, rowids


def refresh_records(
    db: sqlite3.Connection,
    taxonomy: Taxonomy,
    on_error: Callable[[str, Exception], None] | None = None,
) -> int:
    """Build records (and chunk roles) for documents that lack them or have stale ones.

    With `on_error`, a document whose record fails is left as it was and handed to it.
    """
    stale = [
        r[0]
        for r in db.execute(
            "SELECT d.doc_id FROM documents d LEFT JOIN studies s ON s.doc_id = d.doc_id "
            "WHERE s.version IS NULL OR s.version != ? OR EXISTS (SELECT 1 FROM chunks c "
            "WHERE c.doc_id = d.doc_id AND c.id NOT IN (SELECT chunk FROM chunk_roles))",
            (STUDY_VERSION,),
        )
    ]
    for doc_id in stale:
        db.execute("SAVEPOINT record")
        try:
            _refresh_record(db, doc_id, taxonomy)
        except Exception as exc:
            if on_error is None:
                raise
            db.execute("ROLLBACK TO record")
            on_error(doc_id, exc)
        db.execute("RELEASE record")
    return len(stale)


def _refresh_record(db: sqlite3.Connection, doc_id: str, taxonomy: Taxonomy) -> None:
    doc, chunks, rowids = load_document(db, doc_id)
    store_record(db, build_record(doc, chunks, taxonomy))
    roles = [chunk_role(chunk, doc.title) for chunk in chunks]
    store_roles(db, rowids, roles)
    keyword.delete_chunks(db, [r for r, role in zip(rowids, roles, strict=True) if role != CONTENT])


def _record(data: str, tags: Sequence[Tag], unset: Sequence[tuple[str, str]]) -> StudyRecord:
    """A stored record with the curator's and the manifest's corrections applied: a value
    they set replaces the record's values for that facet, a value they unset is dropped."""
    record = StudyRecord.from_json(json.loads(data))
    values: dict[str, list[str]] = {}
    for tag in tags:
        if tag.origin in ("curator", "manifest") and tag.facet in OVERRIDABLE:
            values.setdefault(tag.facet, []).append(tag.value)
    for facet, value in unset:
        if facet in OVERRIDABLE and facet not in values:
            current = getattr(record, OVERRIDABLE[facet])
            kept = [
                v for v in ([current] if isinstance(current, str) else current or []) if v != value
            ]
            values[facet] = kept
    changes: dict[str, object] = {}
    for facet, items in values.items():
        name = OVERRIDABLE[facet]
        changes[name] = (items[0] if items else None) if name in ("kind", "design") else items
    if "countries" in changes:
        many = len(changes["countries"]) >= 3  # type: ignore[arg-type]
        changes["multi_country"] = many or record.multi_country
    return replace(record, **changes) if changes else record  # type: ignore[arg-type]


def read_records(query: Query, doc_ids: Sequence[str] | None = None) -> dict[str, StudyRecord]:
    """Records by doc id (all, or those asked for), corrections applied."""
    scope, params = "", []
    if doc_ids is not None:
        scope = " WHERE doc_id IN (SELECT value FROM json_each(?))"
        params = [json.dumps(list(doc_ids))]
    rows = query(f"SELECT doc_id, data FROM studies{scope}", params)
    tags: dict[str, list[Tag]] = {}
    for r in query(f"SELECT doc_id, facet, value, origin, confidence FROM doc_tags{scope}", params):
        if r[3] in ("curator", "manifest"):
            tags.setdefault(r[0], []).append(Tag(r[1], r[2], r[3], r[4]))
    unset: dict[str, list[tuple[str, str]]] = {}
    for r in query(f"SELECT doc_id, facet, value FROM doc_untags{scope}", params):
        unset.setdefault(r[0], []).append((r[1], r[2]))
    return {r[0]: _record(r[1], tags.get(r[0], []), unset.get(r[0], [])) for r in rows}
