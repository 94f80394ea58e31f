"""`synth repair`: make a damaged index whole again, losing as little as possible.

The SQLite tables of documents, pages and chunks are the record; the keyword index, the FAISS
vectors and the manifest are derived from them. So repair picks the best build whose database
reads (CURRENT's, else the newest), writes the derived parts anew in a new build, and re-reads
from their files the documents it cannot vouch for: those whose chunk rows were lost, and
those only a damaged build held. Anything it cannot restore is named in the report.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synth.ingest.chunk import ChunkSettings
from synth.ingest.embed import Embedder
from synth.models import NullProgress, Progress

from . import health, keyword, store, vectors
from .build import IndexNotFound, Manifest, locked, now, point_to, publish, staged_build
from .embedding import BackgroundEmbedder


@dataclass
class RepairReport:
    """What repair found and did; `reingest` are paths to read again, `lost` what cannot be."""

    found: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    reingest: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    build_id: str = ""


def repair(
    root: str | Path,
    load_embedder: Callable[[str], Embedder],
    progress: Progress | None = None,
) -> RepairReport:
    """Repair the index at `root` under its lock; the caller re-ingests `report.reingest`.

    `load_embedder(model)` is called only if chunks must be embedded again."""
    root = Path(root)
    report = RepairReport()
    with locked(root):
        builds = health.completed_builds(root)
        if not builds:
            raise IndexNotFound(f"no index at '{root}': nothing to repair")
        pointer, problem = health.read_pointer(root)
        checks = {b.name: health.check_build(b, full=True) for b in builds}
        if problem:
            report.found.append(problem)
        for name, check in checks.items():
            report.found += [f"build {name}: {p}" for p in check.problems]
        if pointer and checks[pointer].ok:
            report.build_id = pointer
            return report
        base = _choose_base(checks, pointer)
        if base is None:
            report.lost.append("no build has a readable database; re-ingest your files")
            return report
        if pointer and pointer != base.path.name:
            _only_in(checks[pointer], base, report)
        if base.ok:
            point_to(root, base.path.name)
            report.actions.append(f"CURRENT now names build {base.path.name}")
            report.build_id = base.path.name
        else:
            report.build_id = _rebuild(
                root, base, load_embedder, progress or NullProgress(), report
            )
    return report


def _choose_base(
    checks: dict[str, health.BuildHealth], pointer: str | None
) -> health.BuildHealth | None:
    """CURRENT's build if its database reads and is as it was written, else the newest such
    build. A database whose fingerprint changed is never a base, though it may still read:
    a new build from it would give altered text fresh fingerprints (its documents that no
    base holds are read again from their files instead)."""
    order = ([checks[pointer]] if pointer else []) + list(checks.values())
    usable = [c for c in order if c.readable and not any(_unsound(p) for p in c.problems)]
    return usable[0] if usable else None


def _unsound(problem: str) -> bool:
    return "integrity" in problem or problem.startswith("synth.sqlite changed")


def _documents(build: Path) -> dict[str, tuple[str, str]] | None:
    """content hash -> (source, path) of a build's documents; None if unreadable."""
    try:
        with contextlib.closing(store.connect(build / "synth.sqlite", readonly=True)) as db:
            rows = db.execute("SELECT content_hash, source, path FROM documents").fetchall()
    except sqlite3.Error:
        return None
    return {r[0]: (r[1], r[2]) for r in rows}


def _only_in(damaged: health.BuildHealth, base: health.BuildHealth, report: RepairReport) -> None:
    """Documents the damaged live build held and the base lacks: to be read again."""
    theirs, ours = _documents(damaged.path), _documents(base.path) or {}
    if theirs is None:
        held = damaged.manifest.n_documents if damaged.manifest else "?"
        report.lost.append(
            f"build {damaged.path.name} cannot be read: of its {held} documents, those added "
            f"after build {base.path.name} must be ingested again"
        )
        return
    report.reingest += [path for h, (_, path) in theirs.items() if h not in ours]


def _lost_chunk_documents(db: sqlite3.Connection, build: Path) -> dict[str, str]:
    """doc id -> path of documents whose chunk rows are gone: chunk ids the keyword index or
    FAISS still hold belong to the documents on either side of them, and a document with no
    chunk at all lost them all."""
    known: set[int] = set()
    with contextlib.suppress(Exception):  # a damaged engine or FAISS file tells nothing
        known |= set(keyword.held_rowids(db, build).tolist())
    with contextlib.suppress(Exception):
        dense = vectors.read_dense(build / "vectors.faiss")
        known |= set(np.asarray(dense._ids).tolist())
        dense.close()
    present = {r[0] for r in db.execute("SELECT id FROM chunks")}
    affected: set[str] = set()
    for rowid in sorted(known - present):
        for sql in (
            "SELECT doc_id FROM chunks WHERE id < ? ORDER BY id DESC LIMIT 1",
            "SELECT doc_id FROM chunks WHERE id > ? ORDER BY id LIMIT 1",
        ):
            row = db.execute(sql, (rowid,)).fetchone()
            if row:
                affected.add(row[0])
    empty = "SELECT doc_id FROM documents WHERE doc_id NOT IN (SELECT doc_id FROM chunks)"
    affected |= {r[0] for r in db.execute(empty)}
    marks = ",".join("?" * len(affected))
    rows = db.execute(f"SELECT doc_id, path FROM documents WHERE doc_id IN ({marks})", [*affected])
    return {r[0]: r[1] for r in rows}


def _drop_orphans(db: sqlite3.Connection) -> None:
    """Rows that point at chunks no longer there (deleted without foreign keys enforced)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, column in (
        ("sentences", "chunk"),
        ("chunk_tags", "chunk"),
        ("chunks_tagged", "chunk"),
    ):
        if table in tables:
            db.execute(f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM chunks)")


def _manifest(db: sqlite3.Connection, base: health.BuildHealth, build_id: str) -> Manifest:
    """The base's manifest under a new id, or one rebuilt from what the database records
    (the model too, when the manifest names one that is not installed)."""
    from synth.ingest.embed import DEFAULT_MODEL

    row = db.execute(
        "SELECT model FROM embeddings GROUP BY model ORDER BY COUNT(*) DESC LIMIT 1"
    ).fetchone()
    stored_model = row[0] if row else DEFAULT_MODEL
    if base.manifest is not None:
        manifest = base.manifest
        manifest.restamp(build_id)
        if health.model_problem(manifest):
            manifest.model = stored_model
        return manifest
    return Manifest(
        build_id=build_id,
        created=now(),
        model=stored_model,
        dimension=store.stored_dimension(db) or 0,
        chunker=ChunkSettings().to_json(),
        n_documents=0,
        n_chunks=0,
        parent=base.path.name,
    )


def _rebuild(
    root: Path,
    base: health.BuildHealth,
    load_embedder: Callable[[str], Embedder],
    progress: Progress,
    report: RepairReport,
) -> str:
    """A new build from the base's database: lost-chunk documents dropped (to be read again),
    keyword index and vectors written anew, manifest restored."""
    with staged_build(root, base.path) as (build_id, tmp, db):
        lost = _lost_chunk_documents(db, base.path)
        for doc_id, path in lost.items():
            store.delete_document(db, doc_id)
            report.reingest.append(path)
        _drop_orphans(db)
        if lost:
            report.actions.append(f"dropped {len(lost)} documents whose chunks were lost")
        keyword.rebuild(db, tmp)
        manifest = _manifest(db, base, build_id)
        model = manifest.model

        def get_embedder() -> Embedder:
            return load_embedder(model)

        embedder = BackgroundEmbedder(get_embedder, model)
        embedded, _ = embedder.finish(db, progress)
        if not manifest.dimension:
            manifest.dimension = store.stored_dimension(db) or get_embedder().dimension
        n_vectors, manifest.faiss_index = vectors.write_index_batches(
            store.count_vectors(db),
            manifest.dimension,
            lambda: store.chunk_vector_batches(db, manifest.dimension),
            tmp / "vectors.faiss",
        )
        if n_vectors != store.content_count(db):
            raise RuntimeError("some chunks have no vector after embedding")
        publish(root, tmp, db, manifest)
    report.actions.append(
        f"build {build_id} made from build {base.path.name}: keyword index and vectors "
        f"written anew ({embedded} chunks embedded again)"
    )
    return build_id
