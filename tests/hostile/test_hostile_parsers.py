"""Every parser of untrusted input stays within its documented limits: line joining, long texts,
YAML, JSON, BibTeX, CSV, QA files, toolkit imports, user templates and command-line values.
Each test runs under a harness time limit (`within`), so a regression hangs nothing."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from nasty import bibtex_doubling, billion_laughs, within

from synth.cli import main
from synth.ingest.chunk import chunk_document
from synth.ingest.files import ParseError
from synth.ingest.metadata import MetadataError, load_metadata
from synth.ingest.pages import assemble_page, join_lines, new_document
from synth.ingest.parse import parse_file
from synth.ingest.safeload import MAX_DEPTH, LoadError, load_json, load_yaml


def test_line_joining_is_linear():
    lines = [f"pupils read the book together in pairs and line {i} end-" for i in range(20000)]
    with within(60):
        text = join_lines(lines)
    assert text.count("pupils") == 20000


def test_hard_wrapped_text_file_parses(tmp_path):
    path = tmp_path / "wrapped.txt"
    path.write_text("\n".join("teachers give feedback on written work" for _ in range(10000)))
    with within(60):
        doc = parse_file(path)
    assert doc.pages[0].text.count("feedback") == 10000


def test_text_past_spacys_limit_is_chunked_in_pieces():
    sentence = "Pupils in the trial read aloud with a partner every day. "
    body = sentence * 22_000  # 1.25 million characters in one paragraph
    doc = new_document(
        Path("long.md"), "0" * 64, "Long", [assemble_page(1, [("body", 0, body)])], "markdown"
    )
    with within(240):
        chunks = chunk_document(doc)
    assert sum(len(c.sentences) for c in chunks) >= 22_000


def test_a_word_with_no_end_makes_bounded_chunks():
    doc = new_document(
        Path("x.txt"), "1" * 64, "X", [assemble_page(1, [("body", 0, "x" * 500_000)])], "text"
    )
    chunks = chunk_document(doc)
    # Pieces of 200 x 40 characters; a short last piece may join the one before it.
    assert max(len(c.text) for c in chunks) <= 2 * 200 * 40


def test_tagger_counts_mentions_in_text_past_spacys_limit(embedder):
    from synth.ingest.tag import Tagger, label_vectors
    from synth.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    tagger = Tagger(taxonomy, label_vectors(taxonomy, embedder))
    text = "Schools in Ghana ran the programme. " * 40_000  # 1.4 million characters
    with within(240):
        counts = tagger.mentions(text)
    assert counts[("country", "GH")] >= 40_000


def test_too_large_text_is_refused_before_the_work(tmp_path):
    path = tmp_path / "huge.txt"
    path.write_text("word " * 2_200_001)
    with within(60), pytest.raises(ParseError, match=r"too large \(11,000,005 characters > limit"):
        parse_file(path)


# ---------------------------------------------------------------- YAML, JSON, BibTeX, CSV


def test_yaml_alias_bomb_is_refused(tmp_path):
    path = tmp_path / "library.yaml"
    path.write_text(billion_laughs())
    with within(60), pytest.raises(MetadataError, match="aliases expand to more than"):
        load_metadata(path)


@pytest.mark.parametrize(
    "text", ["[" * 5000 + "]" * 5000, "a:\n" + "".join(f"{' ' * i}b:\n" for i in range(1, 200))]
)
def test_deep_yaml_is_refused(text):
    with within(60), pytest.raises(LoadError, match=f"deeper than {MAX_DEPTH}"):
        load_yaml(text)


def test_huge_integers_stay_text():
    assert load_yaml("year: " + "9" * 6000)["year"] == "9" * 6000
    assert load_json('{"year": ' + "9" * 6000 + "}")["year"] == "9" * 6000


def test_deep_csl_json_is_a_metadata_error(tmp_path):
    path = tmp_path / "library.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with within(60), pytest.raises(MetadataError, match="nested deeper"):
        load_metadata(path)


def test_bibtex_macro_doubling_is_capped(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text(bibtex_doubling())
    with within(60):
        records = load_metadata(path)
    titles = [r.title for r in records]
    assert "A Study of Homework Clubs" in titles and max(map(len, titles)) < 100_000
    assert any("longer than 100,000 characters" in w for w in records.warnings)


def test_csv_field_past_the_limit_skips_the_row(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text('file,title\na.pdf,"' + "x" * 200_000 + '"\nb.pdf,A Good Title For B\n')
    records = load_metadata(path)
    assert [r.files for r in records] == [["b.pdf"]]
    assert any("unreadable CSV row skipped" in w for w in records.warnings)


def test_metadata_file_past_the_size_limit_is_refused(tmp_path, monkeypatch):
    from synth.ingest.metadata import record

    monkeypatch.setattr(record, "MAX_METADATA_BYTES", 1000)
    path = tmp_path / "refs.ris"
    path.write_text("TY  - RPRT\nTI  - " + "x" * 2000 + "\nER  -\n")
    with pytest.raises(MetadataError, match="too large"):
        load_metadata(path)


# ---------------------------------------------------------------- command-line values


def test_qa_file_with_a_huge_cell_is_one_line(tmp_path, corpus_index_root, capsys):
    path = tmp_path / "qa.tsv"
    path.write_text("query\tphrase\nfeedback\t" + "x" * 140_000 + "\n")
    assert main(["eval", str(path), "--index", str(corpus_index_root)]) == 2
    assert "field larger than field limit" in capsys.readouterr().err


def test_a_query_may_start_with_a_dash(corpus_index_root, capsys):
    assert main(["search", "-feedback", "--index", str(corpus_index_root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_an_absurd_year_is_an_argument_error(corpus_index_root, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "search",
                "x",
                "--year-from",
                "99999999999999999999",
                "--index",
                str(corpus_index_root),
            ]
        )
    assert exit_.value.code == 2
    assert "is not a year" in capsys.readouterr().err


def test_queries_split_on_newlines_only(tmp_path, corpus_index_root, capsys):
    path = tmp_path / "queries.txt"
    path.write_text("feedback\u2028marking\x0cpeer tutoring\nphonics\n", encoding="utf-8")
    assert main(["search", "--queries", str(path), "--index", str(corpus_index_root)]) == 0
    assert len(capsys.readouterr().out.strip().split("\n")) == 2


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("binary.json", b"\x00\x01\x02" * 100, "binary data"),
        ("deep.json", b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (
            "typed.json",
            b'[{"id": "x", "title": "T", "topic": "feedback", "padlocks": [1]}]',
            "padlocks",
        ),
    ],
)
def test_toolkit_import_of_a_bad_file_is_one_line(tmp_path, capsys, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    assert main(["toolkit", "import", str(path), "--toolkit", str(tmp_path / "tk.sqlite")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_toolkit_import_reads_a_windows_1252_csv(tmp_path, capsys):
    path = tmp_path / "strands.csv"
    path.write_bytes("id,title,topic\ncafe,Caf\u00e9 reading clubs,feedback\n".encode("cp1252"))
    assert main(["toolkit", "import", str(path), "--toolkit", str(tmp_path / "tk.sqlite")]) == 0
    assert "1 created" in capsys.readouterr().out


# ---------------------------------------------------------------- user templates


@pytest.mark.parametrize(
    "template, message",
    [
        ("{{ 'a' * 1000000000 }}", "repetition longer than"),
        ("{{ 'a'|center(1000000000) }}", "over the template limit"),
        ("{{ 10 ** 10 ** 10 }}", "over the template limit"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "longer than 1 s",
        ),
        ("{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}", "output longer than"),
        # a width hidden inside a printf format string (folded at compile time before)
        ('{{ "%0999999999d" % 1 }}', "over the template limit"),
        ('{{ "%-*d" % (5, 1) }}{{ "{:0999999999}".format(1) }}', "MemoryError"),
        # doubling chains: each step passes every check, the tenth needs 1 GB
        (
            "{% set a = 'x' * 1000000 %}" + "{% set a = a ~ a %}" * 10 + "{{ a|length }}",
            "MemoryError",
        ),
        (
            "{% set ns = namespace(a='x' * 1000000) %}{% for i in range(12) %}"
            "{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a|length }}",
            "MemoryError",
        ),
    ],
)
def test_hostile_templates_stop_with_a_reason(tmp_path, monkeypatch, template, message):
    """Each stops with its reason within the time limit; none takes the parent's memory."""
    from synth.brief import render
    from synth.brief.render import BriefError, render_template

    # 1 s makes the loop cases quick; the memory cases copy a gigabyte on the way to the cap,
    # which a loaded machine may not do within 1 s, so they keep the real deadline
    seconds = render.TEMPLATE_SECONDS if message == "MemoryError" else 1.0
    monkeypatch.setattr(render, "TEMPLATE_SECONDS", seconds)
    (tmp_path / "evil.md.j2").write_text(template)
    with within(60), pytest.raises(BriefError, match=message):
        render_template("evil.md.j2", {}, tmp_path)


def test_a_render_that_never_returns_is_killed_at_the_deadline():
    """One long call that no trace function can interrupt: the child is killed."""
    from synth.brief import isolated

    with within(30), pytest.raises(isolated.Failed, match="longer than 0.5 s"):
        isolated.run(lambda _: time.sleep(60) or "", None, 0.5, 64 * 2**20)


def test_a_render_that_kills_itself_is_reported(tmp_path):
    from synth.brief import isolated

    with pytest.raises(isolated.Failed, match="killed by signal 9"):
        isolated.run(lambda _: os.kill(os.getpid(), 9) or "", None, 5, 64 * 2**20)


def test_a_render_does_not_hold_another_renders_pipe_open():
    """A forked child closes every descriptor but its own pipe: one kept open would make
    another thread's render wait for this child (a slow template held up a fast one)."""
    from synth.brief import isolated

    read_end, write_end = os.pipe()  # as another render's pipe, open in this process
    try:
        listed = isolated.run(lambda _: " ".join(os.listdir("/proc/self/fd")), None, 10, 2**26)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert str(write_end) not in listed.split() and str(read_end) not in listed.split()
