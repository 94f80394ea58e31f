"""Embedding: the fast modes agree with fp32, batching keeps input order, imports stay lazy."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from synth.ingest.embed import (
    DEFAULT_MODEL,
    FAST_MODEL,
    ModelNotInstalled,
    cpu_has_bf16,
    load_embedder,
    resolve_model,
    split_model,
)

SENTENCES = [
    "Feedback that tells pupils how to improve raised attainment in primary schools.",
    "Tutoring three times a week cost about 400 pounds per pupil.",
    "Grouping children by learning level rather than by grade improved reading in Zambia.",
    "Text messages to parents about missed homework improved attendance.",
    "Coaching teachers over a term changed classroom practice more than one-off training.",
    "What does the evidence say?",
    (
        "Findings > Costs\nThe programme's cost per pupil fell in its second year as schools "
        "trained their own staff to run the sessions, and the evaluation found that gains in "
        "reading were sustained a year after the sessions ended, although effects were smaller "
        "for pupils who joined late and for schools that ran fewer sessions than planned."
    ),
]


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_fast_modes_agree_with_fp32(embedder, precision):
    fast = load_embedder(f"{DEFAULT_MODEL}@{precision}")
    assert fast.precision == precision and fast.dimension == embedder.dimension
    reference = embedder.encode(SENTENCES)
    vectors = fast.encode(SENTENCES)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (reference * vectors).sum(axis=1)
    # bf16 keeps fp32's weights to 3 digits; dynamic int8 rounds weights and activations.
    assert cosine.min() >= (0.99 if precision == "bf16" else 0.97), cosine
    assert cosine.mean() >= 0.98, cosine
    assert not np.allclose(vectors, reference, atol=1e-5)  # it really is another precision
    # Still the same model: each sentence is nearest its own fp32 vector.
    assert list((vectors @ reference.T).argmax(axis=1)) == list(range(len(SENTENCES)))
    query = fast.encode_query(SENTENCES[1])
    assert float(query @ reference[1]) >= 0.98


def test_fast_alias_resolves_to_a_concrete_recorded_name():
    name = resolve_model(FAST_MODEL)
    assert name == f"{DEFAULT_MODEL}@{'bf16' if cpu_has_bf16() else 'int8'}"
    assert resolve_model(DEFAULT_MODEL) == DEFAULT_MODEL
    assert split_model(DEFAULT_MODEL) == (DEFAULT_MODEL, "fp32")
    assert split_model(name)[0] == DEFAULT_MODEL
    with pytest.raises(ModelNotInstalled):
        resolve_model(f"{DEFAULT_MODEL}@fp8")
    with pytest.raises(ModelNotInstalled):
        load_embedder("no-such-model@int8")


def test_length_sorted_batches_return_vectors_in_input_order(embedder, monkeypatch):
    # Lengths deliberately out of order, across several batches of 3.
    texts = [SENTENCES[i] for i in (6, 5, 0, 3, 6, 1, 5, 2, 4)]
    texts[4] = texts[4] + " Costs were reported per school."
    one_by_one = np.stack([embedder.encode([t])[0] for t in texts])
    monkeypatch.setattr(embedder, "batch_size", 3)
    done: list[int] = []
    batched = embedder.encode(texts, progress=done.append)
    assert sum(done) == len(texts) and len(done) == 3
    assert np.allclose(batched, one_by_one, atol=1e-4)
    assert np.allclose(embedder.encode_query(texts[2]), one_by_one[2], atol=1e-4)


def test_a_repeated_query_is_remembered_and_the_copy_is_the_callers() -> None:
    embedder = load_embedder(DEFAULT_MODEL)
    first = embedder.encode_query(SENTENCES[3])
    first[:] = 0  # a caller scribbling on its vector must not change the next answer
    again = embedder.encode_query(SENTENCES[3])
    assert np.allclose(again, embedder.encode([SENTENCES[3]])[0], atol=1e-4)
    assert SENTENCES[3] in embedder._queries


def test_unchanged_reingest_never_imports_the_model_stack(corpus_index_root, corpus_pdfs):
    """The CLI's unchanged path must stay fast: no torch, transformers or sentence-transformers."""
    script = (
        "import json, sys\n"
        "from synth.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules]\n"
        "print(json.dumps({'code': code, 'heavy': heavy}))\n"
    )
    args = ["ingest", *map(str, corpus_pdfs), "--index", str(corpus_index_root), "-q"]
    out = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True
    ).stdout
    lines = out.strip().splitlines()
    assert f"0 added, {len(corpus_pdfs)} unchanged" in lines[0]
    result = json.loads(lines[-1])
    assert result == {"code": 0, "heavy": []}


def test_vectors_embedded_during_parsing_belong_to_their_chunks(corpus_index, embedder):
    """The corpus build feeds chunks to the background embedder while parsing; every stored
    vector must be the embedding of its own chunk's text, whichever batch it came from."""
    from synth.index.embedding import EMBED_FEED_MIN
    from synth.ingest.pipeline import embedding_text

    rows = corpus_index.query(
        "SELECT c.id, c.section, c.text, d.title FROM chunks c "
        "JOIN documents d ON d.doc_id = c.doc_id ORDER BY c.id"
    )
    assert len(rows) > 2 * EMBED_FEED_MIN  # so some batches ran while files were still parsed
    sample = rows[:: max(1, len(rows) // 24)]
    texts = [embedding_text(r["title"], r["section"].split(" > "), r["text"]) for r in sample]
    expected = embedder.encode(texts)
    stored = np.stack([corpus_index.vectors.reconstruct(int(r["id"])) for r in sample])
    cosine = (expected * stored).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine
