"""Build directories: the lock, a staged copy of the live build, atomic publish and cleanup.

Layout of an index directory::

    index/CURRENT                  the live build id, replaced atomically
    index/builds/<id>/manifest.json
    index/builds/<id>/synth.sqlite
    index/builds/<id>/vectors.faiss
    index/builds/<id>/keyword/     the tantivy index (builds on FTS5 keep it in synth.sqlite)

Every change writes a whole new build next to the live one and only then points CURRENT at it,
so a crash at any moment leaves the previous build usable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from synth import __version__

from . import keyword, store
from .files import fingerprints
from .vectors import FLAT_NAME

FORMAT_VERSION = 1
DEFAULT_INDEX_DIR = Path("index")
KEEP_PREVIOUS_BUILDS = 1


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
    # A manifest without the field predates tantivy: its keywords are in FTS5.
    keyword_index: str = keyword.NAMES[keyword.FTS5]
    # The build this one was made from: cleanup may drop an ancestor (what the new build lacks
    # was removed on purpose), never an unrelated build holding documents the new one lacks.
    parent: str = ""
    # [size, mtime_ns, sha256] of each file, recorded at publish (files.py); empty in builds
    # made before fingerprints, which are then checked by their counts alone.
    files: dict[str, list[object]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Manifest:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]

    def restamp(self, build_id: str) -> None:
        """The same build settings under a new build id, as a copy-on-write change makes."""
        self.parent = self.build_id
        self.build_id = build_id
        self.created = now()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def live_build(root: Path) -> Path | None:
    """The build CURRENT names, if it exists and has a manifest."""
    current = root / "CURRENT"
    if not current.is_file():
        return None
    build_id = current.read_text().strip()
    if not re.fullmatch(r"[0-9A-Za-z_-]+", build_id):
        return None
    path = root / "builds" / build_id
    return path if (path / "manifest.json").is_file() else None


def read_manifest(build: Path) -> Manifest:
    return Manifest.from_json(json.loads((build / "manifest.json").read_text()))


@contextlib.contextmanager
def locked(root: Path, wait: bool = True) -> Iterator[None]:
    """One writer at a time per index directory (an advisory lock on `root/.lock`)."""
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


def _fsync_tree(folder: Path) -> None:
    """Every file under a staged build, and each folder, reaches the disk before the rename."""
    for path in folder.iterdir():
        if path.is_dir():
            _fsync_tree(path)
            _fsync_dir(path)
        else:
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _new_build_id() -> str:
    """UTC time to the microsecond, then random: builds made within one second must still sort
    oldest to newest, since a reader whose CURRENT is damaged opens the newest. An id made
    before microseconds (seconds only) sorts before a new one of the same second ("-" < "0")."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]


def _clean_builds(root: Path, keep: str) -> None:
    """Drop half-written builds and the older builds the new one accounts for.

    Kept besides the new build: its parent (the one previous build), and any build that is not
    its ancestor and holds a document the new build lacks: an orphan left by a crash between
    the rename and the CURRENT swap, or a build a reader fell back to. Deleting those could
    lose documents; what an ancestor holds and the new build lacks was removed on purpose.
    """
    builds = root / "builds"
    if not builds.is_dir():
        return
    for path in builds.iterdir():
        if path.is_dir() and path.suffix == ".tmp":
            shutil.rmtree(path, ignore_errors=True)
    others = sorted((p for p in builds.iterdir() if p.is_dir() and p.name != keep), reverse=True)
    lineage = _ancestors(builds, keep)
    # Builds from before parents were recorded: the newest other build is the previous one.
    previous = lineage[:KEEP_PREVIOUS_BUILDS] or [p.name for p in others[:KEEP_PREVIOUS_BUILDS]]
    for path in others:
        if path.name in previous:
            continue
        if path.name in lineage or _holds_nothing_new(path, builds / keep):
            shutil.rmtree(path, ignore_errors=True)


def _ancestors(builds: Path, build_id: str) -> list[str]:
    """Parent, grandparent, ... of a build, as far as their manifests are still on disk."""
    chain: list[str] = []
    current = build_id
    while True:
        try:
            data = json.loads((builds / current / "manifest.json").read_text())
            parent = str(data.get("parent") or "")
        except (OSError, ValueError, AttributeError):
            return chain
        if not parent or parent in chain or parent == build_id:
            return chain
        chain.append(parent)
        current = parent


def _holds_nothing_new(old: Path, new: Path) -> bool:
    """Every document in `old` (by content) is in `new`; False when `old` cannot be read."""
    if not (old / "synth.sqlite").exists():
        return True
    try:
        with (
            contextlib.closing(store.connect(old / "synth.sqlite", readonly=True)) as a,
            contextlib.closing(store.connect(new / "synth.sqlite", readonly=True)) as b,
        ):
            theirs = {r[0] for r in a.execute("SELECT content_hash FROM documents")}
            ours = {r[0] for r in b.execute("SELECT content_hash FROM documents")}
    except sqlite3.Error:
        return False
    return theirs <= ours


@contextlib.contextmanager
def staged_build(root: Path, old: Path | None) -> Iterator[tuple[str, Path, sqlite3.Connection]]:
    """A new build directory seeded with a copy of the live database; removed if anything fails."""
    build_id = _new_build_id()
    tmp = root / "builds" / f"{build_id}.tmp"
    tmp.mkdir(parents=True)
    db = store.connect(tmp / "synth.sqlite", readonly=False)
    try:
        if old is not None:
            with contextlib.closing(store.connect(old / "synth.sqlite", readonly=True)) as src:
                src.backup(db)
        store.create_schema(db)
        keyword.stage(old, tmp)
        yield build_id, tmp, db
    except BaseException:
        db.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def publish(root: Path, tmp: Path, db: sqlite3.Connection, manifest: Manifest) -> None:
    """Finish a staged build: bring the keyword engine in line, fingerprint its files into the
    manifest, fsync, rename, then swap CURRENT atomically."""
    keyword.apply_changes(db, tmp, manifest.keyword_index)
    manifest.n_documents, manifest.n_chunks = store.counts(db)
    db.commit()
    db.close()
    manifest.files = fingerprints(tmp)
    (tmp / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2))
    _fsync_tree(tmp)
    final = tmp.with_suffix("")
    tmp.rename(final)
    _fsync_dir(final.parent)
    point_to(root, manifest.build_id)


def point_to(root: Path, build_id: str) -> None:
    """Make a finished build the live one (atomic CURRENT swap), then clean up older builds."""
    pointer = root / "CURRENT.tmp"
    pointer.write_text(build_id + "\n")
    with open(pointer, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer, root / "CURRENT")
    _fsync_dir(root)
    _clean_builds(root, build_id)
