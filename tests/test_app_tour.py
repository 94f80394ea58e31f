"""Every page of the app as its readers see it: light and dark themes, 1400 and 390 px wide.

One server (`synth serve`) on a private copy of the session index, plus a document whose title
is hostile (Markdown links and images to a remote host, maths, emoji and icon shortcodes, a bare
URL, terminal escapes, a script tag), a toolkit strand and a saved basket. On every page and in
every variant: a full-page screenshot in test-artifacts/ (tour-<page>-<theme>-<width>.png),
axe-core finds no serious or critical violation, no request leaves 127.0.0.1, nothing overflows
the screen sideways, and no traceback or server path reaches the page.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    axe_violations,
    record_requests,
    served_app,
    settled,
)
from test_app_pages import STRAND, make_strand

from synth.index import Index, ingest
from synth.search.gaps import gap_map
from synth.toolkit.baskets import BasketStore, item_from_hit
from synth.toolkit.entries import apply_changes
from synth.toolkit.store import ToolkitStore

pytest.importorskip("playwright.sync_api", reason="playwright not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium not installed (apt-get install chromium)", allow_module_level=True)

EVIL_TITLE = (
    "Evil [link](https://evil.test/x) ![px](https://evil.test/p.png) $E=mc^2$ :smile: "
    ":material/home: https://evil.test/u \x1b[2J\x07 <script>alert(1)</script> _Bicycles_"
)


@pytest.fixture(scope="module")
def tour(corpus_index_root: Path, tmp_path_factory, make_tiny_pdf, embedder) -> dict:
    """The served app's data: index copy with the hostile document, a strand, a basket."""
    from pypdf import PdfReader, PdfWriter

    base = tmp_path_factory.mktemp("tour")
    root = base / "index"
    shutil.copytree(corpus_index_root, root)
    pdf = make_tiny_pdf("bicycle-loans", base / "evil.pdf")
    writer = PdfWriter(clone_from=PdfReader(pdf))
    writer.add_metadata({"/Title": EVIL_TITLE})
    with open(base / "evil-report.pdf", "wb") as handle:
        writer.write(handle)
    report = ingest([base / "evil-report.pdf"], root, embedder=lambda: embedder)
    assert report.count("added") == 1
    with Index.open(root) as index:
        evil = next(d for d in index.documents() if d.source == "evil-report.pdf")
        first = index.query("SELECT id FROM chunks WHERE doc_id = ? LIMIT 1", (evil.doc_id,))
        records = index.chunks([first[0][0]])
        chunk_ids = [r[0] for r in index.query("SELECT chunk_id FROM chunks LIMIT 3")]
        more = index.chunks(list(index.rowids(chunk_ids).values()))
        cell = _a_cell(index, evil.doc_id)
    store = base / "toolkit.sqlite"
    make_strand(store, root, chunk_ids[:1])
    with ToolkitStore(store) as strands:  # a second version, so History has a diff to show
        entry = apply_changes(strands.get(STRAND), {"padlocks": 4, "summary": "Texts work."})
        strands.save(entry, "padlocks confirmed")
    baskets = base / "baskets.sqlite"
    with BasketStore(baskets) as kept:
        basket = kept.create("Attendance brief")
        hits = [r.hit(1, 1.0, {}) for r in [*records.values(), *more.values()]]
        kept.add(basket.id, [item_from_hit(h) for h in hits])
    env = {
        "SYNTH_INDEX": str(root),
        "SYNTH_CORPUS": str(base / "corpus"),
        "SYNTH_TOOLKIT": str(store),
        "SYNTH_BASKETS": str(baskets),
    }
    with served_app(env, base / "server.log") as url:
        yield {"url": url, "cell": cell, "baskets": baskets, "log": base / "server.log"}


def _a_cell(index: Index, avoid: str) -> dict[str, str]:
    gm = gap_map(index, rows="topic", cols="country", colour="design")
    row, col = next(cell for cell, docs in gm.documents.items() if docs and avoid not in docs)
    return {"cols": "country", "colour": "design", "row": row, "col": col}


def _pages(cell: dict[str, str]) -> dict[str, tuple[str, str]]:
    """name: (path, a selector that says the page is drawn)."""
    return {
        "search": ("", "input[aria-label='Ask a question about the evidence']"),
        "search-results": ("?q=text+messages+to+parents+attendance", ".synth-study"),
        "search-passages": ("?q=tutoring+maths&view=passages", ".synth-card"),
        "gap-map": ("gaps", ".synth-gap"),
        "gap-cell": (f"gaps?{urlencode(cell)}", ".synth-doc"),
        "corpus": ("corpus", "[data-testid='stMetricValue']"),
        "brief": ("brief", "[class*='st-key-brief-item-']"),
        "toolkit": ("toolkit", ".synth-strand"),
        "strand": (f"strand?id={STRAND}", "iframe"),
    }


def _visit(page, url: str, ready: str) -> None:
    page.goto(url)
    page.locator(ready).first.wait_for()
    settled(page)


def _shot(page, name: str) -> None:
    """The whole page (Streamlit scrolls its main pane): grow the viewport to fit it."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 700), 6000)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def _no_leak(page) -> list[str]:
    text = page.locator("body").inner_text()
    return [w for w in ("Traceback", "/work/", "site-packages", '.py", line') if w in text]


# (theme, width, run axe): axe in one variant of each theme and width, screenshots in all four.
VARIANTS = (
    ("light", 1400, True),
    ("dark", 1400, False),
    ("dark", 390, True),
    ("light", 390, False),
)


def _check_variant(page, name: str, theme: str, width: int, axe: bool) -> dict[str, object]:
    page.emulate_media(color_scheme=theme)
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(700)  # the theme follows the system setting; the layout reflows
    variant = f"{name} {theme} {width}px"
    problems: dict[str, object] = {}
    _shot(page, f"tour-{name}-{theme}-{width}")
    if axe and (found := axe_violations(page)):
        problems[f"{variant}: axe"] = found
    overflow = page.evaluate(
        "() => document.querySelector('[data-testid=stMain]').scrollWidth - innerWidth"
    )
    if overflow > 1:
        problems[f"{variant}: {overflow}px wider than the screen"] = overflow
    return problems


def test_every_page_in_both_themes_and_widths_accessible_and_offline(browser, tour) -> None:
    """Each page loads once; themes and widths then change in place, as a user's would."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)
    offsite = record_requests(page)
    problems: dict[str, object] = {}
    try:
        for name, (path, ready) in _pages(tour["cell"]).items():
            page.emulate_media(color_scheme="light")
            page.set_viewport_size({"width": 1400, "height": 900})
            _visit(page, f"{tour['url']}/{path}", ready)
            if leaks := _no_leak(page):
                problems[f"{name}: leaks"] = leaks
            for theme, width, axe in VARIANTS:
                problems |= _check_variant(page, name, theme, width, axe)
    finally:
        context.close()
    assert not problems, problems
    assert not offsite, f"requests left 127.0.0.1: {offsite[:5]}"


def test_narrow_screen_sidebar_closes_on_another_page(browser, tour) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(90_000)
    _visit(page, tour["url"], "input[aria-label='Ask a question about the evidence']")
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.bounding_box()["x"] < 0, "closed at first on a phone"
    page.get_by_test_id("stExpandSidebarButton").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().x >= 0"
    )
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Evidence gap map").click()
    page.locator(".synth-gap").wait_for()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().right <= 0"
    )
    _shot(page, "tour-gap-map-after-sidebar-390")
    context.close()


def test_hostile_title_is_text_everywhere(browser, tour) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(90_000)
    offsite = record_requests(page)
    url = tour["url"]
    checks = {
        "search": (f"{url}/?q=bicycle+loans+evil", ".synth-study"),
        "brief": (f"{url}/brief", "[class*='st-key-brief-item-']"),
        "corpus": (f"{url}/corpus", "[data-testid='stMetricValue']"),
    }
    for name, (target, ready) in checks.items():
        _visit(page, target, ready)
        main = page.get_by_test_id("stMain")
        if name != "corpus":  # the corpus table is a canvas grid: its text is not in the DOM
            text = main.inner_text().replace("\u2060", "")
            assert "$E=mc^2$" in text and ":smile:" in text, name
            assert "<script>alert(1)</script>" in text, name
        assert main.locator("img[src^='http'], .katex").count() == 0, name
        scripts = "() => [...document.scripts].some(s => s.textContent.includes('alert(1)'))"
        assert not page.evaluate(scripts), name
        assert main.locator("a[href*='evil.test']").count() == 0, name
        assert not _no_leak(page), name
    page.close()
    assert not offsite, offsite


def test_focus_is_visible_on_page_links_buttons_and_fields(browser, tour) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(90_000)
    _visit(page, f"{tour['url']}/?q=tutoring", ".synth-study")
    seen: dict[str, str] = {}
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                return {tag: e.tagName, text: (e.innerText || e.getAttribute('aria-label') || '')
                .trim().slice(0, 40), outline: s.outlineStyle + ' ' + s.outlineWidth,
                shadow: s.boxShadow}; }"""
        )
        kind = {"A": "link", "BUTTON": "button", "INPUT": "field"}.get(focused["tag"])
        if kind and kind not in seen:
            seen[kind] = focused["outline"]
            assert focused["outline"].startswith("solid") or focused["shadow"] != "none", focused
            assert re.search(r"[1-9]", focused["outline"]) or focused["shadow"] != "none"
        if len(seen) == 3:
            break
    page.close()
    assert set(seen) == {"link", "button", "field"}, seen


def test_basket_survives_reload_and_travels_in_its_link(browser, tour) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(90_000)
    _visit(page, f"{tour['url']}/?q=school+feeding+attendance&view=passages", ".synth-card")
    sidebar = page.get_by_test_id("stSidebar")
    count = int(re.search(r"Basket: (\d+)", sidebar.inner_text()).group(1))
    card = page.locator("[class*='st-key-card-']").first
    card.get_by_role("button", name="Add to basket").click()
    sidebar.get_by_text(f"Basket: {count + 1}").wait_for()
    settled(page)
    card.get_by_role("button", name="Remove from basket").wait_for()
    page.reload()
    page.locator(".synth-card").first.wait_for()
    sidebar.get_by_text(f"Basket: {count + 1}").wait_for()
    _visit(page, f"{tour['url']}/brief", "[class*='st-key-brief-item-']")
    link = page.get_by_test_id("stCode").first.inner_text().strip()
    assert "/brief?basket=" in link and "items=" in link
    with BasketStore(tour["baskets"]) as kept:  # the link alone must bring the basket back
        for basket in kept.baskets():
            kept.delete(basket.id)
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other.set_default_timeout(90_000)
    _visit(other, link, "[class*='st-key-brief-item-']")
    items = other.locator("[class*='st-key-brief-item-']")
    assert items.count() == count + 1
    assert re.search(r"pp?\. \d+", items.first.inner_text())
    fresh.close()
    page.close()
