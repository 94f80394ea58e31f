"""Linking evidence to a strand by searching, never by typing chunk ids.

The linked passages are a list in the session (`<form prefix>-links`) that the curation form
saves with the strand. Each is shown by title, page range and snippet, with Unlink; a search
box inside the panel lists matching passages with Link; the basket can be linked at once.
"""

from __future__ import annotations

import streamlit as st

from synth.index import ChunkRecord, Index
from synth.models import Filters
from synth.toolkit.baskets import pages_label, snippet
from synth.ui import basket, resources
from synth.ui.text import plain

RESULTS = 6


def _ids(prefix: str) -> list[str]:
    value = st.session_state.get(f"{prefix}-links") or []
    return list(value) if isinstance(value, list | tuple) else str(value).split()


def _set(prefix: str, ids: list[str]) -> None:
    st.session_state[f"{prefix}-links"] = list(dict.fromkeys(ids))


def _link(prefix: str, chunk_id: str) -> None:
    _set(prefix, [*_ids(prefix), chunk_id])


def _unlink(prefix: str, chunk_id: str) -> None:
    _set(prefix, [c for c in _ids(prefix) if c != chunk_id])


def _link_basket(prefix: str) -> None:
    _set(prefix, _ids(prefix) + basket.items())


def _passage(record: ChunkRecord | None, fallback: str) -> None:
    if record is None:
        st.markdown(f"**{plain(fallback)}**")
        st.caption("No longer in the current index: publishing will refuse it until unlinked.")
        return
    where = pages_label(record.page_start, record.page_end)
    st.markdown(f"**{plain(record.title or record.source)}** · {where} · {plain(record.source)}")
    st.caption(plain(snippet(record.text, 260)))


def _linked(prefix: str, index: Index | None, known: dict[str, str]) -> None:
    ids = _ids(prefix)
    records = basket.records_by_id(index, ids) if index is not None and ids else {}
    st.markdown(f"**Linked passages ({len(ids)})**")
    if not ids:
        st.caption("None yet: search below, or link the basket.")
    for chunk_id in ids:
        with st.container(border=True, key=f"{prefix}-linked-{chunk_id}"):
            _passage(records.get(chunk_id), known.get(chunk_id, "A linked passage"))
            st.button("Unlink", key=f"{prefix}-unlink-{chunk_id}", on_click=_unlink,
                      args=(prefix, chunk_id))  # fmt: skip


def _search(prefix: str, index: Index) -> None:
    query = st.text_input(
        "Find passages to link",
        key=f"{prefix}-find",
        placeholder="Words from the study, e.g. text messages attendance Chile",
    )
    if not query.strip():
        return
    result = resources.cached_search(
        str(index.root), index.build_id, query, resources.filters_key(Filters()), RESULTS
    )
    if not result.hits:
        st.caption("No passage matches these words.")
    linked = set(_ids(prefix))
    for hit in result.hits:
        with st.container(border=True, key=f"{prefix}-found-{hit.chunk_id}"):
            where = pages_label(hit.page, hit.page_end)
            st.markdown(f"**{plain(hit.title or hit.source)}** · {where} · {plain(hit.source)}")
            st.caption(plain(snippet(hit.text, 260)))
            held = hit.chunk_id in linked
            st.button("Linked" if held else "Link", key=f"{prefix}-link-{hit.chunk_id}",
                      on_click=_link, args=(prefix, hit.chunk_id), disabled=held)  # fmt: skip


def evidence_picker(prefix: str, index: Index | None, known: dict[str, str] | None = None) -> None:
    """The strand's linked passages and the search that adds to them (saved with the form)."""
    with st.container(border=True, key=f"{prefix}-evidence"):
        st.markdown("**Evidence behind this strand**")
        _linked(prefix, index, known or {})
        in_basket = len(basket.items())
        st.button(f"Link the basket ({in_basket})", key=f"{prefix}-link-basket",
                  on_click=_link_basket, args=(prefix,), disabled=not in_basket,
                  help="Add every passage in the basket to the linked passages")  # fmt: skip
        if index is None:
            st.caption("No index is open: build one on the Corpus page to search for passages.")
        else:
            _search(prefix, index)
        st.caption("Links are kept when you save the form below.")
