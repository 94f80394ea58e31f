"""Run one call in a forked child with a memory ceiling and a hard deadline.

A user's template can ask for a huge string in one step that no check sees coming (a width
inside a format string, `~` doubling chains): in a child whose address space is capped the
allocation fails with MemoryError instead of taking the machine, and a child still running at
the deadline is killed, which a trace function inside the process cannot do to one long C call.
The child inherits the template and the brief by fork, so nothing is serialised on the way in;
the answer comes back as JSON text. Where fork does not exist the call runs in this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
# Seconds a child may run past the deadline its own code enforces, before it is killed.
GRACE_SECONDS = 5.0


class Failed(RuntimeError):
    """The call failed in the child: the message is its error, or how the child ended."""


def run(func: Callable[[T], str], arg: T, seconds: float, memory: int) -> str:
    """func(arg) in a child allowed `memory` bytes more than this process holds now."""
    if not hasattr(os, "fork"):
        return _call(func, arg)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        code = 1
        try:
            # Every descriptor but its own pipe closed: a pipe another thread is rendering
            # through must not stay open in this child (that render would wait for this one).
            os.closerange(3, write_end)
            os.closerange(write_end + 1, os.sysconf("SC_OPEN_MAX"))
            _cap_memory(memory)
            _send(write_end, _answer(func, arg))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        data = _receive(read_end, time.monotonic() + seconds + GRACE_SECONDS)
    finally:
        os.close(read_end)
        status = _reap(pid)
    if data is None:
        raise Failed(f"rendering took longer than {seconds:g} s")
    try:
        answer = json.loads(data) if data else None
    except ValueError:  # cut off by a child that died while writing
        answer = None
    if not isinstance(answer, dict):
        raise Failed(f"rendering stopped ({_how(status)})")
    if "error" in answer:
        raise Failed(answer["error"])
    return str(answer["text"])


def _call(func: Callable[[T], str], arg: T) -> str:
    try:
        return func(arg)
    except Failed:
        raise
    except Exception as exc:
        raise Failed(str(exc)) from exc


def _answer(func: Callable[[T], str], arg: T) -> dict[str, str]:
    try:
        return {"text": func(arg)}
    except MemoryError:
        return {"error": "rendering ran out of memory"}
    except Exception as exc:  # the caller's own errors carry their message back
        return {"error": str(exc) or exc.__class__.__name__}


def _cap_memory(memory: int) -> None:
    """Limit the address space to what the child has now (shared with the parent until
    written) plus `memory` bytes."""
    try:
        with open("/proc/self/statm") as handle:
            size = int(handle.read().split()[0]) * resource.getpagesize()
    except OSError:  # no /proc (not Linux): the time limit still holds
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + memory
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _send(fd: int, answer: dict[str, str]) -> None:
    try:
        data = json.dumps(answer).encode()
    except MemoryError:
        data = b'{"error": "rendering ran out of memory"}'
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)


def _receive(fd: int, deadline: float) -> bytes | None:
    """All the child wrote, or None when the deadline passed first."""
    parts: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        part = os.read(fd, 1 << 20)
        if not part:
            return b"".join(parts)
        parts.append(part)


def _reap(pid: int) -> int:
    """Wait for the child, killing it first if it is still running."""
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    return status


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
