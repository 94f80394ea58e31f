"""The Streamlit script run through streamlit.testing: fast; the browser test is separate."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_app_without_index_offers_to_build_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTH_INDEX", str(tmp_path / "none"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert "No index" in at.info[0].value
    assert at.button[0].label == "Build the index from the sample corpus"


def test_app_search_and_brief(corpus_index_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_INDEX", str(corpus_index_root))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    at.text_input(key="query").input("extra maths tutoring for ninth graders").run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any("tutoring-ninth-grade-maths-trial.pdf" in c for c in captions[:12])
    build = next(b for b in at.button if b.label.startswith("Build a learning brief"))
    build.click().run()
    assert not at.exception
    brief = at.markdown[-1].value
    assert brief.startswith("# Learning brief: extra maths tutoring for ninth graders")
    assert "## Key messages" in brief and "## References" in brief


def test_app_odd_query_does_not_raise(corpus_index_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTH_INDEX", str(corpus_index_root))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input(key="query").input('"AND( * -  تعليم 教育 🙂').run()
    assert not at.exception
