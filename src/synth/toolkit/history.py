"""A strand's changes as people read them: field labels and values in words, not JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .entries import SECTIONS, cost_label

if TYPE_CHECKING:
    from synth.taxonomy import Taxonomy

FIELD_LABELS: dict[str, str] = {
    "id": "Identifier",
    "title": "Title",
    "topic": "Topic",
    "status": "Status",
    "effect_size": "Effect size",
    "impact_months": "Impact (months of progress)",
    "cost_per_pupil": "Cost per pupil per year",
    "cost": "Cost rating",
    "padlocks": "Padlocks (curator)",
    "suggested_padlocks": "Padlocks suggested by the evidence",
    "padlock_reasons": "Why those padlocks were suggested",
    "studies": "Number of studies",
    "contexts": "Where it has been evidenced",
    "links": "Linked passages",
    "index_build": "Index build the links were checked in",
    **SECTIONS,
}
# Values shown one item a line, so a diff can mark each item added or removed.
LIST_FIELDS = ("links", "padlock_reasons", "contexts")


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def _link(link: Mapping[str, object]) -> str:
    where = str(link.get("source") or link.get("doc_id") or "a passage")
    page = f", p. {link['page']}" if link.get("page") else ""
    independent = " (independent evaluation)" if link.get("independent") else ""
    quote = f": “{link['quote']}”" if link.get("quote") else ""
    return f"{where}{page}{independent}{quote}"


def _contexts(value: Mapping[str, list[str]], taxonomy: Taxonomy | None) -> list[str]:
    lines = []
    for facet, values in value.items():
        spec = taxonomy.facets.get(facet) if taxonomy else None
        labels = [spec.label_of(v) if spec else v for v in values]
        lines.append(f"{spec.label if spec else facet}: {', '.join(labels)}")
    return lines


def readable(name: str, value: object, taxonomy: Taxonomy | None = None) -> str:
    """A stored field value in words; list fields one item a line; empty is '–'."""
    if value is None or value == "" or value == [] or value == {}:
        return "–"
    if name in ("padlocks", "suggested_padlocks"):
        return f"{value}/5"
    if name == "cost":
        return f"{cost_label(int(value))} ({value}/5)"  # type: ignore[arg-type]
    if name == "impact_months":
        return f"{int(value):+d} months" if value else "0 months"  # type: ignore[arg-type]
    if name == "cost_per_pupil":
        return f"£{float(value):,.2f}"  # type: ignore[arg-type]
    if name == "status":
        return str(value).capitalize()
    if name == "topic" and taxonomy is not None:
        return taxonomy.facets["topic"].label_of(str(value))
    if name == "links":
        return "\n".join(_link(x) for x in value)  # type: ignore[union-attr]
    if name == "contexts":
        return "\n".join(_contexts(value, taxonomy))  # type: ignore[arg-type]
    if isinstance(value, list):
        return "\n".join(str(x) for x in value)
    return str(value)
