"""What makes a sentence belong in a brief section such as "How to implement" or "Costs".

Without a language model these sections are filled extractively: a sentence qualifies when the
heading it sits under, or its own wording, is about the section's subject. A heading match counts
for more than wording, because report authors file implementation advice under headings like
"Implementation lessons" while a finding may mention "training" in passing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADING_WEIGHT = 1.0
WORDING_WEIGHT = 0.5


@dataclass(frozen=True)
class SectionRule:
    name: str
    title: str
    headings: re.Pattern[str]
    wording: re.Pattern[str]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


RULES: tuple[SectionRule, ...] = (
    SectionRule(
        "definition",
        "What it is",
        _rx(
            r"\bwhat (?:\w+ ){0,4}is\b|what we mean|definition|terminology|overview|introduc|"
            r"^the (programme|intervention|project|model)$|our model|how .+ works|what .+ did|"
            r"what .+ tested|about (the|this)"
        ),
        _rx(
            r"\b(is an? (approach|programme|intervention|strategy|method|model|way|practice)|"
            r"refers to|is defined as|we mean|consists of|involves)\b"
        ),
    ),
    SectionRule(
        "implementation",
        "How to implement it",
        _rx(
            r"implement|how to|how .+ works|deliver|getting started|in practice|practical|"
            r"routine|design|supporting|start with|build in|lessons|leading|model your|"
            r"show, then|teach .+ explicitly|steps?\b|set.?up"
        ),
        _rx(
            r"\b(implement\w*|deliver\w*|timetabl\w*|schedul\w*|train(ed|ing)? (teachers|staff|"
            r"tutors|coaches|volunteers)|sessions? (a|per|each) week|minutes (a|per|each)|"
            r"start(ed)? by|roll(ed)? out|set up|in practice|step by step)\b"
        ),
    ),
    SectionRule(
        "cost",
        "Cost",
        _rx(r"cost|value for money|resourc|budget|financ|spend"),
        _rx(
            r"\b(costs?|costing|per (pupil|child|student|learner|school)|budget\w*|expens\w*|"
            r"afford\w*|cost-effective\w*|value for money)\b|[£$€]\s?\d|\b(USD|GBP|EUR)\s?\d"
        ),
    ),
    SectionRule(
        "context",
        "What it means for your context",
        _rx(
            r"implication|what this means|context|fits the wider|relevan|transfer|"
            r"for (schools|districts|systems|practice|policy)|lessons from|locally|local"
        ),
        _rx(
            r"\b(context\w*|setting\w*|adapt\w*|transfer\w*|generalis\w*|generaliz\w*|"
            r"elsewhere|other (countries|schools|settings)|local (conditions|needs|ownership)|"
            r"similar (schools|settings))\b"
        ),
    ),
    SectionRule(
        "caveats",
        "Caveats and limitations",
        _rx(
            r"caveat|limitation|pitfall|risk|challeng|barrier|watch|hardest|misconception|"
            r"what did not|concern|weakness"
        ),
        _rx(
            r"\b(limitation\w*|caution\w*|caveat\w*|risk\w*|pitfall\w*|barrier\w*|"
            r"did not (improve|change|increase|reduce)|no (significant|measurable|clear) "
            r"(effect|difference|impact)|not (statistically )?significant|fade[ds]?|bias\w*|"
            r"small sample|uncertain\w*|should be (treated|read|interpreted) with)\b"
        ),
    ),
    SectionRule(
        "problem",
        "The problem",
        _rx(r"problem|\bwhy\b|background|challenge|the need|inadequac|failure|crisis"),
        _rx(
            r"\b(problem\w*|learning (crisis|poverty|gaps?)|fall(en|ing)? behind|drop(ped)? "
            r"out|low (levels|attainment|attendance)|lack\w*|inequalit\w*|disadvantag\w*|"
            r"fail(ed|ing|ure)?)\b"
        ),
    ),
    SectionRule(
        "recommendations",
        "Recommendations",
        _rx(
            r"recommend|implication|conclusion|what this means|next steps|policy|"
            r"for districts|for schools|what to do|way forward|enablers"
        ),
        _rx(
            r"\b(should|recommend\w*|must|need(s)? to|it is (important|essential) to|"
            r"priorit\w*|we suggest|ought to)\b"
        ),
    ),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}


def _last_headings(section: str, n: int = 2) -> list[str]:
    return [h.strip() for h in section.split(">")][-n:] if section else []


def topicality(rule: SectionRule, section: str, sentence: str) -> float:
    """How squarely a sentence belongs in the section: 0 (not at all), up to 1.5."""
    heading = any(rule.headings.search(h) for h in _last_headings(section))
    wording = bool(rule.wording.search(sentence))
    return HEADING_WEIGHT * heading + WORDING_WEIGHT * wording


# Key messages should report what was found, not describe the document they come from.
FINDINGS = SectionRule(
    "findings",
    "Findings",
    _rx(
        r"finding|result|what .+ found|what .+ show|outcome|effect|impact|headline|"
        r"what the (research|evidence) says"
    ),
    _rx(
        r"\b(found|improv\w*|increas\w*|reduc\w*|rais\w*|gain\w*|effects?|impacts?|"
        r"significant\w*|higher|lower|fewer|better|worse|outperform\w*|months? of progress)\b|"
        r"\d+(\.\d+)?\s?(%|per cent|percentage points|standard deviations?)"
    ),
)
SELF_DESCRIPTION = _rx(
    r"^(this|the|our) (summary|report|note|brief|review|paper|profile|document|guidance|"
    r"practice note|evidence summary|data brief) (describes|sets out|summari[sz]es|presents|"
    r"draws|is|looks|reports on|brings|focus(es|ses)|examines|explores|aims|provides|outlines|"
    r"offers|covers)"
)


def finding_weight(section: str, sentence: str) -> float:
    """A bonus for sentences that state a finding, a penalty for ones that describe the paper."""
    penalty = 1.0 if SELF_DESCRIPTION.search(sentence) else 0.0
    return topicality(FINDINGS, section, sentence) - penalty
