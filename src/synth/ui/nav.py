"""The app's pages, in sidebar order; new pages (brief builder, toolkit) are added here."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

UI = Path(__file__).resolve().parent
SEARCH = UI / "search.py"
GAP_MAP = UI / "gap_map.py"
CORPUS = UI / "corpus.py"
BRIEF = UI / "brief_builder.py"
TOOLKIT = UI / "toolkit_pages.py"
STRAND = UI / "strand.py"


def pages() -> list[st.Page]:
    return [
        st.Page(SEARCH, title="Search", icon=":material/search:", url_path="search", default=True),
        st.Page(GAP_MAP, title="Evidence gap map", icon=":material/grid_on:", url_path="gaps"),
        st.Page(CORPUS, title="Corpus", icon=":material/library_books:", url_path="corpus"),
        st.Page(BRIEF, title="Brief builder", icon=":material/description:", url_path="brief"),
        st.Page(TOOLKIT, title="Toolkit", icon=":material/view_module:", url_path="toolkit"),
        # Reached from a toolkit card with ?id=ENTRY; hidden from the sidebar.
        st.Page(STRAND, title="Toolkit strand", url_path="strand", visibility="hidden"),
    ]


def enter(name: str) -> str | None:
    """Record the page being shown; returns the page shown before it in this session."""
    previous = st.session_state.get("page")
    st.session_state["page"] = name
    return previous
