"""PDFs served by Streamlit's static file route, so a link can open one at a page (#page=N).

Streamlit serves only files under `static/` beside the main script (server.enableStaticServing)
and refuses symlinks that lead outside it, so each PDF shown is hard-linked there (copied when
the corpus is on another file system) as `static/docs/<doc_id>.pdf`. Doc ids come from content
hashes, so a name never points at other bytes. The folder ignores itself in git.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

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


def unpublish(doc_ids: list[str]) -> None:
    folder = docs_dir()
    if folder is None:
        return
    for doc_id in doc_ids:
        if re.fullmatch(r"[0-9a-f]+", doc_id):
            (folder / f"{doc_id}.pdf").unlink(missing_ok=True)
