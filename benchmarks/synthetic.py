"""A synthetic corpus for scale benchmarks: Zipfian words, real chunk lengths, random vectors.

Used by bench_scale.py (and importable on its own) to make 100k, 1M or 10M chunks without
holding them: chunks and vectors come in batches from seeded generators, so any size streams
in bounded memory and two runs make the same corpus.

- Words: a Zipf-Mandelbrot law, p(rank) ~ 1 / (rank + 2.7), over VOCABULARY types. The head is
  the sample corpus's own words in their frequency order ("the", "of", "schools", ...), so real
  questions hit realistic document frequencies; the tail is pseudo-words (rare names, terms).
  Each document has a topic: TOPIC_SHARE of its words come from one of the 14 sample reports'
  word distributions or one of SYNTHETIC_TOPICS Zipfian topics over mid-frequency types.
- Chunk lengths: drawn from the word counts of 372 chunks that synth's chunker made from
  corpus/ and 15 shared reports (mean 135 words, median 130, 5% under 54, 5% over 227).
- Vectors: 384-d unit vectors from anisotropic Gaussian clusters (one per 200 chunks) around a
  shared direction, calibrated so the mean pairwise cosine (~0.3) resembles MiniLM's on the
  sample corpora. They are random, not embeddings of the text: fine for latency, memory and
  IVF recall against exact search, meaningless for relevance.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIM = 384
VOCABULARY = 300_000
ZIPF_SHIFT = 2.7
CHUNKS_PER_DOC = 100
TOPIC_SHARE = 0.4
SYNTHETIC_TOPICS = 200
TOPIC_WORDS = 3000
# Quantiles (0, 5, 10, 25, 50, 75, 90, 95, 99, 100 %) of words per chunk, measured on 372 chunks.
LENGTH_QUANTILES = (0, 5, 10, 25, 50, 75, 90, 95, 99, 100)
LENGTH_WORDS = (12, 54, 65, 87, 130, 190, 208, 227, 248, 300)


@dataclass(frozen=True)
class ChunkBatch:
    """Consecutive chunks: rowids (1-based), document numbers, text, section and title."""

    rowids: np.ndarray
    docs: np.ndarray
    texts: list[str]
    sections: list[str]
    titles: list[str]


def _corpus_words() -> tuple[list[str], list[Counter[str]], list[str]]:
    topics, headings = [], []
    for path in sorted((ROOT / "corpus" / "src").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        headings += [h.strip() for h in re.findall(r"^#+ (.+)$", text, flags=re.M)]
        topics.append(Counter(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]*", text)))
    overall = sum(topics, Counter())
    head = [w for w, _ in overall.most_common()]
    return head, topics, headings


class TextModel:
    """Zipfian chunk text with one topic per document; `batches` streams any number of chunks."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        head, topics, self.headings = _corpus_words()
        tail = [f"q{i:x}z" for i in range(VOCABULARY - len(head))]
        self.vocab = np.array(head + tail, dtype=object)
        where = {w: i for i, w in enumerate(head)}
        ranks = np.arange(1, VOCABULARY + 1, dtype=float)
        p = 1 / (ranks + ZIPF_SHIFT)
        self.global_cdf = np.cumsum(p / p.sum())
        self.topics: list[tuple[np.ndarray, np.ndarray]] = []
        for counts in topics:
            ids = np.array([where[w] for w in counts])
            weights = np.array(list(counts.values()), dtype=float)
            self.topics.append((ids, np.cumsum(weights / weights.sum())))
        zipf = 1 / (np.arange(1, TOPIC_WORDS + 1) + ZIPF_SHIFT)
        zipf_cdf = np.cumsum(zipf / zipf.sum())
        for _ in range(SYNTHETIC_TOPICS):
            ids = rng.choice(np.arange(200, 60_000), TOPIC_WORDS, replace=False)
            self.topics.append((ids, zipf_cdf))

    @staticmethod
    def _draw(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.minimum(np.searchsorted(cdf, rng.random(n)), len(cdf) - 1)

    def lengths(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.interp(rng.random(n) * 100, LENGTH_QUANTILES, LENGTH_WORDS).astype(int)

    def batches(self, n: int, batch: int = 20_000, seed: int = 1) -> Iterator[ChunkBatch]:
        """`n` chunks in batches of whole documents (CHUNKS_PER_DOC each, the last may be short)."""
        rng = np.random.default_rng(seed)
        batch = max(CHUNKS_PER_DOC, batch - batch % CHUNKS_PER_DOC)
        for lo in range(0, n, batch):
            m = min(batch, n - lo)
            rowids = np.arange(lo + 1, lo + m + 1, dtype="int64")
            docs = (rowids - 1) // CHUNKS_PER_DOC
            first_doc = int(docs[0])
            doc_topics = rng.integers(0, len(self.topics), int(docs[-1]) - first_doc + 1)
            lengths = self.lengths(m, rng)
            words = self._draw(self.global_cdf, int(lengths.sum()), rng)
            own = np.flatnonzero(rng.random(len(words)) < TOPIC_SHARE)
            chunk_of = np.repeat(np.arange(m), lengths)
            word_topic = doc_topics[docs[chunk_of[own]] - first_doc]
            order = np.argsort(word_topic, kind="stable")
            counts = np.bincount(word_topic, minlength=len(self.topics))
            drawn = [
                self.topics[t][0][self._draw(self.topics[t][1], int(c), rng)]
                for t, c in enumerate(counts)
                if c
            ]
            words[own[order]] = np.concatenate(drawn)
            tokens = self.vocab[words].tolist()
            bounds = np.concatenate([[0], np.cumsum(lengths)])
            texts = [" ".join(tokens[bounds[i] : bounds[i + 1]]) for i in range(m)]
            sections = [
                self.headings[(int(doc_topics[d - first_doc]) * 7 + i) % len(self.headings)]
                for i, d in enumerate(docs.tolist())
            ]
            titles = [f"Report {d}" for d in docs.tolist()]
            yield ChunkBatch(rowids, docs, texts, sections, titles)


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

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal((n, DIM), dtype=np.float32) @ self.basis
        x = self.centres[rng.integers(0, len(self.centres), n)] + 0.8 * noise
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def batches(self, n: int, batch: int = 65_536, seed: int = 1) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(seed)
        for lo in range(0, n, batch):
            yield self.draw(min(batch, n - lo), rng)

    def numbered(self, n: int, batch: int = 65_536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(rowids from 1, vectors) batches: the stream synth's index writers take."""
        for i, block in enumerate(self.batches(n, batch=batch, seed=1)):
            lo = i * batch
            yield np.arange(lo + 1, lo + len(block) + 1, dtype="int64"), block
