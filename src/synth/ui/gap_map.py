"""Evidence gap map page: topics down, a chosen facet across, documents per cell.

Clicking a cell opens the search page filtered to that topic and column value (the chart's
selection sets the target in a callback, the script then switches page with the filters as
query parameters, so the basket survives). Every non-empty cell is also listed as a page link,
for keyboards, screen readers, and anyone who prefers a list.
"""

from __future__ import annotations

from functools import partial

import altair as alt
import pandas as pd
import streamlit as st

from synth.search.gaps import GapMap, gap_map
from synth.taxonomy import load_taxonomy
from synth.ui import nav, resources

PAGE = "gaps"
COLUMN_FACETS = ("country", "region", "phase", "evidence_type", "income", "setting", "design")
CHART_KEY = "gap_chart"
TARGET = "gap_target"
GAP_COLOUR = "#e5e7eb"
CELL_PX = 26


@st.cache_data(max_entries=32, show_spinner=False)
def _cached_map(root: str, build_id: str, cols: str) -> GapMap:
    return gap_map(resources.get_index(root, build_id), rows="topic", cols=cols)


def _frame(gm: GapMap) -> pd.DataFrame:
    rows = dict(gm.rows)
    cols = dict(gm.cols)
    return pd.DataFrame(
        [
            {"row_id": r, "topic": rows[r], "col_id": c, "column": cols[c], "documents": n}
            for (r, c), n in gm.counts.items()
        ]
    )


def _chart(gm: GapMap, col_label: str) -> alt.LayerChart:
    data = _frame(gm)
    cell = alt.selection_point(name="cell", fields=["row_id", "col_id"], on="click")
    base = alt.Chart(data).encode(
        x=alt.X(
            "column:N",
            sort=[label for _, label in gm.cols],
            title=col_label,
            axis=alt.Axis(orient="top", labelAngle=-45, labelLimit=160, labelOverlap=False),
        ),
        y=alt.Y(
            "topic:N",
            sort=[label for _, label in gm.rows],
            title="Topic",
            axis=alt.Axis(labelLimit=260, labelOverlap=False),
        ),
    )
    rect = (
        base.mark_rect(stroke="white", strokeWidth=1, cursor="pointer")
        .encode(
            color=alt.condition(
                "datum.documents == 0",
                alt.value(GAP_COLOUR),
                alt.Color(
                    "documents:Q",
                    scale=alt.Scale(range=["#bfdbfe", "#1e3a8a"], domainMin=1),
                    legend=None,
                ),
            ),
            tooltip=[
                alt.Tooltip("topic:N", title="Topic"),
                alt.Tooltip("column:N", title=col_label),
                alt.Tooltip("documents:Q", title="Documents"),
            ],
        )
        .add_params(cell)
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.condition("datum.documents > 0", "documents:Q", alt.value("")),
        color=alt.condition("datum.documents > 2", alt.value("white"), alt.value("#111827")),
    )
    return (rect + text).properties(width=alt.Step(CELL_PX * 1.7), height=alt.Step(CELL_PX))


def _on_select(col_facet: str) -> None:
    state = st.session_state.get(CHART_KEY)
    chosen = (state.selection.get("cell") if state else None) or []
    if chosen and "row_id" in chosen[0]:
        st.session_state[TARGET] = {"topic": chosen[0]["row_id"], col_facet: chosen[0]["col_id"]}


def _links(gm: GapMap) -> None:
    rows, cols = dict(gm.rows), dict(gm.cols)
    filled = sorted(((n, r, c) for (r, c), n in gm.counts.items() if n), key=lambda x: -x[0])
    with st.expander(f"Cells with evidence, as links ({len(filled)})"):
        for n, r, c in filled:
            st.page_link(
                nav.SEARCH,
                label=f"{rows[r]} × {cols[c]}: {n} document{'s' if n != 1 else ''}",
                query_params={"topic": r, gm.col_facet: c},
            )


def main() -> None:
    nav.enter(PAGE)
    st.title("Evidence gap map")
    index = resources.open_index()
    if index is None:
        resources.no_index_notice()
        return
    target = st.session_state.pop(TARGET, None)
    if target:
        st.switch_page(nav.SEARCH, query_params=target)
    taxonomy = load_taxonomy()
    col_facet = st.selectbox(
        "Columns",
        COLUMN_FACETS,
        format_func=lambda name: taxonomy.facets[name].label,
        key="cols",
        bind="query-params",
    )
    col_label = taxonomy.facets[col_facet].label
    gm = _cached_map(str(index.root), index.build_id, col_facet)
    st.caption(
        f"{gm.n_documents} documents. Each cell counts the documents tagged with both the topic "
        f"and the {col_label.lower()}; grey cells are gaps. {gm.n_unplaced} documents have no "
        f"topic or no {col_label.lower()} tag. Click a cell to search it."
    )
    if not gm.cols:
        st.warning(f"No document has a {col_label.lower()} tag yet.")
        return
    st.altair_chart(
        _chart(gm, col_label),
        on_select=partial(_on_select, col_facet),
        key=CHART_KEY,
        selection_mode="cell",
        width="content",
    )
    _links(gm)


if __name__ == "__main__":
    main()
