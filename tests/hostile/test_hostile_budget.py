"""Each file is parsed under a budget of CPU time and memory in a child process: a file past
it fails alone with its reason, the next file gets a fresh child, and results are the same as
parsing in this process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from nasty import run_synth, within

from synth.ingest import guard
from synth.ingest.chunk import ChunkSettings
from synth.ingest.files import ParseLimits, content_hash
from synth.ingest.pipeline import FileTask, prepare_file
from synth.taxonomy import load_taxonomy

SENTENCE = "Pupils who read aloud to a partner each day gained {n} months in reading age. "


def _task(path: Path) -> FileTask:
    return FileTask(path, content_hash(path.read_bytes()))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("budget")
    big = folder / "big.md"  # a few seconds of honest parsing
    big.write_text(
        "".join(f"# Section {s}\n\n" + SENTENCE.format(n=s) * 400 + "\n\n" for s in range(60))
    )
    small = folder / "small.md"
    small.write_text("# Homework clubs\n\nHomework clubs met after school twice a week.\n")
    return {"big": big, "small": small}


def _prepare(path: Path, **limits: float) -> guard.PreparedFile:
    parser = guard.GuardedParser()
    try:
        return parser.prepare(_task(path), ChunkSettings(), ParseLimits(**limits), None)
    finally:
        parser.close()


def test_results_equal_parsing_in_this_process(files):
    taxonomy = load_taxonomy()
    task = _task(files["small"])
    parser = guard.GuardedParser()
    try:
        guarded = parser.prepare(task, ChunkSettings(), ParseLimits(), taxonomy)
        again = parser.prepare(task, ChunkSettings(), ParseLimits(), taxonomy)  # same child
    finally:
        parser.close()
    here = prepare_file(task, ChunkSettings(), ParseLimits(), taxonomy)
    assert not here.error and here.chunks
    for other in (guarded, again):
        assert (other.document, other.chunks, other.record, other.roles) == (
            here.document,
            here.chunks,
            here.record,
            here.roles,
        )


def test_a_file_past_the_cpu_budget_fails_alone_and_the_next_one_parses(files):
    parser = guard.GuardedParser()
    try:
        with within(120):
            slow = parser.prepare(
                _task(files["big"]), ChunkSettings(), ParseLimits(file_seconds=0.2), None
            )
            after = parser.prepare(_task(files["small"]), ChunkSettings(), ParseLimits(), None)
    finally:
        parser.close()
    assert slow.error == "too slow to parse (over 0.2 s)"
    assert not after.error and after.chunks


def test_a_file_past_the_memory_budget_fails_with_its_reason(files):
    with within(120):
        result = _prepare(files["big"], file_memory_mb=20)  # less than spaCy alone needs
    assert result.error == "too much memory to parse (over 20 MB)"


def _kill_mid_file(parser: guard.GuardedParser, seen: list[int]) -> None:
    """Kill the child once it has spent 0.5 s of CPU on the request (the big file)."""
    while parser._child is None or parser._child.poll() is not None:
        time.sleep(0.01)
    pid = parser._child.pid
    start = guard._cpu_seconds(pid)
    while guard._cpu_seconds(pid) - start < 0.5:
        time.sleep(0.01)
    seen.append(pid)
    os.kill(pid, 9)


@pytest.mark.parametrize("retries", [0, 1])
def test_a_parser_that_dies_mid_file_fails_that_file_only(files, monkeypatch, retries):
    """Killed once mid-file: with no retry the file fails with the reason; with the retry (the
    default) a fresh child parses it whole."""
    monkeypatch.setattr(guard, "CRASH_RETRIES", retries)
    parser = guard.GuardedParser()
    seen: list[int] = []

    def kill_soon() -> None:
        _kill_mid_file(parser, seen)

    killer = threading.Thread(target=kill_soon)
    try:
        parser._ready()
        killer.start()
        with within(120):
            dead = parser.prepare(_task(files["big"]), ChunkSettings(), ParseLimits(), None)
            after = parser.prepare(_task(files["small"]), ChunkSettings(), ParseLimits(), None)
        killer.join()
        assert parser._child is not None and parser._child.pid != seen[0]
    finally:
        parser.close()
    if retries:
        assert not dead.error and dead.chunks
    else:
        assert dead.error == "the parser crashed (killed by signal 9)"
    assert not after.error


def test_the_cli_budget_flags_fail_a_slow_file_and_land_the_rest(files, tmp_path):
    index = tmp_path / "index"
    done = run_synth(
        "ingest", str(files["big"]), str(files["small"]), "--index", str(index), "-q",
        "--file-seconds", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr  # a failed file is reported, the rest lands
    assert "big.md: too slow to parse (over 3 s)" in done.stdout
    assert "FAILED" not in done.stdout.replace("FAILED " + str(files["big"]), ""), done.stdout
    assert "chunks embedded: 1 new" in done.stdout


BRACKETS = "[" * 10_000 + "word" + "]" * 10_000


def test_a_batch_of_bracket_files_finishes_quickly_and_lands(tmp_path):
    """20 files of 10,000 brackets around a word stalled spaCy's tokenizer for over 150 s each
    (a 20-file batch ran 900 s and wrote nothing)."""
    folder = tmp_path / "brackets"
    folder.mkdir()
    for i in range(20):
        (folder / f"b{i:02d}.md").write_text(f"# Note {i}\n\n{BRACKETS}\n\nPupils read {i}.\n")
    with within(300):
        done = run_synth("ingest", str(folder), "--index", str(tmp_path / "index"), "-q")
    assert done.returncode == 0, done.stderr
    assert "FAILED" not in done.stdout, done.stdout


def test_a_document_past_its_tagging_deadline_fails_alone(files, tmp_path, monkeypatch):
    """Tagging needs the model, so it runs in the ingest process under a deadline per
    document, checked between chunks."""
    from synth.index import Index, ingest
    from synth.ingest import tag

    monkeypatch.setattr(tag, "TAG_BASE_SECONDS", 0.0)
    monkeypatch.setattr(tag, "TAG_CHUNK_SECONDS", 0.0)
    report = ingest([files["big"], files["small"]], tmp_path / "index")
    outcome = {Path(f.path).name: (f.status, f.reason) for f in report.files}
    assert outcome["big.md"] == ("failed", "tagging failed: too slow to tag (over 0 s)")
    assert outcome["small.md"][0] == "added"
    with Index.open(tmp_path / "index") as index:
        assert [d.source for d in index.documents()] == ["small.md"]


def test_a_module_beside_the_documents_is_not_imported_by_the_parser(files, tmp_path):
    """The child runs `python -P -m ...`: a select.py in the folder synth runs from must not
    be imported (it ran in the child before -P)."""
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "paper.md").write_text(files["small"].read_text())
    marker = tmp_path / "pwned"
    (folder / "select.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit\n")
    synth = Path(sys.executable).with_name("synth")  # the console script, as a user runs it
    done = subprocess.run(
        [str(synth), "ingest", ".", "--index", str(tmp_path / "index"), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists()
    assert "chunks embedded: 1 new" in done.stdout
