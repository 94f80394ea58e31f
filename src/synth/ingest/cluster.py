"""The ingest stages on a Ray cluster: parsing actors and embedding actors, loaded once.

`RayRunner` is a `Runner` (see pipeline.py): the index writer hands it files and texts and
stores what comes back, so the one atomic build is still written by the driver. `workers`
parsing actors keep spaCy loaded and `workers` embedding actors the model, for the runner's
life; each file goes to a parser with nothing to do, at most `window` are held and they come
back in the order given (so the driver's memory holds a bounded number of parsed files), and
the driver sends the encoders length-sorted batches, a bounded number at a time. An actor whose
process dies is restarted and its call retried (MAX_RETRIES); a file that still fails is
reported with its reason like any other.

Ray is optional (`pip install 'synth[cluster]'`); importing this module does not need it.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from typing import Any

import numpy as np

from synth.taxonomy import Taxonomy

from .chunk import ChunkSettings
from .files import ParseLimits
from .guard import GuardedParser
from .pipeline import FileTask, PreparedFile

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


class _Parser:
    """A parsing actor: its guarded child (guard.py) keeps spaCy loaded for the runner's life.

    Parsing once ran as Ray tasks, each new task process importing synth and loading spaCy
    again: a pinned worker spent 36 s of CPU in them for 14 s of parsing and ran at half the
    local rate (bench_ray.py --pinned). A process of its own, apart from the encoder, so a file
    that crashes its parser (out of memory, say) never takes a batch of embeddings with it.
    """

    def __init__(self) -> None:
        self.guard = GuardedParser()  # each file under the budget of ParseLimits, as locally

    def prepare(
        self,
        task: FileTask,
        settings: ChunkSettings,
        limits: ParseLimits | None,
        taxonomy: Taxonomy | None,
    ) -> PreparedFile:
        return self.guard.prepare(task, settings, limits or ParseLimits(), taxonomy)

    def pid(self) -> int:
        """The actor's process id: tells a restarted parser from the one before."""
        return os.getpid()


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
    """Round-robin over the encoders; two batches queued per actor keep each one busy."""

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
    """Parsing and embedding actors on a Ray cluster (a local one when no address).

    `workers` is the number of each: embedding actors given cores/workers CPUs of a local
    cluster (one CPU each on a remote one unless `cpus_per_worker` says otherwise), parsers
    asking for none, so they overlap the encoders that hold every CPU slot.
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
        self._parsers: list[Any] = []
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
        try:
            for actor in self._parsers + [a for pool in self._pools.values() for a in pool.actors]:
                with contextlib.suppress(Exception):  # already gone, or the cluster is
                    self.ray.kill(actor)
        finally:
            self._parsers.clear()
            self._pools.clear()
            if self._started:
                self.ray.shutdown()
                self._started = False

    def parsers(self) -> list[Any]:
        """The parsing actors, started on first use and kept for the runner's life.

        A parser is restarted however often its process dies: a file that kills it fails
        alone (each parser holds one file at a time, so no other file shares its retries) and
        the next file gets a fresh process. Parsers ask for no CPU slot, so Ray would put them
        all on one node: SPREAD places them across the cluster.
        """
        if not self._parsers:
            parser = self.ray.remote(
                num_cpus=0,
                max_restarts=-1,
                max_task_retries=MAX_RETRIES,
                scheduling_strategy="SPREAD",
            )(_Parser)
            self._parsers = [parser.remote() for _ in range(self.workers)]
        return self._parsers

    def prepare(
        self,
        tasks: Iterable[FileTask],
        settings: ChunkSettings,
        limits: ParseLimits | None,
        taxonomy: Taxonomy | None = None,
    ) -> Iterator[PreparedFile]:
        """Prepared files in task order, each sent to a parser with nothing to do, at most
        `window` waiting to be handed back (back-pressure)."""
        idle = list(self.parsers())
        busy: dict[Any, Any] = {}
        settings_ref, taxonomy_ref = self.ray.put(settings), self.ray.put(taxonomy)
        in_flight: deque[tuple[FileTask, Any]] = deque()
        for task in tasks:
            while not idle:
                done, _ = self.ray.wait(list(busy), num_returns=1)
                idle.append(busy.pop(done[0]))
            parser = idle.pop()
            ref = parser.prepare.remote(task, settings_ref, limits, taxonomy_ref)
            busy[ref] = parser
            in_flight.append((task, ref))
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
        """The embedding actors for `model`, started on first use and kept for the runner's
        life; each loads the model once."""
        if model not in self._pools:
            # Restarts are finite here: an encoder that dies while loading the model (a node
            # short of memory) would otherwise restart for ever and the ingest wait on it.
            encoder = self.ray.remote(
                num_cpus=self.cpus, max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES
            )(_Encoder)
            actors = [encoder.remote(model, self.cpus) for _ in range(self.workers)]
            self._pools[model] = _ActorPool(actors)
        return self._pools[model]
