"""First paint, search and filter-click latency of the Streamlit app in headless Chromium.

First paint is the time from navigation to the search box being visible (the page is usable).
It is measured for a fresh server (cold process caches) and for new sessions on a warm server,
next to a one-widget Streamlit page served the same way: the framework's own floor on this
machine. Search latency is Enter to the result cards painted and the script run finished, over
distinct queries (no memo hit); the first search after the server starts is the cold one. A
filter click is a click on a facet value in the sidebar to the filtered cards painted. The
server is started as the README says (`synth serve`), or with `--streamlit` as `streamlit run`.

    .venv/bin/python benchmarks/bench_app.py [--index index] [--runs 5] [--json out.json]

Without --index (or when it holds no index) the sample corpus is indexed into a temp folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
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
    "structured pedagogy for early grade reading",
    "school feeding and enrolment",
    "teacher coaching in South Africa",
    "remedial education in primary school",
    "cash transfers and school attendance",
    "language of instruction in early grades",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
FACET = re.compile(r"^.+ \(\d+\)$")
BASELINE_APP = f'import streamlit as st\n\nst.text_input("{BOX}")\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(app: Path, env: dict[str, str], command: list[str] | None = None):
    """Run the app (`streamlit run app` unless a command is given) on a free port; yields
    (url, seconds until healthy)."""
    port = _free_port()
    if command is None:
        command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true"]
        command += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    command = [*command, "--port" if "serve" in command else "--server.port", str(port)]
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


def _idle_after(page, action) -> float:
    """Seconds from `action` to the script run it starts having finished (cards painted)."""
    before = page.url
    started = time.perf_counter()
    action()
    page.wait_for_function("u => location.href !== u", arg=before, timeout=120_000)
    page.locator(IDLE).wait_for(timeout=120_000)
    page.locator(".synth-card, .synth-study").first.wait_for(timeout=120_000)
    return time.perf_counter() - started


def search_latency(browser, url: str, query: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    box = page.get_by_label(BOX)
    box.wait_for(timeout=120_000)
    page.locator(IDLE).wait_for(timeout=120_000)
    box.fill(query)
    seconds = _idle_after(page, lambda: box.press("Enter"))
    page.close()
    return seconds


def filter_clicks(browser, url: str, query: str, clicks: int = 2) -> list[float]:
    """Tick, then untick, the first facet value in the sidebar of a result page."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/?q={urllib.parse.quote(query)}")
    page.locator(".synth-card, .synth-study").first.wait_for(timeout=120_000)
    page.locator(IDLE).wait_for(timeout=120_000)
    sidebar = page.get_by_test_id("stSidebar")
    times = []
    value = sidebar.get_by_text(FACET).first
    label = value.inner_text()
    for _ in range(clicks):
        target = sidebar.get_by_text(label.split(" (")[0] + " (").first
        times.append(_idle_after(page, target.click))
    page.close()
    return times


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(p95, 2),
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


def run(index: Path, runs: int, streamlit_run: bool) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    results: dict[str, object] = {"index": str(index), "runs": runs}
    synth = [str(Path(sys.executable).parent / "synth"), "serve", "--index", str(index)]
    command = None if streamlit_run else [*synth, "--headless"]
    results["server"] = "streamlit run app.py" if streamlit_run else "synth serve"
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
        env["SYNTH_BASKETS"] = str(Path(tmp) / "baskets.sqlite")
        with serve(ROOT / "app.py", env, command) as (url, startup):
            results["server_start_s"] = round(startup, 2)
            results["cold_first_paint_s"] = round(first_paint(browser, url), 2)
            results["cold_first_search_s"] = round(search_latency(browser, url, QUERIES[0]), 2)
            results["warm_first_paint_s"] = summary(
                [first_paint(browser, url) for _ in range(runs)]
            )
            warm = [search_latency(browser, url, q) for q in QUERIES[1 : 2 * runs + 1]]
            results["warm_search_s"] = summary(warm)
            clicks = [t for q in QUERIES[1 : runs + 1] for t in filter_clicks(browser, url, q)]
            results["filter_click_s"] = summary(clicks)
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--streamlit", action="store_true", help="serve with `streamlit run`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index = ensure_index(args.index, Path(scratch))
        results = run(index, max(1, args.runs), args.streamlit)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
