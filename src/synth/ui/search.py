"""Search page: a question, facet filters with live counts, result cards, and the basket.

The URL is the source of truth (synth.ui.query): every widget writes the query parameters in
its callback and every run reads them back, so a shared link, the back button and the gap map's
click-through all reproduce the same search.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import streamlit as st

from synth.brief.render import render_brief
from synth.brief.synthesize import synthesize
from synth.index import Index, ingest
from synth.models import Hit
from synth.search import SearchResult
from synth.search.studies import StudyResult
from synth.taxonomy import Taxonomy, load_taxonomy
from synth.ui import basket, cite, nav, resources, static_docs
from synth.ui.highlight import best_sentence, card_html, hit_sentences
from synth.ui.progress import StreamlitProgress
from synth.ui.query import LAST_PARAMS, VIEWS, SearchState, facet_names, state_from_params
from synth.ui.study_cards import NO_CLOSE_MATCH, study_cards
from synth.ui.text import plain

PAGE = "search"
QUERY_BOX = "q_box"
VIEW_BOX = "view_box"
VIEW_LABELS = {"studies": "Studies", "passages": "Passages"}
YEARS = "years"
RESULTS = "k"
OPEN_FACETS = ("topic", "country", "phase")


def _url_params() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params}


def _current() -> SearchState:
    return state_from_params(_url_params(), load_taxonomy())


def _commit(state: SearchState) -> None:
    st.query_params.from_dict(state.to_params())


def _on_query() -> None:
    _commit(_current().with_query(st.session_state[QUERY_BOX]))


def _on_facet(facet: str, key: str) -> None:
    _commit(_current().with_values(facet, st.session_state.get(key) or ()))


def _on_years(lowest: int, highest: int) -> None:
    lo, hi = st.session_state[YEARS]
    _commit(_current().with_years(None if lo <= lowest else lo, None if hi >= highest else hi))


def _on_view() -> None:
    _commit(_current().with_view(st.session_state.get(VIEW_BOX) or VIEWS[0]))


def _on_clear() -> None:
    _commit(_current().without_filters())


def _sync(key: str, value: object) -> None:
    """Point a widget at the URL's value before it is drawn (only when they differ)."""
    if st.session_state.get(key) != value:
        st.session_state[key] = value


def _build_sample_index() -> None:
    progress = StreamlitProgress()
    report = ingest([resources.SAMPLE_CORPUS], resources.index_dir(), progress=progress)
    progress.close()
    st.success(
        f"{report.count('added')} added, {report.count('unchanged')} unchanged, "
        f"{report.count('failed')} failed"
    )


def _no_index() -> None:
    st.info(f"No index at `{resources.index_dir()}` yet.")
    if resources.SAMPLE_CORPUS.is_dir() and st.button("Build the index from the sample corpus"):
        _build_sample_index()
        st.rerun()


def _facet_options(
    name: str, state: SearchState, result: SearchResult | StudyResult, taxonomy: Taxonomy
) -> dict[str, str]:
    """A facet's values as "label (documents)", in the result's order; values with no document
    are left out unless they are selected (so a selection can always be undone)."""
    options = {c.value: f"{c.label} ({c.documents})" for c in result.facets.get(name, [])}
    for value in state.selected(name):
        options.setdefault(value, f"{taxonomy.facets[name].label_of(value)} (0)")
    return options


def _facet_filters(
    state: SearchState, result: SearchResult | StudyResult, taxonomy: Taxonomy
) -> None:
    """One pills widget per facet, not one checkbox per value: a filter click redraws a
    handful of widgets instead of sixty."""
    for name in facet_names(taxonomy):
        options = _facet_options(name, state, result, taxonomy)
        if not options:
            continue
        selected = state.selected(name)
        facet = taxonomy.facets[name]
        key = f"facet:{name}"
        # Always from the URL: the labels carry counts that change with the filters, so a
        # value the browser sent under last run's labels may not match this run's.
        st.session_state[key] = list(selected)
        with st.expander(facet.label, expanded=bool(selected) or name in OPEN_FACETS):
            st.pills(
                facet.label,
                list(options),
                selection_mode="multi",
                format_func=options.get,
                key=key,
                on_change=_on_facet,
                args=(name, key),
                label_visibility="collapsed",
            )


def _year_filter(state: SearchState, years: tuple[int, int] | None) -> None:
    if years is None or years[0] >= years[1]:
        return
    lowest, highest = years
    lo = min(max(state.year_from or lowest, lowest), highest)
    hi = max(min(state.year_to or highest, highest), lo)
    _sync(YEARS, (lo, hi))
    st.slider("Year", lowest, highest, key=YEARS, on_change=_on_years, args=(lowest, highest))


def _sidebar(
    index: Index, state: SearchState, result: SearchResult | StudyResult, taxonomy: Taxonomy
) -> None:
    with st.sidebar:
        st.header("Filters")
        st.caption("Counts are documents among the best matches for the search.")
        st.button("Clear filters", on_click=_on_clear, disabled=state.filters.empty)
        _facet_filters(state, result, taxonomy)
        _year_filter(state, resources.year_range(str(index.root), index.build_id))
        st.slider("Results", 3, 30, 8, key=RESULTS)


def _actions(hit: Hit, path: Path | None, pdf_url: str | None, held: bool) -> bool:
    """Add or Remove for the basket, and a download when the PDF has no link; True on the run
    after the basket button was pressed."""
    with st.container(horizontal=True):
        if held:
            pressed = st.button(
                "Remove from basket",
                key=f"basket:{hit.chunk_id}",
                on_click=basket.remove,
                args=(hit.chunk_id,),
                icon=":material/remove_shopping_cart:",
            )
        else:
            pressed = st.button(
                "Add to basket",
                key=f"basket:{hit.chunk_id}",
                on_click=basket.add_hit,
                args=(hit,),
                icon=":material/add_shopping_cart:",
            )
        if pdf_url:  # the card links to the PDF itself
            return pressed
        if path is None or not path.is_file():
            st.caption("file not found on disk")
            return pressed
        st.download_button(
            f"Download {path.suffix.lstrip('.').upper() or 'file'}",
            data=path.read_bytes,
            file_name=hit.source,
            mime=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            key=f"dl:{hit.chunk_id}",
            on_click="ignore",
        )
    return pressed


def _results(index: Index, state: SearchState, result: SearchResult, taxonomy: Taxonomy) -> None:
    hits = result.hits
    reach = "" if result.n_allowed is None else f" · filters allow {result.n_allowed} passages"
    st.caption(f"{len(hits)} passages{reach}")
    if not hits:
        st.warning("No results. Try other words or fewer filters.")
        return
    with st.container(horizontal=True, key="cite-results"):
        st.caption("Cite these results:")
        cite.downloads(index, [h.doc_id for h in hits], "search-results", "results")
    sentences = {hit.chunk_id: hit_sentences(index, hit) for hit in hits}
    pool = [s for group in sentences.values() for s in group]
    paths = resources.document_paths(index, sorted({hit.doc_id for hit in hits}))
    held = set(basket.items())
    for number, hit in enumerate(hits, start=1):
        own = sentences[hit.chunk_id]
        best = best_sentence(state.query, own, pool)
        path = paths.get(hit.doc_id)
        url = static_docs.publish(hit.doc_id, path) if path is not None else None
        with st.container(border=True, key=f"card-{hit.chunk_id}"):
            st.html(card_html(number, hit, own, best, taxonomy, url))
            _actions(hit, path, url, hit.chunk_id in held)


def _brief(index: Index, state: SearchState, hits: list[Hit]) -> None:
    """The one-click brief from the results shown (until the brief builder page replaces it)."""
    if hits and st.button("Build a learning brief from these results", type="primary"):
        with st.spinner("Choosing key messages and checking every quote..."):
            embedder = resources.get_embedder(index.manifest.model)
            content = synthesize(
                index, embedder, state.query, hits, filters=state.filters, template="learning-brief"
            )
            st.session_state["brief_md"] = render_brief(content, fmt="md")
            st.session_state["brief_html"] = render_brief(content, fmt="html")
            st.session_state["brief_query"] = state.query
    if not st.session_state.get("brief_md") or st.session_state.get("brief_query") != state.query:
        return
    st.subheader("Learning brief")
    with st.container(horizontal=True):
        st.download_button(
            "Download Markdown", st.session_state["brief_md"], "learning-brief.md", "text/markdown"
        )
        st.download_button(
            "Download HTML", st.session_state["brief_html"], "learning-brief.html", "text/html"
        )
    st.iframe(st.session_state["brief_html"], height="content", alt="The learning brief")


def _browse(index: Index, state: SearchState) -> None:
    docs = resources.matching_documents(
        str(index.root), index.build_id, resources.filters_key(state.filters)
    )
    noun = "document matches" if len(docs) == 1 else "documents match"
    st.caption(f"{len(docs)} {noun} these filters. Ask a question to see passages.")
    if docs:
        st.table(
            [{"Title": plain(t), "File": plain(s), "Matching passages": n} for t, s, n in docs],
            hide_index=True,
        )


def _pdf_urls(index: Index, doc_ids: list[str]) -> dict[str, str]:
    urls = {}
    for doc_id, path in resources.document_paths(index, doc_ids).items():
        if url := static_docs.publish(doc_id, path):
            urls[doc_id] = url
    return urls


def _studies(index: Index, state: SearchState, result: StudyResult, taxonomy: Taxonomy) -> None:
    """Study cards: for a question the studies it finds; for filters alone, the studies they
    allow (newest first)."""
    if result.no_close_match:
        st.warning(NO_CLOSE_MATCH)
        return
    noun = "study matches" if result.n_matching == 1 else "studies match"
    what = "this question" if state.query else "these filters"
    st.caption(f"{result.n_matching} {noun} {what}; showing {len(result.studies)}.")
    if not result.studies:
        st.warning("No study matches. Try other words or fewer filters.")
        return
    doc_ids = [s.doc_id for s in result.studies]
    with st.container(horizontal=True, key="cite-results"):
        st.caption("Cite these studies:")
        cite.downloads(index, doc_ids, "search-results", "results")
    urls = _pdf_urls(index, doc_ids)
    paths = resources.document_paths(index, doc_ids)

    def actions(hit: Hit, url: str | None) -> None:
        # Drawn inside a card's own rerun: read the basket now, and after a press rerun the
        # whole page so the sidebar's count follows.
        if _actions(hit, paths.get(hit.doc_id), url, hit.chunk_id in basket.items()):
            st.rerun()

    study_cards(index, state.query, result, taxonomy, urls.get, actions)


def _view_choice(state: SearchState) -> None:
    _sync(VIEW_BOX, state.view)
    st.segmented_control(
        "Show results as",
        VIEWS,
        format_func=VIEW_LABELS.get,
        key=VIEW_BOX,
        on_change=_on_view,
    )


def main() -> None:
    came_from = nav.enter(PAGE)
    st.title("Search the evidence")
    index = resources.open_index()
    if index is None:
        _no_index()
        return
    if not st.query_params and came_from not in (None, PAGE) and st.session_state.get(LAST_PARAMS):
        st.query_params.from_dict(st.session_state[LAST_PARAMS])
    taxonomy = load_taxonomy()
    state = _current()
    st.session_state[LAST_PARAMS] = state.to_params()
    _sync(QUERY_BOX, state.query)
    st.text_input(
        "Ask a question about the evidence",
        key=QUERY_BOX,
        on_change=_on_query,
        placeholder="e.g. Does tutoring help pupils who fall behind in maths?",
    )
    _view_choice(state)
    k = int(st.session_state.get(RESULTS, 8))
    key = (str(index.root), index.build_id, state.query, resources.filters_key(state.filters), k)
    if state.view == "studies" and (state.query or not state.filters.empty):
        result = resources.cached_studies(*key)
        _studies(index, state, result, taxonomy)
        if state.query:
            _brief(index, state, [s.passages[0] for s in result.studies if s.passages])
    else:
        result = resources.cached_search(*key)
        if state.query:
            _results(index, state, result, taxonomy)
            _brief(index, state, result.hits)
        elif not state.filters.empty:
            _browse(index, state)
        else:
            m = index.manifest
            st.caption(
                f"{m.n_documents} documents, {m.n_chunks} passages. Ask a question, or pick "
                "filters in the sidebar to browse."
            )
    # Drawn last: the search box is usable before the many filter widgets arrive.
    _sidebar(index, state, result, taxonomy)
    resources.warm_embedder(index.manifest.model)


if __name__ == "__main__":
    main()
