"""Ingest on Ray: a local Ray (2 CPUs) builds the same index as a local ingest of the same files.

Needs the optional `ray` package (`pip install 'synth[cluster]'`, which scripts/test.sh
installs); without it these tests skip and say so. The no-Ray message is tested either way.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from synth.cli import main
from synth.index import Index, ingest
from synth.index.studies import CONTENT_SQL

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(
    not HAS_RAY, reason="ray is not installed (pip install 'synth[cluster]')"
)


def _chunks(root):
    with Index.open(root) as index:
        rows = index.query("SELECT id, chunk_id, text FROM chunks ORDER BY chunk_id")
        content = index.query(f"SELECT c.id FROM chunks c WHERE {CONTENT_SQL}")
        ids = sorted(int(r["id"]) for r in content)  # reference lists have no vector
        vectors = np.stack([index.vectors.reconstruct(i) for i in ids])
        return [(r["chunk_id"], r["text"]) for r in rows], vectors, index.keyword.count()


@pytest.fixture(scope="module")
def files(tmp_path_factory, corpus_pdfs, make_bad_file):
    folder = tmp_path_factory.mktemp("ray-files")
    for pdf in corpus_pdfs[:3]:
        shutil.copy(pdf, folder / pdf.name)
    make_bad_file("random-with-header", folder / "broken.pdf")
    return folder


@pytest.fixture(scope="module")
def ray_runner():
    if not HAS_RAY:
        pytest.skip("ray is not installed (pip install 'synth[cluster]')")
    from synth.ingest.cluster import RayRunner

    with RayRunner(workers=2) as runner:  # ray.init(num_cpus=2) on this 2-core machine
        yield runner


@needs_ray
def test_ray_ingest_equals_local_ingest(files, tmp_path, embedder_factory, ray_runner):
    local = ingest([files], tmp_path / "local", embedder=embedder_factory)
    remote = ingest([files], tmp_path / "ray", embedder=embedder_factory, runner=ray_runner)
    assert [(f.path, f.status) for f in sorted(remote.files, key=lambda f: f.path)] == [
        (f.path, f.status) for f in sorted(local.files, key=lambda f: f.path)
    ]
    failed = [f for f in remote.files if f.status == "failed"]
    assert len(failed) == 1 and failed[0].path.endswith("broken.pdf") and failed[0].reason
    assert remote.n_embedded == local.n_embedded > 0
    local_chunks, local_vectors, local_keywords = _chunks(tmp_path / "local")
    ray_chunks, ray_vectors, ray_keywords = _chunks(tmp_path / "ray")
    assert ray_chunks == local_chunks
    assert ray_keywords == local_keywords == len(local_vectors)  # content chunks only
    # Same model, other batches: equal up to float rounding of batch padding.
    np.testing.assert_allclose(ray_vectors, local_vectors, atol=2e-5)


@needs_ray
def test_ray_reingest_of_unchanged_files_is_a_no_op(files, tmp_path, embedder_factory, ray_runner):
    root = tmp_path / "index"
    ingest([files], root, embedder=embedder_factory, runner=ray_runner)
    again = ingest([files], root, embedder=embedder_factory, runner=ray_runner)
    assert again.count("unchanged") == 3 and not again.changed


@needs_ray
def test_a_worker_killed_mid_file_is_restarted_and_the_file_retried(files, tmp_path, ray_runner):
    """Killing a worker while it parses: Ray restarts the process, the call is retried and
    the file comes back whole, as a local parse makes it."""
    import time

    from synth.ingest.chunk import ChunkSettings
    from synth.ingest.files import content_hash
    from synth.ingest.pipeline import FileTask, prepare_file

    def task(path):
        return FileTask(path, content_hash(path.read_bytes()))

    long = tmp_path / "long.txt"  # a few seconds of sentence splitting
    long.write_text(
        "\n\n".join(
            f"Section {i}\n\n"
            + " ".join(f"Pupils in school {i}-{j} read {j} books a term." for j in range(60))
            for i in range(120)
        )
    )
    ray = ray_runner.ray
    actor = ray_runner.parsers()[0]
    pdf = next(p for p in sorted(files.glob("*.pdf")) if p.name != "broken.pdf")
    assert not ray.get(actor.prepare.remote(task(pdf), ChunkSettings(), None, None)).error
    before = ray.get(actor.pid.remote())  # idle, spaCy loaded
    ref = actor.prepare.remote(task(long), ChunkSettings(), None, None)
    time.sleep(1.0)
    assert not ray.wait([ref], timeout=0)[0], "the file should still be parsing"
    ray.kill(actor, no_restart=False)
    remote, local = ray_runner._result(task(long), ref), prepare_file(task(long), ChunkSettings())
    assert ray.get(actor.pid.remote()) != before  # a new process finished the file
    assert not remote.error
    assert [c.text for c in remote.chunks] == [c.text for c in local.chunks]


def test_engine_ray_without_ray_says_how_to_install(monkeypatch, tmp_path, capsys, corpus_pdfs):
    import synth.ingest.cluster as cluster

    def missing():
        raise cluster.RayUnavailable(cluster.INSTALL_HINT)

    monkeypatch.setattr(cluster, "require_ray", missing)
    code = main(["ingest", str(corpus_pdfs[0]), "--index", str(tmp_path), "--engine", "ray"])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'synth[cluster]'" in err and "Traceback" not in err
    assert not (tmp_path / "CURRENT").exists()
