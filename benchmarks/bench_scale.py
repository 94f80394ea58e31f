"""Search at 100k, 1M and 10M chunks: keyword engines, dense index, fused search(), filters.

Run: .venv/bin/python benchmarks/bench_scale.py [--sizes 100000,1000000,10000000]

For each size a real synth build directory is written from the synthetic corpus of
benchmarks/synthetic.py (Zipfian words, real chunk lengths, random clustered vectors): SQLite
chunks and documents with document tags (country on a Zipf spread, phase round-robin), the
tantivy keyword index made by synth's own build code, and the FAISS index synth picks for the
size (flat, IVF, or the memory-mapped IVF-PQ past 2M), streamed in batches so no step holds
the corpus. Up to 1M the same database also gets FTS5 and a bm25s index, for comparison.
Then a fresh process opens it with `Index.open` and times warm queries, p50 / p95 ms:
each keyword engine alone, dense alone, the query embedding (real MiniLM), and fused `search()`
(the product's code path), without a filter and with a selective and a broad one. An open
index remembers the rowids of its last few filters; "fused, new filter" resolves the filter in
SQLite for every question, as the first question under a filter does.

recall@10 is the dense top 10 against an exact scan of every vector for 100 queries drawn from
the vector mixture; filtered recall likewise over the allowed vectors. Memory per chunk is the
resident-set growth from opening the index; files per chunk are sizes on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import queries
from synthetic import CHUNKS_PER_DOC, DIM, TextModel, VectorModel

COUNTRIES = ["GB", "US", "IN", "KE", "GH", "ZA", "BR", "PK", "BD", "ZM", "CL", "SL", "AU"]
PHASES = ["early-years", "primary", "secondary", "post-16"]
FILTERS = {
    "two facets (country=AU, phase=primary)": {"country": ("AU",), "phase": ("primary",)},
    "selective (country=AU)": {"country": ("AU",)},
    "broad (phase=primary)": {"phase": ("primary",)},
}
TEXT_QUERIES = [
    *queries.QUERIES,
    "evidence use by community organisations",
    "teaching assistants and pupil outcomes",
    "girls dropping out of secondary school",
    "peer tutoring in large classes",
    "what works for struggling readers",
    "randomised controlled trial of a reading programme",
    "implementation barriers in rural schools",
    "text message reminders to caregivers",
]
N_VECTOR_QUERIES = 100
FTS5_MAX = 1_000_000  # FTS5 is built for comparison up to this size
BM25S_MAX = 100_000  # bm25s too (its Python tokenizer took 316 s for 100k chunks here)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def rss_bytes(kind: str = "VmRSS") -> int:
    """Resident bytes: all (VmRSS), allocated (RssAnon) or mapped files' pages (RssFile)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return int(line.split()[1]) * 1024
    return 0


def resident(before: dict[str, int], n: int) -> dict[str, float]:
    """Growth per chunk since `before` (a `resident_now()`), split allocated / mapped files."""
    now = resident_now()
    return {kind: (now[kind] - before[kind]) / n for kind in now}


def resident_now() -> dict[str, int]:
    return {kind: rss_bytes(kind) for kind in ("VmRSS", "RssAnon", "RssFile")}


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


# ---------------------------------------------------------------- build


def write_sqlite(db, n: int, keep_texts: bool) -> list[str]:
    """Documents, document tags and chunks; returns the texts when bm25s needs them."""
    from synth.index.store import create_schema

    create_schema(db)
    db.execute("DROP TRIGGER keyword_chunk_added")  # a bulk load: the engine is built whole
    weights = 1 / np.arange(1, len(COUNTRIES) + 1) ** 1.5
    weights /= weights.sum()
    rng = np.random.default_rng(5)
    texts: list[str] = []
    for batch in TextModel().batches(n):
        docs = np.unique(batch.docs).tolist()
        db.executemany(
            "INSERT INTO documents (doc_id, source, path, content_hash, kind, title, n_pages, "
            "ingested_at) VALUES (?,?,?,?,?,?,?,?)",
            [
                (f"d{d}", f"d{d}.pdf", f"/s/d{d}.pdf", f"h{d}", "pdf", f"Report {d}", 30, "")
                for d in docs
            ],
        )
        countries = rng.choice(len(COUNTRIES), len(docs), p=weights)
        db.executemany(
            "INSERT INTO doc_tags VALUES (?,?,?,?,?)",
            [
                (f"d{d}", "country", COUNTRIES[c], "rule", 0.9)
                for d, c in zip(docs, countries, strict=True)
            ]
            + [(f"d{d}", "phase", PHASES[d % len(PHASES)], "rule", 0.9) for d in docs],
        )
        db.executemany(
            "INSERT INTO chunks (id, chunk_id, doc_id, seq, section, page_start, page_end, text, "
            "embed_hash) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (r, f"c{r}", f"d{d}", r % CHUNKS_PER_DOC, s, 1, 1, t, str(r))
                for r, d, s, t in zip(
                    batch.rowids.tolist(),
                    batch.docs.tolist(),
                    batch.sections,
                    batch.texts,
                    strict=True,
                )
            ],
        )
        if keep_texts:
            texts += [
                f"{ti}\n{s}\n{t}"
                for ti, s, t in zip(batch.titles, batch.sections, batch.texts, strict=True)
            ]
    db.commit()
    return texts


def build(n: int, root: Path, dense_only: bool = False) -> dict[str, object]:
    from synth.index import keyword, store, vectors
    from synth.index.build import Manifest
    from synth.ingest.embed import DEFAULT_MODEL

    out: dict[str, object] = {}
    build_dir = root / "builds" / "bench"
    build_dir.mkdir(parents=True)
    db = store.connect(build_dir / "synth.sqlite", readonly=False)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    if not dense_only:
        build_keywords(db, n, build_dir, root, out)
    db.close()
    model = VectorModel(max(64, n // 200))

    def batches():
        return model.numbered(n)

    t0 = time.perf_counter()
    _, name = vectors.write_index_batches(n, DIM, batches, build_dir / "vectors.faiss")
    out["faiss_s"] = time.perf_counter() - t0
    out["index"] = name
    t0 = time.perf_counter()
    out["truth_s"] = exact_truth(n, model, batches, root)
    manifest = Manifest("bench", "", DEFAULT_MODEL, DIM, {}, -(-n // CHUNKS_PER_DOC), n)
    manifest.faiss_index = name
    manifest.keyword_index = keyword.NAMES[keyword.TANTIVY]
    (build_dir / "manifest.json").write_text(json.dumps(manifest.to_json()))
    (root / "CURRENT").write_text("bench\n")
    out["build_peak_gb"] = peak_gb()
    return out


def build_keywords(db, n: int, build_dir: Path, root: Path, out: dict[str, object]) -> None:
    from synth.index import keyword, keyword_fts5, keyword_tantivy

    t0 = time.perf_counter()
    texts = write_sqlite(db, n, keep_texts=n <= BM25S_MAX)
    out["sqlite_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    keyword_tantivy.apply(db, build_dir / keyword.FOLDER, None, keyword.indexed_sql())
    db.execute("INSERT OR REPLACE INTO keyword_state VALUES ('engine', 'tantivy')")
    out["tantivy_s"] = time.perf_counter() - t0
    if n <= FTS5_MAX:
        t0 = time.perf_counter()
        keyword_fts5.apply(db, None, keyword.indexed_sql())
        out["fts5_s"] = time.perf_counter() - t0
    if texts:
        out["bm25s_s"] = build_bm25s(texts, root / "bm25s")
    db.commit()


def build_bm25s(texts: list[str], folder: Path) -> float:
    import bm25s
    import Stemmer

    t0 = time.perf_counter()
    tokens = bm25s.tokenize(texts, stemmer=Stemmer.Stemmer("porter"), show_progress=False)
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(tokens, show_progress=False)
    retriever.save(str(folder))
    return time.perf_counter() - t0


def exact_truth(n: int, model: VectorModel, batches, root: Path) -> float:
    """Exact top 10 for the vector queries, unfiltered and within each filter, by a full scan."""
    t0 = time.perf_counter()
    q = model.draw(N_VECTOR_QUERIES, np.random.default_rng(2))
    masks = {name: allowed_mask(n, spec) for name, spec in FILTERS.items()}
    best = {
        name: (np.full((len(q), 10), -np.inf), np.zeros((len(q), 10), "int64"))
        for name in ["all", *masks]
    }
    for ids, block in batches():
        scores = q @ block.T
        for name, (bs, bi) in best.items():
            s = scores if name == "all" else np.where(masks[name][ids - 1], scores, -np.inf)
            s2 = np.concatenate([bs, s], axis=1)
            i2 = np.concatenate([bi, np.broadcast_to(ids, s.shape)], axis=1)
            top = np.argsort(-s2, axis=1, kind="stable")[:, :10]
            best[name] = (np.take_along_axis(s2, top, 1), np.take_along_axis(i2, top, 1))
    counts = {f"count {k}": np.array(m.sum()) for k, m in masks.items()}
    np.savez(root / "truth.npz", queries=q, **{k: v[1] for k, v in best.items()}, **counts)
    return time.perf_counter() - t0


def allowed_mask(n: int, spec: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Which rowids a filter allows, recomputed from the same seeded tag draw as write_sqlite."""
    weights = 1 / np.arange(1, len(COUNTRIES) + 1) ** 1.5
    weights /= weights.sum()
    rng = np.random.default_rng(5)
    docs_ok = []
    for lo in range(0, n, 20_000):
        docs = np.unique((np.arange(lo, min(n, lo + 20_000))) // CHUNKS_PER_DOC)
        countries = rng.choice(len(COUNTRIES), len(docs), p=weights)
        ok = np.ones(len(docs), dtype=bool)
        if "country" in spec:
            ok &= np.isin(np.array(COUNTRIES)[countries], spec["country"])
        if "phase" in spec:
            ok &= np.isin(np.array(PHASES)[docs % len(PHASES)], spec["phase"])
        docs_ok.append(ok)
    ok = np.concatenate(docs_ok)
    return ok[np.arange(n) // CHUNKS_PER_DOC]


# ---------------------------------------------------------------- query


def timed(fn, items, repeats: int) -> tuple[float, float]:
    for item in items[:3]:
        fn(item)
    times = []
    for _ in range(repeats):
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def recall_at_10(search, truth, allowed: dict[str, np.ndarray | None]) -> dict[str, float]:
    """Share of each filter's exact top 10 that `search(vector, 10, allowed)` returns."""
    recall = {}
    for name, ids in allowed.items():
        key = "all" if ids is None else name
        found = sum(
            len({r for r, _ in search(q, 10, ids)} & set(t.tolist()))
            for q, t in zip(truth["queries"], truth[key], strict=True)
        )
        recall[name] = found / truth[key].size
    return recall


def query_dense(n: int, root: Path) -> dict[str, object]:
    """Vectors only (no SQLite, no keywords): the FAISS index synth picks, opened as it does."""
    from synth.index.vectors import read_dense

    truth = np.load(root / "truth.npz")
    before = rss_bytes()
    path = root / "builds" / "bench" / "vectors.faiss"
    dense = read_dense(path)
    out: dict[str, object] = {"resident_bytes_per_chunk": (rss_bytes() - before) / n}
    out["files"] = {
        "vectors": folder_bytes(path) / n,
        "float vectors": sum(
            folder_bytes(path.with_name(f)) for f in ("vectors.f32", "vectors.ids")
        )
        / n,
    }
    qv = list(truth["queries"])
    allowed = {"none": None}
    allowed.update({k: np.flatnonzero(allowed_mask(n, v)) + 1 for k, v in FILTERS.items()})
    out["allowed"] = {k: (n if v is None else len(v)) for k, v in allowed.items()}
    out["recall10"] = recall_at_10(dense.search, truth, allowed)
    latency = {}
    for name, ids in allowed.items():
        latency[name] = {"dense": timed(lambda q, ids=ids: dense.search(q, 60, ids), qv[:50], 1)}
    out["latency"] = latency
    out["resident_after_queries_bytes_per_chunk"] = (rss_bytes() - before) / n
    out["query_peak_gb"] = peak_gb()
    return out


def query(n: int, root: Path) -> dict[str, object]:
    from synth.index import Index, keyword_fts5
    from synth.ingest.embed import load_embedder
    from synth.models import Filters
    from synth.search import SearchSettings, search

    embedder = load_embedder()
    embedder.encode_query("warm up")
    truth = np.load(root / "truth.npz")
    before = rss_bytes()
    parts = resident_now()
    t0 = time.perf_counter()
    index = Index.open(root)
    out: dict[str, object] = {"open_s": time.perf_counter() - t0}
    out["resident_bytes_per_chunk"] = (rss_bytes() - before) / n
    out["resident_after_open"] = resident(parts, n)
    build_dir = index.path
    out["files"] = {
        "vectors": folder_bytes(build_dir / "vectors.faiss") / n,
        "float vectors": sum(folder_bytes(build_dir / f) for f in ("vectors.f32", "vectors.ids"))
        / n,
        "tantivy": folder_bytes(build_dir / "keyword") / n,
        "sqlite": folder_bytes(build_dir / "synth.sqlite") / n,
    }
    repeats = 3 if n <= 1_000_000 else 2
    allowed = {"none": None}
    out["filter_ms"] = {}
    for name, spec in FILTERS.items():
        t0 = time.perf_counter()
        allowed[name] = index.filter_ids(Filters(spec), 0.6)
        out["filter_ms"][name] = (time.perf_counter() - t0) * 1000
        assert len(allowed[name]) == int(truth[f"count {name}"]), name
    out["allowed"] = {k: (n if v is None else len(v)) for k, v in allowed.items()}
    qv = list(truth["queries"])
    out["recall10"] = recall_at_10(index.dense_search, truth, allowed)

    # The embedder remembers recent questions (the app's filter clicks); every timing here
    # encodes the question afresh, as the targets count the query embedding.
    def fresh_query(q: str):
        embedder.forget_queries()
        return embedder.encode_query(q)

    out["embed"] = timed(fresh_query, TEXT_QUERIES, repeats)
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    engines = {"tantivy": index.keyword}
    if n <= FTS5_MAX:
        engines["fts5"] = keyword_fts5.Fts5Engine(index.db, index._lock, index._tables)
    if (root / "bm25s").exists():
        engines["bm25s"] = Bm25sEngine(root / "bm25s", n)
    for name, ids in allowed.items():
        row = {"dense": timed(lambda q, ids=ids: index.dense_search(q, 60, ids), qv[:40], 1)}
        for engine_name, engine in engines.items():
            row[engine_name] = timed(
                lambda q, e=engine, ids=ids: e.search(q, 60, ids), TEXT_QUERIES, repeats
            )
        spec = None if ids is None else Filters(FILTERS[name])
        row["fused"] = timed(
            lambda q, f=spec: (
                embedder.forget_queries(),
                search(index, embedder, q, SearchSettings(k=10), f),
            ),
            TEXT_QUERIES,
            repeats,
        )
        if spec is not None:  # as if each question came with a filter not asked before
            row["fused, new filter"] = timed(
                lambda q, f=spec: (
                    embedder.forget_queries(),
                    index.forget_filters(),
                    search(index, embedder, q, SearchSettings(k=10), f),
                ),
                TEXT_QUERIES,
                1,
            )
        rows[name] = row
    out["latency"] = rows
    out["resident_after_queries_bytes_per_chunk"] = (rss_bytes() - before) / n
    out["resident_after_queries"] = resident(parts, n)
    out["query_peak_gb"] = peak_gb()
    index.close()
    return out


class Bm25sEngine:
    """bm25s behind synth's keyword interface, for latency only: filters as a weight mask."""

    def __init__(self, folder: Path, n: int) -> None:
        import bm25s
        import Stemmer

        self.retriever = bm25s.BM25.load(str(folder))
        self.stemmer = Stemmer.Stemmer("porter")
        self.n = n

    def search(self, query: str, limit: int, allowed=None):
        import bm25s

        tokens = bm25s.tokenize([query], stemmer=self.stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(self.n, dtype="float32")
            mask[allowed - 1] = 1
        found, scores = self.retriever.retrieve(
            tokens, k=limit, show_progress=False, weight_mask=mask, n_threads=1
        )
        return list(zip((found[0] + 1).tolist(), scores[0].tolist(), strict=True))


# ---------------------------------------------------------------- driver


def run_size(
    n: int, workdir: Path | None, dense_only: bool, pq_min: int | None, no_fts5: bool = False
) -> dict[str, object]:
    result: dict[str, object] = {"n": n, "dense_only": dense_only, "no_fts5": no_fts5}
    with tempfile.TemporaryDirectory(prefix=f"synth-scale-{n}-", dir=workdir) as tmp:
        for step in ("build", "query"):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, __file__, "--step", step, "--n", str(n), "--root", tmp]
                + (["--dense-only"] if dense_only else [])
                + (["--no-fts5"] if no_fts5 else [])
                + ([f"--pq-min={pq_min}"] if pq_min is not None else []),
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                raise RuntimeError(f"{step} {n}: {proc.stderr[-3000:]}")
            result.update(json.loads(proc.stdout.strip().splitlines()[-1]))
            result[f"{step}_wall_s"] = time.perf_counter() - t0
    return result


def fmt(p) -> str:
    return f"{p[0]:.1f} / {p[1]:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--workdir", type=Path, help="where the builds go (default: /tmp)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument(
        "--dense-only", action="store_true", help="vectors only: no SQLite, no keyword index"
    )
    parser.add_argument(
        "--no-fts5", action="store_true", help="skip the FTS5 comparison (slow past 100k)"
    )
    parser.add_argument(
        "--pq-min",
        type=int,
        help="use the IVF-PQ tier past this many chunks (default: synth's PQ_MIN_VECTORS)",
    )
    parser.add_argument("--step", choices=["build", "query"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pq_min is not None:
        from synth.index import vectors

        vectors.PQ_MIN_VECTORS = args.pq_min
    if args.no_fts5:
        global FTS5_MAX
        FTS5_MAX = 0
    if args.step:
        if args.step == "build":
            print(json.dumps(build(args.n, args.root, args.dense_only)))
        else:
            step = query_dense if args.dense_only else query
            print(json.dumps(step(args.n, args.root)))
        return 0
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        r = run_size(n, args.workdir, args.dense_only, args.pq_min, args.no_fts5)
        results.append(r)
        print(json.dumps(r), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        for name, row in r["latency"].items():
            cells = " | ".join(f"{k} {fmt(v)}" for k, v in row.items())
            print(f"| {n:,} | {name} ({r['allowed'][name]:,}) | {cells} |", flush=True)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
