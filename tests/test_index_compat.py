"""An index written by synth 0.1 (tests/data/index-v0.1, two corpus PDFs) still opens and answers.

The build was made by `synth ingest` on main before the code moved into one package per stage;
the expected chunk ids below are what that code returned for the same queries on the same build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synth.index import Index, ingest
from synth.models import Filters
from synth.search import SearchSettings, search

OLD_INDEX = Path(__file__).parent / "data" / "index-v0.1"
QUERY = "text messages to parents about attendance"
EXPECTED = {
    "fused": ["f42d359fe9b81b41-0000", "f42d359fe9b81b41-0006", "f42d359fe9b81b41-0002"],
    "dense": ["f42d359fe9b81b41-0006", "f42d359fe9b81b41-0000", "f42d359fe9b81b41-0007"],
    "keyword": ["f42d359fe9b81b41-0000", "f42d359fe9b81b41-0001", "f42d359fe9b81b41-0006"],
}


@pytest.fixture
def old_index(tmp_path) -> Path:
    root = tmp_path / "index"
    shutil.copytree(OLD_INDEX, root)
    return root


def test_a_v0_1_build_opens_with_its_manifest(old_index):
    with Index.open(old_index) as index:
        assert index.build_id == "20261201T094741-d2c3e76b"
        assert index.manifest.n_chunks == 19
        assert [d.source for d in index.documents()] == [
            "feedback-primary-review.pdf",
            "parent-text-messages-chile-trial.pdf",
        ]


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_a_v0_1_build_ranks_as_it_did(old_index, embedder, mode):
    with Index.open(old_index) as index:
        hits = search(index, embedder, QUERY, SearchSettings(k=3, mode=mode))
    assert [h.chunk_id for h in hits] == EXPECTED[mode]


def test_a_v0_1_build_keeps_its_tags_and_filters(old_index, embedder):
    with Index.open(old_index) as index:
        feedback = next(d for d in index.documents() if d.source.startswith("feedback"))
        tags = {(t.facet, t.value) for t in index.document_tags(feedback.doc_id).tags}
        hits = search(
            index, embedder, "feedback", SearchSettings(k=3), Filters({"country": ("CL",)})
        )
    assert ("design", "systematic-review") in tags
    assert hits and {h.source for h in hits} == {"parent-text-messages-chile-trial.pdf"}


def test_ingest_into_a_v0_1_build_keeps_its_documents(old_index, tmp_path, embedder_factory):
    new = tmp_path / "note.md"
    new.write_text("# Reading Corners\n\nSchools set up reading corners in every classroom.\n")
    report = ingest([new], old_index, embedder=embedder_factory)
    assert report.count("added") == 1
    with Index.open(old_index) as index:
        assert len(index.documents()) == 3
        assert index.manifest.n_chunks == 20
