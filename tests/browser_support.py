"""What the browser test modules need: the app served on 127.0.0.1 by `synth serve`, Debian's
Chromium driven by Playwright, full-page screenshots in test-artifacts/ (git-ignored), axe-core
checks and a record of every request that leaves 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
CHROMIUM_ARGS += ["--disable-quic", "--disable-background-networking", "--disable-component-update"]
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
LOCAL = ("http://127.0.0.1", "data:", "blob:", "about:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`synth serve` on a free port with these environment additions; yields its URL. The
    server shows users one-line errors (SYNTH_APP_RAISE=0), as it does for real."""
    port = _free_port()
    synth = Path(sys.executable).parent / "synth"
    command = [str(synth), "serve", "--headless", "--port", str(port), "--address", "127.0.0.1"]
    if "SYNTH_INDEX" in env:
        command += ["--index", env["SYNTH_INDEX"]]
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "SYNTH_APP_RAISE": "0", **env}
    full_env.setdefault("SYNTH_BASKETS", str(log_path.with_name("baskets.sqlite")))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, env=full_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + log_path.read_text(errors="replace"))
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium, headless (Playwright's own browser download cannot work here)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser) -> Iterator[object]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.set_default_timeout(90_000)
    try:
        yield page
    finally:
        page.close()


def shot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main pane, so grow the viewport to fit it."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 600), 8000)})
    page.wait_for_timeout(300)  # let the layout settle at the new size
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now (frames aside: the
    card and brief previews are documents of their own, checked where they are made)."""
    if not AXE.is_file():
        pytest.fail(f"axe-core missing at {AXE}: run `bash scripts/install.sh test`")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document, {iframes: false, resultTypes: ['violations']});
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
            targets: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
          }));
        }"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def record_requests(page) -> list[str]:
    """Every URL the page asks for that is not on 127.0.0.1 (the app must load nothing else)."""
    offsite: list[str] = []
    page.on("request", lambda r: offsite.append(r.url) if not r.url.startswith(LOCAL) else None)
    return offsite


def settled(page) -> None:
    """Wait for the script run to finish (and a beat for the browser to paint it)."""
    page.locator(IDLE).wait_for()
    page.wait_for_timeout(500)  # elements fade in after a run
    page.locator(IDLE).wait_for()
