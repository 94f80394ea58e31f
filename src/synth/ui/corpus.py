"""Corpus page: index statistics, uploads ingested with a per-file report, and removal.

Uploads are saved under safe names in the corpus folder (synth.uploads), never outside it;
reference-manager exports are read as metadata and matched to the documents by ingest.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from synth.index import Index, IndexBusy, ingest, remove
from synth.ingest.metadata import DocMetadata, MetadataError, load_metadata
from synth.models import IngestReport
from synth.safetext import one_line, spreadsheet_cell
from synth.ui import nav, resources, static_docs
from synth.ui.progress import StreamlitProgress
from synth.ui.text import plain
from synth.ui.uploads import (
    DOCUMENT_EXTENSIONS,
    METADATA_EXTENSIONS,
    SavedUpload,
    UploadRejected,
    save_upload,
    upload_kind,
)

PAGE = "corpus"
REPORT = "corpus_report"
NOTICE = "corpus_notice"
UPLOADS = "corpus_uploads"


def _row(name: str, saved: str, status: str, details: str) -> dict[str, str]:
    return {"File": name, "Saved as": saved, "Status": status, "Details": details}


def _stats(index: Index) -> None:
    stats = index.stats()
    m = stats.manifest
    documents = stats.documents
    cols = st.columns(3)
    cols[0].metric("Documents", len(documents))
    cols[1].metric("Chunks", sum(d.n_chunks for d in documents))
    cols[2].metric("Size on disk", f"{stats.bytes_on_disk / 1024 / 1024:.1f} MB")
    st.table(
        {
            "Embedding model": m.model,
            "Build id": m.build_id,
            "Built": m.created,
            "FAISS index": m.faiss_index,
            "Keyword index": m.keyword_index,
            "Vector dimension": str(m.dimension),
            "Location": str(stats.path),
        },
    )
    if documents:
        st.dataframe(
            [
                {  # the grid's own "Download as CSV" quotes cells but leaves formulas live
                    "Title": spreadsheet_cell(one_line(d.title)),
                    "File": spreadsheet_cell(one_line(d.source)),
                    "Type": d.kind,
                    "Pages": d.n_pages,
                    "Chunks": d.n_chunks,
                    "Added": d.ingested_at,
                }
                for d in documents
            ],
            hide_index=True,
        )


def _save_all(files: list, replace: bool, limit: int) -> tuple[list[dict], list[SavedUpload], list]:
    """Save each upload; read the metadata ones. Returns report rows, documents, records."""
    rows: list[dict[str, str]] = []
    documents: list[SavedUpload] = []
    records: list[DocMetadata] = []
    folder = resources.corpus_dir()
    for upload in files:
        kind = upload_kind(upload.name)
        if kind is None:
            rows.append(_row(upload.name, "", "failed", "unsupported file type"))
            continue
        try:
            saved = save_upload(
                folder, upload.name, upload.getvalue(), replace=replace, max_mb=limit
            )
        except (UploadRejected, OSError) as exc:
            rows.append(_row(upload.name, "", "failed", str(exc)))
            continue
        if kind == "document":
            documents.append(saved)
            continue
        try:
            found = load_metadata(saved.path)
        except MetadataError as exc:
            rows.append(_row(upload.name, saved.name, "failed", str(exc)))
            continue
        records += found
        notes = f"; {len(found.warnings)} warnings" if found.warnings else ""
        rows.append(_row(upload.name, saved.name, "metadata", f"{len(found)} records{notes}"))
    return rows, documents, records


def _document_rows(documents: list[SavedUpload], report: IngestReport) -> list[dict[str, str]]:
    fates = {str(Path(f.path).resolve()): f for f in report.files}
    rows = []
    for saved in documents:
        fate = fates.get(str(saved.path))
        if fate is None:
            rows.append(_row(saved.original, saved.name, "failed", "not read by ingest"))
            continue
        details = fate.reason
        if fate.status in ("added", "replaced") and not details:
            details = f"{fate.n_chunks} passages"
        elif fate.status == "unchanged" and not details:
            details = "already in the index"
        rows.append(_row(saved.original, saved.name, fate.status, details))
    return rows


def _ingest_uploads(files: list, replace: bool) -> list[dict[str, str]]:
    rows, documents, records = _save_all(files, replace, resources.max_upload_mb())
    paths = [d.path for d in documents]
    index = resources.open_index()
    if records and index is not None:
        # New metadata may describe documents already indexed: offer them to ingest too.
        paths += [Path(d.path) for d in index.documents() if Path(d.path).is_file()]
    if not paths:
        return rows
    progress = StreamlitProgress()
    try:
        report = ingest(paths, resources.index_dir(), progress=progress, metadata=records)
    except IndexBusy as exc:
        return rows + [_row(d.original, d.name, "failed", str(exc)) for d in documents]
    finally:
        progress.close()
    return rows + _document_rows(documents, report)


def _upload() -> None:
    st.subheader("Add documents")
    limit = resources.max_upload_mb()
    generation = st.session_state.get(UPLOADS, 0)
    kinds = [ext.lstrip(".") for ext in (*DOCUMENT_EXTENSIONS, *METADATA_EXTENSIONS)]
    files = st.file_uploader(
        "Reports (.pdf .md .txt .html) and reference-manager exports (.ris .bib .json .csv)",
        type=kinds,
        accept_multiple_files=True,
        key=f"uploader-{generation}",
        max_upload_size=limit,
        help=f"Up to {limit} MB a file. Saved to {resources.corpus_dir()}.",
    )
    replace = st.checkbox("Replace files that have the same name", key="replace_same_name")
    if st.button("Add to the index", type="primary", disabled=not files):
        st.session_state[REPORT] = _ingest_uploads(list(files or []), replace)
        st.session_state[UPLOADS] = generation + 1
        st.rerun()
    rows = st.session_state.get(REPORT)
    if rows:
        st.markdown("**Last upload**")
        st.table(rows, hide_index=True)


def _remove(index: Index) -> None:
    st.subheader("Remove a document")
    documents = index.documents()
    choice = st.selectbox(
        "Document",
        documents,
        index=None,
        format_func=lambda d: f"{d.title} ({d.source})",
        placeholder="Choose a document to remove",
        key="remove_choice",
    )
    st.caption("Removes it from the index; the file stays in its folder.")
    if st.button("Remove from the index", disabled=choice is None) and choice is not None:
        try:
            removed = remove([choice.doc_id], resources.index_dir())
        except IndexBusy as exc:
            st.error(str(exc))
            return
        static_docs.unpublish([choice.doc_id])
        st.session_state[NOTICE] = plain(f"Removed {', '.join(removed) or 'nothing'}.")
        st.rerun()


def main() -> None:
    nav.enter(PAGE)
    st.title("Corpus")
    if notice := st.session_state.pop(NOTICE, None):
        st.success(notice)
    index = resources.open_index()
    if index is None:
        resources.no_index_notice("add documents below to build one.")
    else:
        _stats(index)
    _upload()
    if index is not None:
        _remove(index)


if __name__ == "__main__":
    main()
