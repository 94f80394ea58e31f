"""The ingest stages on a Ray cluster: parse, chunk and study record as tasks, embedding in actors.

`RayRunner` is a `Runner` (see pipeline.py): the index writer hands it files and texts and
stores what comes back, so the one atomic build is still written by the driver. Parsing and
chunking run as Ray tasks, at most `window` in flight and returned in the order given (so the
driver's memory holds a bounded number of parsed files). Embedding runs in `workers` actors that
each load the model once; the driver sends them length-sorted batches, a bounded number at a
time. A task or actor whose worker process dies is retried by Ray (MAX_RETRIES); a file that
still fails is reported with its reason like any other failed file.

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


def _prepare(
    task: FileTask,
    settings: ChunkSettings,
    limits: ParseLimits | None,
    taxonomy: Taxonomy | None,
) -> PreparedFile:
    return prepare_file(task, settings, limits, taxonomy)


class _Encoder:
    """An embedding actor: loads the model once, then encodes batches on its own cores."""

    def __init__(self, model: str, threads: int) -> None:
        import torch

        from .embed import load_embedder

        self.embedder = load_embedder(model)
        # After loading: the embedder sets torch to every core it may use, and two OpenMP
        # threads on an actor's one core ran at half speed (bench_ray.py --pinned).
        torch.set_num_threads(threads)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


class _ActorPool:
    """Round-robin over the actors; up to two batches queued per actor keeps each one busy."""

    def __init__(self, actors: list[Any]) -> None:
        self.actors = actors
        self.slots = 2 * len(actors)
        self.batch = EMBED_BATCH
        self._next = 0

    def submit(self, texts: list[str]) -> Future[np.ndarray]:
        actor = self.actors[self._next % len(self.actors)]
        self._next += 1
        return actor.encode.remote(texts).future()


class RayRunner:
    """Parse/chunk tasks and embedding actors on a Ray cluster (a local one when no address).

    `workers` is the number of embedding actors, each given cores/workers CPUs of a local
    cluster (one CPU each on a remote one unless `cpus_per_worker` says otherwise).
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
        self._pools: dict[str, _ActorPool] = {}

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
        for pool in self._pools.values():
            for actor in pool.actors:
                self.ray.kill(actor)
        self._pools.clear()
        if self._started:
            self.ray.shutdown()
            self._started = False

    def prepare(
        self,
        tasks: Iterable[FileTask],
        settings: ChunkSettings,
        limits: ParseLimits | None,
        taxonomy: Taxonomy | None = None,
    ) -> Iterator[PreparedFile]:
        """Prepared files in task order, at most `window` parsing at once (back-pressure)."""
        # Parsing asks for no CPU slot so it can overlap embedding actors that hold them all.
        remote = self.ray.remote(num_cpus=0, max_retries=MAX_RETRIES)(_prepare)
        settings_ref, taxonomy_ref = self.ray.put(settings), self.ray.put(taxonomy)
        in_flight: deque[tuple[FileTask, Any]] = deque()
        for task in tasks:
            in_flight.append((task, remote.remote(task, settings_ref, limits, taxonomy_ref)))
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
        """The actor pool for `model`, started on first use and kept for the runner's life."""
        if model not in self._pools:
            actor = self.ray.remote(
                num_cpus=self.cpus, max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES
            )(_Encoder)
            actors = [actor.remote(model, self.cpus) for _ in range(self.workers)]
            self._pools[model] = _ActorPool(actors)
        return self._pools[model]
