"""Search results by study: one card per document with what it is, where it took place and
its headline finding, its best passages folded beneath.

The card leads with the record (design, countries, phase, sample, year) and the finding as the
document prints it, effect size marked; the passages that matched the question are one click
away, each with its page and Add/Remove for the basket. Every piece of text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from synth.index import Index
from synth.search.studies import StudyHit, StudyResult, describe
from synth.taxonomy import Taxonomy
from synth.ui.highlight import best_sentence, card_html, hit_sentences
from synth.ui.text import html_text as esc

NO_CLOSE_MATCH = (
    "No close match: nothing in the corpus answers this question closely, so no study is "
    "shown. Try other words, a broader question, or fewer filters."
)


def _headline(study: StudyHit) -> str:
    finding = study.record.headline if study.record else None
    if finding is None:
        return '<p class="synth-muted synth-headline">No result sentence found in the document.</p>'
    effect = (
        f' <strong class="synth-effect">{esc(finding.effect.text)}</strong>'
        if finding.effect
        else ""
    )
    return (
        f'<p class="synth-headline" style="margin:.5rem 0"><strong>Headline finding</strong> '
        f"(p. {finding.page}):{effect} {esc(finding.text)}</p>"
    )


def study_card_html(number: int, study: StudyHit, taxonomy: Taxonomy, pdf_url: str | None) -> str:
    record = study.record
    meta = describe(record, taxonomy) if record else "No study record yet (re-ingest to add one)"
    link = (
        f'<a href="{esc(pdf_url)}" target="_blank" rel="noopener">Open the PDF</a>'
        if pdf_url
        else ""
    )
    return (
        f'<div class="synth-study" data-doc="{esc(study.doc_id)}">'
        f'<div style="font-weight:600;font-size:1.1rem">{number}. {esc(study.title)}</div>'
        f'<div class="synth-study-meta synth-muted" style="font-size:.9rem">{esc(meta)}</div>'
        f"{_headline(study)}"
        f'<div class="synth-where synth-muted" style="font-size:.85rem">{esc(study.source)}'
        f"{' · ' + link if link else ''}</div></div>"
    )


def study_cards(
    index: Index,
    query: str,
    result: StudyResult,
    taxonomy: Taxonomy,
    pdf_url: Callable[[str], str | None],
    actions: Callable[..., None],
) -> None:
    """The study cards, each with its passages in a collapsed section."""
    for number, study in enumerate(result.studies, start=1):
        _study_card(index, query, result, number, study, taxonomy, pdf_url(study.doc_id), actions)


@st.fragment
def _study_card(
    index: Index,
    query: str,
    result: StudyResult,
    number: int,
    study: StudyHit,
    taxonomy: Taxonomy,
    url: str | None,
    actions: Callable[..., None],
) -> None:
    """One card, rerun on its own: opening its passages redraws this card, not the page."""
    with st.container(border=True, key=f"study-{study.doc_id}"):
        st.html(study_card_html(number, study, taxonomy, url))
        if study.passages:
            _passages(index, query, result, study, taxonomy, url, actions)


def _passages(
    index: Index,
    query: str,
    result: StudyResult,
    study: StudyHit,
    taxonomy: Taxonomy,
    url: str | None,
    actions: Callable[..., None],
) -> None:
    """The folded passages, drawn only while open: closed, a card is three elements, not a
    dozen, so a search or a filter click has a third as much for the browser to draw."""
    n = len(study.passages)
    fold = st.expander(
        f"Best matching passage{'s' if n != 1 else ''} ({n})",
        key=f"passages-{study.doc_id}",
        on_change="rerun",
    )
    if not fold.open:
        return
    # The query's rare words are judged against every passage found, as in the passage view.
    pool = [x for s in result.studies for h in s.passages for x in hit_sentences(index, h)]
    with fold:
        for i, hit in enumerate(study.passages, start=1):
            own = hit_sentences(index, hit)
            with st.container(key=f"card-{hit.chunk_id}"):
                st.html(card_html(i, hit, own, best_sentence(query, own, pool), taxonomy, url))
                actions(hit, url)
