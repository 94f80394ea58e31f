"""The ingest stages as pure functions of a file, and a local runner that applies them in order.

A stage takes what the previous one made and returns new records; none reads or writes an
index, so the same functions can run in this process or on workers elsewhere. The index's
writer decides what to prepare and stores what comes back; a `Runner` decides where the stages
run: `LocalRunner` here, `synth.ingest.cluster.RayRunner` on a Ray cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from synth.models import Chunk, Document, StudyRecord
from synth.taxonomy import Taxonomy

from .chunk import ChunkSettings, chunk_document
from .files import ParseError, ParseLimits
from .parse import parse_file
from .study import build_record, chunk_role

EmbedStyle = Literal["headings", "text", "title_headings"]


def embedding_text(
    title: str, section: list[str], text: str, style: EmbedStyle = "headings"
) -> str:
    """The string the dense index sees for a chunk: its nearest headings give the topic.

    `style` lets benchmarks/bench_retrieval.py compare text alone and title + headings.
    """
    if style == "text":
        return text
    heads = section[-2:]
    if style == "title_headings":
        heads = [h for h in heads if h]
        heads = heads if not title or heads[:1] == [title] else [title, *heads]
    heading = " > ".join(heads)
    return f"{heading}\n{text}" if heading else text


@dataclass(frozen=True)
class FileTask:
    """One file to read, with the content hash it had when it was planned."""

    path: Path
    digest: str


@dataclass
class PreparedFile:
    """A parsed and chunked file with its study record and each chunk's role, ready to store;
    `error` says why a file could not be prepared."""

    task: FileTask
    document: Document | None = None
    chunks: list[Chunk] | None = None
    record: StudyRecord | None = None
    roles: list[str] | None = None
    error: str = ""


def prepare_file(
    task: FileTask,
    settings: ChunkSettings,
    limits: ParseLimits | None = None,
    taxonomy: Taxonomy | None = None,
) -> PreparedFile:
    """Parse, chunk and describe one file; a failure becomes its reason, never an exception."""
    try:
        doc = parse_file(task.path, limits)
        if doc.content_hash != task.digest:
            raise ParseError("file changed while it was being read")
        chunks = chunk_document(doc, settings)
        if not chunks:
            raise ParseError("no text to index (no sentences found)")
        record = build_record(doc, chunks, taxonomy)
        roles = [chunk_role(chunk, doc.title) for chunk in chunks]
    except ParseError as exc:
        return PreparedFile(task, error=str(exc))
    except Exception as exc:  # a parser bug on one file must not sink the batch
        return PreparedFile(task, error=f"unexpected error: {exc.__class__.__name__}: {exc}")
    return PreparedFile(task, doc, chunks, record, roles)


def run_local(
    tasks: Iterable[FileTask],
    settings: ChunkSettings,
    limits: ParseLimits | None = None,
    taxonomy: Taxonomy | None = None,
) -> Iterator[PreparedFile]:
    """Prepare files one after another in this process, in the order given."""
    for task in tasks:
        yield prepare_file(task, settings, limits, taxonomy)


class EncoderPool(Protocol):
    """Embedding workers elsewhere: up to `slots` batches of `batch` texts in flight at once."""

    slots: int
    batch: int

    def submit(self, texts: list[str]) -> Future[np.ndarray]:
        """Vectors for `texts`, in their order, when the future resolves."""
        ...


class Runner(Protocol):
    """Where the ingest stages run: parse and chunk (`prepare`), and embedding (`encoder`)."""

    def prepare(
        self,
        tasks: Iterable[FileTask],
        settings: ChunkSettings,
        limits: ParseLimits | None,
        taxonomy: Taxonomy | None = None,
    ) -> Iterator[PreparedFile]:
        """Prepared files in the order of `tasks`, each failure as the file's `error`."""
        ...

    def encoder(self, model: str) -> EncoderPool | None:
        """Workers that embed with `model`, or None to embed in this process."""
        ...


class LocalRunner:
    """Files one after another, each parsed in a child process under the time and memory
    budget of `ParseLimits` (guard.py); embedding in this process on a background thread."""

    def prepare(
        self,
        tasks: Iterable[FileTask],
        settings: ChunkSettings,
        limits: ParseLimits | None,
        taxonomy: Taxonomy | None = None,
    ) -> Iterator[PreparedFile]:
        from .guard import prepare_guarded  # guard.py builds on this module

        return prepare_guarded(tasks, settings, limits, taxonomy)

    def encoder(self, model: str) -> EncoderPool | None:
        return None
