"""Parse each file in a child process under a budget of CPU time and memory.

Untrusted text can make a parsing stage take quadratic time (spaCy's tokenizer on a run of
20,000 brackets took minutes) or memory, inside one C call that nothing in the process can
interrupt. So `GuardedParser` hands each file to a long-lived child process (`python -m
synth.ingest.guard`, which loads spaCy once) and watches it: past `ParseLimits.file_seconds`
of the child's own CPU time (OCR runs in Tesseract, which has its own limits) or
`file_memory_mb` of resident memory, the child is killed, that file fails with the reason and
the next file gets a fresh child. A wall-clock backstop catches a child that stops without
using CPU. What enters: file tasks and their settings as JSON lines; what leaves: prepared
files as JSON lines, never pickles, so a child subverted by a hostile file cannot run code
in the parent. Must not import synth.index or later stages.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from synth.models import Block, Chunk, Document, Page, SentenceSpan, StudyRecord
from synth.taxonomy import Taxonomy

from .chunk import ChunkSettings
from .files import ParseLimits
from .pipeline import FileTask, PreparedFile

# How often the parent looks at the child's CPU time and memory.
POLL_SECONDS = 0.1
# Wall-clock seconds a child may take beyond its CPU budget and its OCR budget before it is
# taken to be stuck (blocked, not computing).
STUCK_SECONDS = 120.0
# A child that dies without being stopped (the thread that started it ended, so Linux sent
# the death signal; the kernel's OOM killer) is replaced and the file tried again this often.
CRASH_RETRIES = 1
# The longest answer read from a child (a file at max_chars is about 50 MB of JSON).
MAX_ANSWER_BYTES = 512 * 2**20
_CLOCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- records as JSON


def prepared_to_json(prepared: PreparedFile) -> dict[str, object]:
    doc = prepared.document
    return {
        "path": str(prepared.task.path),
        "digest": prepared.task.digest,
        "error": prepared.error,
        "document": asdict(doc) if doc is not None else None,
        "chunks": [asdict(c) for c in prepared.chunks or []],
        "record": prepared.record.to_json() if prepared.record is not None else None,
        "roles": prepared.roles,
    }


def prepared_from_json(task: FileTask, data: dict[str, Any]) -> PreparedFile:
    if data.get("error"):
        return PreparedFile(task, error=str(data["error"]))
    doc = data["document"]
    pages = [Page(**{**p, "blocks": [Block(**b) for b in p["blocks"]]}) for p in doc.pop("pages")]
    chunks = [
        Chunk(**{**c, "sentences": [SentenceSpan(**s) for s in c["sentences"]]})
        for c in data["chunks"]
    ]
    record = StudyRecord.from_json(data["record"]) if data["record"] is not None else None
    return PreparedFile(task, Document(**doc, pages=pages), chunks, record, data["roles"])


# ---------------------------------------------------------------- the parent side


class GuardedParser:
    """One child process at a time; `prepare` never raises for a file's sake."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._taxonomy = ""  # digest of the taxonomy the current child holds
        self._buffer = b""

    def prepare(
        self,
        task: FileTask,
        settings: ChunkSettings,
        limits: ParseLimits,
        taxonomy: Taxonomy | None,
    ) -> PreparedFile:
        for _ in range(CRASH_RETRIES):
            prepared = self._prepare_once(task, settings, limits, taxonomy)
            if not prepared.error.startswith(CRASHED):
                return prepared
        return self._prepare_once(task, settings, limits, taxonomy)

    def _prepare_once(
        self,
        task: FileTask,
        settings: ChunkSettings,
        limits: ParseLimits,
        taxonomy: Taxonomy | None,
    ) -> PreparedFile:
        request: dict[str, object] = {
            "path": str(task.path),
            "digest": task.digest,
            "settings": asdict(settings),
            "limits": asdict(limits),
        }
        try:
            child = self._ready(limits)
            if taxonomy is not None and taxonomy.digest != self._taxonomy:
                request["taxonomy"] = taxonomy.text
            request["taxonomy_digest"] = taxonomy.digest if taxonomy is not None else ""
            self._send(child, request)
            self._taxonomy = str(request["taxonomy_digest"])
            line = self._answer(child, limits)
            return prepared_from_json(task, json.loads(line))
        except _Stopped as stop:
            self.close()
            return PreparedFile(task, error=str(stop))
        except (ValueError, KeyError, TypeError) as exc:  # an answer that is not a file
            self.close()
            return PreparedFile(
                task, error=f"the parser answered garbage ({exc.__class__.__name__})"
            )

    def _ready(self, limits: ParseLimits | None = None) -> subprocess.Popen[bytes]:
        """The child, started if need be; restarted when it holds half the memory budget
        between files (spaCy's vocabulary grows with every new word it sees)."""
        child = self._child
        if child is not None and limits and _resident_mb(child.pid) > limits.file_memory_mb / 2:
            self.close()
        if self._child is None or self._child.poll() is not None:
            self.close()
            self._child = subprocess.Popen(
                # -P: the folder synth runs in is not searched for modules (a select.py
                # beside the documents would otherwise run in the child)
                [sys.executable, "-P", "-m", "synth.ingest.guard"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # warnings from parsers are not the user's to read
                start_new_session=True,  # its own process group: OCR children die with it
                env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
            )
            self._taxonomy = ""
            self._buffer = b""
            self._wait_ready(self._child)
        return self._child

    def _wait_ready(self, child: subprocess.Popen[bytes]) -> None:
        """Wait for the child's first line, sent once it has loaded spaCy, so loading is not
        counted against the first file's budget."""
        assert child.stdout is not None
        fd, end = child.stdout.fileno(), time.monotonic() + STUCK_SECONDS
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            part = os.read(fd, 1 << 16) if ready else b""
            if not part:
                raise _Stopped(f"the parser did not start ({_how(child)})")
            self._buffer += part
        _, _, self._buffer = self._buffer.partition(b"\n")

    def _send(self, child: subprocess.Popen[bytes], request: dict[str, object]) -> None:
        assert child.stdin is not None
        try:
            child.stdin.write(json.dumps(request).encode() + b"\n")
            child.stdin.flush()
        except OSError:
            raise _Stopped(f"the parser stopped ({_how(child)})") from None

    def _answer(self, child: subprocess.Popen[bytes], limits: ParseLimits) -> bytes:
        """The child's answer line, watching its CPU time and memory while it works."""
        assert child.stdout is not None
        fd = child.stdout.fileno()
        start_cpu, start_mb = _cpu_seconds(child.pid), _resident_mb(child.pid)
        stuck = time.monotonic() + limits.file_seconds + limits.ocr_file_seconds + STUCK_SECONDS
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], POLL_SECONDS)
            if ready:
                part = os.read(fd, 1 << 20)
                if not part:
                    raise _Stopped(f"{CRASHED} ({_how(child)})")
                self._buffer += part
                if len(self._buffer) > MAX_ANSWER_BYTES:
                    raise _Stopped(f"answer too large (over {MAX_ANSWER_BYTES >> 20} MB)")
            used = _cpu_seconds(child.pid) - start_cpu
            if used > limits.file_seconds or time.monotonic() > stuck:
                raise _Stopped(f"too slow to parse (over {limits.file_seconds:g} s)")
            if _resident_mb(child.pid) - start_mb > limits.file_memory_mb:
                raise _Stopped(f"too much memory to parse (over {limits.file_memory_mb:,} MB)")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        for stream in (child.stdin, child.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        child.wait()


CRASHED = "the parser crashed"


class _Stopped(Exception):
    """The child was stopped or died; the message is the file's reason."""


def _proc_stat(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode()
    except OSError:
        return []
    return text[text.rfind(")") + 2 :].split()  # the fields after the command name


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process itself (not of the children it waited for)."""
    fields = _proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / _CLOCK if fields else 0.0


def _resident_mb(pid: int) -> float:
    fields = _proc_stat(pid)
    return int(fields[21]) * _PAGE / 2**20 if fields else 0.0


def _how(child: subprocess.Popen[bytes]) -> str:
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=2)
    code = child.returncode
    if code is None:
        return "no answer"
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


# One child kept for the whole process (each ingest would otherwise load spaCy again); an
# ingest in another thread while it is busy gets a child of its own.
_shared = GuardedParser()
_shared_lock = threading.Lock()
atexit.register(_shared.close)


def prepare_guarded(
    tasks: Iterable[FileTask],
    settings: ChunkSettings,
    limits: ParseLimits | None = None,
    taxonomy: Taxonomy | None = None,
) -> Iterator[PreparedFile]:
    """Prepared files in the order of `tasks`, each parsed under the budget in `limits`."""
    limits = limits or ParseLimits()
    shared = _shared_lock.acquire(blocking=False)
    parser = _shared if shared else GuardedParser()
    try:
        for task in tasks:
            yield parser.prepare(task, settings, limits, taxonomy)
    finally:
        if shared:
            _shared_lock.release()
        else:
            parser.close()


# ---------------------------------------------------------------- the child side


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer one JSON line per request line until the parent closes the pipe."""
    from synth.taxonomy.taxonomy import parse_taxonomy

    from .chunk import sentence_pipeline
    from .pipeline import prepare_file

    sentence_pipeline()
    answers.write(b'{"ready": true}\n')
    answers.flush()
    taxonomies: dict[str, Taxonomy] = {}
    for line in requests:
        request = json.loads(line)
        digest = request.get("taxonomy_digest") or ""
        if request.get("taxonomy"):
            taxonomies = {digest: parse_taxonomy(request["taxonomy"])}
        task = FileTask(Path(request["path"]), request["digest"])
        prepared = prepare_file(
            task,
            ChunkSettings(**request["settings"]),
            ParseLimits(**request["limits"]),
            taxonomies.get(digest),
        )
        answers.write(json.dumps(prepared_to_json(prepared)).encode() + b"\n")
        answers.flush()


def _die_with_parent() -> None:
    """Ask Linux to kill this child when the ingest that started it dies (kill -9 included),
    so no file goes on being parsed without a budget."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the request took effect
            os._exit(1)


def _main() -> None:
    import warnings

    _die_with_parent()
    warnings.simplefilter("ignore")
    # Answers go to a copy of stdout; anything a library prints goes where stderr goes, so it
    # can never be mistaken for an answer.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    _main()
