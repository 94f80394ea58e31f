"""Numpy-only grouping for synthesis: k-means themes chosen by silhouette, near-duplicate
passages, and distinctive words to name a theme. No scikit-learn or scipy, so the behaviour is
pinned by this file and deterministic (fixed seed)."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
from spacy.lang.en.stop_words import STOP_WORDS

SEED = 0
RESTARTS = 8
ITERATIONS = 50
SHINGLE = 5
SILHOUETTE_TIE = 0.015
# Words too common in evidence reports to name a theme.
DOMAIN_STOP = {
    "pupil",
    "pupils",
    "student",
    "students",
    "school",
    "schools",
    "study",
    "studies",
    "evidence",
    "report",
    "education",
    "learning",
    "also",
    "found",
    "per",
    "cent",
    "percent",
    "use",
    "used",
}


def kmeans(x: np.ndarray, k: int, seed: int = SEED) -> np.ndarray:
    """Spherical k-means (cosine) on L2-normalised rows; best of a few k-means++ starts."""
    n = len(x)
    if k <= 1 or n <= k:
        return np.zeros(n, dtype=int) if k <= 1 else np.arange(n)
    rng = np.random.default_rng(seed)
    best_labels, best_inertia = np.zeros(n, dtype=int), -np.inf
    for _ in range(RESTARTS):
        labels, inertia = _kmeans_once(x, k, rng)
        if inertia > best_inertia:
            best_labels, best_inertia = labels, inertia
    return best_labels


def _kmeans_once(x: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        dist = np.clip(1.0 - np.max(x @ np.array(centres).T, axis=1), 0.0, None)
        probs = dist / dist.sum() if dist.sum() > 0 else np.full(len(x), 1 / len(x))
        centres.append(x[rng.choice(len(x), p=probs)])
    c = np.array(centres)
    labels = np.full(len(x), -1)
    for _ in range(ITERATIONS):
        new = np.argmax(x @ c.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                mean = members.sum(axis=0)
                c[j] = mean / (np.linalg.norm(mean) or 1.0)
    similarity = float(np.sum(x * c[labels]))
    return labels, similarity


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance; 0 when there is a single cluster."""
    ids = np.unique(labels)
    if len(ids) < 2:
        return 0.0
    dist = np.clip(1.0 - x @ x.T, 0.0, None)
    scores = []
    for i in range(len(x)):
        own = labels == labels[i]
        if own.sum() <= 1:
            scores.append(0.0)
            continue
        a = dist[i, own].sum() / (own.sum() - 1)
        b = min(dist[i, labels == j].mean() for j in ids if j != labels[i])
        scores.append((b - a) / max(a, b) if max(a, b) > 0 else 0.0)
    return float(np.mean(scores))


def choose_themes(x: np.ndarray, max_k: int, min_size: int = 2) -> np.ndarray:
    """Cluster labels for k in 2..max_k chosen by silhouette (one theme if too few passages).

    Silhouettes of sentence embeddings are low and close together (0.1-0.25 on our corpora),
    so the largest k within SILHOUETTE_TIE of the best is taken: when the data cannot tell
    two splits apart, more themes give the reader more distinct messages.
    """
    n = len(x)
    top = min(max_k, n // min_size)
    if top < 2:
        return np.zeros(n, dtype=int)
    runs = [(k, kmeans(x, k)) for k in range(2, top + 1)]
    scores = [silhouette(x, labels) for _, labels in runs]
    best = max(scores)
    return next(
        labels
        for (_, labels), s in reversed(list(zip(runs, scores, strict=True)))
        if s >= best - SILHOUETTE_TIE
    )


def shingles(text: str, size: int = SHINGLE) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def near_duplicates(
    texts: list[str], vectors: np.ndarray, cosine: float, overlap: float
) -> list[tuple[int, int, float]]:
    """(kept, dropped, similarity) for each passage that repeats an earlier one.

    Earlier passages win (callers pass hits in rank order). Two tests, either suffices: the
    embeddings nearly coincide, or most of their five-word shingles are shared (the same text
    with a different page break or a sentence added).
    """
    grams = [shingles(t) for t in texts]
    kept: list[int] = []
    pairs: list[tuple[int, int, float]] = []
    for i in range(len(texts)):
        match = None
        for j in kept:
            cos = float(vectors[i] @ vectors[j])
            jac = jaccard(grams[i], grams[j])
            if cos >= cosine or jac >= overlap:
                match = (j, i, round(max(cos, jac), 4))
                break
        if match:
            pairs.append(match)
        else:
            kept.append(i)
    return pairs


def _terms(text: str) -> list[str]:
    return [
        w
        for w in re.findall(r"[a-z][a-z'-]{2,}", text.lower())
        if w not in STOP_WORDS and w not in DOMAIN_STOP
    ]


def distinctive_terms(groups: list[list[str]], n: int = 3) -> list[list[str]]:
    """Class-based TF-IDF: the words each group uses most that the other groups use least."""
    counts = [Counter(t for text in texts for t in _terms(text)) for texts in groups]
    df = Counter(t for c in counts for t in c)
    out = []
    for c in counts:
        total = sum(c.values()) or 1

        def weight(item: tuple[str, int], total: int = total) -> tuple[float, str]:
            term, freq = item
            return (-(freq / total) * math.log(1 + len(groups) / df[term]), term)

        scored = sorted(c.items(), key=weight)
        out.append([t for t, freq in scored if freq > 1][:n] or [t for t, _ in scored][:n])
    return out
