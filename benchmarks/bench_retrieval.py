"""Retrieval quality: every fusion variant scored on the dev QA set, in one process.

Run: .venv/bin/python benchmarks/bench_retrieval.py  (corpus/ plus ../shared/corpora/reports)

Builds one temporary index of corpus/ and the shared reports per embedded-string variant, takes
each question's dense and keyword candidates once (pool 200), and fuses them every way listed
below. The fusion arithmetic here mirrors synth.search; the run first checks that it reproduces
`search()` hit for hit on the shipped settings, and the final table is scored through
`synth.evaluate.evaluate`, which calls `search()` itself. Prints Markdown tables for
benchmarks/README.md. The QA judgments (phrases) are used only to score hits.
"""

from __future__ import annotations

import contextlib
import functools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import synth.index.embedding as embedding_module
import synth.index.store as store_module
from synth.index import Index, ingest
from synth.ingest.embed import Embedder, load_embedder
from synth.models import Hit
from synth.search import SearchSettings, search
from synth.search.evaluate import (
    MODES,
    EvalReport,
    Metrics,
    QASet,
    evaluate,
    gains,
    load_qa,
    metrics,
)

ROOT = Path(__file__).resolve().parents[1]
QA_FILE = ROOT / "benchmarks" / "qa_dev.tsv"
SHARED_REPORTS = ROOT.parent / "shared" / "corpora" / "reports"
DEPTH = 10
ALPHAS = [round(0.1 * i, 1) for i in range(1, 10)]
POOLS = [10, 20, 40, 60, 100, 200]
RRF_KS = [10, 30, 60, 100]
STYLES = ["headings", "text", "title_headings"]
if "--quick" in sys.argv:
    STYLES = ["headings"]

Scores = dict[int, float]


@dataclass
class Candidates:
    """One question's raw candidates, best first, as the two retrievers return them."""

    dense: list[tuple[int, float]]
    keyword: list[tuple[int, float]]


@dataclass(frozen=True)
class Variant:
    name: str
    style: str
    fuse: Callable[[Scores, Scores], Scores]
    pool: int = 60
    # Score every pooled chunk on both sides (exact cosine; BM25, 0 if no term matches) instead
    # of treating a chunk missing from one top-`pool` list as that list's minimum.
    complete: bool = False


# ---------------------------------------------------------------- fusion functions


def minmax(scores: Scores) -> Scores:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-9:
        return {key: 1.0 for key in scores}
    return {key: (v - lo) / (hi - lo) for key, v in scores.items()}


def zscore(scores: Scores) -> Scores:
    if len(scores) < 2:
        return {key: 0.0 for key in scores}
    mean, sd = statistics.fmean(scores.values()), statistics.pstdev(scores.values())
    return {key: (v - mean) / sd if sd > 1e-9 else 0.0 for key, v in scores.items()}


def by_max(scores: Scores) -> Scores:
    hi = max(scores.values(), default=0.0)
    return {key: v / hi if hi > 1e-9 else 0.0 for key, v in scores.items()}


def weighted(norm: Callable[[Scores], Scores], alpha: float) -> Callable[[Scores, Scores], Scores]:
    """alpha * dense + (1 - alpha) * keyword; a chunk missing from a list gets that list's min."""

    def fuse(dense: Scores, keyword: Scores) -> Scores:
        d, kw = norm(dense), norm(keyword)
        d_min, k_min = min(d.values(), default=0.0), min(kw.values(), default=0.0)
        if norm is minmax:  # synth.search gives a missing chunk 0, which min-max's minimum is
            d_min = k_min = 0.0
        return {
            key: alpha * d.get(key, d_min) + (1 - alpha) * kw.get(key, k_min)
            for key in set(d) | set(kw)
        }

    return fuse


def rrf(k: int) -> Callable[[Scores, Scores], Scores]:
    def fuse(dense: Scores, keyword: Scores) -> Scores:
        out: Scores = {}
        for scores in (dense, keyword):
            ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
            for rank, (key, _) in enumerate(ranked, start=1):
                out[key] = out.get(key, 0.0) + 1.0 / (k + rank)
        return out

    return fuse


def only(which: str) -> Callable[[Scores, Scores], Scores]:
    return lambda dense, keyword: dict(dense if which == "dense" else keyword)


def top(scores: Scores, n: int) -> list[int]:
    return [key for key, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:n]]


# ---------------------------------------------------------------- indexes and candidates


@contextlib.contextmanager
def embedding_style(style: str) -> Iterator[None]:
    """Ingest with another embedded string: the index's store (which hashes it) and embedder
    (which embeds it) look embedding_text up by name."""
    original = store_module.embedding_text
    for module in (store_module, embedding_module):
        module.embedding_text = functools.partial(original, style=style)
    try:
        yield
    finally:
        for module in (store_module, embedding_module):
            module.embedding_text = original


def build(style: str, root: Path, embedder: Embedder) -> Index:
    paths = [ROOT / "corpus"] + ([SHARED_REPORTS] if SHARED_REPORTS.is_dir() else [])
    with embedding_style(style):
        report = ingest(paths, root, embedder=lambda: embedder)
    failed = [(f.path, f.reason) for f in report.files if f.status == "failed"]
    if failed:
        raise SystemExit(f"ingest failed: {failed}")
    return Index.open(root)


def candidates(index: Index, embedder: Embedder, qa: QASet) -> list[Candidates]:
    """Every chunk's cosine and every matching chunk's BM25, best first: pools are prefixes."""
    n = index.manifest.n_chunks
    out = []
    for q in qa.questions:
        vector = embedder.encode_query(q.query)
        out.append(
            Candidates(
                index.dense_search(vector, n),
                index.keyword.search(q.query, n, drop_common=False),
            )
        )
    return out


def all_hits(index: Index) -> dict[int, Hit]:
    """Every chunk as a Hit, so a fused ranking can be judged exactly as evaluate() judges."""
    rows = index.query("SELECT id FROM chunks")
    records = index.chunks([r["id"] for r in rows])
    return {key: r.hit(0, 0.0, {}) for key, r in records.items()}


# ---------------------------------------------------------------- scoring


@dataclass
class Row:
    variant: Variant
    all: Metrics
    odd: Metrics
    even: Metrics


def score(
    variant: Variant, qa: QASet, cands: list[Candidates], hits: dict[int, Hit]
) -> tuple[Row, list[list[int]]]:
    ranked_gains, rankings = [], []
    for q, c in zip(qa.questions, cands, strict=True):
        dense, keyword = dict(c.dense[: variant.pool]), dict(c.keyword[: variant.pool])
        if variant.complete:
            all_dense, all_keyword = dict(c.dense), dict(c.keyword)
            union = set(dense) | set(keyword)
            dense = {key: all_dense[key] for key in union}
            keyword = {key: all_keyword.get(key, 0.0) for key in union}
        ranking = top(variant.fuse(dense, keyword), DEPTH)
        rankings.append(ranking)
        ranked_gains.append(gains(q, [hits[key] for key in ranking]))
    return (
        Row(
            variant,
            metrics(ranked_gains, depth=DEPTH),
            metrics(ranked_gains[0::2], depth=DEPTH),
            metrics(ranked_gains[1::2], depth=DEPTH),
        ),
        rankings,
    )


def check_mirror(
    index: Index,
    embedder: Embedder,
    qa: QASet,
    rankings: list[list[int]],
    settings: SearchSettings,
) -> None:
    """The arithmetic here must equal synth.search's, hit for hit, or the tables mean nothing."""
    chunk_rowid = {r["chunk_id"]: r["id"] for r in index.query("SELECT id, chunk_id FROM chunks")}
    for q, expected in zip(qa.questions, rankings, strict=True):
        got = [chunk_rowid[h.chunk_id] for h in search(index, embedder, q.query, settings)]
        if got != expected:
            raise SystemExit(f"bench fusion differs from search() ({settings}) on: {q.query}")


def shipped_variant(settings: SearchSettings, style: str = "headings") -> Variant:
    """The fusion synth.search runs with `settings`, as a benchmark variant."""
    if settings.fusion == "rrf":
        return Variant(f"RRF k={settings.rrf_k}", style, rrf(settings.rrf_k), settings.pool)
    return Variant(
        f"min-max, alpha {settings.alpha}", style, weighted(minmax, settings.alpha), settings.pool
    )


def beats_baselines(row: Row, dense: Row, keyword: Row) -> bool:
    """Higher MRR@10 and hit@1 than both single retrievers, on the odd and the even half."""
    return all(
        getattr(row, half).mrr > getattr(base, half).mrr
        and getattr(row, half).hit_at[1] > getattr(base, half).hit_at[1]
        for half in ("odd", "even")
        for base in (dense, keyword)
    )


def bootstrap(a: Sequence[float], b: Sequence[float], n: int = 10_000) -> tuple[float, float]:
    """95% interval of mean(a - b) over questions resampled with replacement (paired)."""
    rng = random.Random(0)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n)]


def fmt(m: Metrics) -> str:
    return f"{m.hit_at[1]:.3f} | {m.hit_at[5]:.3f} | {m.hit_at[DEPTH]:.3f} | {m.mrr:.3f}"


def table(rows: Sequence[Row]) -> str:
    head = (
        "| variant | embedded string | pool | hit@1 | hit@5 | hit@10 | MRR@10 | "
        "MRR@10 odd | MRR@10 even | hit@1 odd | hit@1 even |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        v = r.variant
        lines.append(
            f"| {v.name} | {v.style} | {v.pool} | {fmt(r.all)} | {r.odd.mrr:.3f} | "
            f"{r.even.mrr:.3f} | {r.odd.hit_at[1]:.3f} | {r.even.hit_at[1]:.3f} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- the variants


def fusion_variants(style: str, pool: int = 60) -> list[Variant]:
    out = [
        Variant("dense only", style, only("dense"), pool),
        Variant("keyword only", style, only("keyword"), pool),
    ]
    for label, norm in (("min-max", minmax), ("z-score", zscore), ("divide by max", by_max)):
        out += [Variant(f"{label}, alpha {a}", style, weighted(norm, a), pool) for a in ALPHAS]
    out += [Variant(f"RRF k={k}", style, rrf(k), pool) for k in RRF_KS]
    out += [
        Variant(f"min-max, alpha {a}, scores completed", style, weighted(minmax, a), pool, True)
        for a in ALPHAS
    ]
    return out


def margins(report: EvalReport) -> str:
    """Fused minus each single mode, with paired-bootstrap 95% intervals over questions."""
    by_mode = {r.mode: r for r in report.results}
    fused = by_mode["fused"]
    lines = ["| fused minus | MRR@10 (95% CI) | hit@1 (95% CI) |", "|---|---|---|"]
    for other in ("dense", "keyword"):
        cells = []
        for value in (_rr, _hit1):
            a = [value(f) for f in fused.first_ranks]
            b = [value(f) for f in by_mode[other].first_ranks]
            lo, hi = bootstrap(a, b)
            cells.append(
                f"{statistics.fmean(a) - statistics.fmean(b):+.3f} ({lo:+.3f} to {hi:+.3f})"
            )
        lines.append(f"| {other} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def _rr(first: int | None) -> float:
    return 1.0 / first if first else 0.0


def _hit1(first: int | None) -> float:
    return 1.0 if first == 1 else 0.0


def main() -> int:
    if not SHARED_REPORTS.is_dir():
        print(f"note: {SHARED_REPORTS} absent; the dev set's shared-report questions will miss")
    qa = load_qa(QA_FILE)
    embedder = load_embedder()
    shipped = SearchSettings(k=DEPTH)
    print(f"{len(qa.questions)} questions from {QA_FILE.relative_to(ROOT)}; shipped: {shipped}\n")
    with tempfile.TemporaryDirectory() as tmp:
        indexes, cands, hits = {}, {}, {}
        for style in STYLES:
            t0 = time.perf_counter()
            indexes[style] = build(style, Path(tmp) / style, embedder)
            cands[style] = candidates(indexes[style], embedder, qa)
            hits[style] = all_hits(indexes[style])
            n = indexes[style].manifest.n_chunks
            print(f"built '{style}' index: {n} chunks in {time.perf_counter() - t0:.0f}s")

        def run(variants: list[Variant]) -> list[Row]:
            return [score(v, qa, cands[v.style], hits[v.style])[0] for v in variants]

        base = indexes["headings"]
        for settings in (shipped, replace(shipped, fusion="rrf")):
            rankings = score(shipped_variant(settings), qa, cands["headings"], hits["headings"])[1]
            check_mirror(base, embedder, qa, rankings, settings)

        print("\n### Fusion functions (embedded string: last 2 headings + text, pool 60)\n")
        rows = run(fusion_variants("headings"))
        print(table(rows))
        dense, keyword = rows[0], rows[1]
        best = max(rows[2:], key=lambda r: (r.all.mrr, r.all.hit_at[1]))
        holding = [r for r in rows[2:] if beats_baselines(r, dense, keyword)]
        print(f"\nbest MRR@10 on the whole set: {best.variant.name}")
        print("beat dense and keyword on MRR@10 and hit@1 on both halves: ")
        print("; ".join(r.variant.name for r in holding) or "none")

        chosen = shipped_variant(shipped)
        print(f"\n### Candidate pool ({chosen.name})\n")
        print(table(run([replace(chosen, pool=p) for p in POOLS])))

        if len(STYLES) > 1:
            print(f"\n### Embedded string ({chosen.name}, pool {chosen.pool})\n")
            print(
                table(
                    run(
                        [Variant("dense only", s, only("dense")) for s in STYLES]
                        + [replace(chosen, style=s) for s in STYLES]
                    )
                )
            )

        print("\n### Shipped settings through `synth eval` (evaluate() -> search())\n")
        report = evaluate(base, embedder, qa, MODES, k=DEPTH, settings=shipped)
        print("| mode | hit@1 | hit@5 | hit@10 | MRR@10 |\n|---|---|---|---|---|")
        for r in report.results:
            print(f"| {r.mode} | {fmt(r.metrics)} |")
        print()
        print(margins(report))
        for index in indexes.values():
            index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
