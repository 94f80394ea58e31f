"""Sentence-role accuracy on benchmarks/roles_gold.tsv: tune half and held-out half.

    HF_HUB_OFFLINE=1 python benchmarks/bench_roles.py            # accuracy with the shipped weights
    HF_HUB_OFFLINE=1 python benchmarks/bench_roles.py --tune     # grid search on the tune half only

The held-out half is never used to choose anything; its figure is the one to report.
"""

from __future__ import annotations

import argparse
import csv
import itertools
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from synth.brief.roles import ROLES, WEIGHTS, RoleWeights, prototype_scores, rule_scores
from synth.ingest.embed import load_embedder

GOLD = Path(__file__).with_name("roles_gold.tsv")


def load_gold(path: Path = GOLD) -> list[dict[str, str]]:
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if not x.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def predict(parts: tuple[np.ndarray, np.ndarray, np.ndarray], w: RoleWeights) -> list[str]:
    wording, heading, protos = parts
    scores = w.wording * wording + w.heading * heading + w.prototype * protos + np.array(w.bias)
    out = []
    for row in scores:
        best = int(np.argmax(row))
        out.append(ROLES[best] if row[best] >= w.floor else "background")
    return out


def accuracy(pred: list[str], gold: list[str]) -> float:
    return sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold) if gold else 0.0


def macro_f1(pred: list[str], gold: list[str]) -> float:
    scores = []
    for role in sorted(set(gold)):
        tp = sum(p == g == role for p, g in zip(pred, gold, strict=True))
        fp = sum(p == role != g for p, g in zip(pred, gold, strict=True))
        fn = sum(g == role != p for p, g in zip(pred, gold, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def tune_bias(parts, gold: list[str], w: RoleWeights, rounds: int = 3) -> RoleWeights:
    """Coordinate ascent on one bias per role (background included), tune half only."""
    bias = list(w.bias)
    for _ in range(rounds):
        for r in range(len(ROLES)):
            options = [round(b, 2) for b in np.arange(-1.0, 1.01, 0.1)]

            def score(b: float, r: int = r) -> tuple[float, float]:
                trial = replace(w, bias=tuple(bias[:r] + [b] + bias[r + 1 :]))
                pred = predict(parts, trial)
                return (accuracy(pred, gold), macro_f1(pred, gold), -abs(b))

            bias[r] = max(options, key=score)
    return replace(w, bias=tuple(bias))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tune", action="store_true", help="grid-search weights on the tune half")
    ap.add_argument("--bias", action="store_true", help="also tune one bias per role")
    ap.add_argument("--errors", action="store_true", help="print the tune half's errors")
    args = ap.parse_args()
    rows = load_gold()
    embedder = load_embedder()
    texts = [r["sentence"] for r in rows]
    vectors = embedder.encode(texts)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    wording, heading = rule_scores(texts, [r["heading"] for r in rows])
    protos = prototype_scores(vectors, embedder)
    split = np.array([r["split"] for r in rows])
    gold = [r["role"] for r in rows]

    def part(name: str) -> tuple[tuple[np.ndarray, ...], list[str], np.ndarray]:
        mask = split == name
        return (
            (wording[mask], heading[mask], protos[mask]),
            [g for g, m in zip(gold, mask, strict=True) if m],
            mask,
        )

    weights = WEIGHTS
    if args.tune:
        parts, g, _ = part("tune")
        grid = itertools.product(
            (0.25, 0.5, 1.0, 1.5),
            (0.0, 0.3, 0.6, 1.0, 1.5),
            (2, 4, 6, 8, 12),
            (-9.0,),
            (-0.5, 0.0, 0.3, 0.6, 0.9, 1.2),
        )
        best = max(
            (RoleWeights(*combo[:4], bias=(0.0,) * 8 + (combo[4],)) for combo in grid),
            key=lambda w: (accuracy(predict(parts, w), g), macro_f1(predict(parts, w), g)),
        )
        if args.bias:
            best = tune_bias(parts, g, best)
        print(f"best on the tune half: {best}")
        weights = best
    print(f"weights: {weights}")
    print(f"{'split':<9} {'n':>4} {'accuracy':>9} {'macro-F1':>9}")
    for name in ("tune", "held-out"):
        parts, g, mask = part(name)
        pred = predict(parts, weights)
        print(f"{name:<9} {len(g):>4} {accuracy(pred, g):>9.3f} {macro_f1(pred, g):>9.3f}")
        if name == "held-out":
            confusion = Counter((gg, p) for gg, p in zip(g, pred, strict=True) if gg != p)
            print("held-out confusions (gold -> predicted):", dict(confusion.most_common(8)))
        if args.errors and name == "tune":
            for row, p in zip([r for r, m in zip(rows, mask, strict=True) if m], pred, strict=True):
                if p != row["role"]:
                    print(
                        f"  {row['role']:>14} -> {p:<14} [{row['heading'][:30]}] "
                        f"{row['sentence'][:100]}"
                    )


if __name__ == "__main__":
    main()
