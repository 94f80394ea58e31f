"""The Streamlit app served on 127.0.0.1 and driven in Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium not installed (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(corpus_index_root: Path):
    port = _free_port()
    env = {**os.environ, "SYNTH_INDEX": str(corpus_index_root), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
        pytest.fail("streamlit did not start: " + proc.stdout.read().decode(errors="replace"))
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def test_search_then_download_brief(app_url: str, browser, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(app_url)
    box = page.get_by_label("Ask a question about the evidence")
    box.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "app-empty.png"), full_page=True)
    box.fill("Do text messages to parents improve attendance?")
    box.press("Enter")
    page.get_by_text("parent-text-messages-chile-trial.pdf").first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "app-results.png"), full_page=True)

    page.get_by_role("button", name="Build a learning brief from these results").click()
    page.get_by_role("heading", name="Key messages").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "app-brief.png"), full_page=True)
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name="Download Markdown").click()
    saved = tmp_path / "brief.md"
    info.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("# Learning brief: Do text messages to parents improve attendance?")
    assert "parent-text-messages-chile-trial.pdf" in text
    assert "## Look beyond the headlines" in text
    page.close()
