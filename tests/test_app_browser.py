"""The Streamlit app served on 127.0.0.1 and driven in Debian's Chromium through Playwright.

The server gets its own copy of the session index and an empty corpus folder in tmp, so the
upload test never touches corpus/. Screenshots of each page go to test-artifacts/ (git-ignored);
first-paint times are logged to test-artifacts/browser-timings.txt, never asserted.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urljoin, urlparse

import pytest
from browser_support import ARTIFACTS, CHROMIUM, served_app, shot

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
QUESTION = "Do text messages to parents improve attendance?"

pytest.importorskip("playwright.sync_api", reason="playwright not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium not installed (apt-get install chromium)", allow_module_level=True)


def _log_timing(what: str, seconds: float) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {what}: {seconds:.2f} s"
    print(line)
    with open(ARTIFACTS / "browser-timings.txt", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


@pytest.fixture(scope="module")
def served(corpus_index_root: Path, tmp_path_factory) -> dict[str, Path]:
    """A private copy of the session index and an empty upload folder for the server."""
    base = tmp_path_factory.mktemp("served")
    shutil.copytree(corpus_index_root, base / "index")
    (base / "corpus").mkdir()
    return {"index": base / "index", "corpus": base / "corpus", "log": base / "server.log"}


@pytest.fixture(scope="module")
def app_url(served: dict[str, Path]):
    env = {"SYNTH_INDEX": str(served["index"]), "SYNTH_CORPUS": str(served["corpus"])}
    with served_app(env, served["log"]) as url:
        yield url


def _params(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _wait_for_param(page, fragment: str) -> None:
    """Wait for the URL to carry `fragment`, then for the script run to finish."""
    page.wait_for_function("f => location.search.includes(f)", arg=fragment)
    _settled(page)


def _settled(page) -> None:
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()


def _open_search(page, app_url: str, what: str):
    started = time.perf_counter()
    page.goto(f"{app_url}/?view=passages")
    box = page.get_by_label("Ask a question about the evidence")
    box.wait_for()
    _log_timing(what, time.perf_counter() - started)
    return box


def _search(page, box, question: str) -> None:
    box.fill(question)
    box.press("Enter")
    _wait_for_param(page, "q=")
    page.locator(".synth-card").first.wait_for()


def test_search_filter_open_and_basket(app_url: str, page, tmp_path: Path) -> None:
    box = _open_search(page, app_url, "first paint, new server")
    _open_search(page, app_url, "first paint, warm server")
    shot(page, "app-search-empty")
    _search(page, box, QUESTION)
    assert _params(page)["q"] == [QUESTION]
    cards = page.locator(".synth-card")
    assert cards.first.locator("mark.synth-best").count() == 1
    shot(page, "app-search-results")
    unfiltered = cards.count()

    # Filter: press a country's pill in the sidebar; the URL and the cards follow.
    sidebar = page.get_by_test_id("stSidebar")
    india = sidebar.get_by_role("button", name=re.compile(r"^India \(\d+\)$"))
    assert india.get_attribute("aria-pressed") == "false"
    india.click()
    _wait_for_param(page, "country=IN")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.synth-card')].every("
        "c => [...c.querySelectorAll('.synth-chip')].some(s => s.textContent === 'India'))"
    )
    assert _params(page)["country"] == ["IN"] and _params(page)["q"] == [QUESTION]
    assert 0 < cards.count() <= unfiltered
    assert india.get_attribute("aria-pressed") == "true"
    shot(page, "app-search-filtered")

    # Open a result: the page link serves the PDF itself; the download gives the same bytes.
    card = page.locator("[class*='st-key-card-']").first
    source = card.locator(".synth-where").inner_text().split(" · ")[0]
    original = (CORPUS / source).read_bytes()
    link = card.get_by_role("link", name=re.compile(r"^Open PDF at pp?\. \d+"))
    href = link.get_attribute("href")
    assert re.fullmatch(r"app/static/docs/[0-9a-f]+\.pdf#page=\d+", href), href
    response = page.request.get(urljoin(page.url, href.split("#")[0]))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body() == original
    with page.expect_download() as info:
        card.get_by_role("link", name="Download PDF").click()
    saved = tmp_path / "download.pdf"
    info.value.save_as(saved)
    assert info.value.suggested_filename == source and saved.read_bytes() == original

    # Basket: the sidebar count goes up and the button says so.
    assert sidebar.get_by_text("Basket: empty").is_visible()
    card.get_by_role("button", name="Add to basket").click()
    sidebar.get_by_text("Basket: 1").wait_for()
    _settled(page)
    card.get_by_role("button", name="Remove from basket").wait_for()
    shot(page, "app-search-basket")


def test_study_passages_unfold_on_demand_and_go_to_the_basket(app_url: str, page) -> None:
    """A study's passages are drawn when its fold opens (not before); Add and Remove there move
    the sidebar's basket count like the passage view's buttons."""
    page.goto(f"{app_url}/?q={quote(QUESTION)}")
    page.locator(".synth-study").first.wait_for()
    _settled(page)
    assert page.locator(".synth-card").count() == 0
    study = page.locator("[class*='st-key-study-']").first
    study.get_by_text(re.compile(r"^Best matching passages? \(\d+\)$")).click()
    study.locator(".synth-card").first.wait_for()
    _settled(page)
    assert (
        study.locator(".synth-card mark.synth-best").count() == study.locator(".synth-card").count()
    )
    sidebar = page.get_by_test_id("stSidebar")
    count = int((re.search(r"Basket: (\d+)", sidebar.inner_text()) or [0, "0"])[1])
    card = study.locator("[class*='st-key-card-']").first
    card.get_by_role("button", name="Add to basket").click()
    sidebar.get_by_text(f"Basket: {count + 1}").wait_for()
    _settled(page)
    card.get_by_role("button", name="Remove from basket").click()
    sidebar.get_by_text(f"Basket: {count}").wait_for()
    _settled(page)
    card.get_by_role("button", name="Add to basket").wait_for()


def test_gap_map_cell_lists_its_documents_then_a_filtered_search(app_url: str, page) -> None:
    page.goto(f"{app_url}/gaps")
    cell = page.locator("a.synth-cell").first
    cell.wait_for()
    shot(page, "app-gap-map")
    label = cell.get_attribute("aria-label")
    topic, country = re.match(r"(.+) × (.+?): (\d+) stud", label).group(1, 2)
    n = int(re.match(r".+?: (\d+) stud", label).group(1))
    assert page.locator("td.synth-empty").count() > 0
    cell.click()
    _wait_for_param(page, "row=")
    page.get_by_role("heading", name=re.compile(rf"{re.escape(topic)} × ")).wait_for()
    assert page.locator(".synth-doc").count() == n
    shot(page, "app-gap-cell-list")
    page.get_by_role("link", name="Search these studies").click()
    _wait_for_param(page, "topic=")
    page.get_by_role("heading", name="Search the evidence").wait_for()
    params = _params(page)
    assert set(params) == {"topic", "country"}
    sidebar = page.get_by_test_id("stSidebar")
    for name in (topic, country):
        pill = sidebar.get_by_role("button", name=re.compile(rf"^{re.escape(name)} \(\d+\)$"))
        pill.wait_for()
        assert pill.get_attribute("aria-pressed") == "true"
    page.get_by_text(re.compile(r"^[1-9]\d* stud(y matches|ies match) these filters")).wait_for()
    shot(page, "app-gap-click-through")


def test_search_then_download_brief(app_url: str, page, tmp_path: Path) -> None:
    box = _open_search(page, app_url, "first paint, another session")
    _search(page, box, QUESTION)
    page.get_by_role("button", name="Build a learning brief from these results").click()
    brief = page.frame_locator("iframe[title='The learning brief']")
    brief.get_by_role("heading", name="Key messages").wait_for()
    shot(page, "app-search-brief")
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name="Download Markdown").click()
    saved = tmp_path / "brief.md"
    info.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith(f"# Learning brief: {QUESTION}")
    assert "parent-text-messages-chile-trial.pdf" in text
    assert "## Look beyond the headlines" in text


def test_upload_reports_each_file(
    app_url: str, page, served: dict[str, Path], make_bad_file, make_tiny_pdf, tmp_path: Path
) -> None:
    """Runs last: it adds a document to the served index copy."""
    corpus_before = sorted(p.name for p in CORPUS.iterdir())
    broken = make_bad_file("truncated", tmp_path / "broken-report.pdf")
    good = make_tiny_pdf("bicycle-loans", tmp_path / "bicycle-loans.pdf")
    page.goto(f"{app_url}/corpus")
    page.get_by_text("Documents", exact=True).wait_for()
    shot(page, "app-corpus")
    page.locator("input[type='file']").set_input_files([broken, good])
    page.get_by_text("bicycle-loans.pdf").first.wait_for()
    page.get_by_role("button", name="Add to the index").click()
    report = page.get_by_test_id("stTable").filter(has_text="broken-report.pdf")
    report.wait_for(timeout=180_000)
    rows = {
        cells[0]: cells
        for row in report.locator("tbody tr").all()
        if (cells := [c.inner_text().strip() for c in row.locator("td, th").all()])
    }
    assert rows["broken-report.pdf"][2] == "failed", rows
    assert rows["broken-report.pdf"][3], "a failed file must say why"
    assert rows["bicycle-loans.pdf"][2] == "added", rows
    shot(page, "app-corpus-upload")
    assert sorted(p.name for p in served["corpus"].iterdir()) == [
        "bicycle-loans.pdf",
        "broken-report.pdf",
    ]
    assert sorted(p.name for p in CORPUS.iterdir()) == corpus_before
    page.get_by_test_id("stMetricValue").filter(has_text="15").first.wait_for()
