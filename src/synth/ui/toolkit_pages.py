"""Toolkit page: every strand as a card (impact months, cost, padlocks, studies), filtered by
topic, status and minimum padlocks, each opening its strand page; and a form for a new strand.

Strands live in the toolkit store (SYNTH_TOOLKIT or toolkit/toolkit.sqlite), outside the index,
so a rebuild never touches them; the synth.toolkit package does all the work.
"""

from __future__ import annotations

import streamlit as st

from synth.taxonomy import Taxonomy, load_taxonomy
from synth.toolkit.entries import STATUSES, ToolkitEntry
from synth.ui import nav, resources
from synth.ui.toolkit_form import (
    NOTICE,
    curation_form,
    load_entries,
    store_path,
    strand_card_html,
)

PAGE = "toolkit"
TOPIC_FILTER = "tk_topic"
STATUS_FILTER = "tk_status"
PADLOCK_FILTER = "tk_min_padlocks"
COLUMNS = 3


def matching(
    entries: list[ToolkitEntry], topic: str | None, status: str | None, min_padlocks: int
) -> list[ToolkitEntry]:
    """Entries of a topic and status (None: any) with at least `min_padlocks` shown padlocks;
    an unrated strand passes only a minimum of 0."""
    return [
        e
        for e in entries
        if (topic is None or e.topic == topic)
        and (status is None or e.status == status)
        and (min_padlocks == 0 or (e.shown_padlocks or 0) >= min_padlocks)
    ]


def _filters(entries: list[ToolkitEntry], taxonomy: Taxonomy) -> tuple[str | None, str | None, int]:
    topics = taxonomy.facets["topic"]
    present = sorted({e.topic for e in entries}, key=topics.label_of)
    cols = st.columns([2, 1, 1])
    topic = cols[0].selectbox(
        "Topic",
        present,
        format_func=topics.label_of,
        index=None,
        placeholder="All topics",
        key=TOPIC_FILTER,
    )
    status = cols[1].selectbox(
        "Status", STATUSES, index=None, placeholder="Any status", key=STATUS_FILTER
    )
    padlocks = cols[2].slider("At least this many padlocks", 0, 5, 0, key=PADLOCK_FILTER)
    return topic, status, padlocks


def _grid(entries: list[ToolkitEntry], taxonomy: Taxonomy) -> None:
    topics = taxonomy.facets["topic"]
    for start in range(0, len(entries), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, entry in zip(cols, entries[start : start + COLUMNS], strict=False):
            with col.container(border=True, key=f"strand-card-{entry.id}"):
                st.html(strand_card_html(entry, topics.label_of(entry.topic)))
                st.page_link(
                    nav.STRAND,
                    label="Open the strand",
                    icon=":material/arrow_forward:",
                    query_params={"id": entry.id},
                )


def main() -> None:
    nav.enter(PAGE)
    st.title("Toolkit")
    if notice := st.session_state.pop(NOTICE, None):
        st.success(notice)
    taxonomy = load_taxonomy()
    entries = load_entries()
    noun = "strand" if len(entries) == 1 else "strands"
    st.caption(f"{len(entries)} {noun} in `{store_path()}`.")
    if entries:
        shown = matching(entries, *_filters(entries, taxonomy))
        if shown:
            _grid(shown, taxonomy)
        else:
            st.warning("No strand matches these filters.")
    else:
        st.info("No toolkit strands yet: add the first one below.")
    with st.expander("Add a strand", expanded=not entries):
        created = curation_form(None, taxonomy, resources.open_index())
    if created:
        st.switch_page(nav.STRAND, query_params={"id": created})


if __name__ == "__main__":
    main()
