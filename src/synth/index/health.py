"""Is a build whole? The checks behind reading, writing, `synth info --check` and `synth repair`.

A build is whole when its manifest parses, its SQLite database reads (and, on a full check,
passes `integrity_check`), and chunks, keyword rows, FAISS vectors and the manifest agree on
how many chunks there are. Readers fall back to the newest whole build with a warning; writers
refuse to build on a damaged one, so nothing is copied forward from it or cleaned up after it.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from . import keyword, store
from .build import IndexNotFound, Manifest
from .files import changed_files

POINTER_RE = re.compile(r"[0-9A-Za-z_-]{1,100}")


class IndexDamaged(IndexNotFound):
    """No whole build to use, or a damaged live build to write on; the message names
    `synth repair`. A kind of IndexNotFound, so every caller that handles a missing index
    (the app's pages included) handles a damaged one without a traceback."""


@dataclass
class BuildHealth:
    """What a check found about one build; `problems` is empty when it is whole."""

    path: Path
    problems: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    counts: dict[str, int] = field(default_factory=dict)
    readable: bool = False  # the SQLite database opens and its tables read

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {"build": self.path.name, "ok": self.ok, "problems": self.problems, **self.counts}


def read_pointer(root: Path) -> tuple[str | None, str]:
    """(build id CURRENT names, problem) — the id is None when CURRENT is missing or garbage."""
    current = root / "CURRENT"
    if not current.is_file():
        return None, "CURRENT is missing"
    try:
        text = current.read_bytes()[:200].decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None, "CURRENT is unreadable"
    if not POINTER_RE.fullmatch(text):
        return None, "CURRENT is empty or garbage" if not text else "CURRENT is garbage"
    if not (root / "builds" / text).is_dir():
        return None, f"CURRENT names build {text}, which does not exist"
    return text, ""


def completed_builds(root: Path) -> list[Path]:
    """Finished build folders, newest first (ids start with their UTC time)."""
    folder = root / "builds"
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and POINTER_RE.fullmatch(p.name)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def load_manifest(build: Path) -> Manifest:
    """The manifest, or ValueError saying what is wrong with it."""
    try:
        data = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError("manifest.json is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"manifest.json is invalid ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ValueError("manifest.json is not an object")
    try:
        manifest = Manifest.from_json(data)
    except TypeError:
        raise ValueError("manifest.json lacks required fields") from None
    types = {"build_id": str, "model": str, "dimension": int, "n_chunks": int, "n_documents": int}
    for name, kind in types.items():
        if not isinstance(getattr(manifest, name), kind):
            raise ValueError(f"manifest.json field '{name}' is not a {kind.__name__}")
    return manifest


def database_counts(db: sqlite3.Connection, keyword_rows: int) -> dict[str, int]:
    """Rows that must agree: documents, chunks, content chunks (the ones search can return:
    keyword rows and vectors hold only those) and the keyword engine's rows."""
    n_docs, n_chunks = store.counts(db)
    return {
        "documents": n_docs,
        "chunks": n_chunks,
        "content_chunks": content_count(db, n_chunks),
        "keyword_rows": keyword_rows,
    }


def content_count(db: sqlite3.Connection, n_chunks: int) -> int:
    """Chunks that can be hits; every chunk in builds made before chunk roles existed."""
    has_roles = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunk_roles'"
    ).fetchone()
    return store.content_count(db) if has_roles else n_chunks


def model_problem(manifest: Manifest | None) -> list[str]:
    """The manifest names an embedding model that is not installed here."""
    from synth.ingest.embed import ModelNotInstalled, packaged_model_path, split_model

    if manifest is None:
        return []
    try:
        packaged_model_path(split_model(manifest.model)[0])
    except ModelNotInstalled as exc:
        return [f"manifest names model '{manifest.model[:80]}': {exc}"]
    return []


def count_problems(counts: dict[str, int], manifest: Manifest | None) -> list[str]:
    """Disagreements between chunk rows, keyword rows, vectors and the manifest."""
    problems = []
    chunks = counts.get("chunks")
    content = counts.get("content_chunks", chunks)
    for name in ("keyword_rows", "vectors"):
        if name in counts and counts[name] != content:
            problems.append(f"{counts[name]} {name.replace('_', ' ')} for {content} chunks")
    if manifest is not None:
        if manifest.n_chunks != chunks:
            problems.append(f"manifest says {manifest.n_chunks} chunks, database has {chunks}")
        if manifest.n_documents != counts.get("documents"):
            problems.append(
                f"manifest says {manifest.n_documents} documents, "
                f"database has {counts.get('documents')}"
            )
    return problems


def check_build(build: Path, full: bool = False, vectors: bool = True) -> BuildHealth:
    """Check one build. `full` adds SQLite's integrity_check; `vectors` reads the FAISS file
    (writers skip it: they write FAISS anew from the database)."""
    health = BuildHealth(build)
    try:
        health.manifest = load_manifest(build)
    except ValueError as exc:
        health.problems.append(str(exc))
    db_path = build / "synth.sqlite"
    if not db_path.is_file():
        health.problems.append("synth.sqlite is missing")
        return health
    if health.manifest is not None:
        health.problems += file_problems(build, health.manifest, vectors, full)
    try:
        with contextlib.closing(store.connect(db_path, readonly=True)) as db:
            if full:
                result = db.execute("PRAGMA integrity_check(20)").fetchall()
                if [tuple(r) for r in result] != [("ok",)]:
                    health.problems.append(f"SQLite integrity_check: {result[0][0]}")
            n_docs, n_chunks = store.counts(db)
            health.counts = {"documents": n_docs, "chunks": n_chunks}
            health.readable = True
            health.counts["content_chunks"] = content_count(db, n_chunks)
            health.counts["keyword_rows"] = keyword.count_rows(db, build)
    except Exception as exc:  # sqlite3 errors, and tantivy's ValueError on a damaged folder
        what = "keyword index" if health.readable else "synth.sqlite"
        health.problems.append(f"{what} cannot be read ({_first_line(exc)})")
        if not health.readable:
            return health
    if vectors:
        try:
            health.counts["vectors"] = vector_count(build)
        except Exception as exc:  # FAISS raises RuntimeError with C++ text on a damaged file
            health.problems.append(f"vectors.faiss cannot be read ({_first_line(exc)})")
    health.problems += count_problems(health.counts, health.manifest)
    health.problems += model_problem(health.manifest)
    return health


def file_problems(
    build: Path, manifest: Manifest, vectors: bool = True, full: bool = False
) -> list[str]:
    """Files changed since the build was written (a stat each, every file hashed with `full`;
    see files.py). Writers pass vectors=False: they write the vectors anew from the database."""
    recorded = manifest.files
    if not isinstance(recorded, dict):
        return ["manifest.json file fingerprints are invalid"]
    if not vectors:
        recorded = {k: v for k, v in recorded.items() if not str(k).startswith("vectors")}
    return changed_files(build, recorded, full)


def vector_count(build: Path) -> int:
    import faiss

    path = build / "vectors.faiss"
    if not path.is_file():
        raise FileNotFoundError("missing")
    return int(faiss.read_index(str(path)).ntotal)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else exc.__class__.__name__


def damage_message(root: Path, what: str) -> str:
    return (
        f"the index at '{root}' is damaged ({what}); nothing was written. "
        f"Run `synth repair --index {root}` (see `synth info --check --index {root}`)"
    )


def writable_build(root: Path) -> Path | None:
    """The live build a writer may copy forward, None for a new index; IndexDamaged when
    CURRENT or the live build is damaged, so a writer never starts over beside old builds."""
    builds = completed_builds(root)
    build_id, problem = read_pointer(root)
    if build_id is None:
        if not builds and not (root / "CURRENT").exists():
            return None
        raise IndexDamaged(damage_message(root, problem))
    health = check_build(root / "builds" / build_id, vectors=False)
    if not health.ok:
        raise IndexDamaged(damage_message(root, f"build {build_id}: {'; '.join(health.problems)}"))
    return health.path


def read_candidates(root: Path) -> tuple[list[Path], str]:
    """Builds a reader may open, best first (CURRENT's, then the newest), and CURRENT's problem."""
    build_id, problem = read_pointer(root)
    builds = completed_builds(root)
    if build_id is not None:
        live = root / "builds" / build_id
        builds = [live] + [b for b in builds if b != live]
    return builds, problem
