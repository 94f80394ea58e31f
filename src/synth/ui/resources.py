"""Where the app's data lives and the heavy objects it keeps between reruns.

Paths come from the environment on every call (SYNTH_INDEX, SYNTH_CORPUS), not at import,
so one process can serve (or test) several indexes. The embedder and each build's Index are
st.cache_resource: opened once per process, and a new build id opens a new Index.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from pathlib import Path

import streamlit as st

from synth.index import Index, IndexDamaged, IndexNotFound
from synth.ingest.embed import Embedder, load_embedder
from synth.models import Filters
from synth.search import SearchResult, SearchSettings, search_faceted
from synth.search.studies import StudyResult, search_studies
from synth.ui.text import plain

SAMPLE_CORPUS = Path(__file__).resolve().parents[3] / "corpus"


def index_dir() -> Path:
    return Path(os.environ.get("SYNTH_INDEX", "index"))


def corpus_dir() -> Path:
    """Where uploads are saved; the shipped sample corpus folder unless SYNTH_CORPUS is set."""
    return Path(os.environ.get("SYNTH_CORPUS", "corpus"))


def max_upload_mb() -> int:
    return int(st.get_option("server.maxUploadSize"))


def current_build(root: Path) -> str | None:
    """CURRENT's content (the cache key of the open index), read as bytes: a damaged pointer
    is the index's to report, not a decoding error here."""
    pointer = root / "CURRENT"
    if not pointer.is_file():  # builds without a pointer: the index falls back to the newest
        return "" if (root / "builds").is_dir() else None
    return pointer.read_bytes()[:200].decode("utf-8", "replace").strip()


_model_lock = threading.Lock()


def _settle() -> None:
    """Move what is loaded to stay (model, index) out of the garbage collector's sight: a full
    collection over its ~500k objects took 0.5-0.9 s, a pause in whichever run it fell on."""
    gc.freeze()


def _load_model(model: str) -> Embedder:
    """One load at a time: a search during the background warm-up waits for it, not twice."""
    with _model_lock:
        embedder = load_embedder(model)
    _settle()
    return embedder


# Why the last open failed when no build is whole (the message names `synth repair`).
DAMAGED_KEY = "index_damaged"


@st.cache_resource(show_spinner="Loading the embedding model...", max_entries=2)
def get_embedder(model: str) -> Embedder:
    return _load_model(model)


@st.cache_resource(show_spinner="Opening the index...", max_entries=2)
def get_index(root: str, build_id: str) -> Index:
    """Keyed by build id, so a fresh ingest or removal is picked up without a restart."""
    index = Index.open(root)
    _settle()
    return index


def open_index() -> Index | None:
    """The live build of the configured index, or None when there is none yet."""
    root = index_dir()
    build = current_build(root)
    if build is None:
        return None
    st.session_state.pop(DAMAGED_KEY, None)
    try:
        return get_index(str(root), build)
    except IndexDamaged as exc:  # no whole build: say so, with the repair command
        st.session_state[DAMAGED_KEY] = str(exc)
        return None
    except IndexNotFound:
        return None


def damage_warning(index: Index | None) -> None:
    """The index fell back to an older build because the live one is damaged: say so on every
    page, with how to repair it, so nobody reads stale results unaware."""
    if index is not None and index.warning:
        st.warning(
            "The index is damaged, so the app is " + plain(index.warning),
            icon=":material/warning:",
        )
    elif index is None and st.session_state.get(DAMAGED_KEY):
        st.error(plain(st.session_state[DAMAGED_KEY]), icon=":material/error:")


def no_index_notice(hint: str = "add documents on the Corpus page.") -> None:
    """What every page says when there is nothing to show yet."""
    st.info(f"No index at `{index_dir()}` yet: {hint}")


_warming: set[str] = set()


def warm_embedder(model: str) -> None:
    """Load the model on a background thread once per process, after the first page is out,
    so the first search does not wait for it and the first paint is not slowed by it."""
    if model in _warming:
        return
    _warming.add(model)
    threading.Thread(target=_load_model, args=(model,), daemon=True).start()


def _filters(filters_json: str) -> Filters:
    data = json.loads(filters_json)
    values = {f: tuple(v) for f, v in data["values"].items()}
    return Filters(values, data["year_from"], data["year_to"])


@st.cache_data(max_entries=128, show_spinner=False)
def cached_studies(root: str, build_id: str, query: str, filters_json: str, k: int) -> StudyResult:
    """search_studies, memoised like cached_search: one card per study, counts in documents."""
    index = get_index(root, build_id)
    embedder = get_embedder(index.manifest.model) if query else None
    return search_studies(index, embedder, query, SearchSettings(k=k), _filters(filters_json))


@st.cache_data(max_entries=128, show_spinner=False)
def cached_search(root: str, build_id: str, query: str, filters_json: str, k: int) -> SearchResult:
    """search_faceted, memoised: reruns caused by the basket or a download do not search again."""
    index = get_index(root, build_id)
    embedder = get_embedder(index.manifest.model) if query else None
    return search_faceted(index, embedder, query, SearchSettings(k=k), _filters(filters_json))


def filters_key(filters: Filters) -> str:
    return json.dumps(
        {"values": filters.values, "year_from": filters.year_from, "year_to": filters.year_to},
        sort_keys=True,
    )


@st.cache_data(max_entries=64, show_spinner=False)
def matching_documents(root: str, build_id: str, filters_json: str) -> list[tuple[str, str, int]]:
    """(title, source, passages) of the documents a filter reaches: what browsing shows."""
    index = get_index(root, build_id)
    rowids = index.filter_ids(_filters(filters_json), SearchSettings().min_confidence).tolist()
    counts: dict[tuple[str, str], int] = {}
    for record in index.chunks(rowids).values():
        key = (record.title, record.source)
        counts[key] = counts.get(key, 0) + 1
    return sorted(((t, s, n) for (t, s), n in counts.items()), key=lambda d: (-d[2], d[0]))


@st.cache_data(max_entries=8, show_spinner=False)
def year_range(root: str, build_id: str) -> tuple[int, int] | None:
    """The earliest and latest document years in a build, for the year slider."""
    index = get_index(root, build_id)
    if not index.has_facets:
        return None
    rows = index.query(
        "SELECT MIN(CAST(value AS INTEGER)), MAX(CAST(value AS INTEGER)) FROM doc_tags "
        "WHERE facet = 'year'"
    )
    lo, hi = rows[0][0], rows[0][1]
    return (int(lo), int(hi)) if lo is not None else None


def document_paths(index: Index, doc_ids: list[str]) -> dict[str, Path]:
    if not doc_ids:
        return {}
    marks = ",".join("?" * len(doc_ids))
    rows = index.query(f"SELECT doc_id, path FROM documents WHERE doc_id IN ({marks})", doc_ids)
    return {r[0]: Path(r[1]) for r in rows}
