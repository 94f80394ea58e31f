"""Evidence gap map page: topics down, a chosen facet across, bubbles per design or evidence type.

Clicking a cell opens this page again with `row` and `col` in the URL: the documents of that
cell are listed first, as cards that open the document, cite it, or search the cell. The
choice of columns and colours lives in the URL too, so a map (and a cell) can be shared.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from synth.index import Index
from synth.search.gaps import MULTI_COUNTRY, GapMap, gap_map
from synth.taxonomy import Taxonomy, load_taxonomy
from synth.ui import cite, nav, resources, static_docs
from synth.ui.gap_html import gap_table, legend
from synth.ui.text import html_text, plain

PAGE = "gaps"
COLUMN_FACETS = ("country", "region", "phase", "evidence_type", "income", "setting", "design")
COLOUR_FACETS = ("design", "evidence_type")
COLS, COLOUR, ROW, COL = "cols", "colour", "row", "col"
CARD_FACETS = ("evidence_type", "design", "country", "phase")


@st.cache_data(max_entries=32, show_spinner=False)
def _cached_map(root: str, build_id: str, cols: str, colour: str) -> GapMap:
    return gap_map(resources.get_index(root, build_id), rows="topic", cols=cols, colour=colour)


def _href(cols: str, colour: str):
    def href(row: str, col: str) -> str:
        return "?" + urlencode({COLS: cols, COLOUR: colour, ROW: row, COL: col})

    return href


def _year(index: Index, doc_id: str) -> str:
    rows = index.query(
        "SELECT MIN(value) FROM doc_tags WHERE doc_id = ? AND facet = 'year'", (doc_id,)
    )
    return str(rows[0][0]) if rows and rows[0][0] else "year not known"


def _doc_card(index: Index, doc_id: str, taxonomy: Taxonomy, path_of: dict) -> None:
    doc = next(iter(index.find_documents([doc_id])), None)
    if doc is None:
        return
    tags = index.document_tags(doc_id).tags
    chips = "".join(
        f'<span class="synth-chip" title="{html_text(taxonomy.facets[t.facet].label)}">'
        f"{html_text(taxonomy.facets[t.facet].label_of(t.value))}</span>"
        for name in CARD_FACETS
        for t in tags
        if t.facet == name and name in taxonomy.facets
    )
    path = path_of.get(doc_id)
    url = static_docs.publish(doc_id, path) if path is not None and path.is_file() else None
    title = html_text(doc.title or doc.source)
    heading = f'<a href="{html_text(url)}" target="_blank">{title}</a>' if url else title
    with st.container(border=True, key=f"gap-doc-{doc_id}"):
        st.html(
            f'<div class="synth-doc"><div style="font-weight:600;font-size:1.05rem">{heading}'
            f'</div><div class="synth-muted" style="font-size:.85rem">'
            f"{html_text(_year(index, doc_id))} · {html_text(doc.source)} · {doc.n_pages} pages"
            f"</div><div>{chips}</div></div>"
        )
        with st.container(horizontal=True):
            cite.downloads(index, [doc_id], f"citation-{doc_id}", f"doc-{doc_id}")


def _cell_list(index: Index, gm: GapMap, taxonomy: Taxonomy, row: str, col: str) -> None:
    rows, cols = dict(gm.rows), dict(gm.cols)
    docs = gm.documents.get((row, col), [])
    n = len(docs)
    st.subheader(f"{plain(rows[row])} × {plain(cols[col])}: {n} stud{'ies' if n != 1 else 'y'}")
    with st.container(horizontal=True):
        st.page_link(
            nav.SEARCH,
            label="Search these studies",
            icon=":material/search:",
            query_params={"topic": row} | ({} if col == MULTI_COUNTRY[0] else {gm.col_facet: col}),
        )
        st.page_link(
            nav.GAP_MAP,
            label="Close the list",
            icon=":material/close:",
            query_params={COLS: gm.col_facet, COLOUR: gm.colour_facet or ""},
        )
    paths = resources.document_paths(index, docs)
    for doc_id in docs:
        _doc_card(index, doc_id, taxonomy, paths)


def _choices(taxonomy: Taxonomy) -> tuple[str, str]:
    left, right = st.columns([1, 1])
    with left:
        cols = st.selectbox(
            "Columns",
            COLUMN_FACETS,
            format_func=lambda name: taxonomy.facets[name].label,
            key=COLS,
            bind="query-params",
        )
    with right:
        colour = st.radio(
            "Colour bubbles by",
            COLOUR_FACETS,
            format_func=lambda name: taxonomy.facets[name].label,
            key=COLOUR,
            bind="query-params",
            horizontal=True,
        )
    return cols, colour


def main() -> None:
    nav.enter(PAGE)
    st.title("Evidence gap map")
    index = resources.open_index()
    if index is None:
        resources.no_index_notice()
        return
    taxonomy = load_taxonomy()
    cols, colour = _choices(taxonomy)
    col_label = taxonomy.facets[cols].label
    gm = _cached_map(str(index.root), index.build_id, cols, colour)
    row, col = st.query_params.get(ROW), st.query_params.get(COL)
    if row in dict(gm.rows) and col in dict(gm.cols):
        _cell_list(index, gm, taxonomy, row, col)
    if not gm.cols:
        st.warning(f"No document has a {col_label.lower()} tag yet.")
        return
    caption = (
        f"Topics by {col_label.lower()}: {gm.n_documents} studies; bubbles count studies, "
        f"coloured by {taxonomy.facets[colour].label.lower()}"
    )
    if any(c == MULTI_COUNTRY[0] for c, _ in gm.cols):
        caption += "; a review of several countries counts once, under Multi-country"
    st.caption(
        f"{caption}. {gm.n_unplaced} of them {'has' if gm.n_unplaced == 1 else 'have'} no topic "
        f"or no {col_label.lower()} tag. "
        "Click a cell to list its studies; the table scrolls both ways."
    )
    st.html(legend(gm, taxonomy.facets[colour].label))
    st.html(gap_table(gm, "Topic", col_label, _href(cols, colour), caption))


if __name__ == "__main__":
    main()
