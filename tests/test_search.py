"""Search over the sample corpus: relevance, hit fields, and hostile queries in every mode."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from synth.index.keyword import MAX_QUERY_TERMS, fts_query
from synth.models import Hit
from synth.search import SearchSettings, clean_query, search

MODES = ("fused", "dense", "keyword")

HOSTILE = [
    "",
    " ",
    "\t\n  \r",
    "x" * 10_000,
    "homework " * 2_000,
    '"',
    '""""',
    "AND(",
    "OR",
    "NOT",
    "*",
    "-",
    "^",
    "NEAR(a b)",
    "NEAR(",
    "title:foo",
    "text:parents OR section:",
    "{text section}: maths",
    "parents*",
    "😀🎓📚",
    "التعليم في المدارس الابتدائية",
    "家长短信与出勤率",
    "'; DROP TABLE chunks;--",
    "\x00\x01\x1b[31m",
    "\ud800 lone surrogate",
    "a_b ___ _",
    "(((((((",
    "' OR 1=1 --",
    "%_%",
]


# ---------------------------------------------------------------- relevance

PARAPHRASES = [
    (
        "Does texting families about how often their child misses school make a difference?",
        "parent-text-messages-chile-trial.pdf",
    ),
    (
        "older children helping younger classmates learn to read",
        "peer-tutoring-kenya-observation.pdf",
    ),
    (
        "intensive daily small-group maths support for high school freshmen",
        "tutoring-ninth-grade-maths-trial.pdf",
    ),
    (
        "why do teenage girls drop out before finishing secondary education",
        "girls-secondary-retention-sierra-leone-data-brief.pdf",
    ),
    (
        "supporting parents of young children in refugee camps",
        "caregiver-coaching-coxs-bazar-practice-note.pdf",
    ),
]


@pytest.mark.parametrize(("question", "expected"), PARAPHRASES)
def test_paraphrased_question_finds_its_report(corpus_index, embedder, question, expected):
    hits = search(corpus_index, embedder, question, SearchSettings(k=10))
    assert expected in [h.source for h in hits[:3]], [h.source for h in hits[:5]]


def test_dense_search_alone_understands_paraphrase(corpus_index, embedder):
    question = "sending SMS updates to mums and dads about grades and absences"
    hits = search(corpus_index, embedder, question, SearchSettings(k=3, mode="dense"))
    assert hits[0].source == "parent-text-messages-chile-trial.pdf"


def test_keyword_search_finds_a_rare_exact_term(corpus_index):
    hits = search(corpus_index, None, "Valparaiso", SearchSettings(k=5, mode="keyword"))
    assert hits and {h.source for h in hits} == {"parent-text-messages-chile-trial.pdf"}
    assert all("Valparaiso" in h.text for h in hits)


def test_hits_carry_everything_needed_to_cite(corpus_index, embedder):
    hits = search(corpus_index, embedder, "teacher coaching and reading", SearchSettings(k=7))
    assert len(hits) == 7
    docs = {d.doc_id: d for d in corpus_index.documents()}
    assert [h.rank for h in hits] == list(range(1, 8))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    for hit in hits:
        assert isinstance(hit, Hit)
        doc = docs[hit.doc_id]
        assert hit.source == doc.source and hit.title == doc.title
        assert 1 <= hit.page <= hit.page_end <= doc.n_pages
        row = corpus_index.query(
            "SELECT text, section, page_start, page_end FROM chunks WHERE chunk_id = ?",
            (hit.chunk_id,),
        )[0]
        assert (hit.text, hit.section, hit.page, hit.page_end) == tuple(row)
        assert hit.chunk_id.startswith(hit.doc_id + "-")
        assert hit.dense_score is not None or hit.keyword_score is not None
        if hit.dense_score is not None:
            assert -1.0 <= hit.dense_score <= 1.0001
        # the first sentence of the hit sits on the hit's first page
        page, start, end = corpus_index.chunk_sentences(hit.chunk_id)[0]
        assert page == hit.page
        assert corpus_index.page_text(hit.doc_id, page)[start:end] == hit.text[: end - start]
    json.dumps([h.to_json() for h in hits])


@pytest.mark.parametrize("mode", MODES)
def test_k_limits_results(corpus_index, embedder, mode):
    for k in (1, 3, 12):
        hits = search(corpus_index, embedder, "parents attendance", SearchSettings(k=k, mode=mode))
        assert len(hits) == k
        assert len({h.chunk_id for h in hits}) == k
    assert search(corpus_index, embedder, "parents", SearchSettings(k=0, mode=mode)) == []
    assert search(corpus_index, embedder, "parents", SearchSettings(k=-3, mode=mode)) == []


def test_fused_mixes_both_signals(corpus_index, embedder):
    hits = search(corpus_index, embedder, "text messages attendance", SearchSettings(k=20, pool=60))
    assert any(h.dense_score is not None and h.keyword_score is not None for h in hits)
    # alpha is the dense share of weighted fusion (RRF, the default, has no alpha)
    dense_only = search(
        corpus_index,
        embedder,
        "text messages attendance",
        SearchSettings(k=5, alpha=1.0, fusion="weighted"),
    )
    dense = search(
        corpus_index, embedder, "text messages attendance", SearchSettings(k=5, mode="dense")
    )
    assert [h.chunk_id for h in dense_only] == [h.chunk_id for h in dense]


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: repr(q[:16]))
def test_hostile_queries_never_raise(corpus_index, embedder, mode, query):
    hits = search(corpus_index, embedder, query, SearchSettings(k=5, mode=mode))
    assert isinstance(hits, list) and len(hits) <= 5
    assert all(isinstance(h, Hit) for h in hits)
    if not clean_query(query):
        assert hits == []


@pytest.mark.parametrize("mode", MODES)
def test_blank_queries_return_nothing(corpus_index, embedder, mode):
    for query in ("", " ", "\n\t", "\x00\x07"):
        assert search(corpus_index, embedder, query, SearchSettings(mode=mode)) == []


def test_operators_in_queries_are_plain_words(corpus_index):
    """'title:foo' is not a column filter and NEAR/AND are not operators once quoted."""
    assert fts_query("title:foo") == '"title" OR "foo"'
    assert fts_query("NEAR(a b)") == '"near" OR "a" OR "b"'
    assert fts_query("AND(") == '"and"'
    assert fts_query("'; DROP TABLE chunks;--") == '"drop" OR "table" OR "chunks"'
    for query in ('"', "*", "-", "😀🎓", "   ", ""):
        assert fts_query(query) == ""
    assert fts_query("家长短信") == '"家长短信"'
    assert fts_query("Parents parents PARENTS") == '"parents"'
    many = " ".join(f"w{i}" for i in range(200))
    assert fts_query(many).count(" OR ") == MAX_QUERY_TERMS - 1
    # the table survives a query that names it
    before = corpus_index.query("SELECT COUNT(*) FROM chunks")[0][0]
    search(corpus_index, None, "'; DROP TABLE chunks;--", SearchSettings(mode="keyword"))
    assert corpus_index.query("SELECT COUNT(*) FROM chunks")[0][0] == before


@pytest.fixture(scope="module")
def fts_db():
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(text, section, title, "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.executemany(
        "INSERT INTO t VALUES (?,?,?)",
        [
            ("Parents received text messages about attendance.", "Findings", "Chile trial"),
            ("Tutors met pupils daily for maths.", "Design", "Tutoring"),
            ("Das Café in Zürich nutzt التعليم und 教育.", "Other", "Mixed scripts"),
        ],
    )
    yield db
    db.close()


def test_raw_hostile_queries_do_break_fts5(fts_db):
    """The reason fts_query exists: these strings are FTS5 syntax errors when passed raw."""
    for raw in ('"', "AND(", "NEAR(", "*", "-", "(((((((", "text:parents OR section:"):
        with pytest.raises(sqlite3.OperationalError):
            fts_db.execute("SELECT rowid FROM t WHERE t MATCH ?", (raw,)).fetchall()


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: repr(q[:16]))
def test_fts_query_is_always_valid_fts5(fts_db, query):
    match = fts_query(clean_query(query))
    assert re.fullmatch(r'("[^"]+")( OR "[^"]+")*|', match), match
    if match:
        rows = fts_db.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,)).fetchall()
        assert isinstance(rows, list)
    # and straight from the raw query too (clean_query is not what makes it safe)
    raw_match = fts_query(query)
    if raw_match:
        fts_db.execute("SELECT rowid FROM t WHERE t MATCH ?", (raw_match,)).fetchall()


def test_fts_query_matches_stemmed_and_non_latin_words(fts_db):
    def rows(q):
        return [
            r[0] for r in fts_db.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts_query(q),))
        ]

    assert rows("parent message") == [1]  # porter stemming
    assert rows("tutor") == [2]
    assert rows("cafe zurich") == [3]  # diacritics removed
    assert rows("التعليم") == [3]
    assert rows("title:Chile") == [1]
