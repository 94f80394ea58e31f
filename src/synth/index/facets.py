"""Facet tags in the index database: storing automatic tags, merging manifest and curator tags,
and turning `--where` filters into the exact set of chunk ids they allow.

Precedence, lowest to highest: automatic tags (rule, model), then manifest metadata (replaces a
facet's automatic values), then curator tags (kept by file path, so they survive re-ingest and a
changed file). A chunk carries its own tags plus its document's, minus what a curator unset.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from synth.ingest.metadata import DocMetadata
from synth.ingest.study import STUDY_VERSION
from synth.ingest.study.tags import RECORD_FACETS, record_tags
from synth.ingest.tag import (
    TAGGER_VERSION,
    ChunkInput,
    Tagger,
    TagThresholds,
    label_vectors,
    tag_chunks_in_time,
)
from synth.models import Filters, StudyRecord, Tag
from synth.taxonomy import DERIVED_FROM_COUNTRY, Taxonomy, TaxonomyError

from .studies import CONTENT_SQL

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunk_tags (
    chunk INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    origin TEXT NOT NULL,
    confidence REAL NOT NULL,
    PRIMARY KEY (chunk, facet, value)
);
CREATE INDEX IF NOT EXISTS chunk_tags_value ON chunk_tags(facet, value, confidence);
CREATE TABLE IF NOT EXISTS chunks_tagged (
    chunk INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS doc_auto_tags (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    origin TEXT NOT NULL,
    confidence REAL NOT NULL,
    PRIMARY KEY (doc_id, facet, value)
);
CREATE TABLE IF NOT EXISTS doc_tags (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    origin TEXT NOT NULL,
    confidence REAL NOT NULL,
    PRIMARY KEY (doc_id, facet, value)
);
CREATE INDEX IF NOT EXISTS doc_tags_value ON doc_tags(facet, value);
CREATE TABLE IF NOT EXISTS doc_untags (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (doc_id, facet, value)
);
CREATE TABLE IF NOT EXISTS doc_meta (
    doc_id TEXT PRIMARY KEY REFERENCES documents(doc_id) ON DELETE CASCADE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS curator_tags (
    path TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('set', 'unset')),
    at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (path, facet, value)
);
CREATE TABLE IF NOT EXISTS tag_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Query = Callable[[str, Sequence[object]], list[sqlite3.Row]]


@dataclass(frozen=True)
class FacetCount:
    value: str
    label: str
    chunks: int
    documents: int


@dataclass(frozen=True)
class DocTags:
    """What `synth tag show` prints: a document's effective tags and the curator's unsets."""

    doc_id: str
    source: str
    tags: list[Tag]
    unset: list[tuple[str, str]]
    metadata: DocMetadata | None


def tag_digest(taxonomy: Taxonomy) -> str:
    """Changes whenever tags must be recomputed: the tagger, the record rules or the taxonomy."""
    return f"{TAGGER_VERSION}:{STUDY_VERSION}:{taxonomy.digest}"


# ---------------------------------------------------------------- writing (inside a staged build)


def store_metadata(db: sqlite3.Connection, doc_id: str, meta: DocMetadata | None) -> bool:
    """Record a document's matched metadata; True if it differs from what was stored."""
    row = db.execute("SELECT data FROM doc_meta WHERE doc_id = ?", (doc_id,)).fetchone()
    new = json.dumps(meta.to_json(), sort_keys=True) if meta else None
    if (row[0] if row else None) == new:
        return False
    db.execute("DELETE FROM doc_meta WHERE doc_id = ?", (doc_id,))
    if new is not None:
        db.execute("INSERT INTO doc_meta VALUES (?, ?)", (doc_id, new))
        if meta and meta.title:
            db.execute("UPDATE documents SET title = ? WHERE doc_id = ?", (meta.title, doc_id))
    return True


def _vector(blob: bytes | None) -> np.ndarray | None:
    return np.frombuffer(blob, dtype="float32") if blob else None


def tag_build(
    db: sqlite3.Connection,
    taxonomy: Taxonomy,
    get_embedder: Callable[[], object],
    thresholds: TagThresholds | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
) -> int:
    """Tag chunks not yet tagged (all, when the taxonomy changed); return documents tagged.

    With `on_error`, a document whose tagging fails leaves no tags and is handed to it (with
    the error) instead of failing the build.
    """
    digest = tag_digest(taxonomy)
    row = db.execute("SELECT value FROM tag_state WHERE key = 'digest'").fetchone()
    if row is None or row[0] != digest:
        db.execute("DELETE FROM chunk_tags")
        db.execute("DELETE FROM chunks_tagged")
        db.execute("DELETE FROM doc_auto_tags")
    docs = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT doc_id FROM chunks WHERE id NOT IN (SELECT chunk FROM chunks_tagged)"
        )
    ]
    if docs:
        embedder = get_embedder()
        tagger = Tagger(taxonomy, label_vectors(taxonomy, embedder), thresholds)  # type: ignore[arg-type]
        for doc_id in docs:
            if on_error is None:
                _tag_document(db, tagger, doc_id)
                continue
            db.execute("SAVEPOINT tag_doc")
            try:
                _tag_document(db, tagger, doc_id)
            except Exception as exc:
                db.execute("ROLLBACK TO tag_doc")
                on_error(doc_id, exc)
            db.execute("RELEASE tag_doc")
    refresh_effective(db, taxonomy)
    db.execute("INSERT OR REPLACE INTO tag_state VALUES ('digest', ?)", (digest,))
    return len(docs)


def _tag_document(db: sqlite3.Connection, tagger: Tagger, doc_id: str) -> None:
    rows = db.execute(
        "SELECT c.id, c.section, c.text, e.vector FROM chunks c "
        "LEFT JOIN embeddings e ON e.hash = c.embed_hash WHERE c.doc_id = ? ORDER BY c.seq",
        (doc_id,),
    ).fetchall()
    inputs = [ChunkInput(r[2], r[1], _vector(r[3])) for r in rows]
    per_chunk = tag_chunks_in_time(tagger, inputs)
    title = db.execute("SELECT title FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()[0]
    head = " ".join(
        r[0]
        for r in db.execute(
            "SELECT text FROM pages WHERE doc_id = ? ORDER BY page LIMIT 2", (doc_id,)
        )
    )
    doc_tags = _with_record(
        db, doc_id, tagger.tag_document(inputs, per_chunk, title, head), tagger.taxonomy
    )
    per_chunk = tagger.confirm(per_chunk, doc_tags)
    db.execute(
        "DELETE FROM chunk_tags WHERE chunk IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,)
    )
    db.executemany(
        "INSERT INTO chunk_tags VALUES (?,?,?,?,?)",
        [
            (r[0], t.facet, t.value, t.origin, t.confidence)
            for r, tags in zip(rows, per_chunk, strict=True)
            for t in tags
        ],
    )
    db.executemany("INSERT OR IGNORE INTO chunks_tagged VALUES (?)", [(r[0],) for r in rows])
    db.execute("DELETE FROM doc_auto_tags WHERE doc_id = ?", (doc_id,))
    db.executemany(
        "INSERT INTO doc_auto_tags VALUES (?,?,?,?,?)",
        [(doc_id, t.facet, t.value, t.origin, t.confidence) for t in doc_tags],
    )


def _with_record(
    db: sqlite3.Connection, doc_id: str, tags: list[Tag], taxonomy: Taxonomy
) -> list[Tag]:
    """The study record decides what the document is and where it took place; the phrase
    tagger's document-level values for those facets (and the region and income they imply)
    give way to it. Topics stay the tagger's."""
    row = db.execute("SELECT data FROM studies WHERE doc_id = ?", (doc_id,)).fetchone()
    if row is None:
        return tags
    replaced = {*RECORD_FACETS, *DERIVED_FROM_COUNTRY, "year"}
    record = StudyRecord.from_json(json.loads(row[0]))
    return [t for t in tags if t.facet not in replaced] + record_tags(record, taxonomy)


def _add_with_derived(tags: dict[tuple[str, str], Tag], taxonomy: Taxonomy, tag: Tag) -> None:
    tags[(tag.facet, tag.value)] = tag
    country = taxonomy.country(tag.value) if tag.facet == "country" else None
    for derived in DERIVED_FROM_COUNTRY if country else ():
        target = getattr(country, derived, None)
        if target:
            tags[(derived, target)] = Tag(derived, target, tag.origin, tag.confidence)


def manifest_tags(meta: DocMetadata, taxonomy: Taxonomy) -> tuple[list[Tag], list[str]]:
    """Resolve a manifest's raw facet values to tags; unknown values come back as warnings."""
    tags: list[Tag] = []
    warnings: list[str] = []
    for facet, raws in meta.facets.items():
        for raw in raws:
            try:
                tags.append(
                    Tag(taxonomy.facet(facet).name, taxonomy.resolve(facet, raw), "manifest", 1.0)
                )
            except TaxonomyError as exc:
                warnings.append(str(exc))
    if meta.year:
        tags.append(Tag("year", str(meta.year), "manifest", 1.0))
    return tags, warnings


def _merge(
    auto: list[Tag],
    manifest: list[Tag],
    curator: list[tuple[str, str, str]],
    taxonomy: Taxonomy,
) -> tuple[list[Tag], set[tuple[str, str]]]:
    tags: dict[tuple[str, str], Tag] = {(t.facet, t.value): t for t in auto}
    replaced = {t.facet for t in manifest}
    if "country" in replaced:
        replaced.update(DERIVED_FROM_COUNTRY)
    tags = {k: v for k, v in tags.items() if k[0] not in replaced}
    for tag in manifest:
        _add_with_derived(tags, taxonomy, tag)
    unset: set[tuple[str, str]] = set()
    for facet, value, action in curator:
        if action == "set":
            unset.discard((facet, value))
            _add_with_derived(tags, taxonomy, Tag(facet, value, "curator", 1.0))
        else:
            unset.add((facet, value))
            tags.pop((facet, value), None)
    return sorted(tags.values(), key=lambda t: (t.facet, -t.confidence, t.value)), unset


def refresh_effective(db: sqlite3.Connection, taxonomy: Taxonomy) -> None:
    """Recompute every document's effective tags from automatic, manifest and curator tags."""
    auto: dict[str, list[Tag]] = defaultdict(list)
    for r in db.execute("SELECT doc_id, facet, value, origin, confidence FROM doc_auto_tags"):
        auto[r[0]].append(Tag(r[1], r[2], r[3], r[4]))
    metas = {
        r[0]: DocMetadata.from_json(json.loads(r[1])) for r in db.execute("SELECT * FROM doc_meta")
    }
    db.execute("DELETE FROM doc_tags")
    db.execute("DELETE FROM doc_untags")
    for doc_id, path in db.execute("SELECT doc_id, path FROM documents").fetchall():
        manifest = manifest_tags(metas[doc_id], taxonomy)[0] if doc_id in metas else []
        curator = [
            (r[0], r[1], r[2])
            for r in db.execute(
                "SELECT facet, value, action FROM curator_tags WHERE path = ? OR doc_id = ? "
                "ORDER BY at",
                (path, doc_id),
            )
        ]
        tags, unset = _merge(auto[doc_id], manifest, curator, taxonomy)
        db.executemany(
            "INSERT INTO doc_tags VALUES (?,?,?,?,?)",
            [(doc_id, t.facet, t.value, t.origin, t.confidence) for t in tags],
        )
        db.executemany(
            "INSERT INTO doc_untags VALUES (?,?,?)", [(doc_id, f, v) for f, v in sorted(unset)]
        )


def record_curator(
    db: sqlite3.Connection,
    doc_id: str,
    changes: Iterable[tuple[str, str, str]],
    note: str = "",
) -> None:
    """Store curator set/unset rows against the document's path and id."""
    path = db.execute("SELECT path FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()[0]
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    db.executemany(
        "INSERT OR REPLACE INTO curator_tags VALUES (?,?,?,?,?,?,?)",
        [(path, doc_id, facet, value, action, now, note) for facet, value, action in changes],
    )


# ---------------------------------------------------------------- reading


def parse_where(
    clauses: Iterable[str],
    taxonomy: Taxonomy,
    year_from: int | None = None,
    year_to: int | None = None,
) -> Filters:
    """`facet=value` strings to Filters; values may be ids, labels, synonyms or demonyms."""
    values: dict[str, list[str]] = defaultdict(list)
    for clause in clauses:
        facet, sep, raw = clause.partition("=")
        if not sep or not raw.strip():
            raise TaxonomyError(f"'{clause}' is not facet=value (e.g. country=Ghana)")
        name = taxonomy.facet(facet).name
        for part in raw.split(","):
            if part.strip():
                value = taxonomy.resolve(name, part)
                if value not in values[name]:
                    values[name].append(value)
    if name_year := values.pop("year", None):
        years = [int(y) for y in name_year]
        year_from = min(years) if year_from is None else year_from
        year_to = max(years) if year_to is None else year_to
    return Filters({k: tuple(v) for k, v in values.items()}, year_from, year_to)


# Facets a passage can match on its own: a review's section on feedback is about feedback.
# Every other facet describes the document (what it is, where it took place), so a chunk that
# merely mentions a country never makes its document match.
CHUNK_FACETS = ("topic", "evidence_use", "level")


def filter_sql(
    filters: Filters, min_confidence: float, has_roles: bool = True
) -> tuple[str, list[object]]:
    """SQL selecting the ids of content chunks that pass every facet of the filter
    (`has_roles` False for builds made before chunk roles, where every chunk is content)."""
    clauses: list[str] = []
    params: list[object] = []
    for facet, values in sorted(filters.values.items()):
        marks = ",".join("?" * len(values))
        doc_clause = (
            f"c.doc_id IN (SELECT doc_id FROM doc_tags WHERE facet = ? AND value IN ({marks}))"
        )
        if facet not in CHUNK_FACETS:
            clauses.append(doc_clause)
            params += [facet, *values]
            continue
        clauses.append(
            f"({doc_clause} "
            f"OR c.id IN (SELECT ct.chunk FROM chunk_tags ct JOIN chunks c2 ON c2.id = ct.chunk "
            f"WHERE ct.facet = ? AND ct.value IN ({marks}) AND ct.confidence >= ? "
            "AND NOT EXISTS (SELECT 1 FROM doc_untags u WHERE u.doc_id = c2.doc_id "
            "AND u.facet = ct.facet AND u.value = ct.value)))"
        )
        params += [facet, *values, facet, *values, min_confidence]
    if filters.year_from is not None or filters.year_to is not None:
        clauses.append(
            "c.doc_id IN (SELECT doc_id FROM doc_tags WHERE facet = 'year' "
            "AND CAST(value AS INTEGER) BETWEEN ? AND ?)"
        )
        params += [filters.year_from or 0, filters.year_to or 9999]
    if has_roles:
        clauses.append(CONTENT_SQL)
    return f"SELECT c.id FROM chunks c WHERE {' AND '.join(clauses) or '1'}", params


def chunk_facets(
    query: Query, rowids: Sequence[int], min_confidence: float
) -> dict[int, dict[str, list[str]]]:
    """Each chunk's effective facet values: its document's tags, its own, minus curator unsets."""
    if not rowids:
        return {}
    ids = json.dumps([int(r) for r in rowids])
    out: dict[int, dict[str, set[str]]] = {int(r): defaultdict(set) for r in rowids}
    rows = query(
        "SELECT c.id, t.facet, t.value FROM chunks c JOIN doc_tags t ON t.doc_id = c.doc_id "
        "WHERE c.id IN (SELECT value FROM json_each(?)) "
        "UNION SELECT ct.chunk, ct.facet, ct.value FROM chunk_tags ct JOIN chunks c "
        "ON c.id = ct.chunk WHERE ct.chunk IN (SELECT value FROM json_each(?)) "
        "AND ct.confidence >= ? AND NOT EXISTS (SELECT 1 FROM doc_untags u "
        "WHERE u.doc_id = c.doc_id AND u.facet = ct.facet AND u.value = ct.value)",
        (ids, ids, min_confidence),
    )
    for r in rows:
        out[r[0]][r[1]].add(r[2])
    return {k: {f: sorted(v) for f, v in sorted(d.items())} for k, d in out.items()}


def facet_counts(
    query: Query, rowids: Sequence[int], taxonomy: Taxonomy, min_confidence: float
) -> dict[str, list[FacetCount]]:
    """Per facet value, how many distinct documents among these chunks' documents carry it
    (and how many of the chunks belong to them). A document counts by its own tags; for the
    chunk facets (topic), also by a matched chunk's confident tag."""
    if not rowids:
        return {}
    ids = json.dumps([int(r) for r in rowids])
    doc_of = dict(
        query("SELECT id, doc_id FROM chunks WHERE id IN (SELECT value FROM json_each(?))", (ids,))
    )
    return _count(query, doc_of, taxonomy, min_confidence)


def document_counts(
    query: Query, doc_ids: Sequence[str], taxonomy: Taxonomy
) -> dict[str, list[FacetCount]]:
    """Per facet value, how many of these documents carry it (study results, browsing);
    `chunks` is 0, as no passage was counted."""
    return _count(query, {}, taxonomy, 1.0, list(doc_ids))


def _count(
    query: Query,
    doc_of: dict[int, str],
    taxonomy: Taxonomy,
    min_confidence: float,
    doc_ids: Sequence[str] | None = None,
) -> dict[str, list[FacetCount]]:
    docs = sorted(set(doc_of.values()) if doc_ids is None else set(doc_ids))
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    sql = (
        "SELECT doc_id, facet, value FROM doc_tags WHERE doc_id IN (SELECT value FROM json_each(?))"
    )
    for doc_id, facet, value in query(sql, (json.dumps(docs),)):
        values[(facet, value)].add(doc_id)
    if doc_of:
        for rowid, facets in chunk_facets(query, list(doc_of), min_confidence).items():
            for facet in CHUNK_FACETS:
                for value in facets.get(facet, []):
                    values[(facet, value)].add(doc_of[rowid])
    chunks_per_doc: dict[str, int] = defaultdict(int)
    for doc_id in doc_of.values():
        chunks_per_doc[doc_id] += 1
    out: dict[str, list[FacetCount]] = defaultdict(list)
    for (facet, value), holders in values.items():
        spec = taxonomy.facets.get(facet)
        label = spec.label_of(value) if spec else value
        n_chunks = sum(chunks_per_doc[d] for d in holders)
        out[facet].append(FacetCount(value, label, n_chunks, len(holders)))
    return {
        f: sorted(items, key=lambda c: (-c.documents, -c.chunks, c.label))
        for f, items in sorted(out.items())
    }


def document_tags(query: Query, doc_id: str) -> DocTags:
    source = query("SELECT source FROM documents WHERE doc_id = ?", (doc_id,))[0][0]
    tags = [
        Tag(r[0], r[1], r[2], r[3])
        for r in query(
            "SELECT facet, value, origin, confidence FROM doc_tags WHERE doc_id = ? "
            "ORDER BY facet, confidence DESC, value",
            (doc_id,),
        )
    ]
    unset = [
        (r[0], r[1])
        for r in query("SELECT facet, value FROM doc_untags WHERE doc_id = ?", (doc_id,))
    ]
    meta_rows = query("SELECT data FROM doc_meta WHERE doc_id = ?", (doc_id,))
    meta = DocMetadata.from_json(json.loads(meta_rows[0][0])) if meta_rows else None
    return DocTags(doc_id, source, tags, unset, meta)
