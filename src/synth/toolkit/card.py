"""The strand card: a toolkit entry rendered through the toolkit-card template, in Markdown,
HTML (curator text escaped), PDF or DOCX."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .entries import (
    CAVEAT,
    CLASS_SIZE,
    SECTIONS,
    LinkedEvidence,
    ToolkitEntry,
    convert_effect_size,
    cost_label,
    impact_label,
)

if TYPE_CHECKING:
    from pathlib import Path

    from synth.index import Index
    from synth.taxonomy import Taxonomy


CARD_TEMPLATE = "toolkit-card"


@dataclass(frozen=True)
class CardProvenance:
    """Where a card's figures come from: the index build its links were checked in, the record
    version, when it was rendered and by which synth."""

    build_id: str | None
    rendered: str
    synth_version: str
    version: int | None = None
    version_date: str | None = None


@dataclass(frozen=True)
class CardSource:
    """The linked passages of one document, as the card lists them."""

    source: str
    doc_id: str
    pages: list[int]
    quotes: list[tuple[str, int | None]]
    chunk_ids: list[str]
    independent: bool
    reference: str = ""


def card_references(entry: ToolkitEntry, index: Index) -> dict[str, str]:
    """Each linked document's APA reference (plain text), so a card lists studies, not files."""
    from synth.brief.references import references_for

    known = {d.doc_id for d in index.find_documents([x.doc_id for x in entry.links])}
    doc_ids = [x.doc_id for x in entry.links if x.doc_id in known]
    return {ref.doc_id: ref.apa_text for ref in references_for(index, doc_ids)}


def _card_sources(
    links: list[LinkedEvidence], references: Mapping[str, str] | None = None
) -> list[CardSource]:
    by_doc: dict[str, list[LinkedEvidence]] = {}
    for link in links:
        by_doc.setdefault(link.doc_id, []).append(link)
    return [
        CardSource(
            source=next((x.source for x in group if x.source), doc_id),
            doc_id=doc_id,
            pages=sorted({x.page for x in group if x.page is not None}),
            quotes=[(x.quote, x.page) for x in group if x.quote],
            chunk_ids=[x.chunk_id for x in group],
            independent=any(x.independent for x in group),
            reference=(references or {}).get(doc_id, ""),
        )
        for doc_id, group in by_doc.items()
    ]


def _labels(taxonomy: Taxonomy | None, facet: str, values: list[str]) -> list[str]:
    spec = taxonomy.facets.get(facet) if taxonomy else None
    return [spec.label_of(v) if spec else v for v in values]


def card_context(
    entry: ToolkitEntry,
    provenance: CardProvenance,
    taxonomy: Taxonomy | None = None,
    references: Mapping[str, str] | None = None,
    embedded: bool = False,
) -> dict[str, object]:
    """Everything a card template reads, already labelled, so templates hold no logic.
    `references` (doc id -> APA text) name the studies; `embedded` leaves out the title block
    for a page that shows it already."""
    topic = _labels(taxonomy, "topic", [entry.topic])[0]
    contexts = [
        (
            taxonomy.facets[f].label if taxonomy and f in taxonomy.facets else f,
            _labels(taxonomy, f, v),
        )
        for f, v in entry.contexts.items()
        if v
    ]
    months = entry.impact_months
    rounded = (
        convert_effect_size(entry.effect_size).rounded if entry.effect_size is not None else None
    )
    return {
        "entry": entry,
        "topic_label": topic,
        "impact": {
            "months": months,
            "signed": None if months is None else f"{months:+d}" if months else "0",
            "label": None if months is None else impact_label(months),
            "effect_size": rounded,
            "capped": entry.impact_capped,
        },
        "cost": {
            "rating": entry.cost,
            "label": cost_label(entry.cost) if entry.cost else None,
            "per_pupil": _money(entry.cost_per_pupil),
            "per_class": _money(entry.cost_per_pupil and entry.cost_per_pupil * CLASS_SIZE),
        },
        "padlocks": {
            "value": entry.shown_padlocks,
            "suggested_only": entry.padlocks is None and entry.suggested_padlocks is not None,
            "reasons": entry.padlock_reasons,
        },
        "sections": [(SECTIONS[k], getattr(entry, k)) for k in SECTIONS if k != "summary"],
        "contexts": contexts,
        "sources": _card_sources(entry.links, references),
        "embedded": embedded,
        "provenance": provenance,
        "caveat": CAVEAT,
    }


def _money(amount: float | None) -> str | None:
    if amount is None:
        return None
    amount = round(amount, 2)
    return f"£{amount:,.0f}" if float(amount).is_integer() else f"£{amount:,.2f}"


def _html_sections(entry: ToolkitEntry) -> dict[str, object]:
    """Curator Markdown as escaped HTML (raw HTML is shown as text, never run)."""
    from markupsafe import Markup

    from synth.brief.export.html import blocks_to_html
    from synth.brief.export.markdown import parse_markdown

    def to_html(text: str) -> Markup:
        return Markup(blocks_to_html(parse_markdown(text)))

    return {
        "summary_html": to_html(entry.summary),
        "sections_html": [
            (SECTIONS[k], to_html(getattr(entry, k)))
            for k in SECTIONS
            if k != "summary" and getattr(entry, k)
        ],
    }


def render_card(
    entry: ToolkitEntry,
    provenance: CardProvenance,
    fmt: Literal["md", "html"] = "md",
    taxonomy: Taxonomy | None = None,
    templates_dir: str | Path | None = None,
    references: Mapping[str, str] | None = None,
    embedded: bool = False,
) -> str:
    """Fill toolkit-card.<fmt>.j2 in synth.brief.render's sandbox and template search path."""
    from synth.brief.render import render_template

    context = card_context(entry, provenance, taxonomy, references, embedded)
    if fmt == "html":
        context |= _html_sections(entry)
    return render_template(f"{CARD_TEMPLATE}.{fmt}.j2", context, templates_dir)


def export_card(
    entry: ToolkitEntry,
    provenance: CardProvenance,
    fmt: Literal["md", "html", "pdf", "docx"],
    taxonomy: Taxonomy | None = None,
    references: Mapping[str, str] | None = None,
) -> bytes:
    """The card as file bytes; PDF and DOCX are made from the Markdown card."""
    from synth.brief.export import render_markdown_to

    if fmt in ("md", "html"):
        return render_card(entry, provenance, fmt, taxonomy, references=references).encode()
    card = render_card(entry, provenance, "md", taxonomy, references=references)
    return render_markdown_to(fmt, card, entry.title)
