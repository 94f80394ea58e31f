"""synth in the browser: search the evidence index and download a learning brief.

A thin shell over the library: every search, synthesis and rendering call lives in `synth`.
Run with `synth serve` (or `streamlit run app.py`); SYNTH_INDEX picks the index directory.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import streamlit as st

from synth.brief import render_brief
from synth.embed import Embedder, load_embedder
from synth.index import Index, IndexNotFound, ingest
from synth.models import Hit
from synth.search import SearchSettings, search
from synth.synthesize import synthesize

INDEX_DIR = Path(os.environ.get("SYNTH_INDEX", "index"))
SAMPLE_CORPUS = Path(__file__).resolve().parent / "corpus"


@st.cache_resource(show_spinner="Loading the embedding model...")
def get_embedder(model: str) -> Embedder:
    return load_embedder(model)


@st.cache_resource(show_spinner="Opening the index...")
def get_index(root: str, build_id: str) -> Index:
    """Cached per build id, so a fresh ingest is picked up without restarting the app."""
    return Index.open(root)


def current_build(root: Path) -> str | None:
    pointer = root / "CURRENT"
    return pointer.read_text().strip() if pointer.is_file() else None


class StreamlitProgress:
    """Shows ingest stages on an st.progress bar."""

    def __init__(self) -> None:
        self.bar = st.progress(0.0, text="Starting...")
        self.total = 1
        self.done = 0
        self.stage = ""

    def start(self, stage: str, total: int) -> None:
        self.stage, self.total, self.done = stage, max(total, 1), 0
        self.bar.progress(0.0, text=f"{stage}: 0 / {total}")

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.bar.progress(
            min(self.done / self.total, 1.0), text=f"{self.stage}: {self.done} / {self.total}"
        )


def build_sample_index() -> None:
    progress = StreamlitProgress()
    report = ingest([SAMPLE_CORPUS], INDEX_DIR, progress=progress)
    progress.bar.empty()
    st.success(
        f"{report.count('added')} added, {report.count('unchanged')} unchanged, "
        f"{report.count('replaced')} replaced, {report.count('failed')} failed"
    )
    for failed in report.failed:
        st.error(f"{Path(failed.path).name}: {failed.reason}")


def show_hit(hit_number: int, hit: Hit) -> None:
    pages = f"p. {hit.page}" if hit.page == hit.page_end else f"pp. {hit.page}-{hit.page_end}"
    with st.container(border=True):
        st.markdown(f"**{hit_number}. {html.escape(hit.title)}**")
        st.caption(
            f"{hit.source} · {pages} · {hit.section or 'no section'} · score {hit.score:.3f}"
        )
        st.text(hit.text)


def main() -> None:
    st.set_page_config(page_title="synth: evidence search", page_icon="📚", layout="wide")
    st.title("synth: education evidence search")
    build_id = current_build(INDEX_DIR)
    if build_id is None:
        st.info(f"No index at `{INDEX_DIR}` yet.")
        if SAMPLE_CORPUS.is_dir() and st.button("Build the index from the sample corpus"):
            build_sample_index()
            st.rerun()
        return
    try:
        index = get_index(str(INDEX_DIR), build_id)
    except IndexNotFound as exc:
        st.error(str(exc))
        return
    manifest = index.manifest
    with st.sidebar:
        st.header("Index")
        st.metric("Documents", manifest.n_documents)
        st.metric("Chunks", manifest.n_chunks)
        st.caption(f"build {manifest.build_id} · model {manifest.model}")
        k = st.slider("Results", 3, 30, 8)

    query = st.text_input("Ask a question about the evidence", key="query")
    embedder = get_embedder(manifest.model)
    hits = search(index, embedder, query, SearchSettings(k=k)) if query.strip() else []
    if query.strip() and not hits:
        st.warning("No results. Try other words.")
    for number, hit in enumerate(hits, start=1):
        show_hit(number, hit)

    if hits and st.button("Build a learning brief from these results", type="primary"):
        with st.spinner("Choosing key messages and checking every quote..."):
            content = synthesize(index, embedder, query, hits)
            st.session_state["brief_md"] = render_brief(content, fmt="md")
            st.session_state["brief_html"] = render_brief(content, fmt="html")
            st.session_state["brief_query"] = query
    if st.session_state.get("brief_md") and st.session_state.get("brief_query") == query:
        st.subheader("Learning brief")
        left, right = st.columns(2)
        left.download_button(
            "Download Markdown", st.session_state["brief_md"], "learning-brief.md", "text/markdown"
        )
        right.download_button(
            "Download HTML", st.session_state["brief_html"], "learning-brief.html", "text/html"
        )
        st.markdown(st.session_state["brief_md"])


main()
