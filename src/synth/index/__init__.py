"""The on-disk index: builds of SQLite (documents, chunks, tags, keyword index) beside FAISS.

In: documents and chunks from `synth.ingest` (and records and tags it makes).
Out: `Index`, a read-only view of the live build that ranks chunk rowids by vector or keyword
and returns stored records; `ingest`, `remove` and `update_tags`, which publish new builds.
Must not import: synth.search, synth.brief, synth.toolkit, synth.ui, synth.cli.
"""

from .build import DEFAULT_INDEX_DIR, IndexBusy, IndexNotFound, Manifest
from .health import IndexDamaged
from .reader import Index, IndexStats
from .store import ChunkRecord, DocumentRecord
from .writer import ingest, remove, update_tags

__all__ = [
    "DEFAULT_INDEX_DIR",
    "ChunkRecord",
    "DocumentRecord",
    "Index",
    "IndexBusy",
    "IndexDamaged",
    "IndexNotFound",
    "IndexStats",
    "Manifest",
    "ingest",
    "remove",
    "update_tags",
]
