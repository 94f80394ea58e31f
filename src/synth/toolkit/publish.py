"""What a strand must have before it is published, checked against the index it cites.

A published card is read as settled guidance, so publishing asks for what a reader relies on:
padlocks a curator confirmed (not only the suggestion), impact and cost rated, the sections
practitioners read filled in, and evidence linked that the current index still holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .entries import SECTIONS, ToolkitEntry

if TYPE_CHECKING:
    from synth.index import Index

REQUIRED_SECTIONS = ("summary", "key_findings", "how_it_works", "implementation")


@dataclass(frozen=True)
class Check:
    """One condition for publishing: what it asks, whether it holds, and what to do if not."""

    name: str
    ok: bool
    detail: str


def _padlocks(entry: ToolkitEntry) -> Check:
    if entry.padlocks is not None:
        return Check("Padlocks confirmed", True, f"{entry.padlocks}/5, set by a curator")
    hint = (
        f"only the suggestion ({entry.suggested_padlocks}/5)"
        if entry.suggested_padlocks is not None
        else "not rated"
    )
    return Check("Padlocks confirmed", False, f"{hint}: choose the padlocks in the form")


def _sections(entry: ToolkitEntry) -> Check:
    missing = [SECTIONS[name] for name in REQUIRED_SECTIONS if not getattr(entry, name).strip()]
    if not missing:
        return Check("Required sections filled", True, "all filled")
    return Check("Required sections filled", False, "empty: " + ", ".join(missing))


def _links(entry: ToolkitEntry, index: Index | None) -> list[Check]:
    if not entry.links:
        return [Check("Evidence linked", False, "no passage is linked yet")]
    n = len(entry.links)
    linked = Check("Evidence linked", True, f"{n} passage{'s' if n != 1 else ''}")
    if index is None:
        return [linked, Check("Linked passages in the index", False, "no index is open")]
    found = index.rowids([x.chunk_id for x in entry.links])
    gone = [x for x in entry.links if x.chunk_id not in found]
    if not gone:
        return [linked, Check("Linked passages in the index", True, "all still indexed")]
    where = ", ".join(f"{x.source or x.doc_id} p. {x.page}" for x in gone[:3])
    return [linked, Check("Linked passages in the index", False, f"{len(gone)} gone: {where}")]


def publish_checks(entry: ToolkitEntry, index: Index | None) -> list[Check]:
    """Every check, passed or not, in the order a curator would fix them."""
    return [
        _padlocks(entry),
        Check(
            "Impact rated",
            entry.impact_months is not None,
            "not rated: give an effect size or months"
            if entry.impact_months is None
            else f"{entry.impact_months:+d} months",
        ),
        Check(
            "Cost rated",
            entry.cost is not None,
            "not rated" if entry.cost is None else f"{entry.cost}/5",
        ),
        _sections(entry),
        *_links(entry, index),
    ]
