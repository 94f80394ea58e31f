"""What the hostile-input guards of issue 24 cost: parsing in a guarded child, builds that share
no file, and the file check at open.

    .venv/bin/python benchmarks/bench_guard.py [--rounds 1] [--copy-mb 1024] [--index DIR]

1. Parsing: the real PDFs of ../shared/corpora/real (the shared reports without them) prepared
   in this process (`run_local`) and in the guarded child (`prepare_guarded`), alternating in
   one run, so the ratio holds on a noisy machine. The child's start (imports, spaCy) is timed
   apart: one ingest pays it once.
2. Clones: `files.clone_file` of a --copy-mb file on this filesystem (a reflink where it has
   them, else copy_file_range), against a hard link, and SHA-256 of the same file; per chunk
   with the bytes a chunk takes on disk (keyword segments 217 B, float vectors 1,544 B:
   benchmarks/README.md, "Search at scale").
3. The check at open: `files.changed_files` on a build of the same PDFs (or the index given
   with --index, copied first), as it is (a stat per file) and after every file's time moved
   (each hashed, as for a copied index).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from synth.index import ingest
from synth.index.build import read_manifest
from synth.index.files import changed_files, clone_file, fingerprints
from synth.ingest.chunk import ChunkSettings, sentence_pipeline
from synth.ingest.files import content_hash
from synth.ingest.guard import GuardedParser, prepare_guarded
from synth.ingest.pipeline import FileTask, run_local
from synth.taxonomy import load_taxonomy

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "corpora"
BYTES_PER_CHUNK = {"keyword segments": 217, "float vectors": 1544}


def documents() -> list[Path]:
    for folder in (SHARED / "real", SHARED / "reports"):
        found = sorted(folder.glob("*.pdf"))
        if found:
            return found
    raise SystemExit(f"no PDFs under {SHARED}: the benchmark needs ../shared")


def parsing(paths: list[Path], rounds: int) -> None:
    tasks = [FileTask(p, content_hash(p.read_bytes())) for p in paths]
    taxonomy, settings = load_taxonomy(), ChunkSettings()
    sentence_pipeline()
    start = time.perf_counter()
    GuardedParser()._ready()
    child_start = time.perf_counter() - start
    here, guarded = [], []
    list(prepare_guarded(tasks[:1], settings, None, taxonomy))  # the shared child, started
    for _ in range(rounds):
        for label, times in (("here", here), ("guarded", guarded)):
            start = time.perf_counter()
            if label == "here":
                out = list(run_local(tasks, settings, None, taxonomy))
            else:
                out = list(prepare_guarded(tasks, settings, None, taxonomy))
            times.append(time.perf_counter() - start)
            assert not any(p.error for p in out), [p.error for p in out if p.error]
    pages = sum(len(p.document.pages) for p in out if p.document)
    a, b = statistics.median(here), statistics.median(guarded)
    print(f"parsing {len(tasks)} PDFs ({pages} pages), median of {rounds}:")
    print(f"  in this process {a:.1f} s; guarded child {b:.1f} s; ratio {b / a:.3f}")
    print(f"  the child's start (imports and spaCy), once per ingest: {child_start:.1f} s")


def clones(megabytes: int) -> None:
    with tempfile.TemporaryDirectory(dir=REPO.parent) as tmp:
        src = Path(tmp) / "src.bin"
        with open(src, "wb") as handle:
            for _ in range(megabytes):
                handle.write(os.urandom(1 << 20))
        os.sync()
        timed = {}
        for label, act in (
            ("hard link", lambda d: os.link(src, d)),
            ("clone_file", lambda d: clone_file(src, d)),
        ):
            dst = Path(tmp) / label.replace(" ", "-")
            start = time.perf_counter()
            act(dst)
            timed[label] = time.perf_counter() - start
        start = time.perf_counter()
        fingerprints(Path(tmp))
        hashed = (time.perf_counter() - start) / 3  # three files of the same size
    rate = megabytes / timed["clone_file"]
    print(f"clones of a {megabytes} MB file: hard link {timed['hard link'] * 1000:.2f} ms, ")
    print(f"  clone_file {timed['clone_file']:.2f} s ({rate:.0f} MB/s); SHA-256 {hashed:.2f} s")
    for what, size in BYTES_PER_CHUNK.items():
        per_million = size * 1e6 / 2**20 / rate
        print(f"  copying {what} ({size} B/chunk): {per_million:.1f} s per million chunks")


def open_check(paths: list[Path], index: str | None) -> None:
    with tempfile.TemporaryDirectory(dir=REPO.parent) as tmp:
        root = Path(tmp) / "index"
        if index:
            shutil.copytree(index, root, copy_function=shutil.copy2)  # times kept
        else:
            ingest(paths, root)
        build = root / "builds" / (root / "CURRENT").read_text().strip()
        recorded = read_manifest(build).files
        size = sum(v[0] for v in recorded.values())
        start = time.perf_counter()
        for _ in range(100):
            assert not changed_files(build, recorded)
        stat_ms = (time.perf_counter() - start) * 10
        for path in build.rglob("*"):
            if path.is_file():
                os.utime(path)
        start = time.perf_counter()
        assert not changed_files(build, recorded)
        hash_ms = (time.perf_counter() - start) * 1000
    print(f"check at open, build of {len(recorded)} files, {size / 2**20:.0f} MB:")
    print(f"  as written: {stat_ms:.2f} ms; after a copy (every file hashed): {hash_ms:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--index", help="check this index (copied) instead of building one")
    parser.add_argument("--copy-mb", type=int, default=1024)
    args = parser.parse_args()
    paths = documents()
    parsing(paths, args.rounds)
    clones(args.copy_mb)
    open_check(paths, args.index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
