"""The basket: passages a user set aside for a brief, kept for the browser session only.

Session, not the URL: a basket is personal work in progress, while a search URL is meant to be
shared; and chunk ids would make every shared link long. It survives page switches (and the
gap map's click-through) but not a reload or a new tab.
"""

from __future__ import annotations

import streamlit as st

from synth.index import ChunkRecord, Index
from synth.ui.highlight import md_escape

KEY = "basket"


def items() -> list[str]:
    """Chunk ids in the order they were added."""
    return list(st.session_state.get(KEY, []))


def add(chunk_id: str) -> None:
    current = items()
    if chunk_id not in current:
        st.session_state[KEY] = [*current, chunk_id]


def remove(chunk_id: str) -> None:
    st.session_state[KEY] = [c for c in items() if c != chunk_id]


def clear() -> None:
    st.session_state[KEY] = []


def move(chunk_id: str, delta: int) -> None:
    """Shift a passage up (delta < 0) or down the basket: its order is the brief's source order."""
    current = items()
    if chunk_id not in current:
        return
    i = current.index(chunk_id)
    current.insert(min(max(i + delta, 0), len(current) - 1), current.pop(i))
    st.session_state[KEY] = current


def records(index: Index) -> list[ChunkRecord]:
    """The basket's passages as stored in this build, in basket order (gone ones skipped)."""
    ids = items()
    if not ids:
        return []
    by_chunk = index.rowids(ids)
    found = index.chunks(list(by_chunk.values()))
    return [found[by_chunk[c]] for c in ids if c in by_chunk and by_chunk[c] in found]


def sidebar(index: Index | None) -> None:
    """The basket count (always) and its passages with move and remove buttons each."""
    ids = items()
    with st.sidebar:
        st.markdown(f"**Basket: {len(ids)}**", help="Passages set aside for a brief")
        if not ids or index is None:
            return
        with st.expander("Basket contents"):
            shown = records(index)
            for i, record in enumerate(shown):
                where = f"{record.title} · {record.source} · p. {record.page_start}"
                st.caption(md_escape(where))
                with st.container(horizontal=True):
                    st.button(
                        "↑",
                        key=f"basket-up:{record.chunk_id}",
                        help="Move up",
                        on_click=move,
                        args=(record.chunk_id, -1),
                        disabled=i == 0,
                    )
                    st.button(
                        "↓",
                        key=f"basket-down:{record.chunk_id}",
                        help="Move down",
                        on_click=move,
                        args=(record.chunk_id, 1),
                        disabled=i == len(shown) - 1,
                    )
                    st.button(
                        "Remove",
                        key=f"basket-remove:{record.chunk_id}",
                        on_click=remove,
                        args=(record.chunk_id,),
                    )
            st.button("Empty the basket", key="basket-clear", on_click=clear)
