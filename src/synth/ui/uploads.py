"""Saving files a browser sends: safe names, a size limit, and never a byte outside the folder.

A browser's file name is attacker-controlled text: it can carry directories, `..`, control or
bidi characters, Windows device names, or nothing at all. `safe_name` turns it into one plain
name inside the corpus folder; `save_upload` writes it there atomically and refuses any path
that resolves (through a symlink, say) outside that folder.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from synth.ingest.files import SUPPORTED_EXTENSIONS

DOCUMENT_EXTENSIONS = tuple(sorted(SUPPORTED_EXTENSIONS))
METADATA_EXTENSIONS = (".ris", ".bib", ".json", ".csv")
DEFAULT_NAME = "upload"
DEFAULT_MAX_MB = 100
# ext4 and most file systems allow 255 bytes a name; leave room for "-NN" and the extension.
MAX_STEM_BYTES = 180
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")

UploadKind = Literal["document", "metadata"]


class UploadRejected(ValueError):
    """A file the app will not save; the message says why, for the per-file report."""


@dataclass(frozen=True)
class SavedUpload:
    """Where an upload went; `reused` when an identical file already had that name."""

    original: str
    path: Path
    reused: bool = False

    @property
    def name(self) -> str:
        return self.path.name


def _clean_component(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    # Control, format (bidi overrides, zero-width), surrogate and private-use characters;
    # ordinary whitespace controls (tab, newline) become spaces instead.
    name = "".join(ch for ch in name if ch in "\t\n\r\v\f" or unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name)
    return re.sub(r'[<>:"|?*]', "_", name).strip()


def _split_extension(name: str) -> tuple[str, str]:
    match = _EXTENSION.search(name)
    if match is None or match.start() == 0:  # ".bashrc" is a name, not an extension
        return name, ""
    return name[: match.start()], "." + match.group(1).lower()


def _cap_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")[:limit]
    return data.decode("utf-8", errors="ignore")


def safe_name(name: str, taken: Iterable[str] = ()) -> str:
    """One safe file name for `name`, keeping its extension, not clashing with `taken`.

    Directories are dropped (both separators), then control and format characters, Windows
    punctuation, leading dots and trailing dots or spaces; Windows device names get a leading
    underscore; an empty result becomes "upload". A clash (case-insensitive) gets "-2", "-3"...
    """
    stem, ext = _split_extension(_clean_component(name))
    stem = _cap_bytes(stem.strip(" ."), MAX_STEM_BYTES).strip(" .") or DEFAULT_NAME
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    used = {t.casefold() for t in taken}
    candidate = stem + ext
    number = 2
    while candidate.casefold() in used:
        candidate = f"{stem}-{number}{ext}"
        number += 1
    return candidate


def upload_kind(name: str) -> UploadKind | None:
    """ "document" for files ingest reads, "metadata" for reference-manager exports."""
    ext = _split_extension(_clean_component(name))[1]
    if ext in DOCUMENT_EXTENSIONS:
        return "document"
    if ext in METADATA_EXTENSIONS:
        return "metadata"
    return None


def check_size(size: int, max_mb: float = DEFAULT_MAX_MB) -> None:
    """Refuse files over the limit (the browser limit can be bypassed by a direct request)."""
    if size > max_mb * 1024 * 1024:
        raise UploadRejected(f"{size / 1024 / 1024:.1f} MB is over the {max_mb:g} MB upload limit")


def contained(folder: Path, target: Path) -> Path:
    """`target` resolved, if it sits directly in `folder` (symlinks followed); else raise."""
    root = folder.resolve()
    resolved = target.resolve()
    if resolved.parent != root:
        raise UploadRejected(f"'{target.name}' would be written outside the corpus folder")
    return resolved


def save_upload(
    folder: str | Path,
    name: str,
    data: bytes,
    *,
    replace: bool = False,
    max_mb: float = DEFAULT_MAX_MB,
) -> SavedUpload:
    """Write `data` into `folder` under a safe version of `name`; returns where it went.

    An existing file with the same bytes is reused (ingest will call it unchanged); one with
    different bytes is overwritten when `replace` (ingest: replaced), else the new file gets
    a fresh name (ingest: added).
    """
    check_size(len(data), max_mb)
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    target = root / safe_name(name)
    if target.is_symlink() or target.exists():
        plain = target.is_file() and not target.is_symlink()
        if plain and target.read_bytes() == data:
            return SavedUpload(name, target, reused=True)
        if not (plain and replace):
            target = root / safe_name(name, (p.name for p in root.iterdir()))
    final = contained(root, target)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return SavedUpload(name, final)
