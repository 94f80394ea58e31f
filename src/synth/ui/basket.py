"""The basket in the app: named baskets from synth.toolkit.baskets, one of them active.

The active basket's id is kept in the session; a new session (a reload, a restart) opens the
basket used last, and a shared link (`?basket=NAME&items=TOKEN`) imports the basket it carries
and makes it active. Everything is stored at once, so nothing is lost when the tab closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode, urlsplit

import streamlit as st

from synth.index import ChunkRecord, Index
from synth.models import Hit
from synth.toolkit.baskets import (
    Basket,
    BasketError,
    BasketItem,
    BasketStore,
    basket_path,
    item_from_hit,
    parse_share_items,
    share_items,
    snippet,
)
from synth.ui import cite
from synth.ui.text import plain

KEY = "basket_id"
DEFAULT_NAME = "My basket"
SHARE_NAME = "basket"
SHARE_ITEMS = "items"


@contextmanager
def store() -> Iterator[BasketStore]:
    with BasketStore(basket_path()) as opened:
        yield opened


def active() -> Basket | None:
    """The session's basket, else the one used last (none yet: None)."""
    with store() as baskets:
        basket_id = st.session_state.get(KEY)
        if basket_id:
            try:
                return baskets.get(basket_id)
            except BasketError:
                st.session_state.pop(KEY, None)
        latest = baskets.latest()
    if latest is not None:
        st.session_state[KEY] = latest.id
    return latest


def _active_id() -> str:
    """The active basket's id, creating "My basket" for a first add."""
    current = active()
    if current is not None:
        return current.id
    with store() as baskets:
        created = baskets.create(DEFAULT_NAME)
    st.session_state[KEY] = created.id
    return created.id


def items() -> list[str]:
    """The active basket's chunk ids, in order."""
    current = active()
    return current.chunk_ids if current else []


def activate(basket_id: str) -> None:
    with store() as baskets:
        baskets.touch(basket_id)
    st.session_state[KEY] = basket_id


def add_hit(hit: Hit) -> None:
    basket_id = _active_id()
    with store() as baskets:
        baskets.add(basket_id, [item_from_hit(hit)])


def add_records(records: list[ChunkRecord]) -> None:
    basket_id = _active_id()
    with store() as baskets:
        baskets.add(basket_id, [_item(r) for r in records])


def _item(record: ChunkRecord) -> BasketItem:
    return BasketItem(
        record.chunk_id,
        record.doc_id,
        record.title,
        record.source,
        record.page_start,
        record.page_end,
        snippet(record.text),
    )


def remove(chunk_id: str) -> None:
    if basket_id := st.session_state.get(KEY):
        with store() as baskets:
            baskets.remove(basket_id, chunk_id)


def move(chunk_id: str, delta: int) -> None:
    if basket_id := st.session_state.get(KEY):
        with store() as baskets:
            baskets.move(basket_id, chunk_id, delta)


def clear() -> None:
    if basket_id := st.session_state.get(KEY):
        with store() as baskets:
            baskets.clear(basket_id)


def create(name: str) -> str:
    with store() as baskets:
        created = baskets.create(name)
    st.session_state[KEY] = created.id
    return created.id


def rename(name: str) -> None:
    if basket_id := st.session_state.get(KEY):
        with store() as baskets:
            baskets.rename(basket_id, name)


def delete() -> None:
    if basket_id := st.session_state.pop(KEY, None):
        with store() as baskets:
            baskets.delete(basket_id)


def all_baskets() -> list[Basket]:
    with store() as baskets:
        return baskets.baskets()


def records(index: Index) -> list[ChunkRecord]:
    """The basket's passages as stored in this build, in basket order (gone ones skipped)."""
    ids = items()
    if not ids:
        return []
    by_chunk = index.rowids(ids)
    found = index.chunks(list(by_chunk.values()))
    return [found[by_chunk[c]] for c in ids if c in by_chunk and by_chunk[c] in found]


# ---------------------------------------------------------------- sharing


def share_url(basket: Basket, page_url: str | None) -> str:
    """A link that carries the basket (its name and passages) to the brief builder."""
    query = urlencode({SHARE_NAME: basket.name, SHARE_ITEMS: share_items(basket.chunk_ids)})
    if not page_url:
        return f"brief?{query}"
    parts = urlsplit(page_url)
    path = parts.path.rsplit("/", 1)[0] if parts.path.count("/") > 1 else ""
    return f"{parts.scheme}://{parts.netloc}{path}/brief?{query}"


def open_shared(index: Index | None) -> str | None:
    """Import the basket a link carries (the passages this index holds) and make it active;
    returns what to tell the user, or None when the URL carries no basket."""
    token = st.query_params.get(SHARE_ITEMS)
    name = st.query_params.get(SHARE_NAME)
    if not name:
        return None
    del st.query_params[SHARE_NAME]
    if token is None:
        return None
    del st.query_params[SHARE_ITEMS]
    wanted = parse_share_items(token)
    found = records_by_id(index, wanted) if index is not None else {}
    kept = [_item(found[c]) for c in wanted if c in found]
    try:
        with store() as baskets:
            basket = baskets.import_shared(name, kept)
    except BasketError as exc:
        return str(exc)
    st.session_state[KEY] = basket.id
    missing = len(wanted) - len(kept)
    note = f"; {missing} not in this index" if missing else ""
    return f"Opened the shared basket “{plain(basket.name)}” ({len(kept)} passages{note})."


def records_by_id(index: Index, chunk_ids: list[str]) -> dict[str, ChunkRecord]:
    rowids = index.rowids(chunk_ids)
    found = index.chunks(list(rowids.values()))
    return {c: found[r] for c, r in rowids.items() if r in found}


# ---------------------------------------------------------------- sidebar


def _choose(key: str) -> None:
    activate(st.session_state[key])


def sidebar() -> None:
    """Which basket is active (switchable) and its passages, each removable."""
    baskets = all_baskets()
    current = active()
    with st.sidebar:
        if current is None:
            st.markdown("**Basket: empty**", help="Passages set aside for a brief")
            return
        names = {b.id: f"{plain(b.name)} ({len(b.items)})" for b in baskets}
        if len(baskets) > 1:
            key = "basket-choice"
            st.session_state[key] = current.id
            st.selectbox("Basket", list(names), format_func=names.get, key=key,
                         on_change=_choose, args=(key,))  # fmt: skip
        n = len(current.items)
        st.markdown(
            f"**Basket: {n}** · {plain(current.name)}", help="Passages set aside for a brief"
        )
        if not current.items:
            return
        with st.expander("Basket contents"):
            for item in current.items:
                st.caption(plain(f"{item.title} · {item.pages} · {item.source}"))
                st.button(
                    "Remove",
                    key=f"basket-remove:{item.chunk_id}",
                    on_click=remove,
                    args=(item.chunk_id,),
                    help=plain(item.snippet),
                )


# ---------------------------------------------------------------- the brief builder's panel


def _on_new(key: str) -> None:
    name = str(st.session_state.get(key) or "").strip()
    try:
        create(name)
    except BasketError as exc:
        st.session_state[f"{key}-error"] = str(exc)
        return
    st.session_state[key] = ""


def _on_rename(key: str) -> None:
    try:
        rename(str(st.session_state.get(key) or ""))
    except BasketError as exc:
        st.session_state[f"{key}-error"] = str(exc)


def _item_card(i: int, item: BasketItem, n: int, present: bool) -> None:
    cid = item.chunk_id
    with st.container(border=True, key=f"brief-item-{cid}"):
        st.markdown(f"**{i + 1}. {plain(item.title)}**  \n{item.pages} · {plain(item.source)}")
        st.caption(plain(item.snippet))
        if not present:
            st.caption(":warning: No longer in this index: the brief leaves it out.")
        with st.container(horizontal=True):
            st.button("↑ Up", key=f"brief-up:{cid}", on_click=move, args=(cid, -1), disabled=i == 0)
            st.button(
                "↓ Down", key=f"brief-down:{cid}", on_click=move, args=(cid, 1), disabled=i == n - 1
            )
            st.button("Remove", key=f"brief-remove:{cid}", on_click=remove, args=(cid,))


def _manage(current: Basket | None) -> None:
    with st.expander("New basket, rename, delete"):
        for key, label, action, disabled in (
            ("basket-new-name", "New basket", _on_new, False),
            ("basket-rename", "Rename this basket", _on_rename, current is None),
        ):
            st.text_input(label, key=key, placeholder="A name, e.g. Attendance brief")
            st.button(label, key=f"{key}-go", on_click=action, args=(key,), disabled=disabled)
            if error := st.session_state.pop(f"{key}-error", None):
                st.error(error)
        if current is not None:
            sure = st.checkbox(f"Yes, delete “{plain(current.name)}”", key="basket-delete-sure")
            st.button("Delete this basket", key="basket-delete", on_click=delete, disabled=not sure)


def panel(index: Index) -> list[str]:
    """The active basket on the brief builder: choose, order, remove, share, cite, manage.
    Returns the chunk ids the brief can use (those this index still holds), in order."""
    current = active()
    baskets = all_baskets()
    if len(baskets) > 1 and current is not None:
        names = {b.id: f"{plain(b.name)} ({len(b.items)})" for b in baskets}
        st.session_state["basket-panel-choice"] = current.id
        st.selectbox("Basket", list(names), format_func=names.get, key="basket-panel-choice",
                     on_change=_choose, args=("basket-panel-choice",))  # fmt: skip
    items_ = current.items if current else []
    present = set(index.rowids([item.chunk_id for item in items_]))
    if current is not None:
        n = len(items_)
        st.subheader(f"{plain(current.name)}: {n} passage{'s' if n != 1 else ''}")
    if items_:
        st.caption("The brief lists its sources in this order.")
        for i, item in enumerate(items_):
            _item_card(i, item, len(items_), item.chunk_id in present)
        st.markdown("**Share this basket**")
        st.code(share_url(current, st.context.url), language=None, wrap_lines=True)
        st.caption("The link carries the basket's name and passages; opening it saves a copy.")
        with st.container(horizontal=True, key="basket-cite"):
            st.caption("Cite the basket:")
            cite.downloads(index, [item.doc_id for item in items_], "basket", "basket")
    _manage(current)
    return [item.chunk_id for item in items_ if item.chunk_id in present]
