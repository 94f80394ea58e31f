"""What a document is (its kind) and its own design, from how it speaks of itself.

Design cue phrases count toward the document's own design only where it speaks of itself: its
title, sentences such as "this trial" or "we randomised", method sections and its own results.
The same phrases in a citation ("a meta-analysis by Kraft and colleagues found") or a
background paragraph describe other studies; for a review they become `reviewed_designs`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from synth.models import StudyKind

from .text import NON_CONTENT, Sentence

Mentions = Callable[[str], Counter[tuple[str, str]]]

EMPIRICAL = ("rct", "quasi-experimental", "qualitative", "case-study", "survey-admin")
# Designs of studies a document reports with findings; accounts and surveys it mentions in
# passing are not reviewed evidence.
EVIDENCE_DESIGNS = ("systematic-review", "rct", "quasi-experimental", "qualitative")
# Extra own-design phrasing the taxonomy's names do not cover.
OWN_DESIGN_CUES: dict[str, re.Pattern[str]] = {
    "rct": re.compile(
        r"\b(?:randomi[sz]ation was|were randomly (?:assigned|allocated|selected to receive)|"
        r"we randomly assigned|randomly assigned (?:\d+ )?(?:schools|classes|pupils|students|"
        r"children|villages|teachers)|lottery)\b",
        re.I,
    ),
    "quasi-experimental": re.compile(
        r"\b(?:matched comparison|comparison (?:schools|villages|group|districts)|"
        r"(?:participants and )?non-?participants|compared with (?:similar|matched)|"
        r"non-?random\w*|not (?:selected|chosen|assigned) at random|were not randomi[sz]ed|"
        r"was not randomi[sz]ed|pre-?test/post-?test|pretest and posttest|causal-comparative|"
        r"propensity score|experimental and control group|experimental group)\b",
        re.I,
    ),
    "survey-admin": re.compile(
        r"\b(?:school census|census data|administrative (?:data|records)|attendance records|"
        r"monitoring data|surveys?|surveyed|questionnaires?|"
        r"assessment data|spot checks?|the assessment|learner information system|"
        r"descriptive study)\b",
        re.I,
    ),
    "qualitative": re.compile(
        r"\b(?:interviews?|focus groups?|thematic analysis|qualitative analysis)\b", re.I
    ),
    "case-study": re.compile(
        r"\b(?:classroom observations?|observation data|structured observations?|"
        r"multi-case|case study)\b",
        re.I,
    ),
    "practitioner-account": re.compile(
        r"\b(?:advice from|experience of|our (?:coaches|practitioners|teachers|experience)|"
        r"practitioners in our|experienced (?:teachers|practitioners)|working group of|"
        r"learnt so far|learned so far|things we have learnt)\b",
        re.I,
    ),
}
TITLE_KIND: list[tuple[StudyKind, re.Pattern[str]]] = [
    (
        "systematic-review",
        re.compile(
            r"\b(?:review|meta-?analys[ie]s|evidence summary|synthesis|what the evidence says|"
            r"what do we know|the evidence on)\b",
            re.I,
        ),
    ),
    ("data-brief", re.compile(r"\b(?:data brief|data note|statistical brief)\b", re.I)),
    (
        "practice-guide",
        re.compile(r"\b(?:guidance|guide|practice notes?|how to|tips|handbook)\b", re.I),
    ),
    (
        "evaluation-report",
        re.compile(r"\b(?:evaluation(?: report)?|an evaluation of|impact evaluation)\b", re.I),
    ),
    (
        "policy-document",
        re.compile(
            r"\b(?:policy (?:paper|brief|document)|position paper|call to action|white paper|"
            r"strategy for|roadmap)\b",
            re.I,
        ),
    ),
    (
        "programme-description",
        re.compile(r"^(?:about\b)|\b(?:programme profile|program profile|learnings)\b", re.I),
    ),
    (
        "primary-study",
        re.compile(r"\b(?:trial|experiment|survey findings|a study of|study)\b", re.I),
    ),
]
SELF_KIND: list[tuple[StudyKind, re.Pattern[str]]] = [
    (
        "systematic-review",
        re.compile(
            r"\b(?:this|our) (?:rapid |systematic |evidence |narrative |desk )?"
            r"(?:review|meta-analysis|synthesis|evidence summary)\b|\bthis summary\b"
            r"|\b(?:we|this study) (?:searched|screened|reviewed|synthesi[sz]ed|included \d+)",
            re.I,
        ),
    ),
    (
        "data-brief",
        re.compile(r"\bthis (?:data )?brief (?:uses|draws on|reports|describes|summarises)", re.I),
    ),
    (
        "practice-guide",
        re.compile(
            r"\bthis (?:guidance|guide|note|practice note|guidance note)\b|"
            r"\bwe recommend\b|\bpractical advice\b",
            re.I,
        ),
    ),
    (
        "evaluation-report",
        re.compile(
            r"\b(?:this|the|an) (?:impact )?evaluation (?:was|of|report)|\bthis report evaluates\b"
            r"|\bthis report presents (?:the )?(?:findings|results) from [^.]{0,80}\b(?:of|on) "
            r"(?:a|the|one) [\w\s-]{0,40}\b(?:programme|program|initiative|pilot)\b",
            re.I,
        ),
    ),
    (
        "policy-document",
        re.compile(
            r"\bthis (?:policy )?paper (?:sets out|argues|recommends)|\bwe recommend that the "
            r"(?:government|ministry)|\bpolicy ?makers should\b",
            re.I,
        ),
    ),
    (
        "programme-description",
        re.compile(
            r"\b(?:this (?:profile|blog)|the (?:project|programme|initiative) (?:aims|is a|has)|"
            r"our (?:programme|model|work)|we (?:want|work with|are excited))\b",
            re.I,
        ),
    ),
    (
        "primary-study",
        re.compile(
            r"\b(?:this|our|my|the present) (?:randomi[sz]ed |cluster |pilot )?(?:trial|study|"
            r"survey|research|research project|experiment)\b|\bthe trial (?:took place|included|"
            r"ran)\b|\bwe (?:assessed|tested|measured|randomi[sz]ed|surveyed|interviewed|"
            r"observed|recruited|followed)\b",
            re.I,
        ),
    ),
]
# With no other sign of what a document is, one that keeps describing a programme's work
# (partners, activities, plans) describes a programme.
PROGRAMME = re.compile(
    r"\b(?:partners?|champions?|initiative|grantees?|network members|our (?:team|work)|"
    r"we (?:support|work|launched|released|want))\b",
    re.I,
)


@dataclass(frozen=True)
class KindRules:
    """Weights and bars for kind and design; tuned on the tuning half of the gold."""

    title_weight: float = 5.0
    self_weight: float = 2.5
    self_cap: int = 2
    programme_weight: float = 0.3
    method_weight: float = 1.5
    findings_weight: float = 0.8
    front_weight: float = 1.0
    other_weight: float = 0.3
    design_min: float = 2.0
    reviewed_min: float = 1.0
    kind_min: float = 2.0


def _own_weight(s: Sentence, rules: KindRules) -> float:
    if s.kind in NON_CONTENT or s.citation:
        return 0.0
    if s.self_reference:
        return rules.self_weight
    return {
        "method": rules.method_weight,
        "findings": rules.findings_weight,
        "front": rules.front_weight,
    }.get(s.kind, rules.other_weight if s.index >= 8 else rules.front_weight)


def design_scores(
    sentences: Sequence[Sentence], title: str, mentions: Mentions, rules: KindRules
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """(own, reviewed, described) design scores over the document's sentences: own from its
    title and own sentences, reviewed from citations and background, described from every
    content sentence that does not speak of the document itself."""
    own: Counter[str] = Counter()
    reviewed: Counter[str] = Counter()
    described: Counter[str] = Counter()
    for (facet, value), n in mentions(title).items():
        if facet == "design":
            own[value] += rules.title_weight * n
    for design, pattern in OWN_DESIGN_CUES.items():
        if pattern.search(title):
            own[design] += rules.title_weight
    for s in sentences:
        found = Counter({v: n for (f, v), n in mentions(s.text).items() if f == "design"})
        for design, pattern in OWN_DESIGN_CUES.items():
            if pattern.search(s.text):
                found[design] += 1
        if not found:
            continue
        if not s.self_reference and s.kind != "method":
            described.update(found)
        if s.citation or s.kind == "background":
            for value, n in found.items():
                reviewed[value] += n
            continue
        weight = _own_weight(s, rules)
        for value, n in found.items():
            own[value] += weight * min(n, 2)
    return own, reviewed, described


def kind_scores(sentences: Sequence[Sentence], title: str, rules: KindRules) -> Counter[str]:
    """The title's word for what the document is, then how it speaks of itself (each kind's
    self-descriptions counted at most `self_cap` times)."""
    scores: Counter[str] = Counter()
    for kind, pattern in TITLE_KIND:
        if pattern.search(title):
            scores[kind] += rules.title_weight
            break
    seen: Counter[str] = Counter()
    programme = 0.0
    for s in sentences:
        if s.kind in NON_CONTENT or s.citation:
            continue
        for kind, pattern in SELF_KIND:
            if seen[kind] < rules.self_cap and pattern.search(s.text):
                seen[kind] += 1
                scores[kind] += rules.self_weight if s.index < 15 else rules.self_weight / 2
        programme += rules.programme_weight * len(PROGRAMME.findall(s.text))
    if max(scores.values(), default=0.0) < rules.kind_min:
        scores["programme-description"] += programme
    return scores


def kind_and_design(
    sentences: Sequence[Sentence], title: str, mentions: Mentions, rules: KindRules
) -> tuple[StudyKind | None, str | None, list[str]]:
    """The document's kind, its own design and the designs of the studies it reviews."""
    own, reviewed, described = design_scores(sentences, title, mentions, rules)
    kinds = kind_scores(sentences, title, rules)
    if own["systematic-review"]:
        kinds["systematic-review"] += own["systematic-review"] / 2
    best_empirical = max((own[d] for d in EMPIRICAL), default=0.0)
    if best_empirical >= rules.design_min and not kinds:
        kinds["primary-study"] += best_empirical / 2
    kind: StudyKind | None = None
    if kinds:
        top_kind, top = kinds.most_common(1)[0]
        kind = top_kind if top >= rules.kind_min else None  # type: ignore[assignment]
    design = _own_design(kind, own, rules)
    if kind == "systematic-review":
        reviewed = reviewed + described
    reviewed_designs = sorted(
        d
        for d, n in reviewed.items()
        if n >= rules.reviewed_min and d != design and d in EVIDENCE_DESIGNS
    )
    return kind, design, reviewed_designs if kind == "systematic-review" or design else []


def _own_design(kind: str | None, own: Counter[str], rules: KindRules) -> str | None:
    if kind == "systematic-review":
        return "systematic-review"
    candidates = {
        d: n for d, n in own.items() if d != "systematic-review" and n >= rules.design_min
    }
    if kind in ("practice-guide", "programme-description", "policy-document"):
        # Guides and programme write-ups draw on practitioners' experience: one own mention
        # of it is enough; they run no trial of their own.
        candidates = {
            d: n
            for d, n in own.items()
            if d in ("practitioner-account", "survey-admin")
            and n >= rules.design_min / (2 if d == "practitioner-account" else 1)
        }
    if kind == "data-brief":
        return "survey-admin"
    if not candidates:
        return None
    return max(sorted(candidates), key=lambda d: candidates[d])
