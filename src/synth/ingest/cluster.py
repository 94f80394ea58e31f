"""The ingest stages on a Ray cluster: each worker an actor that parses, chunks and embeds.

`RayRunner` is a `Runner` (see pipeline.py): the index writer hands it files and texts and
stores what comes back, so the one atomic build is still written by the driver. Each of
`workers` actors keeps spaCy and the embedding model loaded for the runner's life; files go to
them round-robin, at most `window` in flight and returned in the order given (so the driver's
memory holds a bounded number of parsed files), and the driver sends length-sorted batches to
embed, a bounded number at a time. An actor whose process dies is restarted and its call
retried (MAX_RETRIES); a file that still fails is reported with its reason like any other.

Ray is optional (`pip install 'synth[cluster]'`); importing this module does not need it.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from typing import Any

import numpy as np

from synth.taxonomy import Taxonomy

from .chunk import ChunkSettings
from .files import ParseLimits
from .pipeline import FileTask, PreparedFile, prepare_file

INSTALL_HINT = "Ray is not installed: pip install 'synth[cluster]' (or pip install ray)"
MAX_RETRIES = 3
EMBED_BATCH = 64


class RayUnavailable(RuntimeError):
    """Ray cannot be imported; the message says how to install it."""


def require_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(INSTALL_HINT) from exc
    return ray


class _Worker:
    """One Ray worker: parses and chunks in one thread, embeds in another, in one process.

    Parsing once ran as Ray tasks, each new task process importing synth and loading spaCy
    again: a pinned worker spent 36 s of CPU on parse processes for 14 s of parsing and ran at
    half the local rate (bench_ray.py --pinned). An actor keeps spaCy and the embedding model
    loaded for the runner's life; its two concurrency groups let a worker with two or more cores
    parse the next file while it embeds.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def prepare(
        self,
        task: FileTask,
        settings: ChunkSettings,
        limits: ParseLimits | None,
        taxonomy: Taxonomy | None,
    ) -> PreparedFile:
        return prepare_file(task, settings, limits, taxonomy)

    def load(self, model: str) -> None:
        """Load the model before the first batch arrives (while the first files parse)."""
        self._embedder(model)

    def encode(self, model: str, texts: list[str]) -> np.ndarray:
        return self._embedder(model).encode(texts)

    def _embedder(self, model: str) -> Any:
        import torch

        from .embed import load_embedder

        embedder = load_embedder(model)
        # After loading: the embedder sets torch to every core it may use, and two OpenMP
        # threads on an actor's one core ran at half speed (bench_ray.py --pinned).
        torch.set_num_threads(self.threads)
        return embedder


GROUPS = {"prepare": 1, "encode": 1}


class _ActorPool:
    """Round-robin over the workers' encode threads; two batches queued per worker keep each
    one busy."""

    def __init__(self, actors: list[Any], model: str) -> None:
        self.actors = actors
        self.model = model
        self.slots = 2 * len(actors)
        self.batch = EMBED_BATCH
        self._next = 0
        for actor in actors:
            actor.load.options(concurrency_group="encode").remote(model)

    def submit(self, texts: list[str]) -> Future[np.ndarray]:
        actor = self.actors[self._next % len(self.actors)]
        self._next += 1
        call = actor.encode.options(concurrency_group="encode")
        return call.remote(self.model, texts).future()


class RayRunner:
    """Worker actors on a Ray cluster (a local one when no address), each parsing and embedding.

    `workers` is the number of actors, each given cores/workers CPUs of a local cluster (one
    CPU each on a remote one unless `cpus_per_worker` says otherwise).
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int = 1,
        cpus_per_worker: int | None = None,
        window: int | None = None,
    ) -> None:
        self.ray = require_ray()
        self.address = address
        self.workers = max(1, workers)
        cores = os.cpu_count() or 1
        self.cpus = cpus_per_worker or (max(1, cores // self.workers) if address is None else 1)
        self.window = window or 2 * self.workers + 2
        self._started = False
        self._actors: list[Any] = []
        self._pools: dict[str, _ActorPool] = {}
        self._next = 0

    def __enter__(self) -> RayRunner:
        if not self.ray.is_initialized():
            env = {"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}}
            kwargs: dict[str, Any] = {"runtime_env": env, "log_to_driver": False}
            if self.address is None:
                kwargs["num_cpus"] = self.workers * self.cpus
                kwargs["include_dashboard"] = False
            self.ray.init(address=self.address, **kwargs)
            self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        for actor in self._actors:
            self.ray.kill(actor)
        self._actors.clear()
        self._pools.clear()
        if self._started:
            self.ray.shutdown()
            self._started = False

    def actors(self) -> list[Any]:
        """The worker actors, started on first use and kept for the runner's life.

        An actor whose process dies is restarted, however often (a file that kills it fails
        alone, after MAX_RETRIES, and the next file gets a fresh process).
        """
        if not self._actors:
            worker = self.ray.remote(
                num_cpus=self.cpus,
                max_restarts=-1,
                max_task_retries=MAX_RETRIES,
                concurrency_groups=GROUPS,
            )(_Worker)
            self._actors = [worker.remote(self.cpus) for _ in range(self.workers)]
        return self._actors

    def prepare(
        self,
        tasks: Iterable[FileTask],
        settings: ChunkSettings,
        limits: ParseLimits | None,
        taxonomy: Taxonomy | None = None,
    ) -> Iterator[PreparedFile]:
        """Prepared files in task order, at most `window` in flight (back-pressure)."""
        actors = self.actors()
        settings_ref, taxonomy_ref = self.ray.put(settings), self.ray.put(taxonomy)
        in_flight: deque[tuple[FileTask, Any]] = deque()
        for task in tasks:
            call = actors[self._next % len(actors)].prepare.options(concurrency_group="prepare")
            self._next += 1
            in_flight.append((task, call.remote(task, settings_ref, limits, taxonomy_ref)))
            if len(in_flight) >= self.window:
                yield self._result(*in_flight.popleft())
        while in_flight:
            yield self._result(*in_flight.popleft())

    def _result(self, task: FileTask, ref: Any) -> PreparedFile:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return PreparedFile(task, error=f"worker failed after {MAX_RETRIES} retries: {reason}")

    def encoder(self, model: str) -> _ActorPool:
        """The workers' embedding side for `model`; each starts loading it at once."""
        if model not in self._pools:
            self._pools[model] = _ActorPool(self.actors(), model)
        return self._pools[model]
