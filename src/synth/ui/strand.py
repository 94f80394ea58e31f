"""Strand page (?id=ENTRY): the toolkit card, publish (after checks and a confirmation) or
unpublish, the curation form, and the version history with a readable diff of any two versions.

The card is synth.toolkit's own HTML (every value escaped by the template, curator Markdown
through synth.brief.export) in an iframe, so its print styles cannot restyle the app around
it. Downloads render on click: a PDF is not made on every rerun of a page that may never
export one.
"""

from __future__ import annotations

import os
from functools import partial

import streamlit as st

from synth.index import Index
from synth.taxonomy import Taxonomy, load_taxonomy
from synth.toolkit.card import card_references, export_card, render_card
from synth.toolkit.entries import ToolkitEntry, Version, apply_changes, diff_entries
from synth.toolkit.history import field_label
from synth.toolkit.publish import Check, publish_checks
from synth.ui import nav, resources
from synth.ui.strand_diff import diff_html
from synth.ui.text import html_text, plain
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


def _card(version: Version, taxonomy: Taxonomy, index: Index | None) -> None:
    provenance = card_provenance(version)
    references = card_references(version.entry, index) if index is not None else None
    card = render_card(
        version.entry, provenance, "html", taxonomy, references=references, embedded=True
    )
    st.iframe(card, height="content", alt="The strand's toolkit card")
    with st.container(horizontal=True):
        for fmt, label, mime in CARD_FILES:
            st.download_button(
                f"Card as {label}",
                partial(export_card, version.entry, provenance, fmt, taxonomy, references),
                f"{version.entry.id}.{fmt}",
                mime,
                key=f"card-dl-{fmt}",
                on_click="ignore",
            )


def _history(history: list[Version], taxonomy: Taxonomy) -> None:
    rows = []
    for prev, v in zip([None, *history], history, strict=False):
        changes = diff_entries(prev.entry, v.entry) if prev else []
        changed = ", ".join(field_label(c.field) for c in changes)
        rows.append(
            {
                "Version": str(v.n),
                "Saved": v.created_at.replace("T", " ")[:16],
                "Status": v.entry.status.capitalize(),
                "By": plain(v.author or ""),
                "Note": plain(v.note),
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
    st.html(diff_html(changes, a, b, taxonomy))


ASKED = "strand_publish_asked"


def _ask(entry_id: str) -> None:
    st.session_state[ASKED] = entry_id


def _forget() -> None:
    st.session_state.pop(ASKED, None)


def _publish(entry_id: str) -> None:
    _forget()
    _set_status(entry_id, "published")


@st.dialog("Publish this strand?", on_dismiss=_forget)
def _confirm_publish(entry_id: str, title: str) -> None:
    """Asked while ASKED names the strand; both answers (and closing) clear it in a callback,
    so the answer counts whether Streamlit reruns the dialog alone or the whole page."""
    st.markdown(
        f"**{plain(title)}** becomes a published toolkit card: readers take its figures as "
        "settled. You can unpublish it later; every version is kept."
    )
    with st.container(horizontal=True):
        st.button("Publish", type="primary", key="publish-confirm", on_click=_publish,
                  args=(entry_id,))  # fmt: skip
        st.button("Cancel", key="publish-cancel", on_click=_forget)


def _checks_html(checks: list[Check]) -> str:
    items = "".join(
        f'<li><span aria-hidden="true">{"✔" if c.ok else "✘"}</span> '
        f"<strong>{html_text(c.name)}</strong> ({'passed' if c.ok else 'not yet'}): "
        f"{html_text(c.detail)}</li>"
        for c in checks
    )
    return f'<ul class="synth-checks" style="list-style:none;padding-left:0">{items}</ul>'


def _status_controls(entry: ToolkitEntry, index: Index | None) -> None:
    with st.container(horizontal=True):
        if entry.status == "published":
            st.button(
                "Unpublish", key="strand-status", on_click=_set_status, args=(entry.id, "draft")
            )
        else:
            checks = publish_checks(entry, index)
            ready = all(c.ok for c in checks)
            st.button(
                "Publish…",
                key="strand-status",
                type="primary" if ready else "secondary",
                disabled=not ready,
                help=None if ready else "Every check below must pass first",
                on_click=_ask,
                args=(entry.id,),
            )
            if ready and st.session_state.get(ASKED) == entry.id:
                _confirm_publish(entry.id, entry.title)
        st.page_link(nav.TOOLKIT, label="Back to the toolkit", icon=":material/arrow_back:")
    if entry.status != "published":
        with st.expander("Before publishing", expanded=not ready):
            st.html(_checks_html(checks))


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
    index = resources.open_index()
    current = history[-1]
    entry = current.entry
    st.title(plain(entry.title))
    topic = taxonomy.facets["topic"].label_of(entry.topic)
    st.caption(
        plain(
            f"{topic} · {entry.status.capitalize()} · version {current.n} of "
            f"{current.created_at[:10]}"
        )
    )
    if notice := st.session_state.pop(NOTICE, None):
        st.success(notice)
    _status_controls(entry, index)
    card, edit, versions = st.tabs(
        ["Card", "Edit", f"History ({len(history)} version{'s' if len(history) != 1 else ''})"]
    )
    with card:
        _card(current, taxonomy, index)
    with edit:
        if curation_form(entry, taxonomy, index):
            st.rerun()
    with versions:
        _history(history, taxonomy)


if __name__ == "__main__":
    main()
