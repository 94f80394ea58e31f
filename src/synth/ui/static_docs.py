"""PDFs served by Streamlit's static file route, so a link can open one at a page (#page=N).

Streamlit serves only files under `static/` beside the main script (server.enableStaticServing)
and refuses symlinks that lead outside it, so each PDF shown is hard-linked there (copied when
the corpus is on another file system) as `static/docs/<doc_id>.pdf`. Doc ids come from content
hashes, so a name never points at other bytes. The folder ignores itself in git.

Links of documents no longer in the live build (`synth remove` from the command line, a
changed file) are deleted before any link is made for a new build, so the static route never
serves a removed document once the app has seen the build that removed it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from synth.index import health, store

URL_PREFIX = "app/static/docs"


def docs_dir() -> Path | None:
    ctx = get_script_run_ctx()
    if ctx is None or not st.get_option("server.enableStaticServing"):
        return None
    return Path(ctx.main_script_path).resolve().parent / "static" / "docs"


def _place(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def publish(doc_id: str, path: Path) -> str | None:
    """A relative URL for a PDF document, placing it under static/ first; None if impossible."""
    folder = docs_dir()
    if folder is None or path.suffix.lower() != ".pdf" or not re.fullmatch(r"[0-9a-f]+", doc_id):
        return None
    target = folder / f"{doc_id}.pdf"
    prune(folder)
    try:
        if not target.is_file():
            if not path.is_file():
                return None
            folder.mkdir(parents=True, exist_ok=True)
            ignore = folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# PDFs the app serves; made at run time\n*\n")
            _place(path, target)
    except OSError:
        return None
    return f"{URL_PREFIX}/{doc_id}.pdf"


_PRUNED: dict[Path, str] = {}


def prune(folder: Path) -> None:
    """Delete links whose document the live build no longer holds (once per build)."""
    root = Path(os.environ.get("SYNTH_INDEX", "index"))
    builds, _ = health.read_candidates(root)
    if not builds or _PRUNED.get(folder) == builds[0].name or not folder.is_dir():
        return
    try:
        with contextlib.closing(store.connect(builds[0] / "synth.sqlite", readonly=True)) as db:
            live = {r[0] for r in db.execute("SELECT doc_id FROM documents")}
    except sqlite3.Error:
        return
    for link in folder.glob("*.pdf"):
        if link.stem not in live:
            link.unlink(missing_ok=True)
    _PRUNED[folder] = builds[0].name


def unpublish(doc_ids: list[str]) -> None:
    folder = docs_dir()
    if folder is None:
        return
    for doc_id in doc_ids:
        if re.fullmatch(r"[0-9a-f]+", doc_id):
            (folder / f"{doc_id}.pdf").unlink(missing_ok=True)
