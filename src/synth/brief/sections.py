"""The sections a brief template asks for, the sentence roles that fill each, and which
sections each shipped template prints (its layout).

A section is filled from sentences whose role (`synth.brief.roles`) is one of its roles; it is
empty only when no retrieved passage has such a sentence. Allocation is per layout, so no
sentence is printed twice and every passage lands in a section the template shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SectionSpec:
    name: str
    title: str
    roles: tuple[str, ...]


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("definition", "What it is", ("definition",)),
    SectionSpec("mechanism", "How it works", ("mechanism",)),
    SectionSpec("implementation", "How to implement it", ("implementation",)),
    SectionSpec("cost", "Cost", ("cost",)),
    SectionSpec("caveats", "Watch-outs and limitations", ("caveat",)),
    SectionSpec("problem", "The problem", ("problem",)),
    SectionSpec("recommendations", "Recommendations", ("recommendation",)),
    SectionSpec("context", "What it means for your context", ("recommendation",)),
)
SECTIONS_BY_NAME = {s.name: s for s in SECTIONS}
# Which extractive sections each shipped template prints, in the order they are filled.
LAYOUTS: dict[str, tuple[str, ...]] = {
    "learning-brief": ("context", "caveats"),
    "practitioner-brief": ("definition", "mechanism", "implementation", "cost", "caveats"),
    "policy-brief": ("problem", "cost", "recommendations", "caveats"),
}
# A user's own template (or no template) may print any section: all are filled, no sentence
# twice, so "context" and "recommendations" share the recommendation sentences between them.
DEFAULT_LAYOUT: tuple[str, ...] = tuple(s.name for s in SECTIONS)


def layout_for(template: str | None) -> tuple[str, ...]:
    return LAYOUTS.get(template or "", DEFAULT_LAYOUT)
