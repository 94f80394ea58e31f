"""First paint and search latency of the Streamlit app in headless Chromium (Playwright).

First paint is the time from navigation to the search box being visible (the page is usable).
It is measured for a fresh server (cold process caches) and for new sessions on a warm server,
next to a one-widget Streamlit page served the same way: the framework's own floor on this
machine. Search latency is Enter to the first result card, over distinct queries (no memo hit).

    .venv/bin/python benchmarks/bench_app.py [--index index] [--runs 5] [--json out.json]

Without --index (or when it holds no index) the sample corpus is indexed into a temp folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BOX = "Ask a question about the evidence"
QUERIES = [
    "Do text messages to parents improve attendance?",
    "extra maths tutoring for ninth graders",
    "teaching at the right level in India",
    "girls staying in secondary school",
    "formative assessment in lower secondary mathematics",
    "coaching caregivers in crisis settings",
]
BASELINE_APP = f'import streamlit as st\n\nst.text_input("{BOX}")\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(app: Path, env: dict[str, str]) -> Iterator[tuple[str, float]]:
    """Run `streamlit run app` on a free port; yields (url, seconds until healthy)."""
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--browser.gatherUsageStats", "false"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=app.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - started > 120:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.2)
        yield url, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def first_paint(browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.get_by_label(BOX).wait_for(timeout=120_000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def search_latency(browser, url: str, query: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    box = page.get_by_label(BOX)
    box.wait_for(timeout=120_000)
    box.fill(query)
    started = time.perf_counter()
    box.press("Enter")
    page.locator(".synth-card").first.wait_for(timeout=120_000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "n": len(values),
    }


def ensure_index(path: Path | None, scratch: Path) -> Path:
    if path is not None and (path / "CURRENT").is_file():
        return path
    from synth.index import ingest

    target = scratch / "index"
    print(f"indexing {ROOT / 'corpus'} into {target} ...", file=sys.stderr)
    ingest(sorted((ROOT / "corpus").glob("*.pdf")), target)
    return target


def run(index: Path, runs: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    results: dict[str, object] = {"index": str(index), "runs": runs}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        baseline = Path(tmp) / "baseline.py"
        baseline.write_text(BASELINE_APP)
        with serve(baseline, {}) as (url, _):
            first_paint(browser, url)
            results["baseline_first_paint_s"] = summary(
                [first_paint(browser, url) for _ in range(runs)]
            )
        env = {"SYNTH_INDEX": str(index), "HF_HUB_OFFLINE": "1"}
        with serve(ROOT / "app.py", env) as (url, startup):
            results["server_start_s"] = round(startup, 2)
            results["cold_first_paint_s"] = round(first_paint(browser, url), 2)
            results["warm_first_paint_s"] = summary(
                [first_paint(browser, url) for _ in range(runs)]
            )
            results["first_search_s"] = round(search_latency(browser, url, QUERIES[0]), 2)
            warm = [search_latency(browser, url, q) for q in QUERIES[1 : runs + 1]]
            results["warm_search_s"] = summary(warm)
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = run(ensure_index(args.index, Path(scratch)), max(1, args.runs))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
