"""Scale benchmark: FAISS index choice, recall and warm query latency at 10k, 100k and 1M chunks.

Run: .venv/bin/python benchmarks/bench_faiss_scale.py [--sizes 10000,100000,1000000]

For each size a real synth index directory is written (SQLite chunks + FTS5 + vectors.faiss +
manifest) from synthetic data, then opened with `Index.open` and queried through `search()` with
the real MiniLM query embedding, so the fused figure is the product's own code path.

- Vectors: 384-d unit vectors from a mixture of N/200 anisotropic Gaussian clusters around a
  shared mean direction (eigenvalues ~ i^-0.7), calibrated so mean pairwise cosine (~0.3) and
  the norm of the mean vector (~0.6) resemble MiniLM embeddings of the sample corpora.
- Text: each chunk has 120 words drawn from the word frequencies of corpus/src/*.md, 60% from
  its document's topic (one of the 14 reports) and 40% from all of them, so function words hit
  every chunk as they do in real text; sections and titles come from the corpus headings.
- recall@10 is the chosen index's unfiltered top 10 against exact top 10 (numpy) for 200
  synthetic queries drawn from the same mixture.

Each size runs in two fresh processes (build, then query) so resident memory is measured
cleanly: "MB/chunk" is the RSS growth from opening the index (FAISS in memory; SQLite is read
through the page cache), "peak GB" the larger of the two processes' maximum RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import queries

ROOT = Path(__file__).resolve().parents[1]
SIZES = (10_000, 100_000, 1_000_000)
DIM = 384
WORDS_PER_CHUNK = 120
CHUNKS_PER_DOC = 100
TOPIC_SHARE = 0.6
N_VECTOR_QUERIES = 200
REPEATS = 3
TEXT_QUERIES = [
    *queries.QUERIES,
    "evidence use by community organisations",
    "digital learner profiles and credentials",
    "teaching assistants and pupil outcomes",
    "girls dropping out of secondary school",
    "adaptive software for mathematics",
    "metacognition and self-regulated learning in secondary",
    "text message reminders to caregivers",
    "peer tutoring in large classes",
    "formative assessment in Brazilian classrooms",
    "teacher coaching in South Africa",
    "what works for struggling readers",
    "effect size of small group tuition",
    "implementation barriers in rural schools",
    "randomised controlled trial of a reading programme",
]


# ---------------------------------------------------------------- synthetic data


class VectorModel:
    """Anisotropic Gaussian clusters around a shared direction, normalised: embedding-like."""

    def __init__(self, n_clusters: int, seed: int = 0, alpha: float = 0.7) -> None:
        rng = np.random.default_rng(seed)
        rotation, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        spectrum = np.arange(1, DIM + 1) ** -alpha
        self.basis = (np.sqrt(spectrum / spectrum.sum())[:, None] * rotation.T).astype("float32")
        mean = rng.standard_normal(DIM)
        mean *= 0.75 / np.linalg.norm(mean)
        centres = mean + 0.8 * (rng.standard_normal((n_clusters, DIM)) @ self.basis)
        self.centres = centres.astype("float32")

    def draw(self, n: int, rng: np.random.Generator, step: int = 65_536) -> np.ndarray:
        out = np.empty((n, DIM), dtype="float32")
        for lo in range(0, n, step):
            m = min(step, n - lo)
            noise = rng.standard_normal((m, DIM), dtype=np.float32) @ self.basis
            x = self.centres[rng.integers(0, len(self.centres), m)] + 0.8 * noise
            out[lo : lo + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out


def exact_top10(queries: np.ndarray, x: np.ndarray, step: int = 131_072) -> np.ndarray:
    """Row indices of each query's exact top 10 by inner product, scanned in blocks."""
    best_s = np.full((len(queries), 10), -np.inf, dtype="float32")
    best_i = np.zeros((len(queries), 10), dtype="int64")
    for lo in range(0, len(x), step):
        scores = queries @ x[lo : lo + step].T
        s = np.concatenate([best_s, scores], axis=1)
        i = np.concatenate([best_i, np.arange(lo, lo + scores.shape[1])[None].repeat(len(s), 0)], 1)
        top = np.argsort(-s, axis=1)[:, :10]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return best_i


class TextModel:
    """Chunks of words drawn from the sample corpus's word frequencies, one topic per document."""

    def __init__(self) -> None:
        topics, headings = [], []
        for path in sorted((ROOT / "corpus" / "src").glob("*.md")):
            text = path.read_text(encoding="utf-8")
            headings += [h.strip() for h in re.findall(r"^#+ (.+)$", text, flags=re.M)]
            topics.append(Counter(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]*", text)))
        overall = sum(topics, Counter())
        self.vocab = np.array(sorted(overall))
        where = {w: i for i, w in enumerate(self.vocab)}
        self.topic_p = []
        for counts in topics:
            p = np.zeros(len(self.vocab))
            p[[where[w] for w in counts]] = list(counts.values())
            self.topic_p.append(p / p.sum())
        p = np.array([overall[w] for w in self.vocab], dtype=float)
        self.global_p = p / p.sum()
        self.headings = headings

    def chunks(self, n_docs: int, rng: np.random.Generator) -> list[tuple[int, str]]:
        """(topic, text) for CHUNKS_PER_DOC chunks of each of n_docs documents."""
        topics = rng.integers(0, len(self.topic_p), n_docs).repeat(CHUNKS_PER_DOC)
        words = rng.choice(len(self.vocab), (len(topics), WORDS_PER_CHUNK), p=self.global_p)
        own = rng.random(words.shape) < TOPIC_SHARE
        for t in np.unique(topics):
            mask = own & (topics == t)[:, None]
            words[mask] = rng.choice(len(self.vocab), int(mask.sum()), p=self.topic_p[t])
        return [(int(t), " ".join(self.vocab[row])) for t, row in zip(topics, words, strict=True)]


# ---------------------------------------------------------------- build and query steps


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def write_sqlite(path: Path, n: int, rng: np.random.Generator) -> None:
    from synth.index.keyword_fts5 import refresh_common_terms
    from synth.index.store import create_schema

    text = TextModel()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    create_schema(db)
    n_docs = -(-n // CHUNKS_PER_DOC)
    for lo in range(0, n_docs, 200):
        docs = range(lo, min(n_docs, lo + 200))
        db.executemany(
            "INSERT INTO documents (doc_id, source, path, content_hash, kind, title, n_pages, "
            "ingested_at) VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    f"d{d}",
                    f"doc{d}.pdf",
                    f"/synthetic/doc{d}.pdf",
                    f"h{d}",
                    "pdf",
                    f"Report {d}",
                    30,
                    "2026-01-01",
                )
                for d in docs
            ],
        )
        rows, fts = [], []
        for j, (topic, body) in enumerate(text.chunks(len(docs), rng)):
            rowid = lo * CHUNKS_PER_DOC + j + 1
            if rowid > n:
                break
            doc = lo + j // CHUNKS_PER_DOC
            section = text.headings[(topic * 7 + j) % len(text.headings)]
            page = 1 + (j % CHUNKS_PER_DOC) // 4
            rows.append(
                (
                    rowid,
                    f"c{rowid}",
                    f"d{doc}",
                    j % CHUNKS_PER_DOC,
                    section,
                    page,
                    page,
                    body,
                    f"e{rowid}",
                )
            )
            fts.append((rowid, body, section, f"Report {doc}"))
        db.executemany(
            "INSERT INTO chunks (id, chunk_id, doc_id, seq, section, page_start, page_end, text, "
            "embed_hash) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.executemany("INSERT INTO chunks_fts (rowid, text, section, title) VALUES (?,?,?,?)", fts)
    refresh_common_terms(db)
    db.commit()
    db.close()


def build(n: int, root: Path) -> dict[str, object]:
    import faiss

    from synth.index.build import Manifest
    from synth.index.vectors import build_faiss
    from synth.ingest.embed import DEFAULT_MODEL

    rng = np.random.default_rng(1)
    model = VectorModel(max(64, n // 200))
    t0 = time.perf_counter()
    x = model.draw(n, rng)
    queries = model.draw(N_VECTOR_QUERIES, np.random.default_rng(2))
    truth = exact_top10(queries, x) + 1  # rowids are positions + 1
    gen_s = time.perf_counter() - t0
    build_id = "bench"
    build_dir = root / "builds" / build_id
    build_dir.mkdir(parents=True)
    np.savez(root / "truth.npz", queries=queries, truth=truth)
    t0 = time.perf_counter()
    index, name = build_faiss(np.arange(1, n + 1, dtype="int64"), x)
    faiss_s = time.perf_counter() - t0
    del x
    faiss.write_index(index, str(build_dir / "vectors.faiss"))
    del index
    t0 = time.perf_counter()
    write_sqlite(build_dir / "synth.sqlite", n, rng)
    sqlite_s = time.perf_counter() - t0
    manifest = Manifest(
        build_id=build_id,
        created="2026-01-01T00:00:00",
        model=DEFAULT_MODEL,
        dimension=DIM,
        chunker={},
        n_documents=-(-n // CHUNKS_PER_DOC),
        n_chunks=n,
        faiss_index=name,
    )
    (build_dir / "manifest.json").write_text(json.dumps(manifest.to_json()))
    (root / "CURRENT").write_text(build_id + "\n")
    return {
        "index": name,
        "gen_s": gen_s,
        "faiss_s": faiss_s,
        "sqlite_s": sqlite_s,
        "build_peak_gb": peak_gb(),
    }


def timed(fn, items, repeats: int = REPEATS) -> tuple[float, float]:
    """(p50, p95) in ms of fn(item) over items, after one untimed warm-up pass."""
    for item in items:
        fn(item)
    times = []
    for _ in range(repeats):
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def query(n: int, root: Path) -> dict[str, object]:
    from synth.index import Index
    from synth.ingest.embed import load_embedder
    from synth.search import SearchSettings, search

    embedder = load_embedder()
    embedder.encode_query("warm up")
    data = np.load(root / "truth.npz")
    queries, truth = data["queries"], data["truth"]
    before = rss_bytes()
    t0 = time.perf_counter()
    index = Index.open(root)
    open_s = time.perf_counter() - t0
    mem = (rss_bytes() - before) / n
    found = sum(
        len({r for r, _ in index.dense_search(q, 10)} & set(t.tolist()))
        for q, t in zip(queries, truth, strict=True)
    )
    rng = np.random.default_rng(3)
    one_pct = np.sort(rng.choice(np.arange(1, n + 1), n // 100, replace=False))
    half = np.sort(rng.choice(np.arange(1, n + 1), n // 2, replace=False))
    vq = list(queries[:50])
    settings = SearchSettings(k=10)

    def every_term(q: str) -> list[tuple[int, float]]:
        """The keyword query with no term dropped: what common-term pruning saves."""
        return index.keyword.search(q, 60, drop_common=False)

    def keyword(q: str) -> list[tuple[int, float]]:
        """As search() runs it: stems in over half the chunks dropped (common_words)."""
        return index.keyword.search(q, 60)

    repeats = REPEATS if n <= 100_000 else 1

    build_dir = index.path
    out = {
        "recall10": found / truth.size,
        "open_s": open_s,
        "mb_per_chunk": mem / 1e6,
        "faiss_bytes_per_chunk": (build_dir / "vectors.faiss").stat().st_size / n,
        "sqlite_bytes_per_chunk": (build_dir / "synth.sqlite").stat().st_size / n,
        "dense": timed(lambda q: index.dense_search(q, 60), vq),
        "dense_1pct": timed(lambda q: index.dense_search(q, 60, one_pct), vq[:20], 1),
        "dense_half": timed(lambda q: index.dense_search(q, 60, half), vq[:10], 1),
        "embed": timed(embedder.encode_query, TEXT_QUERIES),
        "keyword_all_terms": timed(every_term, TEXT_QUERIES, repeats),
        "keyword": timed(keyword, TEXT_QUERIES, repeats),
        "fused": timed(lambda q: search(index, embedder, q, settings), TEXT_QUERIES, repeats),
        "query_peak_gb": peak_gb(),
    }
    index.close()
    return out


# ---------------------------------------------------------------- driver


def run_size(n: int) -> dict[str, object]:
    result: dict[str, object] = {"n": n}
    with tempfile.TemporaryDirectory(prefix=f"synth-scale-{n}-") as tmp:
        for step in ("build", "query"):
            out = subprocess.run(
                [sys.executable, __file__, "--step", step, "--n", str(n), "--root", tmp],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result.update(json.loads(out.strip().splitlines()[-1]))
    return result


def fmt(p: object) -> str:
    p50, p95 = p  # type: ignore[misc]
    return f"{p50:.1f} / {p95:.1f}"


def row(r: dict[str, object]) -> str:
    peak = max(r["build_peak_gb"], r["query_peak_gb"])  # type: ignore[type-var]
    return (
        f"| {r['n']:,} | {r['index']} | {r['recall10']:.3f} | {fmt(r['dense'])} | "
        f"{fmt(r['dense_1pct'])} | {fmt(r['dense_half'])} | {fmt(r['embed'])} | "
        f"{fmt(r['keyword_all_terms'])} | {fmt(r['keyword'])} | **{fmt(r['fused'])}** | "
        f"{r['mb_per_chunk'] * 1e6:,.0f} | {r['faiss_bytes_per_chunk']:,.0f} | "
        f"{r['sqlite_bytes_per_chunk']:,.0f} | {r['faiss_s']:.1f} | {r['sqlite_s']:.1f} | "
        f"{peak:.1f} |"
    )


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--step", choices=["build", "query"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        fn = build if args.step == "build" else query
        print(json.dumps(fn(args.n, args.root)))
        return 0
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"load average at start (other processes share the cores): {load_average()}")
    print(
        "| chunks | FAISS index | recall@10 | dense ms p50 / p95 | dense, 1% allowed | "
        "dense, 50% allowed | query embedding | keyword, every term | "
        "keyword, common stems dropped (shipped) | "
        "fused search() | resident bytes/chunk | vectors.faiss bytes/chunk | "
        "sqlite bytes/chunk | FAISS build s | SQLite+FTS5 build s | peak RSS GB |"
    )
    print("|" + "---|" * 16)
    for n in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        print(row(run_size(n)), flush=True)
        print(f"<!-- {n:,} chunks: {time.perf_counter() - t0:.0f} s wall -->", flush=True)
    print(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
