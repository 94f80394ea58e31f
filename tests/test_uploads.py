"""Upload names and writes: hostile names stay inside the corpus folder, limits hold."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from synth.ui.uploads import (
    SavedUpload,
    UploadRejected,
    check_size,
    safe_name,
    save_upload,
    upload_kind,
)

HOSTILE = [
    "../../etc/passwd",
    "a/b\\c.pdf",
    "",
    "....pdf",
    "..",
    "/",
    "\\\\server\\share\\x.pdf",
    "C:\\Windows\\system32\\cmd.exe",
    "\x00\x1f\x7f.pdf",
    " .hidden. ",
    "evil\u202efdp.pdf",
    "zero\u200bwidth.pdf",
    "a" * 400 + ".pdf",
    "教育" * 100 + ".pdf",
    "CON",
    "lpt1.txt",
    'a<b>c:"d"|e?f*.pdf',
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("a/b\\c.pdf", "c.pdf"),
        ("", "upload"),
        ("....pdf", "upload.pdf"),
        ("report.PDF", "report.pdf"),
        (".bashrc", "bashrc"),
        (" ..hidden. ", "hidden"),
        ("\x00ab\x1fc.pdf", "abc.pdf"),
        ("evil\u202efdp.pdf", "evilfdp.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("nul", "_nul"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("a:b?c*.pdf", "a_b_c_.pdf"),
        ("Évaluation été — 教育.PDF", "Évaluation été — 教育.pdf"),
        ("Tutoría   en\tGhana.md", "Tutoría en Ghana.md"),
    ],
)
def test_safe_name_cases(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


def test_safe_name_normalises_unicode_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Évaluation.pdf")
    assert decomposed != "Évaluation.pdf"
    assert safe_name(decomposed) == "Évaluation.pdf"


@pytest.mark.parametrize("raw", HOSTILE)
def test_safe_name_is_one_plain_component_inside_the_folder(raw: str, tmp_path: Path) -> None:
    name = safe_name(raw)
    assert name and "/" not in name and "\\" not in name
    assert not name.startswith(".") and name == name.strip()
    assert all(unicodedata.category(ch)[0] != "C" for ch in name)
    assert len(name.encode("utf-8")) <= 255
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


def test_long_names_keep_their_extension() -> None:
    assert safe_name("x" * 400 + ".pdf").endswith(".pdf")
    assert safe_name("教育" * 100 + ".pdf").endswith(".pdf")


def test_safe_name_dedups_case_insensitively() -> None:
    assert safe_name("report.pdf", ["REPORT.pdf"]) == "report-2.pdf"
    assert safe_name("report.pdf", ["report.pdf", "Report-2.PDF"]) == "report-3.pdf"
    assert safe_name("", ["upload"]) == "upload-2"


def test_upload_kind() -> None:
    assert upload_kind("a.PDF") == "document"
    assert upload_kind("notes.md") == "document"
    assert upload_kind("page.html") == "document"
    assert upload_kind("library.ris") == "metadata"
    assert upload_kind("refs.bib") == "metadata"
    assert upload_kind("zotero.json") == "metadata"
    assert upload_kind("manifest.csv") == "metadata"
    assert upload_kind("virus.exe") is None
    assert upload_kind("pdf") is None


def test_check_size_limit() -> None:
    check_size(1024 * 1024, max_mb=1)
    with pytest.raises(UploadRejected, match="over the 1 MB upload limit"):
        check_size(1024 * 1024 + 1, max_mb=1)


def test_save_upload_writes_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    saved = save_upload(folder, "../../escape.pdf", b"%PDF-1.4 one")
    assert saved == SavedUpload("../../escape.pdf", folder.resolve() / "escape.pdf")
    assert saved.path.read_bytes() == b"%PDF-1.4 one"
    assert not (tmp_path / "escape.pdf").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["escape.pdf"]


def test_save_upload_reuses_renames_or_replaces(tmp_path: Path) -> None:
    first = save_upload(tmp_path, "r.pdf", b"one")
    again = save_upload(tmp_path, "r.pdf", b"one")
    assert again.reused and again.path == first.path
    other = save_upload(tmp_path, "r.pdf", b"two")
    assert other.path.name == "r-2.pdf" and not other.reused
    assert first.path.read_bytes() == b"one"
    replaced = save_upload(tmp_path, "r.pdf", b"three", replace=True)
    assert replaced.path == first.path and first.path.read_bytes() == b"three"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_save_upload_never_writes_through_a_symlink(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"precious")
    (folder / "report.pdf").symlink_to(outside)
    saved = save_upload(folder, "report.pdf", b"attack", replace=True)
    assert outside.read_bytes() == b"precious"
    assert saved.path.parent == folder.resolve() and saved.path.name == "report-2.pdf"
    assert saved.path.read_bytes() == b"attack"


def test_save_upload_refuses_oversize_files_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(UploadRejected, match="upload limit"):
        save_upload(tmp_path, "big.pdf", b"x" * (1024 * 1024 + 1), max_mb=1)
    assert list(tmp_path.iterdir()) == []
