"""Findings first: the study records' findings behind a brief's key messages.

A quotable unit whose sentence is one of its document's record findings (same page, overlapping
offsets) is a finding whatever the role classifier says, and carries the record's direction,
outcome and printed effect size. Key messages are chosen among such units first, preferring a
printed effect and a stronger design, and each says in a line of labels what it is: "Positive,
reading, 0.24 SD; a trial in South Africa, primary".
"""

from __future__ import annotations

from dataclasses import dataclass

from synth.models import Finding, Hit, StudyRecord
from synth.taxonomy import Taxonomy, load_taxonomy

from .quotes import Unit
from .wording import DESIGN_NOUNS, and_list, describe_studies

# How far a design lets a reader trust a result (a review of trials above a single trial).
DESIGN_STRENGTH = {"systematic-review": 4, "rct": 3, "quasi-experimental": 2}
DIRECTION_WORDS = {
    "positive": "Positive",
    "negative": "Negative",
    "no-effect": "No clear effect",
    "mixed": "Mixed",
}
UNIT_WORDS = {"percent": "%", "pp": " percentage points", "months": " months"}


@dataclass(frozen=True)
class StudyProfile:
    """What a record says of a study, in labels: design id, country and phase labels."""

    design: str | None
    countries: list[str]
    phases: list[str]


def profile(record: StudyRecord | None, taxonomy: Taxonomy) -> StudyProfile | None:
    if record is None:
        return None
    country = taxonomy.facets["country"].label_of
    phase = taxonomy.facets["phase"].label_of
    return StudyProfile(
        record.design,
        sorted(country(c) for c in record.countries),
        sorted(phase(p) for p in record.phase),
    )


def strength(record: StudyRecord | None) -> int:
    return DESIGN_STRENGTH.get(record.design or "", 1) if record is not None else 0


def match_findings(units: list[Unit], records: dict[str, StudyRecord]) -> dict[int, Finding]:
    """Units whose last sentence is (or overlaps) one of its document's record findings that
    states a direction or prints a size (a result, not a sentence about the study)."""
    out: dict[int, Finding] = {}
    for i, unit in enumerate(units):
        record = records.get(unit.quote.doc_id)
        if record is None:
            continue
        page, start, end = unit.sentences[-1]
        for finding in record.findings:
            if not (finding.direction or finding.effects):
                continue
            if finding.page == page and finding.start < end and start < finding.end:
                out[i] = finding
                break
    return out


def _effect_text(finding: Finding) -> str:
    effect = finding.effect
    if effect is None:
        return ""
    return effect.text.strip()


def _study_words(prof: StudyProfile | None) -> str:
    if prof is None:
        return ""
    noun = DESIGN_NOUNS.get(prof.design or "", ("study", "studies"))[0]
    where = f" in {and_list(prof.countries)}" if 0 < len(prof.countries) <= 3 else ""
    if len(prof.countries) > 3:
        where = f" in {len(prof.countries)} countries"
    phase = f", {and_list([p.lower() for p in prof.phases])}" if prof.phases else ""
    article = "an" if noun[0] in "aeiou" else "a"
    return f"{article} {noun}{where}{phase}"


def finding_detail(finding: Finding | None, prof: StudyProfile | None) -> str:
    """One line of labels under a key message: direction, outcome, printed size, the study."""
    parts = []
    if finding is not None:
        if finding.direction:
            parts.append(DIRECTION_WORDS.get(finding.direction, finding.direction))
        if finding.outcome:
            parts.append(finding.outcome.replace("-", " "))
        if effect := _effect_text(finding):
            parts.append(effect)
    head = ", ".join(parts)
    study = _study_words(prof)
    line = f"{head}; from {study}" if head and study else head or (f"from {study}" if study else "")
    return line[:1].upper() + line[1:]


def describe_theme(study_ids: list[str], hits: list[Hit], records: dict[str, StudyRecord]) -> str:
    """'2 trials in Ghana and Kenya, both primary' for the studies behind a theme: from each
    study's record when it has one (its own design, where it took place), else its tags."""
    taxonomy = load_taxonomy()
    designs: list[str | None] = []
    countries: list[list[str]] = []
    phases: list[list[str]] = []
    for doc_id in study_ids:
        prof = profile(records.get(doc_id), taxonomy)
        if prof is None:
            tags: dict[str, set[str]] = {"design": set(), "country": set(), "phase": set()}
            for h in hits:
                if h.doc_id == doc_id:
                    for name in tags:
                        tags[name].update(h.facets.get(name, []))
            best = max(tags["design"], key=lambda d: DESIGN_STRENGTH.get(d, 0), default=None)
            prof = StudyProfile(
                best,
                sorted(taxonomy.facets["country"].label_of(c) for c in tags["country"]),
                sorted(taxonomy.facets["phase"].label_of(p) for p in tags["phase"]),
            )
        designs.append(prof.design)
        countries.append(prof.countries)
        phases.append(prof.phases)
    return describe_studies(designs, countries, phases)
