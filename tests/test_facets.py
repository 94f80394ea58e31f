"""Facets end to end on real indexes: rule and model tags, manifest and curator precedence,
overrides that survive re-ingest, and filtered search that is exact on both retrievers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from synth.cli import main
from synth.index import Index, ingest, update_tags
from synth.index.facets import parse_where
from synth.ingest.chunk import ChunkSettings
from synth.ingest.tag import ChunkInput, Tagger
from synth.models import Filters
from synth.search import SearchSettings, search, search_faceted
from synth.taxonomy import TaxonomyError, load_taxonomy

REPO = Path(__file__).resolve().parents[1]
N_DOCS = 10
SENTENCES_PER_DOC = 100
SMALL = ChunkSettings(min_words=1, max_words=14, overlap_sentences=0)
TOPICS = ["reading", "fractions", "attendance", "homework", "feedback", "tutors", "games", "music"]


def _sentence(doc: int, i: int) -> str:
    topic = TOPICS[(doc + i) % len(TOPICS)]
    return f"Pupils in cohort {doc}-{i} worked on {topic} tasks during week {i % 13}."


@pytest.fixture(scope="session")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="session")
def tagger(taxonomy, embedder):
    from synth.ingest.tag import label_vectors

    return Tagger(taxonomy, label_vectors(taxonomy, embedder))


@pytest.fixture(scope="session")
def thousand(tmp_path_factory, embedder_factory):
    """About 1,000 one-sentence chunks in ten files; the tenth is three chunks tagged by sidecar."""
    folder = tmp_path_factory.mktemp("thousand")
    for d in range(N_DOCS - 1):
        body = " ".join(_sentence(d, i) for i in range(SENTENCES_PER_DOC + 11))
        (folder / f"cohort-{d}.md").write_text(f"# Cohort {d} log\n\n{body}\n")
    (folder / "selected.md").write_text(
        "# Selected cohort\n\n"
        "Pupils practised reading aloud with a partner every single morning before lessons. "
        "Teachers marked the fractions homework with short written comments for every pupil. "
        "Attendance rose steadily after families received weekly text messages from school.\n"
    )
    (folder / "selected.yaml").write_text("country: [Ghana]\nphase: [primary]\nyear: 2021\n")
    root = folder / "index"
    report = ingest([folder], root, settings=SMALL, embedder=embedder_factory)
    assert report.count("failed") == 0, report.files
    return root


def test_rules_tag_country_region_design_phase_setting(tagger):
    tags = tagger.tag_chunk(
        ChunkInput(
            "A cluster-randomised controlled trial in rural Ghana followed primary school "
            "pupils; Ghanaian teachers led the sessions.",
            "Findings",
        )
    )
    got = {(t.facet, t.value): t for t in tags}
    assert ("country", "GH") in got and got[("country", "GH")].origin == "rule"
    assert ("region", "sub-saharan-africa") in got
    assert ("income", "lower-middle") in got
    assert ("design", "rct") in got
    assert ("setting", "rural") in got
    assert ("phase", "primary") in got


def test_longest_name_wins_and_case_matters_for_short_names(tagger):
    countries = {
        t.value
        for t in tagger.tag_chunk(ChunkInput("Schools in Papua New Guinea told us a lot.", ""))
        if t.facet == "country"
    }
    assert countries == {"PG"}


def test_reference_sections_are_not_tagged(tagger):
    chunk = ChunkInput(
        "Banerjee, A. (2016). Teaching at the right level in India and Kenya.", "References"
    )
    assert tagger.tag_chunk(chunk) == []


def test_model_tags_a_topic_the_text_never_names(tagger, embedder):
    text = (
        "Each week the teacher read pupils' drafts and wrote two comments on what they did "
        "well and one on what to improve; pupils then revised their work in class."
    )
    assert not [t for t in tagger.tag_chunk(ChunkInput(text, "")) if t.origin == "model"]
    vector = embedder.encode([text])[0]
    topics = [t for t in tagger.tag_chunk(ChunkInput(text, "", vector)) if t.facet == "topic"]
    assert topics and topics[0].value in {"feedback", "formative-assessment"}
    assert all(0 < t.confidence <= 1 for t in topics)


def test_parse_where_resolves_labels_synonyms_and_rejects_unknowns(taxonomy):
    filters = parse_where(
        ["country=Ghana,kenyan", "phase=Primary", "evidence-type=research evidence", "year=2019"],
        taxonomy,
    )
    assert filters.values["country"] == ("GH", "KE")
    assert filters.values["phase"] == ("primary",)
    assert filters.values["evidence_type"] == ("research-evidence",)
    assert (filters.year_from, filters.year_to) == (2019, 2019)
    for bad in (["country=Atlantis"], ["colour=red"], ["country"], ["phase="]):
        with pytest.raises(TaxonomyError):
            parse_where(bad, taxonomy)


def _brute_force(index: Index, embedder, query: str, allowed: np.ndarray, k: int) -> list[int]:
    rows = index.query(
        "SELECT c.id, e.vector FROM chunks c JOIN embeddings e ON e.hash = c.embed_hash "
        "WHERE c.id IN (SELECT value FROM json_each(?))",
        (json.dumps(allowed.tolist()),),
    )
    vectors = np.stack([np.frombuffer(r[1], dtype="float32") for r in rows])
    scores = vectors @ embedder.encode_query(query).reshape(-1)
    order = np.lexsort(([r[0] for r in rows], -scores))
    return [rows[i][0] for i in order[:k]]


def test_filter_matching_three_of_a_thousand_returns_those_three_ranked(thousand, embedder):
    with Index.open(thousand) as index:
        n = index.query("SELECT COUNT(*) FROM chunks")[0][0]
        assert n >= 1000
        filters = Filters({"country": ("GH",)})
        allowed = index.filter_ids(filters, 0.5)
        assert len(allowed) == 3
        for mode in ("dense", "fused"):
            hits = search(
                index, embedder, "homework comments", SearchSettings(k=10, mode=mode), filters
            )
            assert {h.source for h in hits} == {"selected.md"} and len(hits) == 3
        dense = search(
            index, embedder, "homework comments", SearchSettings(k=10, mode="dense"), filters
        )
        expected = _brute_force(index, embedder, "homework comments", allowed, 10)
        got = [
            index.query("SELECT id FROM chunks WHERE chunk_id = ?", (h.chunk_id,))[0][0]
            for h in dense
        ]
        assert got == expected
        keyword = search(index, embedder, "homework", SearchSettings(k=10, mode="keyword"), filters)
        assert [h.source for h in keyword] == ["selected.md"]
        assert all(h.facets["country"] == ["GH"] for h in dense)


def test_filter_returns_exactly_k_best_among_many(thousand, embedder):
    with Index.open(thousand) as index:
        doc = index.find_documents(["cohort-4.md"])[0]
        allowed = np.array(
            [r[0] for r in index.query("SELECT id FROM chunks WHERE doc_id = ?", (doc.doc_id,))]
        )
        assert len(allowed) > 50
        query = "pupils worked on fractions tasks"
        expected = _brute_force(index, embedder, query, allowed, 7)
        got = index.dense_search(embedder.encode_query(query), 7, allowed)
        assert [rowid for rowid, _ in got] == expected


def test_year_and_phase_filters_and_facet_counts(thousand, embedder, taxonomy):
    with Index.open(thousand) as index:
        result = search_faceted(
            index, embedder, "", filters=Filters({"phase": ("primary",)}, 2020, 2022)
        )
        assert result.n_allowed == 3 and result.hits == []
        counts = {c.value: c for c in result.facets["country"]}
        assert counts["GH"].chunks == 3 and counts["GH"].documents == 1
        none = search_faceted(index, embedder, "reading", filters=Filters({}, 2023, None))
        assert none.n_allowed == 0 and none.hits == []
        everything = search_faceted(index, embedder, "reading", SearchSettings(k=5))
        assert len(everything.hits) == 5 and everything.n_allowed is None


def test_manifest_sidecar_overrides_automatic_tags(thousand):
    with Index.open(thousand) as index:
        doc = index.find_documents(["selected.md"])[0]
        tags = index.document_tags(doc.doc_id)
        by = {(t.facet, t.value): t.origin for t in tags.tags}
        assert by[("country", "GH")] == "manifest"
        assert by[("region", "sub-saharan-africa")] == "manifest"
        assert by[("year", "2021")] == "manifest"
        assert tags.metadata is not None and tags.metadata.year == 2021


def test_curator_overrides_survive_reingest_of_a_changed_file(tmp_path, embedder_factory):
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = folder / "visit.md"
    doc.write_text(
        "# School visit\n\nA study of primary schools in Kenya. Kenyan teachers ran clubs in "
        "Nairobi. Kenya's ministry supported the clubs in many counties.\n"
    )
    root = tmp_path / "index"
    ingest([folder], root, embedder=embedder_factory)
    update_tags(
        "visit.md", [("country", "UG", "set"), ("country", "KE", "unset")], root, note="site"
    )

    def countries() -> dict[str, str]:
        with Index.open(root) as index:
            d = index.find_documents(["visit.md"])[0]
            return {
                t.value: t.origin
                for t in index.document_tags(d.doc_id).tags
                if t.facet == "country"
            }

    assert countries() == {"UG": "curator"}
    doc.write_text(doc.read_text() + "\nMore Kenyan schools joined in the second year.\n")
    report = ingest([folder], root, embedder=embedder_factory)
    assert report.count("replaced") == 1
    assert countries() == {"UG": "curator"}
    with Index.open(root) as index:
        assert len(index.filter_ids(Filters({"country": ("KE",)}), 0.5)) == 0, (
            "unset hides chunk tags"
        )
        assert len(index.filter_ids(Filters({"country": ("UG",)}), 0.5)) > 0
    ingest(
        [folder],
        root,
        settings=ChunkSettings(min_words=20, max_words=60),
        embedder=embedder_factory,
    )
    assert countries() == {"UG": "curator"}


def test_cli_search_where_facets_and_tag_commands(thousand, capsys):
    assert (
        main(
            [
                "search",
                "homework",
                "--index",
                str(thousand),
                "--where",
                "country=Ghana",
                "--facets",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["n_allowed"] == 3 and len(out["hits"]) == 3
    assert out["filters"] == {"country": ["GH"]}
    assert {c["value"] for c in out["facets"]["country"]} == {"GH"}
    assert main(["search", "x", "--index", str(thousand), "--where", "country=Atlantis"]) == 2
    assert "Atlantis" in capsys.readouterr().err
    assert main(["tag", "show", "selected.md", "--index", str(thousand), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {"facet": "country", "value": "GH", "origin": "manifest", "confidence": 1.0} in shown[
        "tags"
    ]
    assert main(["tag", "set", "nothing.md", "phase=primary", "--index", str(thousand)]) == 2


METADATA = Path(__file__).parent / "data" / "metadata"
BIBTEX = """@article{reyes_2022,
  title = {High-Dosage Maths Tutoring in Ninth Grade: {A} Randomised Trial},
  author = {Reyes, Marisol and Okafor, Chidi},
  year = {2022},
  journal = {Journal of Research on Educational Effectiveness},
  doi = {10.1080/19345747.2022.1000001},
  keywords = {tutoring, mathematics},
  file = {Full Text PDF:files/3/tutoring-ninth-grade-maths-trial.pdf:application/pdf},
}
"""


def test_ingest_with_ris_csl_json_and_bibtex_exports(tmp_path, capsys):
    """Zotero-shaped exports attach to the right files and their years drive year filters."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in (
        "teaching-assistants-ghana-evidence-summary.pdf",
        "parent-text-messages-chile-trial.pdf",
        "tutoring-ninth-grade-maths-trial.pdf",
        "feedback-primary-review.pdf",
    ):
        shutil.copy(REPO / "corpus" / name, folder / name)
    bib = tmp_path / "library.bib"
    bib.write_text(BIBTEX)
    root = tmp_path / "index"
    argv = ["ingest", str(folder), "--index", str(root), "-q"]
    for export in (METADATA / "zotero.ris", METADATA / "zotero-csl.json", bib):
        argv += ["--metadata", str(export)]
    assert main(argv) == 0
    capsys.readouterr()
    with Index.open(root) as index:

        def meta(name: str):
            return index.document_tags(index.find_documents([name])[0].doc_id).metadata

        ghana = meta("teaching-assistants-ghana-evidence-summary.pdf")
        assert ghana is not None and ghana.doi == "10.5555/vep.2020.11"
        assert ghana.authors == ["Asante, Yaw", "Boateng, Efua"] and ghana.year == 2020
        chile = meta("parent-text-messages-chile-trial.pdf")
        assert chile is not None and chile.origin.startswith("zotero-csl.json")
        tutoring = meta("tutoring-ninth-grade-maths-trial.pdf")
        assert (
            tutoring is not None
            and tutoring.year == 2022
            and tutoring.origin.startswith("library.bib")
        )
        assert meta("feedback-primary-review.pdf") is None
        years = {
            d.source: [t.value for t in index.document_tags(d.doc_id).tags if t.facet == "year"]
            for d in index.documents()
        }
        assert years["tutoring-ninth-grade-maths-trial.pdf"] == ["2022"]
        in_2022 = index.filter_ids(Filters({}, 2022, 2022), 0.6)
        sources = {r.source for r in index.chunks(in_2022.tolist()).values()}
        assert "tutoring-ninth-grade-maths-trial.pdf" in sources
        assert "teaching-assistants-ghana-evidence-summary.pdf" not in sources
    bib.write_text(BIBTEX.replace("2022", "2023"))
    assert main(["ingest", str(folder), "--index", str(root), "-q", "--metadata", str(bib)]) == 0
    with Index.open(root) as index:
        doc = index.find_documents(["tutoring-ninth-grade-maths-trial.pdf"])[0]
        assert index.document_tags(doc.doc_id).metadata.year == 2023, "unchanged file, new record"
        ghana = index.find_documents(["teaching-assistants-ghana-evidence-summary.pdf"])[0]
        assert index.document_tags(ghana.doc_id).metadata is not None, "earlier import is kept"


def test_words_in_most_chunks_are_dropped_from_keyword_queries(thousand, embedder):
    """Past 1,000 chunks, a stem in over half of them ("week" from "weeks") is not worth scoring."""
    from synth.index.keyword import fts_query

    with Index.open(thousand) as index:
        common = index.keyword.common_words(["pupils", "weeks", "fractions", "selected"])
        assert common == {"pupils", "weeks"}
        assert fts_query("Pupils weeks fractions", common) == '"fractions"'
        assert fts_query("pupils weeks", common) == '"pupils" OR "weeks"', "nothing else left"
        hits = search(index, embedder, "pupils fractions", SearchSettings(k=5, mode="keyword"))
        assert len(hits) == 5 and all("fractions" in h.text for h in hits)


def test_an_open_index_remembers_its_last_filters(corpus_index):
    """The same filter (values in any order) gives the same read-only rowids without SQLite;
    the remembered filters stay few, and what is remembered equals a fresh resolution."""
    from synth.index import reader

    facet, value, other = corpus_index.query(
        "SELECT facet, min(value), max(value) FROM doc_tags WHERE facet = 'country'"
    )[0]
    first = corpus_index.filter_ids(Filters({facet: (value, other)}), 0.6)
    assert len(first) > 0 and not first.flags.writeable
    assert corpus_index.filter_ids(Filters({facet: (other, value)}), 0.6) is first
    assert corpus_index.filter_ids(Filters({facet: (value, other)}), 0.9) is not first
    for year in range(2000, 2000 + 2 * reader.FILTER_CACHE_SIZE):
        corpus_index.filter_ids(Filters({}, year, year), 0.6)
    assert len(corpus_index._filtered) == reader.FILTER_CACHE_SIZE
    again = corpus_index.filter_ids(Filters({facet: (value, other)}), 0.6)
    assert again is not first and again.tolist() == first.tolist()
    corpus_index.forget_filters()
    assert corpus_index.filter_ids(Filters({facet: (value, other)}), 0.6) is not again
