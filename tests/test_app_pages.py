"""The brief builder and toolkit pages: streamlit.testing runs (fast), then the app served on
127.0.0.1 and driven in Debian's Chromium through Playwright.

Every app here reads a private copy of the session index and a toolkit store in tmp; corpus/ and
the repository's toolkit/ are never written. Screenshots go to test-artifacts/ (git-ignored):
app-brief.png, app-toolkit.png, app-strand.png.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from browser_support import CHROMIUM, served_app, shot
from streamlit.testing.v1 import AppTest

import synth.brief.synthesize
from synth.index import Index
from synth.search import SearchSettings, search
from synth.toolkit.baskets import BasketItem, BasketStore, basket_path
from synth.toolkit.entries import LinkedEvidence, ToolkitEntry, apply_changes
from synth.toolkit.evidence import refresh_from_index
from synth.toolkit.store import ToolkitStore
from synth.ui.toolkit_form import form_changes, link_ids, merge_links, padlocks_text
from synth.ui.toolkit_pages import matching

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
BRIEF_PAGE = "src/synth/ui/brief_builder.py"
TOOLKIT_PAGE = "src/synth/ui/toolkit_pages.py"
STRAND_PAGE = "src/synth/ui/strand.py"
QUESTION = "Do text messages to parents improve attendance?"
STRAND = "parent-texts"


# ---------------------------------------------------------------- shared set-up


@pytest.fixture(scope="module")
def index_copy(corpus_index_root: Path, tmp_path_factory) -> Path:
    """The session index copied, so no page here can touch the one other tests share."""
    root = tmp_path_factory.mktemp("pages") / "index"
    shutil.copytree(corpus_index_root, root)
    return root


@pytest.fixture(scope="module")
def passages(index_copy: Path, embedder) -> list[str]:
    """Two chunk ids from two different documents: the top hits for QUESTION."""
    with Index.open(index_copy) as index:
        hits = search(index, embedder, QUESTION, SearchSettings(k=10))
    first = hits[0]
    other = next(h for h in hits if h.doc_id != first.doc_id)
    return [first.chunk_id, other.chunk_id]


def make_strand(store_path: Path, index_root: Path, chunk_ids: list[str], **changes) -> None:
    """A strand stored through the library, its links checked against the index: the state a
    curator leaves after `synth toolkit new ... --index`."""
    values = {
        "effect_size": 0.3,
        "cost_per_pupil": 150,
        "padlocks": 3,
        "studies": 7,
        "summary": "Short texts to parents. <script>alert('x')</script>",
        "links": [LinkedEvidence(c, "") for c in chunk_ids],
        **changes,
    }
    title = str(values.pop("title", "Texting parents"))
    topic = str(values.pop("topic", "family-engagement"))
    entry_id = str(values.pop("id", STRAND))
    entry = apply_changes(ToolkitEntry(id=entry_id, title=title, topic=topic), values)
    with Index.open(index_root) as index:
        entry = refresh_from_index(entry, index)
    with ToolkitStore(store_path) as store:
        store.create(entry, "created by the test")


def fill_basket(index_root: Path, chunk_ids: list[str], name: str = "Attendance") -> str:
    """A saved basket holding these passages, as a user leaves it after adding them."""
    with Index.open(index_root) as index:
        rowids = index.rowids(chunk_ids)
        records = index.chunks(list(rowids.values()))
    items = [
        BasketItem(r.chunk_id, r.doc_id, r.title, r.source, r.page_start, r.page_end, r.text[:80])
        for c in chunk_ids
        for r in [records[rowids[c]]]
    ]
    with BasketStore(basket_path()) as store:
        basket = store.create(name)
        store.add(basket.id, items)
    return basket.id


def _basket_ids() -> list[str]:
    with BasketStore(basket_path()) as store:
        return store.latest().chunk_ids


def _store_versions(path: Path, entry_id: str = STRAND) -> list:
    with ToolkitStore(path) as store:
        return store.history(entry_id)


# ---------------------------------------------------------------- pure helpers


def test_form_changes_refuse_two_ways_of_giving_impact_or_cost() -> None:
    base = {"title": "T", "topic": "tutoring", "note": "why"}
    with pytest.raises(ValueError, match="effect size or impact months"):
        form_changes({**base, "effect_size": "0.2", "impact_months": "3"}, editing=True)
    with pytest.raises(ValueError, match="cost per pupil or a cost rating"):
        form_changes({**base, "cost_per_pupil": "100", "cost": 2}, editing=True)
    with pytest.raises(ValueError, match="note"):
        form_changes({**base, "note": "  "}, editing=True)
    with pytest.raises(ValueError, match="title"):
        form_changes({**base, "title": " "}, editing=False)
    with pytest.raises(ValueError, match="topic"):
        form_changes({**base, "topic": None}, editing=False)
    changes = form_changes({**base, "effect_size": " 0.2 ", "padlocks": 0}, editing=False)
    assert changes["effect_size"] == "0.2" and changes["padlocks"] == 0
    assert changes["impact_months"] is None and changes["summary"] == ""


def test_chunk_ids_and_links_keep_order_and_stored_details() -> None:
    assert link_ids(["a-0001", "b-0002", "a-0001", "c-0003"]) == ["a-0001", "b-0002", "c-0003"]
    kept = LinkedEvidence("a-0001", "a", "a.pdf", 3, "A quote.", independent=True)
    links = merge_links([kept], ["b-0002", "a-0001"])
    assert [link.chunk_id for link in links] == ["b-0002", "a-0001"]
    assert links[1] is kept and links[0].doc_id == "b"


def test_toolkit_filters_and_padlocks_text() -> None:
    strong = ToolkitEntry("a", "A", "tutoring", status="published", padlocks=4)
    suggested = ToolkitEntry("b", "B", "tutoring", suggested_padlocks=2)
    unrated = ToolkitEntry("c", "C", "homework")
    entries = [strong, suggested, unrated]
    assert matching(entries, None, None, 0) == entries
    assert matching(entries, "tutoring", None, 0) == [strong, suggested]
    assert matching(entries, None, "draft", 0) == [suggested, unrated]
    assert matching(entries, None, None, 2) == [strong, suggested]
    assert matching(entries, None, None, 5) == []
    assert padlocks_text(strong) == "●●●●○ 4/5" and padlocks_text(unrated) == "not rated"


# ---------------------------------------------------------------- AppTest: brief builder


@pytest.fixture
def app(index_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SYNTH_INDEX", str(index_copy))
    monkeypatch.setenv("SYNTH_CORPUS", str(tmp_path / "corpus"))
    monkeypatch.setenv("SYNTH_TOOLKIT", str(tmp_path / "toolkit.sqlite"))
    return AppTest.from_file(APP, default_timeout=180)


@pytest.fixture
def synth_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The real synthesize, with each call's question recorded, to see what the cache saves."""
    real = synth.brief.synthesize.synthesize
    calls: list[str] = []

    def counted(index, embedder, question, hits, *args, **kwargs):
        calls.append(question)
        return real(index, embedder, question, hits, *args, **kwargs)

    monkeypatch.setattr(synth.brief.synthesize, "synthesize", counted)
    return calls


def _param(at: AppTest, key: str) -> list[str]:
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def _preview(at: AppTest) -> str:
    """The brief previewed: the HTML brief in a frame."""
    return at.get("iframe")[-1].proto.srcdoc


def _provenance_panel(at: AppTest) -> str:
    return next(m.value for m in at.main.markdown if m.value.startswith("- **Question:**"))


def _sources_in_table(page: str) -> list[str]:
    """The evidence table's rows (one per study), in the order the brief lists its sources."""
    section = page.split("<h2>Evidence table</h2>", 1)[1].split("<h2>", 1)[0]
    return re.findall(r"<tr><td>.*?</tr>", section, re.S)


def test_brief_from_the_basket_reorders_switches_template_and_caches(
    app: AppTest, index_copy: Path, passages: list[str], synth_calls: list[str]
) -> None:
    fill_basket(index_copy, passages)
    at = app.run()
    at.switch_page(BRIEF_PAGE).run()
    assert not at.exception
    assert at.title[0].value == "Brief builder"
    assert at.subheader[0].value == "Attendance: 2 passages"
    share = at.code[0].value
    assert "basket=Attendance" in share and "items=" in share
    assert [b.label for b in at.button if b.key and b.key.startswith("brief-")][:3] == [
        "↑ Up",
        "↓ Down",
        "Remove",
    ]
    assert at.button(key=f"brief-up:{passages[0]}").disabled
    built = [d for d in at.get("download_button") if d.key.startswith("brief-dl-")]
    assert not built, "nothing is built before the button is pressed"

    at.button(key="brief-build").click().run()
    assert not at.exception
    md = _preview(at)
    assert "<h1>Learning brief: hand-picked evidence" in md
    assert "<h2>Key messages</h2>" in md and "<h2>Provenance</h2>" in md
    assert "hand-picked (basket of 2 chunk ids)" in md
    assert "2 hand-picked passages (the basket)" in _provenance_panel(at)
    labels = [d.label for d in at.get("download_button") if d.key.startswith("brief-dl-")]
    assert labels == [
        f"Download {x}"
        for x in ("Markdown", "HTML", "PDF", "Word", "JSON", "RIS", "BibTeX", "CSL-JSON")
    ]
    assert [d.label for d in at.get("download_button") if d.key.startswith("cite-basket")] == [
        "RIS",
        "BibTeX",
        "CSL-JSON",
    ]
    rows = _sources_in_table(md)
    assert len(rows) == 2 and len(synth_calls) == 1

    at.run()  # a rerun (a download click, a widget elsewhere) reuses the cached synthesis
    # Each template places the passages in its own sections, so a template is synthesised once
    # and then served from the cache.
    at.radio(key="brief_template").set_value("practitioner-brief").run()
    assert "<h1>For teachers: hand-picked evidence" in _preview(at)
    assert len(synth_calls) == 2
    at.radio(key="brief_template").set_value("learning-brief").run()
    assert len(synth_calls) == 2, "switching back reuses the cached synthesis"

    at.button(key=f"brief-down:{passages[0]}").click().run()
    assert _basket_ids() == passages[::-1]
    assert _sources_in_table(_preview(at)) == rows[::-1], "sources follow the basket order"
    assert len(synth_calls) == 3

    at.button(key=f"brief-remove:{passages[1]}").click().run()
    assert _basket_ids() == [passages[0]]
    assert len(_sources_in_table(_preview(at))) == 1 and len(synth_calls) == 4


def test_brief_from_the_last_search_when_the_basket_is_empty(app: AppTest) -> None:
    app.query_params["q"] = QUESTION
    app.query_params["country"] = "Chile"
    at = app.run()  # the search page, which remembers its search for the other pages
    assert not at.exception and at.session_state["search_last_params"]["country"] == ["CL"]
    at.query_params.clear()  # as in a browser: the sidebar link opens the page without them
    at.switch_page(BRIEF_PAGE).run()
    assert not at.exception
    assert _param(at, "q") == [QUESTION] and _param(at, "country") == ["CL"]
    assert at.text_input(key="brief_question").value == QUESTION
    assert "(Country\\: Chile)" in at.caption[0].value
    at.button(key="brief-build").click().run()
    assert not at.exception
    md = _preview(at)
    assert f"<h1>Learning brief: {QUESTION}</h1>" in md
    assert "retrieved by search" in md and "country = CL" in md
    assert "the top 8 search results" in _provenance_panel(at)
    assert "parent-text-messages-chile-trial.pdf" in md


def test_brief_page_with_nothing_to_build_points_to_the_search(app: AppTest) -> None:
    at = app.run()
    at.switch_page(BRIEF_PAGE).run()
    assert not at.exception
    assert at.info and at.info[0].value.startswith("Nothing to build from yet")
    assert not any(b.key == "brief-build" for b in at.button)


# ---------------------------------------------------------------- AppTest: toolkit


def test_toolkit_cards_filter_by_topic_status_and_padlocks(
    app: AppTest, index_copy: Path, passages: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "toolkit.sqlite"
    make_strand(store, index_copy, passages[:1], status="published")
    tutors = {"id": "tutors", "title": "Tutoring", "topic": "tutoring", "padlocks": 1}
    make_strand(store, index_copy, [], effect_size=0.45, cost_per_pupil=900, **tutors)
    at = app.run()
    at.switch_page(TOOLKIT_PAGE).run()
    assert not at.exception

    def cards() -> dict[str, str]:
        bodies = [h.proto.body for h in at.get("html") if "synth-strand" in h.proto.body]
        return {re.search(r'data-id="([^"]+)"', b).group(1): b for b in bodies}

    shown = cards()
    assert set(shown) == {STRAND, "tutors"}
    assert "+4 months" in shown[STRAND] and ">££<" in shown[STRAND]
    assert "3/5" in shown[STRAND] and "7 studies" in shown[STRAND]
    assert "+6 months" in shown["tutors"] and ">££££<" in shown["tutors"]
    links = [link.proto.query_string for link in at.get("page_link")]
    assert f"id={STRAND}" in links and "id=tutors" in links
    at.selectbox(key="tk_status").set_value("published").run()
    assert set(cards()) == {STRAND}
    at.selectbox(key="tk_status").set_value(None).run()
    at.slider(key="tk_min_padlocks").set_value(2).run()
    assert set(cards()) == {STRAND}
    at.slider(key="tk_min_padlocks").set_value(0).run()
    at.selectbox(key="tk_topic").set_value("tutoring").run()
    assert set(cards()) == {"tutors"}


def test_new_strand_form_links_by_search_and_basket_and_opens_the_strand(
    app: AppTest, index_copy: Path, passages: list[str], tmp_path: Path
) -> None:
    fill_basket(index_copy, passages[1:])
    at = app.run()
    at.switch_page(TOOLKIT_PAGE).run()
    assert at.info[0].value.startswith("No toolkit strands yet")
    assert not (tmp_path / "toolkit.sqlite").exists(), "reading must not create the store"
    at.button(key="tkf-new-save").click().run()
    assert at.error[0].value == "give the strand a title"
    # Link by searching inside the form: results show title, page and snippet, never ids.
    at.text_input(key="tkf-new-find").input(QUESTION).run()
    found = [c for c in at.markdown if c.value.startswith("**Text Messages to Parents")]
    assert found and all(re.search(r" · pp?\. \d+", c.value) for c in found)
    assert not any(passages[0] in m.value for m in [*at.markdown, *at.caption])
    at.button(key=f"tkf-new-link-{passages[0]}").click().run()
    assert at.button(key=f"tkf-new-link-{passages[0]}").label == "Linked"
    at.button(key="tkf-new-link-basket").click().run()
    assert not at.exception
    assert at.session_state["tkf-new-links"] == passages
    at.text_input(key="tkf-new-title").input("Texting parents about attendance")
    at.selectbox(key="tkf-new-topic").set_value("family-engagement")
    at.text_input(key="tkf-new-effect_size").input("0.25")
    at.text_input(key="tkf-new-cost_per_pupil").input("£300")
    at.button(key="tkf-new-save").click().run()
    assert not at.exception
    assert _param(at, "id") == ["texting-parents-about-attendance"]
    assert at.success[0].value == "Created texting-parents-about-attendance (version 1, draft)."
    with ToolkitStore(tmp_path / "toolkit.sqlite") as store:
        entry = store.get("texting-parents-about-attendance")
    assert (entry.impact_months, entry.cost, entry.cost_per_pupil) == (3, 3, 300.0)
    assert [link.chunk_id for link in entry.links] == passages
    assert all(link.source.endswith(".pdf") and link.page for link in entry.links)
    assert entry.index_build and entry.suggested_padlocks is not None


def test_strand_page_card_validation_edit_history_diff_publish(
    app: AppTest, index_copy: Path, passages: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "toolkit.sqlite"
    make_strand(store, index_copy, passages[:1])
    app.query_params["id"] = STRAND
    at = app.run()
    at.switch_page(STRAND_PAGE)
    at.query_params["id"] = STRAND
    at.run()
    assert not at.exception
    assert at.title[0].value == "Texting parents"
    card = at.get("iframe")[0].proto.srcdoc
    assert "<h1>" not in card, "the page shows the title once"
    assert "Texting Parents and Pupil Attendance" in card or "Text Messages to Parents" in card
    assert passages[0] not in card, "studies by reference, never by chunk id"
    assert "+4 months" in card and "3/5" in card and "££" in card
    assert "&lt;script&gt;" in card and "<script>" not in card
    assert "parent-text-messages-chile-trial.pdf" in card

    def save(**fields) -> None:
        for name, value in fields.items():
            if name in ("padlocks", "cost"):
                at.selectbox(key=f"tkf-{STRAND}-{name}").set_value(value)
            else:
                at.text_input(key=f"tkf-{STRAND}-{name}").input(value)
        at.button(key=f"tkf-{STRAND}-save").click().run()
        assert not at.exception

    save(impact_months="5", note="try months")
    assert at.error[0].value == "give an effect size or impact months, not both"
    save(impact_months="", effect_size="large", note="typo")
    assert at.error[0].value == "effect size must be a number, not 'large'"
    save(effect_size="0.3", note="")
    assert at.error[0].value.startswith("say what changed and why")
    at.session_state[f"tkf-{STRAND}-links"] = [passages[0], f"{passages[0][:-4]}9999"]
    save(note="bad link")
    assert at.error[0].value.startswith("unknown chunk id(s)")
    at.button(key=f"tkf-{STRAND}-unlink-{passages[0][:-4]}9999").click().run()
    with Index.open(index_copy) as index:
        words = index.chunks(list(index.rowids([passages[1]]).values())).popitem()[1].text
    at.text_input(key=f"tkf-{STRAND}-find").input(" ".join(words.split()[:15])).run()
    at.button(key=f"tkf-{STRAND}-link-{passages[1]}").click().run()
    assert at.session_state[f"tkf-{STRAND}-links"] == passages
    assert len(_store_versions(store)) == 1, "refused forms save nothing"

    independent = at.multiselect(key=f"tkf-{STRAND}-independent")
    assert independent.options == ["parent-text-messages-chile-trial.pdf"]
    independent.select(_store_versions(store)[0].entry.links[0].doc_id)
    save(padlocks=4, note="a second trial linked")
    assert at.success[0].value == "Saved version 2."
    assert "4/5" in at.get("iframe")[0].proto.srcdoc
    history = at.table[0].value
    assert list(history["Version"]) == ["2", "1"]
    assert history["Note"].iloc[0] == "a second trial linked"
    assert "Padlocks (curator)" in history["Changed"].iloc[0]
    diff = next(h.proto.body for h in at.get("html") if "synth-diff" in h.proto.body)
    assert '<th scope="row">Padlocks (curator)</th>' in diff and "padlocks</th>" not in diff
    assert '<del class="synth-del">3</del>/5' in diff and '<ins class="synth-ins">4</ins>/5' in diff
    assert '<th scope="row">Linked passages</th>' in diff and "chunk_id" not in diff

    # Publishing waits for its checks: required sections are still empty.
    assert at.button(key="strand-status").disabled
    checks = next(h.proto.body for h in at.get("html") if "synth-checks" in h.proto.body)
    assert "Required sections filled</strong> (not yet)" in checks
    for name in ("key_findings", "how_it_works", "implementation"):
        at.text_area(key=f"tkf-{STRAND}-{name}").input(f"Some {name}.")
    save(note="sections written")
    assert at.success[0].value == "Saved version 3."
    diff = next(h.proto.body for h in at.get("html") if "synth-diff" in h.proto.body)
    assert '<th scope="row">How it works</th>' in diff
    assert not at.button(key="strand-status").disabled
    at.button(key="strand-status").click().run()
    assert len(_store_versions(store)) == 3, "nothing is published before the confirmation"
    at.button(key="publish-confirm").click().run()
    assert at.success[0].value == "Published: version 4."
    assert at.button(key="strand-status").label == "Unpublish"
    versions = _store_versions(store)
    assert [v.entry.status for v in versions] == ["draft", "draft", "draft", "published"]
    second = versions[1].entry
    assert second.padlocks == 4 and len(second.links) == 2
    assert [x.independent for x in second.links] == [True, False]
    assert not any("independent" in reason for reason in second.padlock_reasons)
    assert any("independent" in reason for reason in versions[0].entry.padlock_reasons)


def test_strand_page_for_an_unknown_id(app: AppTest) -> None:
    at = app.run()
    at.switch_page(STRAND_PAGE)
    at.query_params["id"] = "no-such-strand"
    at.run()
    assert not at.exception
    assert at.warning[0].value == "No toolkit strand 'no\\-such\\-strand'."


# ---------------------------------------------------------------- the served app in Chromium

browser_only = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def served(index_copy: Path, tmp_path_factory) -> dict[str, object]:
    """The app on 127.0.0.1 with the index copy, an empty corpus folder and a temp store."""
    base = tmp_path_factory.mktemp("served-pages")
    store = base / "toolkit.sqlite"
    env = {
        "SYNTH_INDEX": str(index_copy),
        "SYNTH_CORPUS": str(base / "corpus"),
        "SYNTH_TOOLKIT": str(store),
    }
    with served_app(env, base / "server.log") as url:
        yield {"url": url, "store": store}


def _settled(page) -> None:
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()


def _first_item_is(page, chunk_id: str) -> None:
    """Wait until the brief builder lists `chunk_id` first (a reorder has been drawn)."""
    page.wait_for_function(
        """id => {
            const first = document.querySelector("[class*='st-key-brief-item-']");
            return first !== null && first.className.includes("st-key-brief-item-" + id);
        }""",
        arg=chunk_id,
    )


def _download(page, button_name: str, target: Path) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=button_name, exact=True).click()
    info.value.save_as(target)
    return target.read_bytes()


def _quotes(md: str) -> list[str]:
    """Quotations as the templates print them: “text” (citation, p. N), Markdown-unescaped."""
    found = re.findall(r"“(.+?)” \([^()]*, p\. \d+\)", md)
    return [re.sub(r"\\(.)", r"\1", q) for q in found]


@browser_only
def test_browser_basket_to_brief_with_every_download(
    served, page, tmp_path: Path, index_copy: Path
) -> None:
    from docx import Document
    from pypdf import PdfReader

    page.goto(f"{served['url']}/?view=passages")
    box = page.get_by_label("Ask a question about the evidence")
    box.fill(QUESTION)
    box.press("Enter")
    page.locator(".synth-card").first.wait_for()
    _settled(page)
    cards = page.locator("[class*='st-key-card-']")
    chosen = []
    for i in (0, 1):
        card = cards.nth(i)
        chosen.append(card.get_attribute("class").split("st-key-card-")[1].split()[0])
        card.get_by_role("button", name="Add to basket").click()
        page.get_by_test_id("stSidebar").get_by_text(f"Basket: {i + 1}").wait_for()
        _settled(page)

    # Same session: the sidebar link keeps the basket (a new URL would start a new session).
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Brief builder").click()
    page.get_by_role("heading", name="Brief builder").wait_for()
    page.get_by_text(re.compile(r": 2 passages$")).wait_for()
    page.locator(f".st-key-brief-item-{chosen[0]}").get_by_role("button", name="↓ Down").click()
    _first_item_is(page, chosen[1])  # the rerun may start after the click returns
    _settled(page)
    page.get_by_role("button", name="Build the brief").click()
    preview = page.frame_locator("iframe[title='Preview of the brief']")
    preview.get_by_role("heading", name="Key messages").wait_for(timeout=180_000)
    _settled(page)
    shot(page, "app-brief")

    md = _download(page, "Download Markdown", tmp_path / "brief.md").decode("utf-8")
    assert md.startswith(f"# Learning brief: {QUESTION}")
    assert "\n## Key messages\n" in md and "\n## Provenance\n" in md
    # Key messages are study-record findings: two hand-picked passages may hold none, and the
    # brief then says so; every quotation it prints must still come from the basket.
    quotes = _quotes(md.split("\n## Provenance\n", 1)[0])
    assert quotes, "the brief quotes the basket"
    with Index.open(index_copy) as index:
        rows = index.query("SELECT text FROM chunks WHERE chunk_id IN (?, ?)", chosen)
    texts = [r[0] for r in rows]
    # a quote is a basket sentence, perhaps after the sentence it leans on
    last = [q.rsplit(". ", 1)[-1] for q in quotes]
    assert all(any(q in t for t in texts) for q in last), "every quote is from the basket"

    content = json.loads(_download(page, "Download JSON", tmp_path / "brief.json"))
    assert content["provenance"]["basket"] == chosen[::-1], "the reordered basket"
    pdf = _download(page, "Download PDF", tmp_path / "brief.pdf")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1
    assert "Key messages" in "".join(p.extract_text() for p in reader.pages)
    docx = Document(io.BytesIO(_download(page, "Download Word", tmp_path / "brief.docx")))
    assert "Key messages" in [p.text for p in docx.paragraphs if p.style.name.startswith("Head")]
    html = _download(page, "Download HTML", tmp_path / "brief.html").decode("utf-8")
    assert "<h2>Key messages</h2>" in html and "<script" not in html
    ris = _download(page, "Download RIS", tmp_path / "references.ris").decode("utf-8")
    bib = _download(page, "Download BibTeX", tmp_path / "references.bib").decode("utf-8")
    assert ris.startswith("TY  - ") and "ER  - " in ris and bib.startswith("@")


@browser_only
def test_browser_toolkit_strand_edit_and_history(
    served, page, tmp_path: Path, index_copy: Path, passages: list[str]
) -> None:
    store = Path(served["store"])
    make_strand(store, index_copy, passages[:1])
    page.goto(f"{served['url']}/toolkit")
    card = page.locator(f".st-key-strand-card-{STRAND}")
    card.locator(".synth-strand").wait_for()
    assert card.locator("[data-figure='impact']").inner_text().endswith("+4 months")
    assert card.locator("[data-figure='evidence']").inner_text().endswith("3/5")
    shot(page, "app-toolkit")

    card.get_by_role("link", name="Open the strand").click()
    page.get_by_role("heading", name="Texting parents").wait_for()
    frame = page.frame_locator("iframe").first
    frame.get_by_text("+4 months", exact=True).wait_for()
    frame.get_by_text("3/5", exact=True).wait_for()
    assert frame.get_by_text("<script>alert('x')</script>", exact=False).count() == 1
    _settled(page)
    shot(page, "app-strand")
    with page.expect_download() as info:
        page.get_by_role("button", name="Card as PDF").click()
    info.value.save_as(tmp_path / "card.pdf")
    reader = pytest.importorskip("pypdf").PdfReader(tmp_path / "card.pdf")
    assert "Texting parents" in reader.pages[0].extract_text()

    page.get_by_role("tab", name="Edit").click()
    padlocks = page.get_by_label("Padlocks (evidence strength)")
    padlocks.scroll_into_view_if_needed()
    padlocks.click()
    page.keyboard.type("4/5")
    page.keyboard.press("Enter")
    page.get_by_label("What changed and why").fill("a second trial confirms it")
    page.get_by_role("button", name="Save a new version").click()
    page.get_by_text("Saved version 2.").wait_for()
    _settled(page)
    page.get_by_role("tab", name=re.compile(r"^History")).click()
    history = page.get_by_test_id("stTable").first
    history.get_by_text("a second trial confirms it").wait_for()
    row = page.locator("table.synth-diff tr").filter(has_text="Padlocks (curator)")
    assert [c.inner_text().strip() for c in row.locator("td").all()] == ["3/5", "4/5"]
    assert row.locator("del").inner_text() == "3" and row.locator("ins").inner_text() == "4"
    shot(page, "app-strand-history")
    page.get_by_role("tab", name="Card").click()
    page.frame_locator("iframe").first.get_by_text("4/5", exact=True).wait_for()
    versions = _store_versions(store)
    assert [v.n for v in versions] == [1, 2] and versions[-1].entry.padlocks == 4
    assert versions[-1].note == "a second trial confirms it"
