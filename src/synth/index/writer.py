"""Changing an index: ingest files, remove documents, record curator tags, each as a new build.

The writer plans which files are new or changed, runs the ingest stages on them
(synth.ingest.pipeline), stores what comes back in a staged build, embeds, tags, writes the
vector index and publishes the build atomically (build.py).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from synth.ingest.chunk import ChunkSettings
from synth.ingest.embed import DEFAULT_MODEL, Embedder, resolve_model
from synth.ingest.files import ParseLimits, content_hash, iter_input_files
from synth.ingest.metadata import DocMetadata, MetadataError, match_record, sidecar_for
from synth.ingest.pipeline import FileTask, LocalRunner, PreparedFile, Runner
from synth.models import FileResult, IngestReport, NullProgress, Progress
from synth.taxonomy import load_taxonomy

from . import facets, keyword, store, studies, vectors
from .build import (
    DEFAULT_INDEX_DIR,
    IndexNotFound,
    Manifest,
    locked,
    now,
    publish,
    read_manifest,
    staged_build,
)
from .embedding import BackgroundEmbedder, embed_each_document
from .health import IndexDamaged, damage_message, writable_build
from .reader import Index


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


def _pending_curation(old: Path, report: IngestReport, curation: _Curation) -> None:
    """For files that did not change: new metadata to apply, and whether the tagger changed."""
    with contextlib.closing(store.connect(old / "synth.sqlite", readonly=True)) as db:
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
            title, head = store.head_text(db, result.doc_id)
            try:
                meta = curation.match(Path(result.path), title, head)
            except Exception as exc:  # a broken sidecar: the indexed version stays as it is
                result.reason = f"metadata not updated: {_reason(exc)}"
                report.warnings.append(f"{result.path}: {result.reason}")
                continue
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


@dataclass
class _Known:
    """What the live build holds: doc id and hash by path, source by hash."""

    by_path: dict[str, tuple[str, str]] = field(default_factory=dict)
    by_hash: dict[str, str] = field(default_factory=dict)


@dataclass
class _Job:
    """One ingest's settings, passed down the stages of `_write_build` together."""

    settings: ChunkSettings
    limits: ParseLimits
    model: str
    progress: Progress
    get_embedder: Callable[[], Embedder]
    rebuild: bool
    curation: _Curation
    runner: Runner = field(default_factory=LocalRunner)
    keyword_engine: str = keyword.DEFAULT_ENGINE
    # The keyword engine changes: the build must be written even if no file did.
    switch_engine: bool = False


def _read_known(
    old: Path, settings: ChunkSettings, model: str, files: list[Path]
) -> tuple[_Known, bool]:
    """The live build's files; with a new chunker or model, every file must be read again."""
    known = _Known()
    manifest = read_manifest(old)
    with contextlib.closing(store.connect(old / "synth.sqlite", readonly=True)) as db:
        for r in db.execute("SELECT doc_id, path, content_hash, source FROM documents"):
            known.by_path[r["path"]] = (r["doc_id"], r["content_hash"])
            known.by_hash[r["content_hash"]] = r["source"]
    if manifest.chunker == settings.to_json() and manifest.model == model:
        return known, False
    given = {str(f.resolve()) for f in files}
    files.extend(Path(p) for p in known.by_path if p not in given)
    return _Known(), True


def _keyword_engine(old: Path | None, wanted: str | None) -> tuple[str, bool]:
    """The keyword engine for the next build, and whether it differs from the live build's."""
    current = keyword.engine_of(read_manifest(old).keyword_index) if old else None
    if wanted is not None and wanted not in keyword.ENGINES:
        raise ValueError(f"unknown keyword engine '{wanted}' (one of {', '.join(keyword.ENGINES)})")
    engine = wanted or current or keyword.DEFAULT_ENGINE
    return engine, current is not None and engine != current


def _plan_files(
    files: list[Path], known: _Known, report: IngestReport, progress: Progress
) -> list[_Plan]:
    """Hash every file: unchanged ones are reported, new and changed ones planned."""
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
        previous = known.by_path.get(key)
        if previous and previous[1] == digest:
            report.files.append(FileResult(str(path), "unchanged", doc_id=previous[0]))
        elif digest in known.by_hash:
            note = f"same content as {known.by_hash[digest]}"
            if previous:  # this path's old text must go; its new text is already indexed
                plans.append(_Plan(path, digest, previous[0], duplicate_of=known.by_hash[digest]))
            else:
                report.files.append(FileResult(str(path), "unchanged", note, doc_id=digest[:16]))
        else:
            known.by_hash[digest] = path.name
            plans.append(_Plan(path, digest, previous[0] if previous else None))
    return plans


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
    keyword_engine: str | None = None,
    runner: Runner | None = None,
) -> IngestReport:
    """Add new files, replace changed ones, skip unchanged ones; report every file's fate.

    `metadata` are library records (RIS, BibTeX, CSL-JSON, manifest) matched to files by
    attachment name, DOI or title; a YAML sidecar beside a file wins. Tags are recomputed when
    the taxonomy changes, and metadata re-applied to unchanged files when it changed.
    `model` None keeps the index's model (the default model for a new index); naming another
    model ("fast" included) re-embeds everything with it.
    """
    from synth.ingest.embed import load_embedder

    started = time.perf_counter()
    root = Path(root)
    settings = settings or ChunkSettings()
    progress = progress or NullProgress()
    report = IngestReport()
    with locked(root):
        old = writable_build(root)
        current = read_manifest(old).model if old is not None else DEFAULT_MODEL
        model = resolve_model(model or current)  # "fast" is recorded as the precision it means
        files = list(iter_input_files(paths))
        known, rebuild = _read_known(old, settings, model, files) if old else (_Known(), False)
        plans = _plan_files(files, known, report, progress)
        curation = _Curation(list(metadata), Path(taxonomy) if taxonomy else None)
        if old is not None and not rebuild:
            _pending_curation(old, report, curation)
        engine, switch = _keyword_engine(old, keyword_engine)
        if old is not None and not plans and not rebuild and not curation.pending and not switch:
            report.build_id = old.name
            report.seconds = time.perf_counter() - started
            return report
        get_embedder = embedder or (lambda: load_embedder(model))
        job = _Job(
            settings, limits or ParseLimits(), model, progress, get_embedder, rebuild, curation
        )
        job.keyword_engine, job.switch_engine = engine, switch
        job.runner = runner or LocalRunner()
        try:
            report.build_id = _write_build(root, old, plans, report, job)
        except _NothingNew:
            report.build_id = old.name if old else ""
    report.seconds = time.perf_counter() - started
    return report


def _store_files(
    db: sqlite3.Connection,
    plans: list[_Plan],
    report: IngestReport,
    job: _Job,
    background: BackgroundEmbedder,
) -> None:
    """Run the ingest stages on every planned file and store each one as it comes back."""
    kept = _kept_metadata(db, plans)
    if job.rebuild:
        for (doc_id,) in db.execute("SELECT doc_id FROM documents").fetchall():
            store.delete_document(db, doc_id)
    job.progress.start("parse", len(plans))
    todo = [p for p in plans if not (p.duplicate_of and p.replaces)]
    taxonomy = load_taxonomy(job.curation.taxonomy)
    tasks = [FileTask(p.path, p.digest) for p in todo]
    prepared = job.runner.prepare(tasks, job.settings, job.limits, taxonomy)
    by_path = {p.path: p for p in todo}
    for plan in plans:
        if plan.duplicate_of and plan.replaces:
            result = _drop_duplicate(db, plan)
        else:
            ready = next(prepared)
            plan = by_path[ready.task.path]
            result = _store_one(db, plan, ready, job.model, job.curation, kept)
        report.files.append(result)
        if result.status in ("added", "replaced") and result.doc_id:
            background.feed(db, result.doc_id)
        job.progress.advance()


def _attach_metadata(
    db: sqlite3.Connection,
    path: Path,
    doc_id: str,
    curation: _Curation,
    kept: dict[str, DocMetadata],
) -> None:
    """Match and store a stored document's metadata (a sidecar beside it wins)."""
    title, head = store.head_text(db, doc_id)
    meta = curation.match(path, title, head) or kept.get(str(path.resolve()))
    facets.store_metadata(db, doc_id, meta)


def _write_build(
    root: Path, old: Path | None, plans: list[_Plan], report: IngestReport, job: _Job
) -> str:
    """Write a complete new build beside the live one, then point CURRENT at it."""
    background = BackgroundEmbedder(job.get_embedder, job.model, job.runner.encoder(job.model))
    with staged_build(root, old) as (build_id, tmp, db), contextlib.closing(background):
        _store_files(db, plans, report, job, background)
        for doc_id, meta in job.curation.updates.items():
            facets.store_metadata(db, doc_id, meta)
        if old is not None and not _anything_new(report, job):
            raise _NothingNew
        taxonomy = load_taxonomy(job.curation.taxonomy)
        failures: dict[str, Exception] = {}
        studies.refresh_records(db, taxonomy, on_error=failures.__setitem__)
        _drop_failed(db, report, failures, "study record")
        db.commit()
        _embed_isolated(db, background, report, job)
        db.commit()
        failures = {}
        facets.tag_build(db, taxonomy, job.get_embedder, on_error=failures.__setitem__)
        _drop_failed(db, report, failures, "tagging")
        if old is not None and not _anything_new(report, job):  # every changed file failed
            raise _NothingNew
        db.commit()
        dimension = store.stored_dimension(db) or job.get_embedder().dimension
        n_vectors, faiss_name = _write_vectors(db, dimension, tmp)
        n_content = store.content_count(db)
        if n_vectors != n_content:
            raise RuntimeError(f"index mismatch: {n_vectors} vectors for {n_content} chunks")
        manifest = Manifest(
            build_id=build_id,
            created=now(),
            model=job.model,
            dimension=dimension,
            chunker=job.settings.to_json(),
            n_documents=0,
            n_chunks=0,
            faiss_index=faiss_name,
            keyword_index=keyword.NAMES[job.keyword_engine],
            parent=old.name if old is not None else "",
        )
        publish(root, tmp, db, manifest)
    return build_id


def _write_vectors(db: sqlite3.Connection, dimension: int, tmp: Path) -> tuple[int, str]:
    """The build's FAISS index from every stored vector, streamed in batches."""
    return vectors.write_index_batches(
        store.count_vectors(db),
        dimension,
        lambda: store.chunk_vector_batches(db, dimension),
        tmp / "vectors.faiss",
    )


def _anything_new(report: IngestReport, job: _Job) -> bool:
    """Whether the batch changes the build: files, a rebuild, curation or the keyword engine."""
    return bool(job.rebuild or report.changed or job.curation.pending or job.switch_engine)


def _embed_isolated(
    db: sqlite3.Connection, background: BackgroundEmbedder, report: IngestReport, job: _Job
) -> None:
    """Embed every new chunk; if a batch fails, embed file by file and fail only the files
    whose chunks cannot be embedded."""
    try:
        report.n_embedded, report.n_cached = background.finish(db, job.progress)
    except Exception:
        db.rollback()  # drop any half-written batch; stored documents were committed before
        embedded, failures = embed_each_document(db, job.get_embedder, job.model)
        _drop_failed(db, report, failures, "embedding")
        report.n_embedded = background.done + embedded


def _drop_failed(
    db: sqlite3.Connection, report: IngestReport, failures: dict[str, Exception], stage: str
) -> None:
    """Remove this batch's documents that failed a build-wide stage and say so per file.

    Documents indexed before this batch are kept as they are (a warning names them).
    """
    for doc_id, exc in failures.items():
        mine = [f for f in report.files if f.doc_id == doc_id and f.status in ("added", "replaced")]
        if not mine:
            report.warnings.append(f"document {doc_id}: {stage} failed ({_reason(exc)}); kept")
            continue
        store.delete_document(db, doc_id)
        for result in mine:
            result.status, result.n_chunks = "failed", 0
            result.reason = f"{stage} failed: {_reason(exc)}"


def _kept_metadata(db: sqlite3.Connection, plans: list[_Plan]) -> dict[str, DocMetadata]:
    """Metadata of documents about to be replaced, by path: a new version keeps its record."""
    kept = {}
    for row in db.execute(
        "SELECT d.path, m.data FROM doc_meta m JOIN documents d ON d.doc_id = m.doc_id"
    ):
        kept[row[0]] = DocMetadata.from_json(json.loads(row[1]))
    wanted = {str(p.path.resolve()) for p in plans}
    return {k: v for k, v in kept.items() if k in wanted}


def _drop_duplicate(db: sqlite3.Connection, plan: _Plan) -> FileResult:
    """A changed file whose new content another file already holds: only its old text goes."""
    assert plan.replaces is not None
    store.delete_document(db, plan.replaces)
    reason = f"now the same content as {plan.duplicate_of}; its old text was removed"
    return FileResult(str(plan.path), "replaced", reason, doc_id=plan.digest[:16])


def _store_one(
    db: sqlite3.Connection,
    plan: _Plan,
    ready: PreparedFile,
    model: str,
    curation: _Curation,
    kept: dict[str, DocMetadata],
) -> FileResult:
    """Store one prepared file and its metadata inside a savepoint, so a failure (a broken
    sidecar included) leaves no trace and the file's previous version stays."""
    name = str(plan.path)
    if ready.error or ready.document is None or ready.chunks is None:
        return FileResult(name, "failed", ready.error)
    doc, chunks = ready.document, ready.chunks
    db.execute("SAVEPOINT doc")
    stage = "could not store"
    try:
        if plan.replaces:
            store.delete_document(db, plan.replaces)
        existing = db.execute("SELECT doc_id FROM documents WHERE path = ?", (doc.path,)).fetchone()
        if existing:
            store.delete_document(db, existing[0])
        store.insert_document(db, doc, chunks, model, ready.roles)
        if ready.record is not None:
            studies.store_record(db, ready.record)
        stage = "metadata"
        _attach_metadata(db, plan.path, doc.doc_id, curation, kept)
    except Exception as exc:
        db.execute("ROLLBACK TO doc")
        db.execute("RELEASE doc")
        return FileResult(name, "failed", f"{stage}: {_reason(exc)}")
    db.execute("RELEASE doc")
    status = "replaced" if plan.replaces or existing else "added"
    return FileResult(name, status, doc_id=doc.doc_id, n_chunks=len(chunks))


def _reason(exc: BaseException) -> str:
    """An exception as a one-line reason: our own errors by message, others with their type."""
    text = " ".join(str(exc).split())[:300]
    if isinstance(exc, MetadataError | ValueError | OSError) and text:
        return text
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def remove(targets: Iterable[str], root: str | Path = DEFAULT_INDEX_DIR) -> list[str]:
    """Drop documents by file name, path or doc id; returns the sources removed."""
    root = Path(root)
    with locked(root):
        old = writable_build(root)
        if old is None:
            raise IndexNotFound(f"no index at '{root}'")
        manifest = read_manifest(old)
        with contextlib.closing(store.connect(old / "synth.sqlite", readonly=True)) as db:
            docs = db.execute("SELECT doc_id, source, path FROM documents").fetchall()
        named = store.names(targets)
        hits = [(r["doc_id"], r["source"]) for r in docs if named(*tuple(r))]
        if not hits:
            return []
        with staged_build(root, old) as (build_id, tmp, db):
            for doc_id, _ in hits:
                store.delete_document(db, doc_id)
            _, manifest.faiss_index = _write_vectors(db, manifest.dimension, tmp)
            manifest.restamp(build_id)
            publish(root, tmp, db, manifest)
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
    root = Path(root)
    with locked(root):
        old = writable_build(root)
        if old is None:
            raise IndexNotFound(f"no index at '{root}'")
        try:
            index = Index(root, old)
        except IndexDamaged as exc:  # its vectors: a tag change copies them forward as they are
            raise IndexDamaged(damage_message(root, f"build {old.name}: {exc}")) from None
        with contextlib.closing(index):
            docs = index.find_documents([target])
        if len(docs) != 1:
            found = "no document" if not docs else f"{len(docs)} documents"
            raise KeyError(f"{found} matches '{target}' (use a doc id from `synth info`)")
        doc_id = docs[0].doc_id
        manifest = read_manifest(old)
        with staged_build(root, old) as (build_id, tmp, db):
            facets.record_curator(db, doc_id, changes, note)
            facets.refresh_effective(db, load_taxonomy(Path(taxonomy) if taxonomy else None))
            vectors.copy_index(old, tmp)
            manifest.restamp(build_id)
            publish(root, tmp, db, manifest)
    return doc_id
