"""Keyword engines side by side: Cranfield nDCG@10 and the dev QA set, in one run.

Run: .venv/bin/python benchmarks/bench_keyword.py [--skip-qa]

Cranfield (../shared/corpora/ir/cranfield): each of the 1,400 abstracts is one chunk (text the
abstract, title its title) in a build with synth's schema, indexed by synth's own engines
(tantivy, FTS5) through the code a build uses, and searched with `engine.search`, as shipped
(1,400 chunks is past 1,000, so stems in over half the chunks are dropped) and with every
query term. Queries are
numbered by position (cranqrel's numbering); gains are 5 - code, and the -1 document (the
paper a question was written from) counts as not relevant ("graded") or is removed ("-1
removed"). nDCG uses linear gains, as trec_eval's ndcg_cut_10. bm25s (k1 1.2, b 0.75, Lucene
idf, PyStemmer Porter, title + abstract) is the stemmed-BM25 reference, with and without
English stop words.

Dev QA set (benchmarks/qa_dev.tsv): one index of corpus/ and the shared reports is built with
FTS5, scored with `synth.search.evaluate` in every mode, then switched to tantivy (re-indexing
the keywords from the stored chunks; same chunks, same vectors) and scored again.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from synth.index import keyword, store

ROOT = Path(__file__).resolve().parents[1]
CRANFIELD = ROOT.parent / "shared" / "corpora" / "ir" / "cranfield"
SHARED_REPORTS = ROOT.parent / "shared" / "corpora" / "reports"
QA_FILE = ROOT / "benchmarks" / "qa_dev.tsv"


# ---------------------------------------------------------------- Cranfield


def read_smart(path: Path) -> list[dict[str, str]]:
    """Records of a SMART file: one dict per `.I`, keyed by field letter."""
    records: list[dict[str, str]] = []
    field = ""
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith(".I"):
            records.append({"I": line[2:].strip()})
            field = ""
        elif re.fullmatch(r"\.[A-Z]", line.strip()):
            field = line.strip()[1]
            records[-1][field] = ""
        elif field:
            records[-1][field] += line + "\n"
    return [{k: " ".join(v.split()) for k, v in r.items()} for r in records]


def read_qrels(path: Path) -> dict[int, dict[int, int]]:
    """{query position (1-based): {doc: code}}, codes 1 (best) to 4, and -1."""
    qrels: dict[int, dict[int, int]] = {}
    for line in path.read_text().split("\n"):
        parts = line.split()
        if len(parts) == 3:
            qrels.setdefault(int(parts[0]), {})[int(parts[1])] = int(parts[2])
    return qrels


def ndcg10(ranked: list[int], judged: dict[int, int], drop_source: bool) -> float:
    gains = {d: 5 - c for d, c in judged.items() if 1 <= c <= 4}
    ranked = [d for d in ranked if not (drop_source and judged.get(d) == -1)][:10]
    dcg = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked))
    ideal = sorted(gains.values(), reverse=True)[:10]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def average_precision(ranked: list[int], judged: dict[int, int], depth: int = 100) -> float:
    relevant = {d for d, c in judged.items() if 1 <= c <= 4}
    hits, total = 0, 0.0
    for i, d in enumerate(ranked[:depth]):
        if d in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / len(relevant) if relevant else 0.0


def cranfield_build(docs: list[dict[str, str]], folder: Path, engine: str) -> keyword.KeywordEngine:
    """A build's database holding the abstracts as chunks, indexed by `engine`."""
    db = store.connect(folder / "synth.sqlite", readonly=False)
    store.create_schema(db)
    for i, d in enumerate(docs, start=1):
        db.execute(
            "INSERT INTO documents (doc_id, source, path, content_hash, kind, title, n_pages, "
            "ingested_at) VALUES (?,?,?,?,?,?,?,?)",
            (f"cran{i}", f"{i}.txt", f"/cran/{i}", str(i), "txt", d.get("T", ""), 1, ""),
        )
        db.execute(
            "INSERT INTO chunks (id, chunk_id, doc_id, seq, section, page_start, page_end, text, "
            "embed_hash) VALUES (?,?,?,?,?,?,?,?,?)",
            (i, f"cran{i}-0", f"cran{i}", 0, "", 1, 1, d.get("W", ""), str(i)),
        )
    keyword.apply_changes(db, folder, keyword.NAMES[engine])
    db.commit()
    import threading

    return keyword.open_engine(keyword.NAMES[engine], folder, db, threading.Lock(), set())


def bm25s_ranker(docs: list[dict[str, str]], stopwords: str | None):
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("porter")
    texts = [f"{d.get('T', '')} {d.get('W', '')}" for d in docs]
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    tokens = bm25s.tokenize(texts, stopwords=stopwords, stemmer=stemmer, show_progress=False)
    retriever.index(tokens, show_progress=False)

    def rank(query: str, k: int) -> list[int]:
        tokens = bm25s.tokenize([query], stopwords=stopwords, stemmer=stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        found, _ = retriever.retrieve(tokens, k=k, show_progress=False)
        return [int(i) + 1 for i in found[0]]

    return rank


def run_cranfield() -> list[tuple[str, float, float, float, float]]:
    docs = read_smart(CRANFIELD / "cran.all.1400")
    queries = [q["W"] for q in read_smart(CRANFIELD / "cran.qry")]
    qrels = read_qrels(CRANFIELD / "cranqrel")
    assert len(docs) == 1400 and len(queries) == 225, (len(docs), len(queries))
    rankers = {}
    with tempfile.TemporaryDirectory(prefix="synth-cran-") as tmp:
        for engine in (keyword.TANTIVY, keyword.FTS5):
            folder = Path(tmp) / engine
            folder.mkdir()
            found = cranfield_build(docs, folder, engine)
            rankers[f"synth {engine} (shipped: stems in over half the chunks dropped)"] = ranker(
                found, True
            )
            rankers[f"synth {engine}, every query term"] = ranker(found, False)
        rankers["bm25s, Porter"] = bm25s_ranker(docs, None)
        rankers["bm25s, Porter, English stop words"] = bm25s_ranker(docs, "en")
        rows = []
        for name, rank in rankers.items():
            t0 = time.perf_counter()
            ranked = [rank(q, 100) for q in queries]
            ms = (time.perf_counter() - t0) * 1000 / len(queries)
            graded = np.mean([ndcg10(r, qrels.get(i, {}), False) for i, r in enumerate(ranked, 1)])
            dropped = np.mean([ndcg10(r, qrels.get(i, {}), True) for i, r in enumerate(ranked, 1)])
            ap = np.mean([average_precision(r, qrels.get(i, {})) for i, r in enumerate(ranked, 1)])
            rows.append((name, float(graded), float(dropped), float(ap), ms))
    return rows


def ranker(engine: keyword.KeywordEngine, drop_common: bool):
    return lambda query, k: [
        rowid
        for rowid, _ in engine.search(query, k, drop_common=drop_common)  # type: ignore[call-arg]
    ]


# ---------------------------------------------------------------- dev QA set


def run_qa() -> list[tuple[str, str, str, dict[str, float]]]:
    from synth.index import Index, ingest
    from synth.ingest.embed import load_embedder
    from synth.search.evaluate import QASet, evaluate, load_qa

    embedder = load_embedder()
    qa = load_qa(QA_FILE)
    # The halves were split by position before tantivy's field layout was chosen on the
    # questions at odd positions (0-based); those at even positions are held out.
    sets = {
        "all": qa,
        "tuning half": QASet(qa.questions[1::2], qa.graded),
        "held-out half": QASet(qa.questions[0::2], qa.graded),
    }
    files = sorted((ROOT / "corpus").glob("*.pdf")) + sorted(SHARED_REPORTS.glob("*.pdf"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="synth-qa-") as tmp:
        for engine in (keyword.FTS5, keyword.TANTIVY):
            ingest(files, tmp, embedder=lambda: embedder, keyword_engine=engine)
            with Index.open(tmp) as index:
                assert keyword.engine_of(index.manifest.keyword_index) == engine
                for name, questions in sets.items():
                    for result in evaluate(index, embedder, questions).results:
                        rows.append((engine, name, result.mode, result.metrics.to_json()))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-qa", action="store_true")
    args = parser.parse_args()
    if not CRANFIELD.is_dir():
        print(f"Cranfield not found at {CRANFIELD}", file=sys.stderr)
        return 1
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        "| keyword ranking (Cranfield, 225 queries) | nDCG@10 graded | nDCG@10, -1 removed "
        "| MAP@100 | ms/query |"
    )
    print("|---|---|---|---|---|")
    for name, graded, dropped, ap, ms in run_cranfield():
        print(f"| {name} | {graded:.3f} | {dropped:.3f} | {ap:.3f} | {ms:.2f} |")
    if not args.skip_qa:
        print("\n| engine | questions | mode | hit@1 | hit@5 | hit@10 | MRR@10 |")
        print("|---|---|---|---|---|---|---|")
        for engine, questions, mode, m in run_qa():
            print(
                f"| {engine} | {questions} | {mode} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | "
                f"{m['hit@10']:.3f} | {m['mrr@10']:.3f} |"
            )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
