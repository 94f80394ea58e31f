"""Ingest throughput: one local process against Ray with 1 and 2 embedding workers, same files.

Run: .venv/bin/python benchmarks/bench_ray.py [--rounds 2] [--pinned]
(needs pip install 'synth[cluster]')

Each configuration ingests corpus/ plus ../shared/corpora/reports into a fresh index (parse,
chunk, embed, tag, write), rounds interleaved so machine load hits them alike; the best round
counts. "warm" excludes starting Ray and loading the model in the actors (a long-running
cluster pays them once); "cold" includes them. Ray runs locally here: workers share this
machine's cores (1 worker: all of them; 2 workers: half each).

`--pinned` stands in for a worker with cores of its own, as on a cluster: a Ray head is
started on core 1 only (its worker processes inherit that), this driver (storing chunks, the
keyword index, FAISS) runs on core 0 only, and the local baseline is this process alone on
core 0. Per-worker efficiency is then the Ray row over the local row, one core each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synth.index import ingest
from synth.ingest.cluster import RayRunner
from synth.ingest.embed import load_embedder

ROOT = Path(__file__).resolve().parents[1]
SHARED_REPORTS = ROOT.parent / "shared" / "corpora" / "reports"
PINNED_PORT = 6391


def files() -> list[Path]:
    return sorted((ROOT / "corpus").glob("*.pdf")) + sorted(SHARED_REPORTS.glob("*.pdf"))


def timed_ingest(runner=None) -> tuple[float, int]:
    embedder = load_embedder()
    with tempfile.TemporaryDirectory(prefix="synth-raybench-") as tmp:
        t0 = time.perf_counter()
        report = ingest(files(), tmp, embedder=lambda: embedder, runner=runner)
        seconds = time.perf_counter() - t0
    return seconds, sum(f.n_chunks for f in report.files)


def pinned(rounds: int) -> dict[str, float]:
    """Local on core 0 against one Ray worker on core 1 with this driver on core 0."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    start = [ray_cli, "start", "--head", f"--port={PINNED_PORT}", "--num-cpus=1"]
    start += ["--include-dashboard=false", "--disable-usage-stats"]
    os.sched_setaffinity(0, {0})
    # `ray start` turns on token authentication (~/.ray/auth_token); a driver must ask for it.
    os.environ["RAY_AUTH_MODE"] = "token"
    subprocess.run(["taskset", "-c", "1", *start], check=True, env=env, capture_output=True)
    best: dict[str, float] = {}
    try:
        for _ in range(rounds):
            seconds, chunks = timed_ingest()
            best["local, 1 core"] = max(best.get("local, 1 core", 0), chunks / seconds)
            address = f"127.0.0.1:{PINNED_PORT}"
            with RayRunner(address=address, workers=1, cpus_per_worker=1) as runner:
                timed_ingest(runner)  # starts the actor and loads its model
                seconds, chunks = timed_ingest(runner)
                name = "ray, 1 worker on its own core"
                best[name] = max(best.get(name, 0), chunks / seconds)
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pinned", action="store_true", help="one core each (see above)")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.pinned:
        best = pinned(args.rounds)
        print(f"\n{len(files())} files; best of {args.rounds} interleaved rounds\n")
        print("| runner (one core) | chunks/s warm | vs local |\n|---|---|---|")
        for name, rate in best.items():
            print(f"| {name} | {rate:.1f} | {rate / best['local, 1 core']:.2f} |")
        print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return 0
    load_embedder().encode(["warm up"])
    best: dict[str, float] = {}
    cold: dict[str, float] = {}
    chunks = 0
    for _ in range(args.rounds):
        seconds, chunks = timed_ingest()
        best["local"] = max(best.get("local", 0), chunks / seconds)
        for workers in (1, 2):
            name = f"ray, {workers} worker{'s' if workers > 1 else ''}"
            t0 = time.perf_counter()
            with RayRunner(workers=workers) as runner:
                seconds, chunks = timed_ingest(runner)  # includes Ray start and model loads
                cold[name] = max(cold.get(name, 0), chunks / (time.perf_counter() - t0))
                seconds, chunks = timed_ingest(runner)  # actors warm
                best[name] = max(best.get(name, 0), chunks / seconds)
    print(f"\n{len(files())} files, {chunks} chunks; best of {args.rounds} interleaved rounds\n")
    print("| runner | chunks/s warm | vs local | chunks/s cold (Ray start + model loads) |")
    print("|---|---|---|---|")
    for name, rate in best.items():
        cold_cell = f"{cold[name]:.1f}" if name in cold else "-"
        print(f"| {name} | {rate:.1f} | {rate / best['local']:.2f} | {cold_cell} |")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
