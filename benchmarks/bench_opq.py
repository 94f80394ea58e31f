"""Does an OPQ rotation pay in front of synth's IVF-PQ tier? Same vectors, with and without it.

Run: .venv/bin/python benchmarks/bench_opq.py [--n 1000000] [--workdir DIR]

Both indexes are written by synth's own `vectors_pq.write_index` (sampled training, batched
adds, float vectors beside it) from the synthetic vector mixture bench_scale.py uses, and read
with `CompressedDenseIndex` as search does. For 200 queries drawn from the same mixture:
recall@10 against an exact scan of every vector, as synth searches (the best 256 compressed
candidates re-scored exactly), with fewer candidates re-scored (64: less reading from disk, if
the rotation made the codes good enough), and of the compressed codes alone (no re-scoring);
p50 / p95 ms of one query on one core; training and adding time; bytes per vector on disk.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from synthetic import DIM, VectorModel

from synth.index import vectors_pq

N_QUERIES = 200


def exact_top10(queries: np.ndarray, batches) -> np.ndarray:
    best_s = np.full((len(queries), 10), -np.inf)
    best_i = np.zeros((len(queries), 10), dtype="int64")
    for ids, block in batches():
        s = np.concatenate([best_s, queries @ block.T], axis=1)
        i = np.concatenate([best_i, np.broadcast_to(ids, (len(queries), len(ids)))], axis=1)
        top = np.argsort(-s, axis=1, kind="stable")[:, :10]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return best_i


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return (
        sum(len(set(f[:10]) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
        / truth.size
    )


def measure(opq: bool, n: int, batches, queries, truth, folder: Path) -> dict[str, float]:
    vectors_pq.OPQ = opq
    path = folder / "vectors.faiss"
    t0 = time.perf_counter()
    vectors_pq.write_index(n, DIM, batches, path)
    out = {"build_s": time.perf_counter() - t0, "bytes": path.stat().st_size / n}
    dense = vectors_pq.CompressedDenseIndex(path)
    try:
        codes = [dense._candidates(q[None, :], 10).tolist() for q in queries]
        out["recall codes only"] = recall(codes, truth)
        for rerank in (64, 256):
            found = [
                [
                    r
                    for r, _ in dense._rescored(
                        q[None, :], dense._candidates(q[None, :], rerank), 10
                    )
                ]
                for q in queries
            ]
            out[f"recall re-scoring {rerank}"] = recall(found, truth)
        times = []
        for q in queries:
            t0 = time.perf_counter()
            dense.search(q, 10)
            times.append((time.perf_counter() - t0) * 1000)
        out["p50_ms"], out["p95_ms"] = np.percentile(times, 50), np.percentile(times, 95)
    finally:
        dense.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    model = VectorModel(max(64, args.n // 200))

    def batches():
        return model.numbered(args.n)

    queries = model.draw(N_QUERIES, np.random.default_rng(2))
    truth = exact_top10(queries, batches)
    nlist = vectors_pq.pq_lists(args.n)
    print(f"\n{args.n:,} vectors, {nlist} lists, {vectors_pq.probes(nlist)} probed\n")
    print(
        "| index | recall@10 (256 re-scored, synth) | 64 re-scored | codes only | p50 / p95 ms |"
        " train + add s | bytes/vector |"
    )
    print("|---|---|---|---|---|---|---|")
    for opq in (False, True):
        with tempfile.TemporaryDirectory(prefix="synth-opq-", dir=args.workdir) as tmp:
            r = measure(opq, args.n, batches, queries, truth, Path(tmp))
        print(
            f"| {vectors_pq.factory(nlist)} | {r['recall re-scoring 256']:.3f} |"
            f" {r['recall re-scoring 64']:.3f} | {r['recall codes only']:.3f} |"
            f" {r['p50_ms']:.1f} / {r['p95_ms']:.1f} | {r['build_s']:.0f} | {r['bytes']:.1f} |",
            flush=True,
        )
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
