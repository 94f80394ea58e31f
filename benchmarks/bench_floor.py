"""The relevance floor of search by study: calibrated on half the dev questions, judged on the
other half and on questions the corpus has nothing on.

    .venv/bin/python benchmarks/bench_floor.py [--index DIR]

Builds (or reuses) an index of corpus/ plus the shared reports, the corpus benchmarks/qa_dev.tsv
was written against. Dev questions alternate tune / held-out by line. For every question it
records the best passage's cosine and whether the keyword engine matched it; the floor's two
thresholds are chosen on the tuning half as the highest that keep at least 97% of the first
relevant passages. Reports on the held-out half: the false-floor rate (questions answered "no
close match"), relevant passages lost, and the share of off-topic questions correctly floored.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from synth.index import Index, ingest
from synth.ingest.embed import load_embedder
from synth.models import Hit
from synth.search import SearchSettings, search
from synth.search.evaluate import gains, load_qa
from synth.search.studies import Floor, search_studies

REPO = Path(__file__).resolve().parents[1]
SHARED_REPORTS = REPO.parent / "shared" / "corpora" / "reports"
KEEP = 0.97
OFF_TOPIC = [
    "zzqxv blorp fnord",
    "chocolate cake recipe with cream cheese frosting",
    "football transfer window rumours",
    "how do I fix a slipping car gearbox",
    "causes of the 1929 stock market crash",
    "quantum entanglement of photon pairs",
    "best hiking trails in the Swiss Alps",
    "symptoms of flu in cats",
    "how to knit a scarf for beginners",
    "deadline for filing a tax return",
    "Mars rover landing sites",
    "medieval castle architecture in Wales",
    "jazz saxophone solo transcriptions",
    "cryptocurrency mining rig power use",
    "wedding dress designers in Paris",
    "tennis grand slam winners since 2000",
    "feeding a sourdough starter",
    "airline cabin baggage allowance",
    "dinosaur fossils found in Patagonia",
    "asdf qwerty lorem ipsum",
]


def first_relevant(question, hits: list[Hit]) -> Hit | None:
    for hit, gain in zip(hits, gains(question, hits), strict=True):
        if gain > 0:
            return hit
    return None


def pick(values: list[float]) -> float:
    """The highest threshold keeping KEEP of these values."""
    ordered = sorted(values)
    return ordered[int((1 - KEEP) * len(ordered))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="reuse (or create) the dev index here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.index or Path(tmp) / "index")
        if not (root / "CURRENT").exists():
            paths = [REPO / "corpus"] + ([SHARED_REPORTS] if SHARED_REPORTS.is_dir() else [])
            ingest(paths, root)
        index = Index.open(root)
        embedder = load_embedder(index.manifest.model)
        qa = load_qa(REPO / "benchmarks" / "qa_dev.tsv")
        halves: dict[str, list] = {"tune": [], "held-out": []}
        for i, question in enumerate(qa.questions):
            halves["tune" if i % 2 == 0 else "held-out"].append(question)
        settings = SearchSettings(k=10)
        relevant: dict[str, list[Hit | None]] = {}
        for half, questions in halves.items():
            relevant[half] = [
                first_relevant(q, search(index, embedder, q.query, settings)) for q in questions
            ]
        tune = [h for h in relevant["tune"] if h is not None]
        floor = Floor(dense=round(pick([h.dense_score or 0.0 for h in tune]), 2))
        print(f"floor chosen on the tuning half: {floor}")
        report(index, embedder, halves, relevant, floor)
    return 0


def report(index, embedder, halves, relevant, floor: Floor) -> None:
    settings = SearchSettings(k=10)
    print("| half | questions | no close match (false floor) | relevant passage lost |")
    print("|---|---|---|---|")
    for half, questions in halves.items():
        empty = sum(
            search_studies(
                index, embedder, q.query, settings, floor=floor, with_counts=False
            ).no_close_match
            for q in questions
        )
        found = [h for h in relevant[half] if h is not None]
        lost = sum(not floor.close(h) for h in found)
        print(
            f"| {half} | {len(questions)} | {empty} ({empty / len(questions):.1%}) | "
            f"{lost} of {len(found)} ({lost / max(len(found), 1):.1%}) |"
        )
    floored = sum(
        search_studies(index, embedder, q, settings, floor=floor, with_counts=False).no_close_match
        for q in OFF_TOPIC
    )
    print(f"\noff-topic questions answered 'no close match': {floored} of {len(OFF_TOPIC)}")


if __name__ == "__main__":
    sys.exit(main())
