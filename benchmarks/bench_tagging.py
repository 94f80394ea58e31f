"""Automatic tagging against hand labels: precision and recall per facet.

    .venv/bin/python benchmarks/bench_tagging.py [--index DIR] [--gold benchmarks/tagging_gold.yaml]

Builds (or reuses) an index of corpus/ and ../shared/corpora/{reports,campbell}, then compares
the tagger's document tags (whole-document items) and the tags of the chunks whose sentences
are mostly on a page (page items) with benchmarks/tagging_gold.yaml, counting chunk tags at the
confidence search filters use. Prints a markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml

from synth.index import Index, ingest
from synth.search import SearchSettings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "corpora"
FACETS = ("topic", "country", "phase", "setting", "evidence_type", "design")
INHERITED = ("evidence_type", "design")
TARGETS = {"country precision": 0.95, "evidence_type macro-F1": 0.80, "topic precision@3": 0.80}


def source_path(source: str) -> Path:
    if source.startswith("shared:"):
        return SHARED / source.removeprefix("shared:")
    return REPO / source


def predictions(index: Index, item: dict, min_confidence: float) -> dict[str, list[str]]:
    """Predicted values per facet, most confident first."""
    doc = index.find_documents([source_path(item["source"]).name])
    if not doc:
        raise SystemExit(f"{item['source']} is not in the index")
    doc_id = doc[0].doc_id
    scored: dict[str, dict[str, float]] = defaultdict(dict)
    if item.get("page") is None:
        for tag in index.document_tags(doc_id).tags:
            scored[tag.facet][tag.value] = tag.confidence
    else:
        # A chunk speaks for the page most of its sentences are on.
        rows = index.query(
            "WITH home AS (SELECT chunk, page, COUNT(*) AS n FROM sentences GROUP BY chunk, page), "
            "best AS (SELECT chunk, page FROM home h WHERE n = (SELECT MAX(n) FROM home h2 "
            "WHERE h2.chunk = h.chunk) GROUP BY chunk) "
            "SELECT t.facet, t.value, MAX(t.confidence) FROM chunk_tags t "
            "JOIN chunks c ON c.id = t.chunk JOIN best b ON b.chunk = c.id "
            "WHERE c.doc_id = ? AND b.page = ? AND t.confidence >= ? GROUP BY t.facet, t.value",
            (doc_id, item["page"], min_confidence),
        )
        for facet, value, confidence in rows:
            scored[facet][value] = confidence
        # What kind of source a page comes from is the document's: a page of a systematic
        # review is review evidence whether or not it says so (the gold set is labelled so).
        for tag in index.document_tags(doc_id).tags:
            if tag.facet in INHERITED:
                scored[tag.facet].setdefault(tag.value, tag.confidence)
    return {f: sorted(v, key=lambda x: -v[x]) for f, v in scored.items()}


def evaluate(index: Index, gold: list[dict], min_confidence: float) -> dict[str, object]:
    tp: dict[tuple[str, str], int] = defaultdict(int)
    fp: dict[tuple[str, str], int] = defaultdict(int)
    fn: dict[tuple[str, str], int] = defaultdict(int)
    at3: list[float] = []
    for item in gold:
        pred = predictions(index, item, min_confidence)
        for facet in FACETS:
            truth = set(item.get(facet) or [])
            guess = set(pred.get(facet, []))
            for v in guess & truth:
                tp[(facet, v)] += 1
            for v in guess - truth:
                fp[(facet, v)] += 1
            for v in truth - guess:
                fn[(facet, v)] += 1
        top3 = pred.get("topic", [])[:3]
        if top3:
            at3.append(len(set(top3) & set(item.get("topic") or [])) / len(top3))
    rows = {}
    for facet in FACETS:
        t = sum(n for (f, _), n in tp.items() if f == facet)
        p = sum(n for (f, _), n in fp.items() if f == facet)
        n = sum(n for (f, _), n in fn.items() if f == facet)
        precision = t / (t + p) if t + p else 1.0
        recall = t / (t + n) if t + n else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows[facet] = (precision, recall, f1, t, p, n)
    values = {v for (f, v) in (*tp, *fn) if f == "evidence_type"}
    f1s = []
    for v in values:
        t, p, n = tp[("evidence_type", v)], fp[("evidence_type", v)], fn[("evidence_type", v)]
        f1s.append(2 * t / (2 * t + p + n) if t + p + n else 1.0)
    headline = {
        "country precision": rows["country"][0],
        "evidence_type macro-F1": sum(f1s) / len(f1s) if f1s else 0.0,
        "topic precision@3": sum(at3) / len(at3) if at3 else 0.0,
    }
    return {"facets": rows, "headline": headline}


def print_table(result: dict[str, object], n_items: int) -> None:
    print(f"\n{n_items} labelled items\n")
    print("| facet | precision | recall | F1 | tp | fp | fn |")
    print("|---|---|---|---|---|---|---|")
    for facet, (p, r, f1, t, fp, fn) in result["facets"].items():  # type: ignore[union-attr]
        print(f"| {facet} | {p:.2f} | {r:.2f} | {f1:.2f} | {t} | {fp} | {fn} |")
    print("\n| target | measured | goal |\n|---|---|---|")
    for name, value in result["headline"].items():  # type: ignore[union-attr]
        print(f"| {name} | {value:.2f} | ≥ {TARGETS[name]:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gold", default=str(REPO / "benchmarks" / "tagging_gold.yaml"))
    parser.add_argument("--index", help="reuse (and update) this index directory")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"needs {SHARED} (the shared corpora)", file=sys.stderr)
        return 2
    gold = yaml.safe_load(Path(args.gold).read_text())["items"]
    root = Path(args.index) if args.index else Path(tempfile.mkdtemp(prefix="synth-tagbench-"))
    paths = [REPO / "corpus", SHARED / "reports", SHARED / "campbell"]
    report = ingest(paths, root)
    print(f"index {root}: {report.count('added')} added, {report.count('unchanged')} unchanged")
    with Index.open(root) as index:
        result = evaluate(index, gold, SearchSettings().min_confidence)
    print_table(result, len(gold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
