"""A damaged index never loses documents silently: readers fall back to the newest whole build
with a warning, writers refuse and name `synth repair`, repair brings every document back, and
cleanup keeps any build holding documents the live one lacks (a kill between the build rename
and the CURRENT swap included)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from nasty import run_synth, within

from synth.cli import main
from synth.index import Index, IndexDamaged, health, ingest


def _live(root: Path) -> Path:
    return root / "builds" / (root / "CURRENT").read_text().strip()


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(3)
    for i in range(4096, len(data), 997):
        data[i] = rng.randrange(256)
    path.write_bytes(bytes(data))


def _sql(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)


def _manifest(build: Path, **changes: object) -> None:
    data = json.loads((build / "manifest.json").read_text())
    (build / "manifest.json").write_text(json.dumps({**data, **changes}))


def _random_block(path: Path, size: int = 8192) -> None:
    """size random bytes written over the middle of a file, in place (its pages damaged, its
    header whole: SQLite opens it and fails only at the query that reads those pages)."""
    rng = random.Random(7)
    with open(path, "r+b") as handle:
        handle.seek(max(0, path.stat().st_size // 2 - size // 2))
        handle.write(rng.randbytes(size))


def _largest(folder: Path) -> Path:
    return max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


CORRUPTIONS = {
    "8 KB of random bytes inside synth.sqlite": lambda r: _random_block(_live(r) / "synth.sqlite"),
    "a keyword segment overwritten": lambda r: _random_block(_largest(_live(r) / "keyword"), 64),
    "CURRENT names a missing build": lambda r: (r / "CURRENT").write_text("20990101T000000-dead\n"),
    "CURRENT empty": lambda r: (r / "CURRENT").write_text(""),
    "CURRENT garbage": lambda r: (r / "CURRENT").write_bytes(random.Random(1).randbytes(300)),
    "manifest missing": lambda r: (_live(r) / "manifest.json").unlink(),
    "manifest invalid": lambda r: (_live(r) / "manifest.json").write_text('{"build_id": '),
    "manifest names an uninstalled model": lambda r: _manifest(_live(r), model="no-such-model"),
    "synth.sqlite garbled": lambda r: _garble(_live(r) / "synth.sqlite"),
    "keyword index deleted": lambda r: shutil.rmtree(_live(r) / "keyword"),
    "keyword index metadata garbled": lambda r: (_live(r) / "keyword" / "meta.json").write_text(
        '{"segments": ['
    ),
    "half the chunk rows deleted": lambda r: _sql(
        _live(r) / "synth.sqlite", "DELETE FROM chunks WHERE id % 2 = 0"
    ),
    "vectors.faiss truncated": lambda r: (_live(r) / "vectors.faiss").write_bytes(
        (_live(r) / "vectors.faiss").read_bytes()[:200]
    ),
}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, make_tiny_pdf, embedder_factory) -> tuple[Path, set[str]]:
    """An index whose live build holds three documents and whose previous build holds two."""
    folder = tmp_path_factory.mktemp("damage")
    pdfs = [make_tiny_pdf(k, folder / f"{k}.pdf") for k in TINY]
    root = folder / "index"
    ingest(pdfs[:2], root, embedder=embedder_factory)
    ingest(pdfs[2:], root, embedder=embedder_factory)
    return root, {p.name for p in pdfs}


TINY = ("homework-clubs", "school-meals", "bicycle-loans")


def _sources(root: Path) -> set[str]:
    with Index.open(root) as index:
        return {d.source for d in index.documents()}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_damage_is_reported_refused_and_repaired(case, two_builds, tmp_path, capsys):
    original, sources = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    CORRUPTIONS[case](root)
    extra = tmp_path / "new.md"
    extra.write_text("# Reading Corners\n\nEvery classroom set up a reading corner.\n")

    # Reading: the live build or, if it is damaged, the newest whole one with a warning.
    assert main(["info", "--index", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)["documents"]
    assert main(["info", "--check", "--index", str(root)]) == 1
    assert "synth repair" in capsys.readouterr().err

    # Writing on a damaged index is refused with the command that fixes it, unless only the
    # vectors are damaged: a writer writes them anew from the database anyway.
    if case == "vectors.faiss truncated":
        copy = tmp_path / "copy"
        shutil.copytree(root, copy)
        assert main(["ingest", str(extra), "--index", str(copy), "-q"]) == 0
        assert _sources(copy) == sources | {"new.md"}
    else:
        assert main(["ingest", str(extra), "--index", str(root), "-q"]) == 2
        assert "synth repair" in capsys.readouterr().err

    # Repair brings back every document the live build held, or names what it cannot.
    # unreadable: its newest documents cannot be listed
    lost = case in ("synth.sqlite garbled", "8 KB of random bytes inside synth.sqlite")
    assert main(["repair", "--index", str(root), "-q"]) == (1 if lost else 0)
    repaired = capsys.readouterr().out
    assert ("LOST" in repaired) == lost, repaired
    assert main(["info", "--check", "--index", str(root)]) == 0
    capsys.readouterr()
    assert _sources(root) == (sources - {"bicycle-loans.pdf"} if lost else sources)
    assert main(["ingest", str(extra), "--index", str(root), "-q"]) == 0
    assert "new.md" in _sources(root)


def test_random_bytes_in_the_live_database_fall_back_at_open(two_builds, tmp_path):
    """Found at open, not at the first query that reads a damaged page (that was exit 70,
    'internal error: DatabaseError'): search answers from the previous build with a warning,
    and an ingest refuses with the repair hint."""
    original, _ = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root, copy_function=shutil.copy)  # new times: hashes are checked
    _random_block(_live(root) / "synth.sqlite")
    done = run_synth("search", "homework clubs", "--index", str(root))
    assert done.returncode == 0, done.stderr
    assert "warning: using build" in done.stderr and "synth.sqlite changed" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    extra = tmp_path / "new.md"
    extra.write_text("# Reading Corners\n\nEvery classroom set up a reading corner.\n")
    done = run_synth("ingest", str(extra), "--index", str(root), "-q")
    assert done.returncode == 2 and "synth repair" in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_copied_index_is_whole_and_opens(two_builds, tmp_path):
    """Copying changes every file's time: each is hashed once and found unchanged."""
    original, sources = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root, copy_function=shutil.copy)
    with Index.open(root) as index:
        assert not index.warning
    assert _sources(root) == sources


def test_builds_share_no_file(two_builds):
    """A damaged file in one build cannot reach another: no inode is shared between builds."""
    root, _ = two_builds
    inodes: dict[int, str] = {}
    for build in (root / "builds").iterdir():
        for path in build.rglob("*"):
            if path.is_file():
                assert path.stat().st_nlink == 1, path
                assert path.stat().st_ino not in inodes, (path, inodes[path.stat().st_ino])
                inodes[path.stat().st_ino] = str(path)


def test_damage_to_the_live_keyword_index_leaves_the_previous_build_whole(two_builds, tmp_path):
    original, sources = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    live = _live(root)
    for path in (live / "keyword").rglob("*"):
        if path.is_file() and path.stat().st_size > 64:
            _random_block(path, 64)
    with Index.open(root) as index:
        assert index.warning and index.build_id != live.name
    previous = [b for b in (root / "builds").iterdir() if b != live]
    assert previous and all(health.check_build(b, full=True).ok for b in previous)


def test_search_and_searching_again_change_no_build_file(two_builds, tmp_path):
    """Readers write nothing into a build (a reader that touched a file would make every
    later open hash it)."""
    original, _ = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    for _ in range(2):
        assert run_synth("search", "school meals", "--index", str(root)).returncode == 0
    after = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert after == before


def test_no_whole_build_is_a_one_line_error_not_a_traceback(two_builds, tmp_path):
    original, _ = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    for build in (root / "builds").iterdir():
        _garble(build / "synth.sqlite")
    with pytest.raises(IndexDamaged, match="synth repair"):
        Index.open(root)
    done = run_synth("search", "homework", "--index", str(root))
    assert done.returncode == 2 and "synth repair" in done.stderr


def test_a_garbled_database_reaches_the_user_as_a_warning(two_builds, tmp_path):
    original, sources = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    _garble(_live(root) / "synth.sqlite")
    done = run_synth("info", "--index", str(root))
    assert done.returncode == 0
    assert "warning: using build" in done.stderr and "synth repair" in done.stderr


KILL_AT_SWAP = """
import os, sys
from pathlib import Path
import synth.index.build as build
build.point_to = lambda root, build_id: os._exit(137)  # killed after the rename, before CURRENT
from synth.index import ingest
ingest([Path(sys.argv[1])], Path(sys.argv[2]))
"""


def test_a_kill_between_rename_and_current_loses_nothing(two_builds, tmp_path, embedder_factory):
    original, sources = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    live = (root / "CURRENT").read_text()
    orphan_doc = tmp_path / "orphan.md"
    orphan_doc.write_text("# Orphan\n\nPupils kept reading logs at home every evening.\n")
    done = subprocess.run(
        [sys.executable, "-c", KILL_AT_SWAP, str(orphan_doc), str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 137, done.stderr[-2000:]
    assert (root / "CURRENT").read_text() == live  # the old build is still the live one
    builds = {p.name for p in (root / "builds").iterdir()}
    assert _sources(root) == sources

    other = tmp_path / "other.md"
    other.write_text("# Other\n\nTeachers met weekly to plan lessons together.\n")
    ingest([other], root, embedder=embedder_factory)
    kept = {p.name for p in (root / "builds").iterdir()}
    orphans = [b for b in (builds - {live.strip()}) & kept if "orphan.md" in _held(root, b)]
    assert orphans  # it holds orphan.md, which the new live build lacks: cleanup kept it
    ingest([orphan_doc], root, embedder=embedder_factory)
    assert not any((root / "builds" / b).exists() for b in orphans)  # now accounted for
    assert _sources(root) == sources | {"other.md", "orphan.md"}


def _held(root: Path, build: str) -> set[str]:
    with contextlib.closing(sqlite3.connect(root / "builds" / build / "synth.sqlite")) as db:
        return {r[0] for r in db.execute("SELECT source FROM documents")}


def test_builds_made_within_one_second_sort_oldest_to_newest(tmp_path):
    """Without CURRENT a reader opens the newest build by name: ids made in quick succession,
    and an id from before microseconds, must sort in the order they were made."""
    from synth.index.build import _new_build_id
    from synth.index.health import completed_builds

    made = ["20000101T120000-ffffffff"]  # the older format, seconds only
    made += [_new_build_id() for _ in range(20)]
    for build_id in made:
        (tmp_path / "builds" / build_id).mkdir(parents=True)
    assert [p.name for p in completed_builds(tmp_path)] == made[::-1]
    same_second_before = made[1][: len("20261201T120000")] + "-ffffffff"
    assert sorted([made[1], same_second_before]) == [same_second_before, made[1]]


def test_repair_never_builds_on_a_database_whose_fingerprint_changed(two_builds, tmp_path):
    """Text altered inside the live database must not come back with fresh fingerprints:
    repair starts from the whole previous build and reads the rest again from the files."""
    original, sources = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    _sql(_live(root) / "synth.sqlite", "UPDATE pages SET text = 'HACKED ' || text")
    assert main(["repair", "--index", str(root), "-q"]) == 0
    with Index.open(root) as index:
        assert not index.warning
        pages = [r[0] for r in index.query("SELECT text FROM pages")]
    assert pages and not any("HACKED" in p for p in pages)
    assert _sources(root) == sources


@pytest.mark.parametrize("name", ["../../../../../../dev/zero", "/dev/zero", "keyword/../../x"])
def test_a_manifest_naming_a_file_outside_its_build_is_damage(two_builds, tmp_path, name):
    original, _ = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    data = json.loads((_live(root) / "manifest.json").read_text())
    data["files"][name] = [0, 0, "0" * 64]
    (_live(root) / "manifest.json").write_text(json.dumps(data))
    with within(60):
        done = run_synth("info", "--index", str(root))
    assert done.returncode == 0 and "outside the build" in done.stderr


def test_a_copied_index_is_hashed_once(two_builds, tmp_path, monkeypatch):
    from synth.index import files

    original, _ = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root, copy_function=shutil.copy)  # new times everywhere
    with Index.open(root) as index:
        assert not index.warning
    assert (root / "verified" / f"{_live(root).name}.json").is_file()

    def no_hashing(path):
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(files, "_digest", no_hashing)
    with Index.open(root) as index:
        assert not index.warning


def test_the_full_check_finds_damage_that_kept_its_time(two_builds, tmp_path):
    """Bit rot, or a copy made with times preserved, keeps size and time: only a hash sees it,
    which `info --check` (and repair) always make."""
    original, _ = two_builds
    root = tmp_path / "index"
    shutil.copytree(original, root)
    path = _live(root) / "synth.sqlite"
    before = path.stat()
    _random_block(path, 16)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (
        health.check_build(_live(root), full=True)
        .problems[0]
        .startswith("synth.sqlite changed since")
    )
