"""`synth eval`: metric arithmetic on hand-computed cases, QA file errors, judging, and the CLI."""

from __future__ import annotations

import json
import math

import pytest

from synth.cli import main
from synth.models import Hit
from synth.search.evaluate import (
    Judgment,
    QAFileError,
    Question,
    gains,
    load_qa,
    metrics,
    normalise,
    parse_modes,
    parse_qa,
    passage_matches,
)

# ---------------------------------------------------------------- metrics by hand


def test_metrics_on_three_queries_computed_by_hand():
    # First relevant hit at rank 1, at rank 3, and nowhere.
    ranked = [[1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]]
    m = metrics(ranked, depth=10)
    assert m.n == 3
    assert m.hit_at == {1: pytest.approx(1 / 3), 5: pytest.approx(2 / 3), 10: pytest.approx(2 / 3)}
    assert m.mrr == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert m.ndcg is None


def test_metrics_cut_at_depth_and_hit_at_five():
    ranked = [[0] * 10 + [1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1]]
    m = metrics(ranked, depth=10)
    assert m.hit_at[1] == 0.0
    assert m.hit_at[5] == pytest.approx(1 / 3)  # rank 5 counts, rank 6 does not
    assert m.hit_at[10] == pytest.approx(2 / 3)  # rank 11 is beyond the depth
    assert m.mrr == pytest.approx((0 + 1 / 5 + 1 / 6) / 3)


def test_metrics_small_depth_reports_only_reachable_cutoffs():
    m = metrics([[0, 1, 0]], depth=3)
    assert list(m.hit_at) == [1, 3]
    assert m.hit_at[3] == 1.0
    assert m.mrr == pytest.approx(0.5)


def test_ndcg_graded_by_hand():
    # Judged grades 2 and 1; the ranking puts grade 2 at rank 2 and grade 1 at rank 3.
    m = metrics([[0, 2, 1]], ideal=[[2, 1]], depth=10)
    dcg = (2**2 - 1) / math.log2(3) + (2**1 - 1) / math.log2(4)
    ideal = (2**2 - 1) / math.log2(2) + (2**1 - 1) / math.log2(3)
    assert m.ndcg == pytest.approx(dcg / ideal)
    assert m.ndcg == pytest.approx(0.659, abs=1e-3)
    perfect = metrics([[2, 1, 0]], ideal=[[1, 2]], depth=10)
    assert perfect.ndcg == pytest.approx(1.0)


def test_metrics_of_nothing_are_zero():
    m = metrics([], depth=10)
    assert m.n == 0 and m.mrr == 0.0 and all(v == 0.0 for v in m.hit_at.values())
    with pytest.raises(ValueError):
        metrics([[1]], ideal=[], depth=10)


# ---------------------------------------------------------------- judging hits


def _hit(text: str, source: str = "report.pdf", page: int = 1, page_end: int = 1) -> Hit:
    return Hit("c", "d", text, source, "Title", page, page_end, "", 0.0)


def test_phrase_match_ignores_case_spacing_hyphenation_and_ligatures():
    j = Judgment(line=2, phrase="Teachers' classroom work-\nload fell")
    text = "Over the year TEACHERS\u2019  class-room work load fell, \ufb01nally."
    assert normalise("\ufb01nally") == "finally"
    assert passage_matches(j, text, "x.pdf", 1, 1)
    assert not passage_matches(Judgment(line=2, phrase="workload rose"), text, "x.pdf", 1, 1)


def test_source_and_page_judgment():
    j = Judgment(line=3, source="Tutoring-Trial", page=3)
    assert passage_matches(j, "any text", "tutoring-trial.pdf", 2, 3)
    assert passage_matches(
        Judgment(line=3, source="TUTORING-TRIAL.PDF", page=2), "t", "tutoring-trial.pdf", 2, 3
    )
    assert not passage_matches(j, "any text", "tutoring-trial.pdf", 4, 5)
    assert not passage_matches(j, "any text", "other.pdf", 3, 3)
    # A phrase and a source together must both hold.
    both = Judgment(line=4, phrase="cost per pupil", source="tutoring-trial")
    assert passage_matches(both, "the cost per pupil was low", "tutoring-trial.pdf", 1, 1)
    assert not passage_matches(both, "the cost per pupil was low", "other.pdf", 1, 1)


def test_gains_credit_each_judged_passage_once():
    q = Question(2, "q", [Judgment(2, phrase="alpha beta", grade=2), Judgment(3, phrase="gamma")])
    hits = [_hit("nothing"), _hit("x alpha beta"), _hit("alpha beta again"), _hit("gamma")]
    assert gains(q, hits) == [0.0, 2.0, 0.0, 1.0]


# ---------------------------------------------------------------- reading QA files


def test_qa_file_groups_rows_of_one_query(tmp_path):
    path = tmp_path / "qa.tsv"
    path.write_text(
        "query\tphrase\tsource\tpage\tnote\n"
        "# a comment line\n"
        "cost of tutoring\tabout $3,100\t\t\tfirst\n"
        "\n"
        "cost of tutoring\t\ttutoring-ninth-grade-maths-trial.pdf\t4\tsecond\n"
        "what is TaRL\tgroups children by their current learning level\t\t\t\n",
        encoding="utf-8",
    )
    qa = load_qa(path)
    assert [q.query for q in qa.questions] == ["cost of tutoring", "what is TaRL"]
    assert [q.line for q in qa.questions] == [3, 6]
    first = qa.questions[0].judgments
    assert first[0].phrase == "about $3,100" and first[0].page is None
    assert first[1].source == "tutoring-ninth-grade-maths-trial.pdf" and first[1].page == 4
    assert not qa.graded


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty QA file"),
        ("\n\n  \n", "empty QA file"),
        ("question\tphrase\nq\tp\n", "missing column 'query'"),
        ("query\tnote\nq\tn\n", "needs a 'phrase' column or a 'source' column"),
        ("query\tphrase\tpage\nq\tp\t3\n", "a 'page' column needs a 'source' column"),
        ("query\tphrase\n", "no questions after the header row"),
    ],
)
def test_qa_file_structure_errors(text, message):
    with pytest.raises(QAFileError, match=message):
        parse_qa(text, "qa.tsv")


def test_qa_file_row_errors_name_every_bad_line():
    text = (
        "query\tphrase\tsource\tpage\tgrade\n"
        "good question\ta phrase\t\t\t\n"
        "bad page\t\treport.pdf\tthree\t\n"
        "zero page\t\treport.pdf\t0\t\n"
        "\tlost phrase\t\t\t\n"
        "no judgment\t\t\t\t\n"
        "page alone\t\t\t5\t\n"
        "bad grade\tp\t\t\t-1\n"
        "punctuation only\t...\t\t\t\n"
    )
    with pytest.raises(QAFileError) as err:
        parse_qa(text, "qa.tsv")
    message = str(err.value)
    assert "7 bad line(s)" in message
    for line, what in [
        (3, "bad page number 'three'"),
        (4, "bad page number '0'"),
        (5, "empty query"),
        (6, "needs a phrase, or a source and page"),
        (7, "a page needs a source"),
        (8, "bad grade '-1'"),
        (9, "phrase '...' has no letters or digits"),
    ]:
        assert f"line {line}: {what}" in message
    assert "line 2" not in message


def test_graded_qa_file_and_unreadable_file(tmp_path):
    qa = parse_qa("query\tphrase\tgrade\nq\tp\t2\nq\tr\t\n")
    assert qa.graded
    assert [j.grade for j in qa.questions[0].judgments] == [2, 1]
    bad = tmp_path / "latin1.tsv"
    bad.write_bytes("query\tphrase\nq\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(QAFileError, match="cannot read QA file"):
        load_qa(bad)


def test_parse_modes():
    assert parse_modes("fused, keyword,fused") == ["fused", "keyword"]
    with pytest.raises(ValueError, match="unknown mode"):
        parse_modes("fused,bm25")
    with pytest.raises(ValueError):
        parse_modes(" , ")


# ---------------------------------------------------------------- the command, on the real index

QA_TSV = (
    "query\tphrase\tsource\tpage\tnote\n"
    "Does texting parents help attendance?\t1.6 percentage points higher\t\t\t\n"
    "How much did the catch-up programme cost per child in Zambia?\t"
    "about US$ 9 per learner per year\t\t\t\n"
    "How long do teachers pause after asking a question?\t\t"
    "formative-assessment-brazil-classroom-findings\t2\t\n"
)


def test_cli_eval_prints_every_mode(corpus_index_root, tmp_path, capsys):
    qa = tmp_path / "qa.tsv"
    qa.write_text(QA_TSV, encoding="utf-8")
    code = main(["eval", str(qa), "--index", str(corpus_index_root)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "3 questions" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert set(rows) == {"fused", "dense", "keyword"}
    header = out.splitlines()[1].split()
    assert header == ["mode", "hit@1", "hit@5", "hit@10", "MRR@10"]
    for values in rows.values():
        assert len(values) == 4
        assert all(0.0 <= float(v) <= 1.0 for v in values)
    assert "no passage in the index" not in err


def test_cli_eval_json_and_modes(corpus_index_root, tmp_path, capsys):
    qa = tmp_path / "qa.tsv"
    qa.write_text(
        QA_TSV + "A question about a report we never indexed\tzebra migration routes\t\t\t\n",
        encoding="utf-8",
    )
    code = main(
        ["eval", str(qa), "--index", str(corpus_index_root), "--modes", "keyword,dense", "--k", "5"]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "line 5: no passage in the index" in err
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["keyword", "dense"]

    assert main(["eval", str(qa), "--index", str(corpus_index_root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["modes"]) == {"fused", "dense", "keyword"}
    assert data["n_questions"] == 4 and data["unanswerable_lines"] == [5]
    for scores in data["modes"].values():
        assert set(scores) == {"hit@1", "hit@5", "hit@10", "mrr@10", "n"}
        assert all(0.0 <= scores[key] <= 1.0 for key in scores if key != "n")
    never = data["questions"][3]["first_relevant_rank"]
    assert never == {"fused": None, "dense": None, "keyword": None}


def test_cli_eval_rejects_bad_input(corpus_index_root, tmp_path, capsys):
    qa = tmp_path / "qa.tsv"
    qa.write_text("query\tsource\tpage\nq\treport.pdf\tp. 4\n", encoding="utf-8")
    assert main(["eval", str(qa), "--index", str(corpus_index_root)]) == 2
    assert "line 2: bad page number 'p. 4'" in capsys.readouterr().err
    qa.write_text(QA_TSV, encoding="utf-8")
    assert main(["eval", str(qa), "--index", str(corpus_index_root), "--modes", "sparse"]) == 2
    assert "unknown mode(s) sparse" in capsys.readouterr().err
    assert main(["eval", str(qa), "--index", str(tmp_path / "no-index")]) == 2
