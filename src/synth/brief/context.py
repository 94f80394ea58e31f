"""Context fit: does the evidence come from the context the question asks about?

The asked context comes from the search filters and from words in the question ("secondary",
"rural", a country, a region, "low-income countries"). Each study's context comes from its
study record when the index has one (where it took place, its phase and setting), otherwise from
its document tags. The brief then says plainly which studies match and where the others come
from. A warning is raised when the study search ranks closest to the question does not come
from the asked context (or does not say), or when no study with a known value does: a brief's
other studies are often there for a neighbouring topic, so their share alone would cry wolf.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from synth.index import Index
from synth.models import Filters
from synth.taxonomy import Taxonomy, load_taxonomy

CONTEXT_FACETS = ("country", "region", "income", "phase", "setting")
MIN_CONFIDENCE = 0.5
MATCH_SHARE = 0.5
NOUNS = {
    "phase": "{} schools",
    "setting": "{} settings",
    "country": "{}",
    "region": "{}",
    "income": "{} countries",
}
# Words for groups of income levels and regions the taxonomy names only one by one.
GROUPS: dict[str, tuple[str, re.Pattern[str], tuple[str, ...]]] = {
    "lmic": (
        "income",
        re.compile(
            r"\b(LMICs?|low- and middle-income|low and middle income|developing countries)\b", re.I
        ),
        ("low", "lower-middle", "upper-middle"),
    ),
    "africa": ("region", re.compile(r"\bAfrican?\b"), ("sub-saharan-africa",)),
}


@dataclass(frozen=True)
class FacetFit:
    """One asked facet: which studies match it and where the others come from."""

    facet: str
    asked: list[str]  # value labels
    matching: list[str]  # citations of the matching studies
    others: list[tuple[str, int]]  # (value label, studies) for studies that do not match
    unknown: int  # studies with no value for this facet
    n_studies: int

    @property
    def known(self) -> int:
        return self.n_studies - self.unknown

    @property
    def mostly_elsewhere(self) -> bool:
        return self.known > 0 and len(self.matching) < MATCH_SHARE * self.known


@dataclass(frozen=True)
class ContextFit:
    """The asked context against the evidence's; `statements` are plain sentences for the brief."""

    asked_from: str  # "filters", "question", "filters and question" or "" when nothing was asked
    facets: list[FacetFit] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    top_mismatch: bool = False  # the study most relevant to the question does not fit

    @property
    def warning(self) -> bool:
        """Raised when the most relevant study does not (or does not say it does) fit the asked
        context, or when no study with a known value fits it."""
        return self.top_mismatch or any(f.known and not f.matching for f in self.facets)

    @property
    def asked(self) -> bool:
        return bool(self.facets)


@lru_cache(maxsize=1)
def _tagger():
    from synth.ingest.tag import Tagger

    return Tagger(load_taxonomy())


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    names = [re.escape(p) for p in phrases if len(p) > 3]
    return re.compile(r"\b(" + "|".join(names) + r")\b", re.I) if names else None


def asked_context(
    question: str, filters: Filters | None, taxonomy: Taxonomy
) -> tuple[dict[str, set[str]], str]:
    """The context values asked for, per facet, and where they were asked (filters/question)."""
    asked: dict[str, set[str]] = {}
    sources = []
    if filters is not None:
        for facet in CONTEXT_FACETS:
            if filters.values.get(facet):
                asked.setdefault(facet, set()).update(filters.values[facet])
        if asked:
            sources.append("filters")
    from_question: dict[str, set[str]] = {}
    for (facet, value), _ in _tagger().mentions(question).items():
        if facet in CONTEXT_FACETS:
            from_question.setdefault(facet, set()).add(value)
    for facet in ("region", "income"):
        for value in taxonomy.facets[facet].values:
            pattern = _phrase_pattern(value.phrases)
            if pattern is not None and pattern.search(question):
                from_question.setdefault(facet, set()).add(value.id)
    for facet, pattern, values in GROUPS.values():
        if pattern.search(question):
            from_question.setdefault(facet, set()).update(values)
    if from_question:
        sources.append("question")
    for facet, values in from_question.items():
        asked.setdefault(facet, set()).update(values)
    if "country" in asked:  # a named country says more than its region or income group
        asked.pop("region", None)
        asked.pop("income", None)
    return asked, " and ".join(sources)


def study_contexts(
    index: Index, doc_ids: list[str], taxonomy: Taxonomy
) -> dict[str, dict[str, set[str]]]:
    """Each document's context values: from its study record when there is one, else its tags."""
    out: dict[str, dict[str, set[str]]] = {}
    records = index.studies(doc_ids)
    for doc_id in doc_ids:
        record = records.get(doc_id)
        values: dict[str, set[str]] = {f: set() for f in CONTEXT_FACETS}
        if record is not None:
            values["country"] = set(record.countries)
            values["phase"] = set(record.phase)
            values["setting"] = set(record.setting)
            for c in record.countries:
                country = taxonomy.country(c)
                if country is not None:
                    values["region"].update([country.region] if country.region else [])
                    values["income"].update([country.income] if country.income else [])
        elif index.has_facets:
            for tag in index.document_tags(doc_id).tags:
                if tag.facet in values and tag.confidence >= MIN_CONFIDENCE:
                    values[tag.facet].add(tag.value)
        out[doc_id] = values
    return out


def _names(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def _statement(fit: FacetFit) -> str:
    names = [a.lower() for a in fit.asked] if fit.facet in ("phase", "setting") else fit.asked
    asked = NOUNS[fit.facet].format(_names(names))
    n = fit.n_studies
    studies = f"{n} {'study' if n == 1 else 'studies'}"
    others = "; ".join(f"{label} ({k})" for label, k in fit.others)
    unknown = f"{fit.unknown} {'does' if fit.unknown == 1 else 'do'} not say" if fit.unknown else ""
    if fit.known == 0:
        return (
            f"You asked about {asked}: none of the {studies} behind this brief records its "
            f"{fit.facet}, so check each source before applying it to your context."
        )
    if not fit.matching:
        rest = "; ".join(x for x in (f"they come from {others}" if others else "", unknown) if x)
        return (
            f"You asked about {asked}, but none of the {studies} behind this brief comes from "
            f"there: {rest}. Treat this evidence as coming from other contexts."
        )
    match = f"{len(fit.matching)} of the {studies} ({'; '.join(fit.matching)})"
    if len(fit.matching) == n:
        return f"You asked about {asked}: all {studies} behind this brief come from there."
    n_other = n - len(fit.matching) - fit.unknown
    come = "the other comes" if n_other == 1 else "the others come"
    rest = "; ".join(x for x in (f"{come} from {others}" if others else "", unknown) if x)
    verdict = (
        " Most of the evidence comes from other contexts: weigh it with that in mind."
        if fit.mostly_elsewhere
        else ""
    )
    verb = "comes" if len(fit.matching) == 1 else "come"
    return f"You asked about {asked}: {match} {verb} from there; {rest}.{verdict}"


def theme_note(
    asked: dict[str, set[str]], contexts: dict[str, dict[str, set[str]]], docs: list[str]
) -> str:
    """'not from secondary schools, the context you asked about' when no study of a theme
    matches an asked facet it records; empty otherwise."""
    taxonomy = load_taxonomy()
    misses = []
    for facet, values in asked.items():
        known = [contexts[d][facet] for d in docs if d in contexts and contexts[d][facet]]
        if known and not any(v & values for v in known):
            labels = [taxonomy.facets[facet].label_of(v) for v in sorted(values)]
            names = [x.lower() for x in labels] if facet in ("phase", "setting") else labels
            misses.append(NOUNS[facet].format(_names(names)))
    if not misses:
        return ""
    return f"not from {' or '.join(misses)}, the context you asked about"


def context_fit(
    index: Index,
    question: str,
    filters: Filters | None,
    studies: list[str],
    cites: dict[str, str],
    top: str | None = None,
) -> tuple[ContextFit, dict[str, set[str]], dict[str, dict[str, set[str]]]]:
    """Compare the asked context with each study's (one entry per study, by doc id, `top` the
    one search ranked first); also returns the asked values and each study's values, for
    notes on single themes."""
    taxonomy = load_taxonomy()
    asked, asked_from = asked_context(question, filters, taxonomy)
    if not asked or not studies:
        return ContextFit(asked_from), asked, {}
    contexts = study_contexts(index, studies, taxonomy)
    fits = []
    for facet in CONTEXT_FACETS:
        if facet not in asked:
            continue
        label = taxonomy.facets[facet].label_of
        matching = [cites.get(d, d) for d in studies if contexts[d][facet] & asked[facet]]
        others: Counter[str] = Counter()
        unknown = 0
        for d in studies:
            values = contexts[d][facet]
            if not values:
                unknown += 1
            elif not values & asked[facet]:
                others.update(label(v) for v in values)
        fits.append(
            FacetFit(
                facet,
                sorted(label(v) for v in asked[facet]),
                matching,
                sorted(others.items(), key=lambda x: (-x[1], x[0])),
                unknown,
                len(studies),
            )
        )
    statements = [_statement(f) for f in fits]
    top_mismatch = False
    if top in contexts:
        misses = _top_misses(asked, contexts[top], taxonomy)
        if misses:
            top_mismatch = True
            statements.append(
                f"The study closest to your question ({cites.get(top, top)}) "
                f"{' and '.join(misses)}: check whether its findings are likely to hold in "
                "your context before acting on them."
            )
    return ContextFit(asked_from, fits, statements, top_mismatch), asked, contexts


def _top_misses(
    asked: dict[str, set[str]], values: dict[str, set[str]], taxonomy: Taxonomy
) -> list[str]:
    """What the top study lacks: "comes from primary schools, not secondary schools" or "does
    not say whether it comes from rural settings"."""
    misses = []
    for facet, wanted in asked.items():
        label = taxonomy.facets[facet].label_of
        names = sorted(label(v) for v in wanted)
        names = [n.lower() for n in names] if facet in ("phase", "setting") else names
        asked_text = NOUNS[facet].format(_names(names))
        if not values[facet]:
            misses.append(f"does not say whether it comes from {asked_text}")
        elif not values[facet] & wanted:
            have = sorted(label(v) for v in values[facet])
            have = [n.lower() for n in have] if facet in ("phase", "setting") else have
            misses.append(f"comes from {NOUNS[facet].format(_names(have))}, not {asked_text}")
    return misses
