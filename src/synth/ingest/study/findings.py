"""Findings: sentences that report a result, with its direction, outcome and printed size.

A finding is a sentence that says what changed (improved, fell, no effect) for whom, usually
with a number. For a primary study, background and other people's studies are not its
findings; a review's findings are the results of the studies it brings together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from synth.models import Direction, Finding

from .effects import find_effects
from .text import NON_CONTENT, Sentence

RESULT = re.compile(
    r"\b(?:improv\w*|increas\w*|rais\w*|rose|risen|reduc\w*|decreas\w*|fell|fallen|declin\w*|"
    r"higher|lower|larger|smaller|better|worse|gain\w*|boost\w*|outperform\w*|ahead|behind|"
    r"more likely|less likely|effects?|impacts?|associated with|led to|resulted in|"
    r"no (?:significant |detectable |measurable |meaningful |clear )?(?:effect|impact|difference|"
    r"gains?|change|evidence)|did not (?:improve|change|affect|raise|increase|reduce|produce)|"
    r"significant\w*|doubled|halved|helped|benefit\w*|progress|found that|showed that|"
    r"(?:said|reported|agreed|felt|preferred|wanted)\b(?=[^.]*\d))\b",
    re.I,
)
NUMBER = re.compile(r"\d")
# Not results: plans, hopes and conditions ("could help", "if schools", "we will test").
HEDGE = re.compile(
    r"\b(?:could|would|might|may|should)\s+(?:be|have|help|improve|increase|raise|reduce|"
    r"lead|produce|work|make)\b|^\s*(?:If|Whether|To test)\b|\bwe (?:will|plan|aim)\b|"
    r"\bhypothes\w+|\bexpected to\b|\baims? to\b",
    re.I,
)
# A number used to explain a scale, not a result: "An effect size of 0.4 is often ...".
DEFINITIONAL = re.compile(
    r"^\s*(?:An?|The)\s+effect(?:\s+size)?\s+of\b|\b(?:is|are) (?:often|usually|generally|"
    r"commonly) (?:translated|considered|described|converted)|\brule of thumb\b",
    re.I,
)
METHOD_TALK = re.compile(
    r"\b(?:were (?:measured|assessed|tested|collected)|outcomes? (?:was|were|included)|"
    r"main outcomes?|we (?:measured|assessed|compared|used)|the test|questionnaire)\b",
    re.I,
)
POSITIVE = re.compile(
    r"\b(?:improv\w*|increas\w*|rais\w*|rose|gain\w*|higher|better|boost\w*|outperform\w*|"
    r"ahead|more likely|benefit\w*|positive\w*|helped|larger)\b",
    re.I,
)
NEGATIVE = re.compile(
    r"\b(?:reduc\w*|decreas\w*|fell|fallen|declin\w*|lower|worse|behind|less likely|"
    r"negative\w*|harm\w*|smaller)\b",
    re.I,
)
NULL = re.compile(
    r"\bno (?:significant |detectable |measurable |meaningful |clear |statistically "
    r"significant )?(?:effect|impact|difference|gains?|change|advantage|improvement)|"
    r"\bnot (?:statistically )?significant|\bdid not (?:improve|change|affect|raise|increase|"
    r"reduce|produce|differ)|\bno better\b|\bno evidence\b",
    re.I,
)
# Outcomes where a fall is good news: absence, dropout, repetition, punishment, incidents.
LOWER_IS_BETTER = re.compile(
    r"\b(?:absen\w*|dropout|drop-out|dropping out|repetition|failure|fail\w*|punishment|"
    r"incidents?|exclusions?|suspensions?|chronic absence|harsh|unable to read|could not read|"
    r"cost)\b",
    re.I,
)
MAX_FINDINGS = 12
# Sentences that lean on the one before ("This amounts to ...", "They were ...").
LEANS_BACK = re.compile(
    r"^\s*(?:This|These|That|Those|It|They|Such|Both|Finally|However|Instead|Similarly|"
    r"Likewise|In (?:other words|turn|addition)|As a result|Also)\b"
)
GENERIC = re.compile(r"\b(?:typically|usually|generally|in many (?:countries|languages))\b", re.I)
# Benchmarks and advice, not results: "experts commonly suggest 40 to 60 words per minute".
NOT_RESULT = re.compile(
    r"\bexperts?\b[^.]{0,40}\b(?:suggest|recommend|say|advise)|\b(?:commonly|often) "
    r"(?:suggested|recommended|cited)|\brule of thumb\b",
    re.I,
)


def direction_of(text: str) -> Direction | None:
    """Positive, negative, no effect or mixed, reading falls in bad things as good news."""
    if NULL.search(text):
        has_change = POSITIVE.search(NULL.sub("", text)) or NEGATIVE.search(NULL.sub("", text))
        return "mixed" if has_change else "no-effect"
    up, down = bool(POSITIVE.search(text)), bool(NEGATIVE.search(text))
    if LOWER_IS_BETTER.search(text):
        up, down = up or down, False
    if up and down:
        return "mixed"
    return "positive" if up else "negative" if down else None


def is_finding(s: Sentence, review: bool) -> bool:
    """A result sentence of this document (a review's results include the studies it cites)."""
    if s.kind in NON_CONTENT or len(s.text.split()) < 6 or s.text.rstrip().endswith("?"):
        return False
    if not review and (s.citation or s.kind == "background"):
        return False
    effects = find_effects(s.text)
    if DEFINITIONAL.search(s.text) or NOT_RESULT.search(s.text):
        return False
    if not effects and (HEDGE.search(s.text) or METHOD_TALK.search(s.text) or s.kind == "method"):
        return False
    if not RESULT.search(s.text):
        return False
    return bool(effects) or bool(NUMBER.search(s.text)) or s.kind == "findings"


def findings_of(
    sentences: Sequence[Sentence],
    review: bool,
    outcome_of: Callable[[str], str | None],
) -> list[Finding]:
    """Result sentences, those with a printed effect and in result sections first."""
    scored: list[tuple[float, Finding]] = []
    for s in sentences:
        if not is_finding(s, review):
            continue
        effects = tuple(find_effects(s.text))
        finding = Finding(
            text=s.text,
            page=s.page,
            start=s.start,
            end=s.end,
            direction=direction_of(s.text),
            outcome=outcome_of(s.text),
            effects=effects,
            section=" > ".join(s.section),
        )
        score = (1.5 if effects else 0.0) + (1.0 if s.kind in ("findings", "front") else 0.0)
        score += 0.5 if finding.outcome else 0.0
        score += 1.0 if finding.direction else 0.0
        score += 0.5 if NUMBER.search(s.text) else 0.0
        # A headline must stand on its own: not "This amounts to ...", not a rule of thumb.
        score -= 1.5 if LEANS_BACK.match(s.text) else 0.0
        score -= 1.0 if GENERIC.search(s.text) else 0.0
        scored.append((score - s.index / 10_000, finding))
    scored.sort(key=lambda item: -item[0])
    return [finding for _, finding in scored[:MAX_FINDINGS]]
