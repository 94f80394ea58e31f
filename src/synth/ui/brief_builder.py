"""Brief builder page: the basket (or, when it is empty, the current search) made into a brief,
previewed live and downloaded in every format with the sources as RIS, BibTeX and CSL-JSON.

Synthesis takes seconds (themes, quote checks), so it is st.cache_data on what decides its
result: the index build, either the basket's chunk ids in order or the search's query, filters
and size, and the template (each places passages in its own sections). Switching back to a
template, reordering back, or clicking a download does not synthesise again.
"""

from __future__ import annotations

import streamlit as st

from synth.brief.basket import hits_from_basket
from synth.brief.content import BriefContent
from synth.brief.references import export_references
from synth.brief.render import BriefError, export_brief
from synth.brief.synthesize import synthesize
from synth.index import Index
from synth.taxonomy import load_taxonomy
from synth.ui import basket, nav, resources
from synth.ui.query import LAST_PARAMS, SearchState, state_from_params
from synth.ui.text import plain

PAGE = "brief"
TEMPLATES = {
    "learning-brief": "Learning brief",
    "practitioner-brief": "Practitioner brief",
    "policy-brief": "Policy brief",
}
REFERENCE_FORMATS = {"ris": "ris", "bib": "bibtex", "csl.json": "csl"}
TEMPLATE_KEY = "brief_template"
QUESTION_KEY = "brief_question"
K_KEY = "brief_k"
LIVE = "brief_live"
# (format, button label, MIME type); the last three are the brief's references, not the brief.
FILES = (
    ("md", "Markdown", "text/markdown"),
    ("html", "HTML", "text/html"),
    ("pdf", "PDF", "application/pdf"),
    ("docx", "Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("json", "JSON", "application/json"),
    ("ris", "RIS", "application/x-research-info-systems"),
    ("bib", "BibTeX", "application/x-bibtex"),
    ("csl.json", "CSL-JSON", "application/vnd.citationstyles.csl+json"),
)


# ---------------------------------------------------------------- cached work


@st.cache_data(max_entries=32, show_spinner=False)
def brief_content(
    root: str,
    build_id: str,
    question: str,
    chunk_ids: tuple[str, ...],
    filters_json: str,
    k: int,
    template: str,
) -> BriefContent:
    """synthesize() over the basket's passages, or over the search's hits when there is none;
    sections are allocated for the template's layout."""
    index = resources.get_index(root, build_id)
    embedder = resources.get_embedder(index.manifest.model)
    if chunk_ids:
        hits = hits_from_basket(index, list(chunk_ids))
        return synthesize(
            index, embedder, question, hits, basket=list(chunk_ids), template=template
        )
    result = resources.cached_search(root, build_id, question, filters_json, k)
    return synthesize(
        index, embedder, question, result.hits, filters=result.filters, template=template
    )


@st.cache_data(max_entries=128, show_spinner=False)
def brief_file(
    root: str,
    build_id: str,
    question: str,
    chunk_ids: tuple[str, ...],
    filters_json: str,
    k: int,
    template: str,
    fmt: str,
) -> bytes:
    """One download's bytes: the brief in a format, or its references as RIS or BibTeX."""
    content = brief_content(root, build_id, question, chunk_ids, filters_json, k, template)
    if fmt in REFERENCE_FORMATS:
        return export_references(content.references, REFERENCE_FORMATS[fmt]).encode("utf-8")
    return export_brief(content, fmt, template)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the search it starts from


def _search_state() -> SearchState:
    """The URL's search, else the last one run on the search page (written back to the URL so
    a reload or a shared link rebuilds the same brief)."""
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    if not params and st.session_state.get(LAST_PARAMS):
        st.query_params.from_dict(st.session_state[LAST_PARAMS])
        params = {key: st.query_params.get_all(key) for key in st.query_params}
    return state_from_params(params, load_taxonomy())


def _on_question() -> None:
    state = _search_state().with_query(st.session_state[QUESTION_KEY])
    st.query_params.from_dict(state.to_params())
    st.session_state[LAST_PARAMS] = state.to_params()


def _filters_text(state: SearchState) -> str:
    taxonomy = load_taxonomy()
    parts = [
        f"{taxonomy.facets[f].label}: {', '.join(taxonomy.facets[f].label_of(v) for v in vs)}"
        for f, vs in state.values.items()
        if f in taxonomy.facets
    ]
    if state.year_from or state.year_to:
        parts.append(f"Years: {state.year_from or '…'}–{state.year_to or '…'}")
    return "; ".join(parts) or "no filters"


# ---------------------------------------------------------------- widgets


def _template_choice() -> str:
    if st.session_state.get(TEMPLATE_KEY) not in TEMPLATES:
        st.session_state[TEMPLATE_KEY] = "learning-brief"
    return st.radio(
        "Template", list(TEMPLATES), format_func=TEMPLATES.get, key=TEMPLATE_KEY, horizontal=True
    )


def _provenance(content: BriefContent, chunk_ids: list[str]) -> None:
    p = content.provenance
    checks = content.checks
    origin = (
        f"{len(chunk_ids)} hand-picked passages (the basket)"
        if chunk_ids
        else f"the top {p.k} search results"
    )
    filters = "; ".join(f"{k} = {v}" for k, v in p.filters.items()) or "none"
    with st.container(border=True, key="brief-provenance"):
        st.markdown("**Provenance**")
        st.markdown(
            f"- **Question:** {plain(p.query) if p.query else '(none)'}\n"
            f"- **Evidence:** {origin}\n"
            f"- **Filters:** {plain(filters)}\n"
            f"- **Index build:** `{p.build_id}` (model {plain(p.model)})\n"
            f"- **Built:** {p.created} by synth {p.synth_version}\n"
            f"- **Quote check:** {checks.checked} sentences checked word for word on their "
            f"pages, {checks.passed} passed, {checks.failed} dropped"
        )
    if content.dropped_quotes:
        with st.expander(f"{len(content.dropped_quotes)} quotes dropped by the check"):
            for dropped in content.dropped_quotes:
                st.caption(plain(dropped))


def _downloads(files: dict[str, bytes], template: str) -> None:
    with st.container(horizontal=True, key="brief-downloads"):
        for fmt, label, mime in FILES:
            name = f"references.{fmt}" if fmt in REFERENCE_FORMATS else f"{template}.{fmt}"
            st.download_button(
                f"Download {label}",
                files[fmt],
                name,
                mime,
                key=f"brief-dl-{fmt}",
                on_click="ignore",
            )


def _nothing_to_build() -> None:
    st.info(
        "Nothing to build from yet: add passages to the basket from the search results, or "
        "run a search and come back; the brief is then built from its results."
    )
    st.page_link(nav.SEARCH, label="Go to the search", icon=":material/search:")


# ---------------------------------------------------------------- page


BriefKey = tuple[str, str, str, tuple[str, ...], str, int]


def _controls(index: Index, state: SearchState) -> tuple[BriefKey, str, list[str]] | None:
    """The basket, question, template and build button; None when there is nothing to build."""
    chunk_ids = basket.panel(index)
    if not chunk_ids:
        st.caption(
            f"The basket is empty, so the brief is built from the current search "
            f"({plain(_filters_text(state))})."
        )
    if st.session_state.get(QUESTION_KEY) != state.query:
        st.session_state[QUESTION_KEY] = state.query
    st.text_input(
        "Question"
        + (" (optional: it titles the brief and ranks key messages)" if chunk_ids else ""),
        key=QUESTION_KEY,
        on_change=_on_question,
    )
    if not chunk_ids and not state.query:
        _nothing_to_build()
        return None
    template = _template_choice()
    k = 8 if chunk_ids else st.slider("Search results to use", 3, 30, 8, key=K_KEY)
    filters = SearchState().filters if chunk_ids else state.filters
    key = (
        str(index.root),
        index.build_id,
        state.query,
        tuple(chunk_ids),
        resources.filters_key(filters),
        k,
    )
    if st.button("Build the brief", type="primary", key="brief-build"):
        st.session_state[LIVE] = True
    return key, template, chunk_ids


def main() -> None:
    nav.enter(PAGE)
    st.title("Brief builder")
    index = resources.open_index()
    if index is None:
        resources.no_index_notice()
        return
    left, right = st.columns([2, 3], gap="large")
    with left:
        chosen = _controls(index, _search_state())
    if chosen is None:
        return
    key, template, chunk_ids = chosen
    if not st.session_state.get(LIVE):
        right.caption(
            "Once built, the preview here follows every change to the basket and template."
        )
        return
    try:
        with right, st.spinner("Choosing key messages and checking every quote on its page..."):
            content = brief_content(*key, template)
            files = {fmt: brief_file(*key, template, fmt) for fmt, _, _ in FILES}
    except BriefError as exc:
        right.error(str(exc))
        return
    with left:
        _provenance(content, chunk_ids)
        _downloads(files, template)
    with right.container(key="brief-preview"):
        # The HTML brief, as readers get it: document text there is escaped HTML, so nothing in
        # it can turn into Markdown links, maths or icons, and its styles stay in the frame.
        st.iframe(files["html"].decode("utf-8"), height="content", alt="Preview of the brief")


if __name__ == "__main__":
    main()
