"""`synth serve` stops cleanly: SIGTERM or SIGINT to its process id ends the server, and no
process it started is left behind (Streamlit runs inside it; nothing is forked to outlive it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Every live process whose parent chain leads to pid (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_on_a_signal_and_leaves_nothing(corpus_index_root: Path, signum, tmp_path):
    port = _free_port()
    synth = Path(sys.executable).parent / "synth"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SYNTH_BASKETS": str(tmp_path / "b.sqlite")}
    command = [str(synth), "serve", "--index", str(corpus_index_root), "--headless"]
    command += ["--port", str(port)]
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)
        else:
            pytest.fail("synth serve did not start")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
        started = _descendants(proc.pid)
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 0 or proc.returncode in (-signum, 128 + signum)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    time.sleep(0.5)
    left = {pid for pid in started if _alive(pid)}
    assert not left, f"left running: {left}"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
