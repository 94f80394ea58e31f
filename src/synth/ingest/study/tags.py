"""Document facets from a study record: what the record says the document is, as tags.

These replace the phrase tagger's document-level values for the same facets, so a filter on
country, design, phase, setting, kind or evidence type matches what a document is and where it
took place, never what it merely mentions.
"""

from __future__ import annotations

from synth.models import StudyRecord, Tag
from synth.taxonomy import DERIVED_FROM_COUNTRY, Taxonomy

# Facets a study record decides for its document (region and income follow from country).
RECORD_FACETS = ("kind", "design", "country", "phase", "setting", "evidence_type", "outcome")
KIND_TYPE = {
    "primary-study": "research-evidence",
    "systematic-review": "research-evidence",
    "evaluation-report": "research-evidence",
    "data-brief": "sector-data",
    "practice-guide": "practice-advice",
    "programme-description": "practice-advice",
    "policy-document": "practice-advice",
}
DESIGN_TYPE = {
    "survey-admin": "sector-data",
    "case-study": "pedagogical-evidence",
    "practitioner-account": "practice-advice",
    "rct": "research-evidence",
    "quasi-experimental": "research-evidence",
    "qualitative": "research-evidence",
    "systematic-review": "research-evidence",
}
RECORD_CONFIDENCE = 0.9


RESEARCH_KINDS = ("primary-study", "systematic-review", "evaluation-report")


def evidence_types(record: StudyRecord) -> list[str]:
    """The type the kind implies, then the one its own design adds (at most two).

    A survey run as research is research evidence; the sector's own data (monitoring,
    census, assessments) is sector data when a brief, guide or programme presents it.
    """
    types = []
    if record.kind:
        types.append(KIND_TYPE[record.kind])
    extra = DESIGN_TYPE.get(record.design or "")
    if extra and not (record.design == "survey-admin" and record.kind in RESEARCH_KINDS):
        types.append(extra)
    return list(dict.fromkeys(types))[:2]


def record_tags(record: StudyRecord, taxonomy: Taxonomy) -> list[Tag]:
    """Tags for every record facet the taxonomy has, region and income from the countries."""
    values: dict[str, list[str]] = {
        "kind": [record.kind] if record.kind else [],
        "design": [record.design] if record.design else [],
        "country": record.countries,
        "phase": record.phase,
        "setting": record.setting,
        "evidence_type": evidence_types(record),
        "outcome": record.outcomes,
    }
    tags: dict[tuple[str, str], Tag] = {}
    for facet, items in values.items():
        if facet not in taxonomy.facets:
            continue
        for value in items:
            tags[(facet, value)] = Tag(facet, value, "rule", RECORD_CONFIDENCE)
    for country in record.countries:
        spec = taxonomy.country(country)
        for derived in DERIVED_FROM_COUNTRY if spec else ():
            target = getattr(spec, derived, None)
            if target:
                tags[(derived, target)] = Tag(derived, target, "rule", RECORD_CONFIDENCE)
    if record.year:
        tags[("year", str(record.year))] = Tag("year", str(record.year), "rule", 0.6)
    return sorted(tags.values(), key=lambda t: (t.facet, t.value))
