"""Spine benchmark: ingest throughput, index size and warm query latency on real corpora.

Run: .venv/bin/python benchmarks/bench_spine.py  (uses corpus/ and, if present, ../shared reports)
Prints one Markdown table row per corpus, ready to paste into benchmarks/README.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import queries

from synth.index import Index, ingest
from synth.ingest.embed import load_embedder
from synth.search import SearchSettings, search

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    *queries.QUERIES,
    "evidence use by community organisations",
    "digital learner profiles and credentials",
]


def bench(name: str, paths: list[Path]) -> str:
    embedder = load_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = ingest(paths, tmp, embedder=lambda: embedder)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = ingest(paths, tmp, embedder=lambda: embedder)
        reingest = time.perf_counter() - t0
        assert not again.changed
        index = Index.open(tmp)
        stats = index.stats()
        n_chunks = index.manifest.n_chunks
        for q in QUERIES:
            search(index, embedder, q, SearchSettings(k=10))
        times = []
        for _ in range(5):
            for q in QUERIES:
                t0 = time.perf_counter()
                search(index, embedder, q, SearchSettings(k=10))
                times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p50 = statistics.median(times)
        p95 = times[int(0.95 * (len(times) - 1))]
        index.close()
    docs = report.count("added")
    return (
        f"| {name} | {docs} | {n_chunks} | {cold:.1f} | {n_chunks / cold:.1f} | "
        f"{reingest:.2f} | {stats.bytes_on_disk / 1e6:.2f} | {p50:.1f} | {p95:.1f} |"
    )


def main() -> int:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(
        "| corpus | docs | chunks | ingest s (model warm) | chunks/s | re-ingest s | "
        "index MB | query p50 ms | query p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(bench("corpus/", [ROOT / "corpus"]))
    shared = ROOT.parent / "shared" / "corpora" / "reports"
    if shared.is_dir():
        print(bench("shared/corpora/reports", [shared]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
