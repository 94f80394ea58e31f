"""One batch of hostile files through `synth ingest`, run as a user runs it: every bad file is a
FAILED line with its reason, the good files land, nothing already indexed is lost, no traceback
reaches the user, and the whole batch finishes within the harness's time limit."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from nasty import (
    billion_laughs,
    bomb_pdf,
    cycle_pdf,
    encrypted_pdf,
    pdf_with_title,
    run_synth,
    text_pdf,
    tree_pdf,
)

from synth.index import Index, ingest

ESC_TITLE = (
    "Forged \x1b[2J\x1b]0;pwned\x07 [x](https://evil.example/) ![](https://evil.example/p.png)"
)
EVIL_NAME = "evil\nFAILED forged.pdf: all good.txt"


def hostile_folder(folder: Path) -> dict[str, str]:
    """Write the batch; returns file name -> the reason it must fail with ("" = must land)."""
    folder.mkdir()
    expect: dict[str, str] = {}

    def write(name: str, data: str | bytes, reason: str) -> None:
        path = folder / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        expect[name] = reason

    write("random.txt", random.Random(1).randbytes(200_000), "binary data, not text")
    write("nul.md", "# Title\n\nText\x00with a NUL byte.\n", "binary data, not text")
    write("empty.txt", "\n\n", "empty file")
    write(EVIL_NAME, b"\x00\x01\x02binary", "binary data, not text")
    write("too-long.txt", "word " * 2_200_000, "too large (11,000,000 characters > limit")
    body = "Pupils in the pilot read aloud to a partner for twenty minutes a day.\n"
    write("escapes.md", f"---\ntitle: {ESC_TITLE}\n---\n\n# Partner Reading\n\n{body}", "")
    write("bad-sidecar.md", "# Homework\n\nHomework clubs met after school.\n", "invalid YAML")
    write("bad-sidecar.md.yaml", "title: [unclosed\n", "")
    write("laughs.md", "# Meals\n\nFree school meals raised attendance.\n", "aliases expand")
    write("laughs.md.yaml", billion_laughs(), "")
    write("year.md", "# Coaching\n\nCoaching sessions for teachers ran monthly.\n", "")
    write("year.md.yaml", "year: " + "9" * 6000 + "\n", "")
    for name in ("bad-sidecar.md.yaml", "laughs.md.yaml", "year.md.yaml"):
        del expect[name]  # sidecars are read with their document, not on their own
    bomb_pdf(folder / "bomb.pdf")
    expect["bomb.pdf"] = "decompression bomb / stream too large"
    cycle_pdf(folder / "cycle.pdf")
    expect["cycle.pdf"] = "corrupt or unreadable PDF"
    encrypted_pdf(folder / "locked.pdf", ["Secret text."], "secret")
    expect["locked.pdf"] = "encrypted PDF (password required)"
    encrypted_pdf(folder / "aes-open.pdf", ["Reading corners helped pupils choose books."], "")
    expect["aes-open.pdf"] = ""
    (folder / "truncated.pdf").write_bytes(
        (text_pdf(folder / "whole.pdf", ["whole"]).read_bytes())[:300]
    )
    (folder / "whole.pdf").unlink()
    expect["truncated.pdf"] = "corrupt or unreadable PDF"
    pdf_with_title(folder / "huge-title.pdf", "T" * 1_100_000, ["Breakfast clubs fed pupils."])
    expect["huge-title.pdf"] = ""
    text_pdf(
        folder / "long-page.pdf",
        [f"row {i}" for i in range(10000)],  # few words to embed
    )
    expect["long-page.pdf"] = ""
    tree_pdf(folder / "deep-tree.pdf", 5000, 1)
    expect["deep-tree.pdf"] = "page tree nested too deep"
    tree_pdf(folder / "doubling-tree.pdf", 40, 2)
    expect["doubling-tree.pdf"] = "page tree too large"
    write("bom-only.md", b"\xef\xbb\xbf\n", "empty file")
    write("brackets.md", "# Note\n\n" + "[" * 10_000 + "word" + "]" * 10_000 + "\n", "")
    write("colours.md", "# Log\n\n" + "\x1b[31mred\x1b[0m pupils read. " * 50 + "\n", "")
    return expect


@pytest.fixture(scope="module")
def batch(tmp_path_factory, make_tiny_pdf, embedder_factory):
    root = tmp_path_factory.mktemp("hostile")
    index = root / "index"
    good = [make_tiny_pdf(key, root / f"{key}.pdf") for key in ("homework-clubs", "school-meals")]
    before = ingest(good, index, embedder=embedder_factory)
    assert before.count("added") == 2
    expect = hostile_folder(root / "batch")
    done = run_synth("ingest", str(root / "batch"), "--index", str(index), "-q", timeout=1200)
    return index, expect, done


def test_every_bad_file_is_one_failed_line_with_its_reason(batch):
    _, expect, done = batch
    assert done.returncode == 0, done.stderr
    names = dict(failed_lines(done.stdout))
    for name, reason in expect.items():
        if reason:
            assert reason in names.get(name, ""), (name, names.get(name), done.stdout)
        else:
            assert name not in names, (name, names[name])
    assert len(names) == sum(1 for r in expect.values() if r)


def failed_lines(out: str) -> list[tuple[str, str]]:
    """(file name, reason) of each FAILED line; a quoted name is read as the JSON it is."""
    found = []
    for line in out.splitlines():
        if not line.startswith("  FAILED "):
            continue
        rest = line.removeprefix("  FAILED ")
        if rest.startswith('"'):
            path, end = json.JSONDecoder().raw_decode(rest)
            reason = rest[end:].removeprefix(": ")
        else:
            path, _, reason = rest.partition(": ")
        found.append((Path(path).name, reason))
    return found


def test_a_file_name_cannot_forge_a_report_line(batch):
    _, _, done = batch
    assert not re.search(r"^FAILED forged", done.stdout, re.M)
    assert json.dumps(EVIL_NAME)[1:-1] in done.stdout  # shown escaped, on its own line


def test_good_files_land_and_nothing_indexed_is_lost(batch):
    index, expect, _ = batch
    with Index.open(index) as idx:
        sources = {d.source for d in idx.documents()}
        titles = {d.title for d in idx.documents()}
    landed = {name for name, reason in expect.items() if not reason}
    assert {"homework-clubs.pdf", "school-meals.pdf"} | landed <= sources
    assert max(len(t) for t in titles) <= 501  # a 1.1M-character /Title is clipped
    assert not any("\x1b" in t for t in titles)


def test_sidecar_warnings_go_to_stderr_as_one_line_each(batch):
    _, _, done = batch
    assert "year.md.yaml: year '9999999999" in done.stderr
    assert "9" * 100 not in done.stderr


def test_search_output_carries_no_terminal_escapes(batch):
    index, _, _ = batch
    done = run_synth("search", "partner reading aloud", "--index", str(index), "--k", "3")
    assert done.returncode == 0
    assert "Forged" in done.stdout
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
