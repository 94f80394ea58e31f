"""Citations out of the app: RIS, BibTeX and CSL-JSON for one document, a result set or a
basket, made by synth.brief.references (the brief's own references use the same code)."""

from __future__ import annotations

from functools import partial

import streamlit as st

from synth.brief.references import CITATION_FORMATS, export_references, references_for
from synth.index import Index
from synth.ui import resources


@st.cache_data(max_entries=256, show_spinner=False)
def citation_text(root: str, build_id: str, doc_ids: tuple[str, ...], fmt: str) -> str:
    index = resources.get_index(root, build_id)
    return export_references(references_for(index, list(doc_ids)), fmt)


def _file(root: str, build_id: str, doc_ids: tuple[str, ...], fmt: str) -> bytes:
    return citation_text(root, build_id, doc_ids, fmt).encode("utf-8")


def downloads(index: Index, doc_ids: list[str], stem: str, key: str, what: str = "") -> None:
    """One download button per citation format; the file is made when it is clicked."""
    ids = tuple(dict.fromkeys(doc_ids))
    for fmt, (ext, mime, label) in CITATION_FORMATS.items():
        st.download_button(
            f"{what}{label}",
            partial(_file, str(index.root), index.build_id, ids, fmt),
            f"{stem}.{ext}",
            mime,
            key=f"cite-{key}-{fmt}",
            on_click="ignore",
            icon=":material/format_quote:",
        )
