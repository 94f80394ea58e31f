"""Strand page (?id=ENTRY): the toolkit card, publish or unpublish, the curation form, and the
version history with a diff between any two versions.

The card is synth.toolkit's own HTML (every value escaped by the template, curator Markdown
through synth.brief.export) in an iframe, so its print styles cannot restyle the app around
it. Downloads render on click: a PDF is not made on every rerun of a page that may never
export one.
"""

from __future__ import annotations

import json
import os
from functools import partial

import streamlit as st

from synth.taxonomy import Taxonomy, load_taxonomy
from synth.toolkit.card import export_card, render_card
from synth.toolkit.entries import Version, apply_changes, diff_entries
from synth.ui import nav, resources
from synth.ui.text import plain
from synth.ui.toolkit_form import NOTICE, card_provenance, curation_form, load_history, open_store

PAGE = "strand"
CARD_FILES = (
    ("md", "Markdown", "text/markdown"),
    ("html", "HTML", "text/html"),
    ("pdf", "PDF", "application/pdf"),
    ("docx", "Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
)


def _set_status(entry_id: str, status: str) -> None:
    with open_store() as store:
        entry = apply_changes(store.get(entry_id), {"status": status})
        action = "published" if status == "published" else "unpublished"
        version = store.save(entry, f"{action} in the app", os.environ.get("SYNTH_AUTHOR"))
    if version is not None:
        st.session_state[NOTICE] = f"{action.capitalize()}: version {version.n}."


def _card(version: Version, taxonomy: Taxonomy) -> None:
    provenance = card_provenance(version)
    st.iframe(render_card(version.entry, provenance, "html", taxonomy), height="content")
    with st.container(horizontal=True):
        for fmt, label, mime in CARD_FILES:
            st.download_button(
                f"Card as {label}",
                partial(export_card, version.entry, provenance, fmt, taxonomy),
                f"{version.entry.id}.{fmt}",
                mime,
                key=f"card-dl-{fmt}",
                on_click="ignore",
            )


def _shown(value: object) -> str:
    if value is None:
        return "–"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _history(history: list[Version]) -> None:
    rows = []
    for prev, v in zip([None, *history], history, strict=False):
        changed = ", ".join(c.field for c in diff_entries(prev.entry, v.entry)) if prev else ""
        rows.append(
            {
                "Version": str(v.n),
                "Saved": v.created_at,
                "Status": v.entry.status,
                "By": v.author or "",
                "Note": v.note,
                "Changed": changed or ("created" if prev is None else "nothing"),
            }
        )
    st.table(rows[::-1], hide_index=True)
    if len(history) < 2:
        return
    by_n = {v.n: v for v in history}
    numbers = list(by_n)
    st.markdown("**Compare two versions**")
    cols = st.columns(2)
    key = f"{history[-1].entry_id}-{len(history)}"  # a new version resets the choice
    a = cols[0].selectbox("From version", numbers, index=len(numbers) - 2, key=f"diff-a-{key}")
    b = cols[1].selectbox("To version", numbers, index=len(numbers) - 1, key=f"diff-b-{key}")
    changes = diff_entries(by_n[a].entry, by_n[b].entry)
    if not changes:
        st.caption("No field differs between these versions.")
        return
    st.table(
        [
            {"Field": c.field, f"Version {a}": _shown(c.old), f"Version {b}": _shown(c.new)}
            for c in changes
        ],
        hide_index=True,
    )


def main() -> None:
    nav.enter(PAGE)
    entry_id = st.query_params.get("id", "")
    history = load_history(entry_id) if entry_id else []
    if not history:
        st.title("Toolkit strand")
        st.warning(f"No toolkit strand '{plain(entry_id)}'." if entry_id else "No strand chosen.")
        st.page_link(nav.TOOLKIT, label="Back to the toolkit", icon=":material/arrow_back:")
        return
    taxonomy = load_taxonomy()
    current = history[-1]
    entry = current.entry
    st.title(plain(entry.title))
    topic = taxonomy.facets["topic"].label_of(entry.topic)
    st.caption(
        plain(f"{topic} · {entry.status} · version {current.n} of {current.created_at[:10]}")
    )
    if notice := st.session_state.pop(NOTICE, None):
        st.success(notice)
    with st.container(horizontal=True):
        target = "draft" if entry.status == "published" else "published"
        st.button(
            "Unpublish" if target == "draft" else "Publish",
            key="strand-status",
            on_click=_set_status,
            args=(entry.id, target),
        )
        st.page_link(nav.TOOLKIT, label="Back to the toolkit", icon=":material/arrow_back:")
    card, edit, versions = st.tabs(
        ["Card", "Edit", f"History ({len(history)} version{'s' if len(history) != 1 else ''})"]
    )
    with card:
        _card(current, taxonomy)
    with edit:
        if curation_form(entry, taxonomy, resources.open_index()):
            st.rerun()
    with versions:
        _history(history)


if __name__ == "__main__":
    main()
