"""Study records: what a document is, where it took place and what it found, and search by study.

Records are built by the real parser, chunker and spaCy phrase rules from the shipped corpus
and from small reports written here; the index tests use the session's corpus index.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from synth.cli import main
from synth.index import Index, ingest, update_tags
from synth.ingest.chunk import chunk_document
from synth.ingest.parse import parse_file
from synth.ingest.study import build_record, chunk_role
from synth.ingest.study.effects import find_effects
from synth.models import Filters
from synth.search import SearchSettings, search
from synth.search.studies import describe, search_studies

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
OLD_INDEX = Path(__file__).parent / "data" / "index-v0.1"


def record_of(path: Path):
    doc = parse_file(path)
    return doc, build_record(doc, chunk_document(doc))


def record_of_text(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return record_of(path)


# ---------------------------------------------------------------- records from real reports


def test_a_trial_summary_is_a_primary_rct_in_chile_with_its_printed_effects():
    doc, record = record_of(CORPUS / "parent-text-messages-chile-trial.pdf")
    assert (record.kind, record.design, record.countries) == ("primary-study", "rct", ["CL"])
    assert not record.multi_country
    assert "primary" in record.phase and record.setting == ["urban"]
    assert record.sample is not None and (record.sample.size, record.sample.unit) == (
        3612,
        "pupils",
    )
    effects = {(e.value, e.unit) for f in record.findings for e in f.effects}
    assert {(1.6, "pp"), (0.07, "sd")} <= effects
    headline = record.headline
    assert headline is not None and headline.effect == find_effects(headline.text)[0]
    assert headline.direction == "positive" and headline.outcome == "attendance"
    pages = {p.number: p.text for p in doc.pages}
    for finding in record.findings:
        assert pages[finding.page][finding.start : finding.end] == finding.text


def test_a_review_is_a_review_whatever_designs_it_reports():
    _, record = record_of(CORPUS / "teacher-coaching-south-africa-review.pdf")
    assert record.kind == "systematic-review" and record.design == "systematic-review"
    assert "rct" in record.reviewed_designs, "the Early Grade Reading Study it reviews"
    assert record.countries[0] == "ZA"
    sizes = {e.value for f in record.findings for e in f.effects}
    assert {0.24, 0.12} <= sizes


def test_designs_and_countries_in_citations_are_not_the_documents_own(tmp_path):
    _, record = record_of_text(
        tmp_path,
        "guide.md",
        "---\ntitle: Reading Aloud in Class: A Guidance Note\n---\n\n"
        "# Reading Aloud in Class: A Guidance Note\n\n"
        "This guidance note gives practical advice from experienced teachers in our network of "
        "primary schools in Wales.\n\n## What the research says\n\n"
        "A randomised controlled trial by Smith and colleagues (2019) in Kenya found that "
        "reading aloud every day raised reading scores by 0.2 standard deviations. "
        "Jones (2020) reported similar gains in a quasi-experimental study in India.\n\n"
        "## Advice\n\nRead aloud every day, and ask pupils to predict what happens next. "
        "Choose books slightly above the level pupils can read alone.\n",
    )
    assert record.kind == "practice-guide"
    assert record.design in (None, "practitioner-account")
    assert record.countries == ["GB"], "Wales; Kenya and India are cited studies"
    assert {"KE", "IN"} <= set(record.countries_mentioned)


def test_a_document_with_no_evidence_gets_empty_fields_not_guesses(tmp_path):
    _, record = record_of_text(
        tmp_path,
        "note.md",
        "# Notes on Our Library Corner\n\nThe library corner has new shelves and cushions. "
        "Children choose books at break time and take them home on Fridays. "
        "An effect size of 0.4 is often translated into several months of progress.\n",
    )
    assert record.design is None and record.countries == [] and record.phase == []
    assert record.sample is None
    assert all(not f.effects for f in record.findings), "a rule of thumb is not a finding"


def test_a_state_places_a_study_in_its_country(tmp_path):
    _, record = record_of_text(
        tmp_path,
        "recife.md",
        "# Homework Clubs in Recife\n\nThis study followed 400 pupils in 12 public schools in "
        "Pernambuco during 2022. Pupils who attended the clubs scored higher in mathematics.\n",
    )
    assert record.countries == ["BR"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scored 0.37 standard deviations higher", [(0.37, "sd")]),
        ("a pooled effect of g = 0.29 (95% CI 0.21 to 0.37)", [(0.29, "g")]),
        ("Cohen's d = −0.12", [(-0.12, "d")]),
        ("1.6 percentage points higher", [(1.6, "pp")]),
        ("around four months of additional progress", [(4.0, "months")]),
        ("an odds ratio of 1.8", [(1.8, "odds-ratio")]),
        ("0.24 SD for coaching and 0.12 SD for training", [(0.24, "sd"), (0.12, "sd")]),
        ("85% attendance, 120 pupils, Grade 4 SDs, 12 months later", []),
    ],
)
def test_effect_sizes_are_read_only_with_their_printed_unit(text, expected):
    assert [(e.value, e.unit) for e in find_effects(text)] == expected


def test_reference_lists_and_contents_are_not_content(tmp_path):
    doc, _ = record_of(CORPUS / "feedback-primary-review.pdf")
    chunks = chunk_document(doc)
    roles = {chunk_role(c, doc.title) for c in chunks}
    assert "references" in roles and "content" in roles
    body = "\n".join(f"Introduction {'.' * 12} {n}" for n in range(3, 9))
    path = tmp_path / "toc.md"
    path.write_text(f"# A Report\n\n## Contents\n\n{body}\n\n## Introduction\n\nSchools read.\n")
    toc = parse_file(path)
    assert "contents" in {chunk_role(c, toc.title) for c in chunk_document(toc)}


# ---------------------------------------------------------------- records in the index


def test_the_index_stores_a_record_for_every_document(corpus_index):
    records = corpus_index.studies()
    assert len(records) == len(corpus_index.documents()) == 14
    chile = next(r for r in records.values() if r.countries == ["CL"])
    assert corpus_index.study(chile.doc_id) == chile
    assert "Randomised controlled trial" in describe(chile) and "Chile" in describe(chile)


def test_reference_lists_are_never_hits(corpus_index, embedder):
    row = corpus_index.query(
        "SELECT c.text FROM chunks c JOIN chunk_roles r ON r.chunk = c.id "
        "WHERE r.role = 'references' LIMIT 1"
    )[0]
    hits = search(corpus_index, embedder, row[0][:300], SearchSettings(k=20))
    roles = dict(
        corpus_index.query(
            "SELECT c.chunk_id, r.role FROM chunks c JOIN chunk_roles r ON r.chunk = c.id"
        )
    )
    assert hits and all(roles[h.chunk_id] == "content" for h in hits)


def test_document_filters_use_the_documents_own_values(corpus_index, embedder):
    """The Chile trial mentions US studies in its background; it is not a US document."""
    us = search(corpus_index, embedder, "text messages to parents", SearchSettings(k=20),
                Filters({"country": ("US",)}))  # fmt: skip
    assert us and all("chile" not in h.source for h in us)
    lmic = search(
        corpus_index, embedder, "reading", SearchSettings(k=50), Filters({"income": ("lmic",)})
    )
    sources = {h.source for h in lmic}
    assert "peer-tutoring-kenya-observation.pdf" in sources
    assert not {s for s in sources if "feedback" in s or "tutoring-ninth" in s}, "high income"


def test_search_by_study_gives_one_card_per_document_with_counts_in_documents(
    corpus_index, embedder
):
    result = search_studies(
        corpus_index, embedder, "does tutoring raise maths scores", SearchSettings(k=5)
    )
    doc_ids = [s.doc_id for s in result.studies]
    assert len(doc_ids) == len(set(doc_ids)) and 1 <= len(doc_ids) <= 5
    top = result.studies[0]
    assert (
        top.record is not None
        and top.passages
        and all(p.doc_id == top.doc_id for p in top.passages)
    )
    assert not result.no_close_match and result.n_matching >= len(doc_ids)
    phases = {c.value: c.documents for c in result.facets["phase"]}
    assert all(0 < n <= result.n_matching for n in phases.values())
    nothing = search_studies(corpus_index, embedder, "zzqxv blorp fnord", SearchSettings(k=5))
    assert nothing.no_close_match and nothing.studies == []


def test_cli_studies_prints_one_json_object_per_document(corpus_index_root, capsys):
    assert main(["studies", "--index", str(corpus_index_root), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 14 and all(
        {"kind", "design", "countries", "findings"} <= set(x) for x in lines
    )
    args = ["studies", "--index", str(corpus_index_root), "--where", "country=Chile", "--json"]
    assert main(args) == 0
    only = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [x["countries"] for x in only] == [["CL"]]


def test_a_curator_correction_overrides_the_record_and_survives_reingest(
    tmp_path, embedder_factory
):
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(CORPUS / "parent-text-messages-chile-trial.pdf", folder)
    root = tmp_path / "index"
    ingest([folder], root, embedder=embedder_factory)
    doc_id = update_tags(
        "parent-text-messages-chile-trial.pdf",
        [("country", "AR", "set"), ("country", "CL", "unset")],
        root,
    )
    with Index.open(root) as index:
        assert index.study(doc_id).countries == ["AR"]
    (folder / "note.md").write_text("# A Note\n\nPupils read books in the library every day.\n")
    ingest([folder], root, embedder=embedder_factory)
    with Index.open(root) as index:
        assert index.study(doc_id).countries == ["AR"]


def test_an_index_from_before_study_records_gets_them_at_its_next_ingest(
    tmp_path, embedder_factory
):
    root = tmp_path / "index"
    shutil.copytree(OLD_INDEX, root)
    with Index.open(root) as index:
        assert not index.has_studies and index.study(index.documents()[0].doc_id) is None
    (tmp_path / "new.md").write_text("# Reading Corners\n\nSchools set up reading corners.\n")
    ingest([tmp_path / "new.md"], root, embedder=embedder_factory)
    with Index.open(root) as index:
        records = index.studies()
        assert len(records) == 3
        feedback = next(d for d in index.documents() if d.source.startswith("feedback"))
        assert records[feedback.doc_id].kind == "systematic-review"
        n_roles = index.query("SELECT COUNT(*) FROM chunk_roles")[0][0]
        assert n_roles == index.manifest.n_chunks
