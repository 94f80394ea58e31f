"""Reading one build: a thin view over its store (SQLite), vectors (FAISS) and keyword engine."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synth.models import Filters, StudyRecord

from . import facets, health, keyword, store, studies
from .build import DEFAULT_INDEX_DIR, IndexNotFound, Manifest
from .health import IndexDamaged
from .store import ChunkRecord, DocumentRecord
from .vectors import read_dense

# Filters whose allowed rowids are kept per open build (a build never changes): a teacher
# asks several questions under one filter, and a broad filter at 10M chunks takes seconds
# to resolve in SQLite (benchmarks/README.md, "Past one machine"). At most 2.5M rowids
# (20 MB) each at 10M.
FILTER_CACHE_SIZE = 8


@dataclass
class IndexStats:
    manifest: Manifest
    path: Path
    bytes_on_disk: int
    documents: list[DocumentRecord] = field(default_factory=list)


class Index:
    """A read-only view of one build; safe to share between threads (Streamlit reruns).

    `dense` ranks by vector, `keyword` by BM25; both return (rowid, score) pairs, which the
    search layer fuses and turns into hits through `chunks`.
    """

    def __init__(self, root: Path, build_dir: Path) -> None:
        self.root = root
        self.path = build_dir
        # Set when this is not the build CURRENT names (CURRENT or that build is damaged).
        self.warning = ""
        self.manifest = health.load_manifest(build_dir)
        damage = health.file_problems(build_dir, self.manifest)
        if damage:  # before SQLite or FAISS read a byte of a damaged file
            raise IndexDamaged("; ".join(damage))
        self.db = store.connect(build_dir / "synth.sqlite", readonly=True)
        self.dense = read_dense(build_dir / "vectors.faiss")
        self.vectors = self.dense.index
        self._lock = threading.Lock()
        # A build never changes, so which tables it has is read once, not on every search.
        self._tables = {r[0] for r in self.query("SELECT name FROM sqlite_master")}
        self.keyword = keyword.open_engine(
            self.manifest.keyword_index, build_dir, self.db, self._lock, self._tables
        )
        self._filtered: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()

    @classmethod
    def open(cls, root: str | Path = DEFAULT_INDEX_DIR) -> Index:
        """The live build; if CURRENT or that build is damaged, the newest whole build, with
        `warning` saying so. IndexDamaged when no build is whole."""
        root = Path(root)
        candidates, pointer_problem = health.read_candidates(root)
        if not candidates:
            raise IndexNotFound(
                f"no index at '{root}': build one with `synth ingest corpus/ --index {root}`"
            )
        failures = [pointer_problem] if pointer_problem else []
        for build in candidates:
            try:
                index = cls(root, build)
            except Exception as exc:  # sqlite3, FAISS and manifest errors alike
                failures.append(f"build {build.name}: {' '.join(str(exc).split())[:200]}")
                continue
            problems = index.verify()
            if not problems:
                if failures:
                    index.warning = (
                        f"using build {build.name} because " + "; ".join(failures) + "; run "
                        f"`synth repair --index {root}` (`synth info --check` shows details)"
                    )
                return index
            index.close()
            failures.append(f"build {build.name}: {'; '.join(problems)}")
        raise IndexDamaged(health.damage_message(root, "; ".join(failures)))

    def verify(self) -> list[str]:
        """Chunk rows, keyword rows, vectors and the manifest disagree: what is wrong, or []."""
        try:
            counts = health.database_counts(self.db, self.keyword.count())
        except sqlite3.Error as exc:
            return [f"synth.sqlite cannot be read ({exc})"]
        counts["vectors"] = self.dense.ntotal
        return health.count_problems(counts, self.manifest)

    @property
    def build_id(self) -> str:
        return self.manifest.build_id

    def close(self) -> None:
        self.keyword.close()
        self.dense.close()
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
        """Best `limit` (rowid, cosine) pairs; with `allowed` (int64 rowids), only those rowids:
        exactly their best `limit` unless the filter is broad on an IVF index (vectors.py)."""
        return self.dense.search(vector, limit, allowed)

    def keyword_search(
        self, query: str, limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Best `limit` (rowid, BM25) pairs for user text; the engine owns the query syntax."""
        return self.keyword.search(query, limit, allowed)

    @property
    def has_facets(self) -> bool:
        """Builds made before tagging existed have no tag tables; they answer unfiltered only."""
        return "doc_tags" in self._tables

    def filter_ids(self, filters: Filters, min_confidence: float) -> np.ndarray:
        """Rowids of the chunks a filter allows, sorted and read-only; the exact set both
        retrievers use. The last FILTER_CACHE_SIZE filters are remembered."""
        if not self.has_facets:
            return np.empty(0, dtype="int64")
        key = (
            tuple(sorted((f, tuple(sorted(v))) for f, v in filters.values.items())),
            filters.year_from,
            filters.year_to,
            min_confidence,
        )
        with self._lock:
            if key in self._filtered:
                self._filtered.move_to_end(key)
                return self._filtered[key]
        sql, params = facets.filter_sql(filters, min_confidence, "chunk_roles" in self._tables)
        # One string rather than a Row per chunk: tens of thousands of small objects set off
        # full garbage collections (250 ms with a model loaded) on broad filters.
        text = self.query(f"SELECT group_concat(id) FROM ({sql})", params)[0][0]
        ids = np.sort(np.fromstring(text or "", dtype="int64", sep=","))
        ids.flags.writeable = False
        with self._lock:
            self._filtered[key] = ids
            while len(self._filtered) > FILTER_CACHE_SIZE:
                self._filtered.popitem(last=False)
        return ids

    def forget_filters(self) -> None:
        """Drop the remembered filters (benchmarks time a first question under a filter)."""
        with self._lock:
            self._filtered.clear()

    def chunk_facets(
        self, rowids: list[int], min_confidence: float
    ) -> dict[int, dict[str, list[str]]]:
        if not self.has_facets:
            return {}
        return facets.chunk_facets(self.query, rowids, min_confidence)

    def find_documents(self, targets: Iterable[str]) -> list[DocumentRecord]:
        """Documents named by doc id, file name or path (as `synth remove` and `tag` accept)."""
        named = store.names(targets)
        return [d for d in self.documents() if named(d.doc_id, d.source, d.path)]

    def chunks(self, rowids: list[int]) -> dict[int, ChunkRecord]:
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        rows = self.query(f"{store.CHUNK_SQL} WHERE c.id IN ({marks})", rowids)
        return {r["id"]: ChunkRecord(*tuple(r)) for r in rows}

    def rowids(self, chunk_ids: list[str]) -> dict[str, int]:
        """Rowids of the given chunk ids that exist in this build (a basket may be stale)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.query(f"SELECT id, chunk_id FROM chunks WHERE chunk_id IN ({marks})", chunk_ids)
        return {r["chunk_id"]: r["id"] for r in rows}

    def documents_of(self, rowids: np.ndarray | list[int]) -> set[str]:
        """The documents these chunk rowids belong to."""
        ids = json.dumps([int(r) for r in rowids])
        sql = "SELECT DISTINCT doc_id FROM chunks WHERE id IN (SELECT value FROM json_each(?))"
        return {r[0] for r in self.query(sql, (ids,))}

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
        return [DocumentRecord(*tuple(r)) for r in self.query(store.DOCUMENT_SQL)]

    def ocr_pages(self) -> dict[str, dict[int, float | None]]:
        """Pages read by OCR and their confidence, by doc id (none in builds before OCR)."""
        if "page_ocr" not in self._tables:
            return {}
        out: dict[str, dict[int, float | None]] = {}
        for r in self.query("SELECT doc_id, page, confidence FROM page_ocr"):
            out.setdefault(r[0], {})[r[1]] = r[2]
        return out

    @property
    def has_studies(self) -> bool:
        """Builds made before study records existed get them at their next ingest."""
        return "studies" in self._tables

    def multi_country_docs(self) -> set[str]:
        """Documents whose record covers several countries (capped on a result page)."""
        if not self.has_studies:
            return set()
        return {r[0] for r in self.query("SELECT doc_id FROM studies WHERE multi_country = 1")}

    def study(self, doc_id: str) -> StudyRecord | None:
        """What a document is, where it took place and what it found (curator corrections
        applied); None for a build made before study records."""
        return self.studies([doc_id]).get(doc_id)

    def studies(self, doc_ids: list[str] | None = None) -> dict[str, StudyRecord]:
        """Study records by doc id: all of them, or those of `doc_ids` that exist."""
        if not self.has_studies:
            return {}
        return studies.read_records(self.query, doc_ids)

    def document_tags(self, doc_id: str) -> facets.DocTags:
        return facets.document_tags(self.query, doc_id)

    def stats(self) -> IndexStats:
        size = sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return IndexStats(self.manifest, self.path, size, self.documents())
