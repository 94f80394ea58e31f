"""Sentence roles: what a sentence does for a reader (defines, explains, tells how, costs, warns,
reports a result, recommends, sets out the problem), by rules plus embedding prototypes.

Three signals per role: cue words in the sentence, cue words in the heading it sits under, and
the cosine to prototype sentences written for the role (`PROTOTYPES`, general sentences about
education, none taken from a corpus). The weights were tuned on the tuning half of
`benchmarks/roles_gold.tsv`; `benchmarks/bench_roles.py` reports accuracy on the held-out half.
A sentence whose best score is weak is `background`: context a brief does not need to quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from synth.ingest.embed import Embedder

ROLES: tuple[str, ...] = (
    "definition",
    "mechanism",
    "implementation",
    "cost",
    "caveat",
    "finding",
    "recommendation",
    "problem",
    "background",
)
ROLE_NAMES = {
    "definition": "what it is",
    "mechanism": "how it works",
    "implementation": "how to implement",
    "cost": "cost",
    "caveat": "watch-outs and limitations",
    "finding": "finding",
    "recommendation": "recommendation",
    "problem": "the problem",
    "background": "background",
}


@dataclass(frozen=True)
class RoleWeights:
    """How much each signal counts; `floor` is the score below which a sentence is background."""

    wording: float = 1.5
    heading: float = 1.0
    prototype: float = 6.0
    floor: float = -9.0  # no floor: background competes as a role with its own bias
    bias: tuple[float, ...] = (0.0,) * 8 + (1.2,)  # one per role, in ROLES order


WEIGHTS = RoleWeights()


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


WORDING: dict[str, re.Pattern[str]] = {
    "definition": _rx(
        r"\b(is|are) (an?|the) (\w+ ){0,2}(approach|programme|program|intervention|strategy|"
        r"method|model|way|practice|form|initiative|process|technique|activity)\b|refers? to|"
        r"is defined as|we mean|consists? of|is about\b|are about\b|describes? how|"
        r"\b(known as|is called|so-called)\b"
    ),
    "mechanism": _rx(
        r"\b(because|works? (by|through|when|best)|mechanism|the reason|why it works|"
        r"helps? (pupils|students|children|learners|teachers|parents) (to )?\w+|"
        r"by (giving|making|helping|allowing|letting|providing|showing|breaking|matching)|"
        r"allow(s|ing)? (pupils|students|children|learners|teachers)|enables?|so that|"
        r"the idea (is|behind)|depends? (heavily )?on|rather than)\b"
    ),
    "implementation": _rx(
        r"\b(implement\w*|deliver\w*|timetabl\w*|schedul\w*|train(ed|ing)? (teachers|staff|"
        r"tutors|coaches|volunteers|assistants)|sessions? (a|per|each) (week|day)|"
        r"minutes (a|per|each)|start(ed)? by|roll(ed)? out|set up|in practice|step by step|"
        r"lesson plans?|materials?|supervis\w*|refresher|recruit\w*|selected|grouped|"
        r"each (week|term|day|lesson)|caseloads?|routines?)\b|^(first,? |second,? |then )?"
        r"(give|provide|train|make|use|start|agree|monitor|review|focus|keep|protect|plan|"
        r"pay|ensure|build|set|model|teach|check|schedule|assign|select|involve|share|begin|"
        r"ask|let|avoid|limit|introduce|explain|recruit|develop|define|map|invest|repeat|"
        r"create|prepare|visit|support|allow|encourage)\b"
    ),
    "cost": _rx(
        r"\b(costs?|costing|costly|per (pupil|child|student|learner|school)|budget\w*|"
        r"expens\w*|afford\w*|cheap\w*|cost-effective\w*|value for money|stipends?|"
        r"funding|spend\w*)\b|[£$€]\s?\d|\b(USD|GBP|EUR)\s?\d"
    ),
    "caveat": _rx(
        r"\b(limitation\w*|caution\w*|cautious|caveat\w*|risk\w*|pitfall\w*|barrier\w*|"
        r"warn\w*|did not (improve|change|increase|reduce|implement)|no (significant|"
        r"measurable|clear) (effect|difference|impact)|not (statistically )?significant|"
        r"fade[ds]?|bias\w*|small sample|uncertain\w*|overstat\w*|self-reported|"
        r"should be (treated|read|interpreted) with|cannot|do not (yet )?(know|have|show)|"
        r"less (direct )?evidence|may not|might not|worse|harm\w*|struggl\w*|hard to|"
        r"difficult|fall back|overlooked|miss(ed|ing)? out|lose out|not automatically|"
        r"volunteered|however)\b"
    ),
    "finding": _rx(
        r"\b(found|find|improv\w*|increas\w*|reduc\w*|rais\w*|gains?|gained|effects?|"
        r"impacts?|significant\w*|higher|lower|fewer|better|worse|outperform\w*|"
        r"months? of progress|more likely|less likely|rose|fell|persist\w*|"
        r"compared with|than (the )?(comparison|control)|reported|said|rated|showed|"
        r"revealed|agreed|wanted|worried|observed|tend(ed)? to|were used)\b|"
        r"\d+(\.\d+)?\s?(%|per cent|percentage points|standard deviations?)|"
        r"\b0\.\d+\b"
    ),
    "recommendation": _rx(
        r"\b(should|recommend\w*|must|need(s)? to|it is (important|essential) to|"
        r"priorit\w*|we suggest|ought to|encourage\w*|advis\w*)\b"
    ),
    "problem": _rx(
        r"\b(problem\w*|learning (crisis|poverty|gaps?)|fall(en|ing)? behind|drop(ped)? "
        r"out|dropout|low (levels|attainment|attendance|learning)|lack\w*|inequalit\w*|"
        r"disadvantag\w*|fail(ed|ing|ure)?|not mastering|unable to|cannot read|"
        r"absen\w*|fewer than half|out of school)\b"
    ),
    "background": _rx(
        r"^(this|the|our) (summary|report|note|brief|review|paper|profile|document|"
        r"guidance|study|data brief|evidence summary|practice note)\b|\b(was|were) "
        r"(founded|funded|commissioned|established|prepared|written|produced|carried out|"
        r"conducted)\b|\b(surveyed|interviewed|collected|between (19|20)\d\d and)\b"
    ),
}
HEADINGS: dict[str, re.Pattern[str]] = {
    "definition": _rx(
        r"\bwhat (?:\w+ ){0,4}is\b|what we mean|definition|terminology|overview|introduc|"
        r"^the (programme|intervention|project|model|approach)$|our model|what .+ tested|"
        r"about (the|this)|the programme|what .+ did"
    ),
    "mechanism": _rx(r"how .+ works|why .+ works|how it works|mechanism|theory of change"),
    "implementation": _rx(
        r"implement|how to|deliver|getting started|in practice|practical|routine|"
        r"start with|build in|leading|model your|steps?\b|set.?up|what .+ did"
    ),
    "cost": _rx(r"cost|value for money|resourc|budget|financ|spend"),
    "caveat": _rx(
        r"caveat|limitation|pitfall|risk|challeng|barrier|watch|hardest|misconception|"
        r"what did not|concern|weakness|in context"
    ),
    "finding": _rx(
        r"finding|result|what .+ found|what .+ show|outcome|effect|impact|headline|"
        r"what the (research|evidence|trial|study) (says|found|shows)"
    ),
    "recommendation": _rx(
        r"recommend|implication|conclusion|what this means|next steps|policy|"
        r"for districts|for schools|what to do|way forward|enablers|lessons"
    ),
    "problem": _rx(r"problem|\bwhy\b|background|challenge|the need|crisis|context"),
    "background": _rx(r"about (us|this)|method|data and|sources|acknowledg|who we are"),
}
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "definition": (
        "Peer tutoring is an approach in which learners work in pairs to teach each other.",
        "Formative assessment refers to checks on pupils' understanding made during teaching.",
        "Metacognition is about how learners think about and manage their own learning.",
        "The programme places trained volunteers in classrooms to support struggling readers.",
        "Teaching at the right level groups children by their current level rather than grade.",
        "Feedback is information given to a learner about their performance against a goal.",
        "Coaching involves an experienced practitioner observing lessons and giving advice.",
        "The intervention consists of three tutoring sessions a week in groups of two or three.",
        "Adaptive software adjusts the difficulty of exercises to each student's answers.",
    ),
    "mechanism": (
        "It works because pupils receive instruction matched to what they can already do.",
        "The messages help because parents often underestimate how many days a child misses.",
        "Feedback improves learning when it tells pupils how to close the gap to the goal.",
        "Small groups allow the tutor to notice and correct misconceptions quickly.",
        "Explaining a concept to a younger pupil deepens the tutor's own understanding.",
        "Coaching changes practice because teachers rehearse new routines with support.",
        "The likely mechanism is more time on task and practice at the right difficulty.",
        "Planning and monitoring their work helps students take control of their learning.",
    ),
    "implementation": (
        "Schools should timetable sessions at the same time each week and protect them.",
        "Train tutors before the programme starts and observe them in the first weeks.",
        "Sessions lasted thirty minutes, three times a week, delivered by trained assistants.",
        "Start by assessing pupils with a short oral test and group them by level.",
        "Teachers were given structured lesson plans and simple materials for each session.",
        "Leaders need to plan how staff will be supported during the first year of delivery.",
        "Model the strategy explicitly, then give pupils guided practice before working alone.",
        "Messages were sent by the school every Friday using the existing text system.",
        "Head teachers monitored delivery through monthly visits and short checklists.",
    ),
    "cost": (
        "The programme cost about 150 pounds per pupil per year, mostly for staff time.",
        "The main costs are training and the stipends paid to assistants.",
        "At less than one dollar per pupil, the messages were very cheap to send.",
        "The approach is low cost because it uses existing teachers and materials.",
        "Schools should budget for materials, training days and cover for teachers.",
        "Cost-effectiveness was high compared with other interventions.",
    ),
    "caveat": (
        "The study was small and the results should be treated with caution.",
        "Effects faded once the programme ended.",
        "Results may not transfer to schools with larger classes or fewer resources.",
        "Self-reported data may overstate the change in practice.",
        "A common pitfall is using assistants as an informal resource for low attainers.",
        "Without training, teachers tended to fall back on old habits.",
        "Poorly designed feedback can waste time or even lower performance.",
        "The evaluation did not measure attainment, so the effect on learning is unknown.",
        "The trial was run by the programme's developers, which may inflate the results.",
    ),
    "finding": (
        "Pupils in the programme made two months more progress in reading than the control group.",
        "The intervention raised maths scores by 0.2 standard deviations.",
        "Attendance increased by 4 percentage points in schools that received the messages.",
        "The trial found no effect on test scores.",
        "Children who were tutored were more likely to pass the end-of-year exam.",
        "Reading fluency improved most among the pupils who started furthest behind.",
        "The share of girls who stayed in school rose from 60% to 72%.",
        "Teachers who were coached used the new methods more often than those who were not.",
    ),
    "recommendation": (
        "Schools should focus feedback on the task rather than on the pupil.",
        "We recommend that districts invest in coaching rather than one-off workshops.",
        "Policy makers need to protect funding for remedial programmes.",
        "Decision makers should prioritise structured programmes with clear roles.",
        "Governments should scale up the approach through existing school systems.",
        "Leaders ought to review the policy after a full year before changing it.",
    ),
    "problem": (
        "Many children reach the end of primary school unable to read a simple text.",
        "Half of pupils in grade five cannot do basic subtraction.",
        "Girls are more likely to drop out after the move to secondary school.",
        "Learning levels are low and have barely changed in a decade.",
        "Pupils who fall behind early rarely catch up without help.",
        "Chronic absence is a major barrier to learning in poorer districts.",
    ),
    "background": (
        "This report was written for head teachers in the region.",
        "The study took place in forty schools between 2016 and 2018.",
        "The organisation was founded in 2010 and works with local partners.",
        "Data were collected through surveys and classroom observations.",
        "The first section describes the programme and the second reports results.",
        "The evaluation was funded by a national foundation.",
    ),
}


@lru_cache(maxsize=4)
def _prototype_vectors(embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
    """All prototypes embedded once per model, with the role index of each."""
    texts = [t for role in ROLES for t in PROTOTYPES[role]]
    owner = np.array([ROLES.index(role) for role in ROLES for _ in PROTOTYPES[role]])
    vectors = embedder.encode(texts)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors.astype("float32"), owner


def prototype_scores(vectors: np.ndarray, embedder: Embedder) -> np.ndarray:
    """(n, roles): the mean of each role's two closest prototypes, centred per sentence."""
    protos, owner = _prototype_vectors(embedder)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = vectors @ protos.T
    out = np.zeros((len(vectors), len(ROLES)), dtype="float32")
    for r in range(len(ROLES)):
        own = np.sort(sims[:, owner == r], axis=1)[:, -2:]
        out[:, r] = own.mean(axis=1)
    return out - out.mean(axis=1, keepdims=True)


def _last_heading(section: str) -> str:
    return section.split(">")[-1].strip() if section else ""


BULLET = re.compile(r"^\s*([-•*–]|\d+[.)])\s+")


def rule_scores(texts: list[str], sections: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(wording, heading) indicator matrices, each (n, roles); list markers are ignored."""
    texts = [BULLET.sub("", t) for t in texts]
    wording = np.array(
        [[bool(WORDING[r].search(t)) for r in ROLES] for t in texts], dtype="float32"
    ).reshape(len(texts), len(ROLES))
    heading = np.array(
        [[bool(HEADINGS[r].search(_last_heading(s))) for r in ROLES] for s in sections],
        dtype="float32",
    ).reshape(len(texts), len(ROLES))
    return wording, heading


def role_scores(
    texts: list[str],
    sections: list[str],
    vectors: np.ndarray,
    embedder: Embedder,
    weights: RoleWeights = WEIGHTS,
) -> np.ndarray:
    """(n, roles) scores: weighted cue words, heading cues and prototype similarity."""
    if not texts:
        return np.zeros((0, len(ROLES)), dtype="float32")
    wording, heading = rule_scores(texts, sections)
    protos = prototype_scores(vectors, embedder)
    return (
        weights.wording * wording
        + weights.heading * heading
        + weights.prototype * protos
        + np.array(weights.bias, dtype="float32")
    )


def roles_from_scores(scores: np.ndarray, weights: RoleWeights = WEIGHTS) -> list[str]:
    """Each sentence's role: the best-scoring one, or background when none is strong."""
    out = []
    background = ROLES.index("background")
    for row in scores:
        best = int(np.argmax(row))
        out.append(ROLES[best] if row[best] >= weights.floor else ROLES[background])
    return out


def classify(
    texts: list[str], sections: list[str], vectors: np.ndarray, embedder: Embedder
) -> list[str]:
    """The role of each sentence (see ROLES)."""
    return roles_from_scores(role_scores(texts, sections, vectors, embedder))
