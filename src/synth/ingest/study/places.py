"""Where a study took place and with whom: countries, phase, setting and sample size.

Mentions are weighed by where they sit. A country in the title, in the method section or in a
sentence where the document speaks of itself ("the trial took place in 28 schools in ...")
counts; a country in a background paragraph, a citation or a reference list does not. The
same weighing decides phase and setting; school grades ("Grades 4 to 8", "Standard 3") are
read as phases by the grade systems that use them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from synth.models import Sample

from .effects import NUMBER_WORDS
from .text import NON_CONTENT, Sentence

# A sentence that locates the study itself: "took place in", "schools in", "carried out in".
SETTING_CUE = re.compile(
    r"\b(?:took place|carried out|conducted|was run|were run|implemented|based|delivered|"
    r"rolled out|piloted|operat\w+|visited|assessed|surveyed|sampled|enrolled|recruited|"
    r"participat\w+|took part)\b[^.]{0,80}\bin\b"
    r"|\b\d[\d,]*\s+(?:public\s+|government\s+|private\s+|primary\s+|secondary\s+|rural\s+|"
    r"urban\s+)*(?:schools|villages|districts|classrooms|classes|centres|centers|pupils|"
    r"students|children|learners|teachers|households)\s+(?:in|across|from)\b",
    re.I,
)
SECTION_WEIGHT = {
    "front": 1.0,
    "method": 2.0,
    "findings": 1.0,
    "body": 0.8,
    "practice": 0.5,
    "discussion": 0.5,
    "background": 0.25,
}
MULTI_COUNTRY = re.compile(
    r"\b(?:\d{1,3}|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)"
    r"\s+(?:[\w“”\"'-]+\s+){0,3}(?:countries|nations|education systems)\b",
    re.I,
)
# Authors' affiliations and addresses name where the authors work, not where the study was.
AFFILIATION = re.compile(
    r"\b(?:universit\w+|institute|department of|faculty of|school of education|cent(?:re|er) for|"
    r"correspondence|e-?mail|@|orcid|affiliation)\b",
    re.I,
)
# "Primary" and "secondary" that name no school phase: primary studies, secondary data.
PHASE_NOISE = re.compile(
    r"\b(?:primary|secondary)\s+(?:stud(?:y|ies)|research|focus|outcomes?|searches|search|"
    r"sources?|data|analys[ie]s|care|health|objectives?|questions?|aims?|concerns?|reasons?|"
    r"purpose|goal|role|responsibility|author|reviewers?|literature)\b",
    re.I,
)
# A demonym or country that names a subject ("U.S. history", "English language arts").
SUBJECT = re.compile(
    r"\b(?:U\.S\.|US|American|British|English|French|Spanish|Portuguese|Chinese|German)\s+"
    r"(?:history|literature|language arts|government|civics|politics|grammar|lessons|classes)\b"
)
WORD_NUMBERS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}
GRADE = re.compile(
    r"\b(?P<system>Grades?|Class(?:es)?|Standards?|Forms?|P|S)\s?(?P<lo>\d{1,2})"
    r"(?:\s*(?:-|–|to|and|through)\s*(?P<hi>\d{1,2}))?\b(?![\d,.]*\s*(?:per\s?cent|%))"
    r"|\b(?:in|pupils in|students in|children in)\s+(?P<system2>Years?)\s(?P<lo2>\d{1,2})"
    r"(?:\s*(?:-|–|to|and)\s*(?P<hi2>\d{1,2}))?\b"
    r"|\b(?P<system3>Years?)\s(?P<lo3>\d{1,2})(?:\s*(?:-|–|to|and)\s*(?P<hi3>\d{1,2}))?\s+"
    r"(?:pupils|students|children|classes|groups)\b"
)
GRADE_WORD = re.compile(
    r"\bgrades?\s+(?P<w>one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b",
    re.I,
)
ORDINAL_GRADE = re.compile(
    r"\b(?P<n>\d{1,2})(?:st|nd|rd|th)[- ]grade|\b(?P<w>" + "|".join(WORD_NUMBERS) + r")[- ]grade",
    re.I,
)
AGES = re.compile(r"\baged?\s+(?P<lo>\d{1,2})\s*(?:-|–|to)\s*(?P<hi>\d{1,2})\b", re.I)
SAMPLE = re.compile(
    r"(?<![\w.,])(?P<n>\d{1,3}(?:,\d{3})+|\d+)\s+(?:(?:[a-z-]+\s+){0,3})?"
    r"(?P<unit>pupils|students|children|learners|schools|teachers|classes|classrooms|parents|"
    r"caregivers|households|families|villages|districts|studies|trials|records)\b",
    re.I,
)
GRADE_BEFORE = re.compile(r"\b(?:grades?|class(?:es)?|standards?|years?|forms?|P|S)\s*$", re.I)
UNIT_PRIORITY = ["pupils", "students", "children", "learners", "caregivers", "parents",
                 "households", "families", "teachers", "schools", "classes", "classrooms",
                 "villages", "districts", "studies", "trials", "records"]  # fmt: skip


@dataclass(frozen=True)
class PlaceRules:
    """Where a weighed mention becomes a field value; tuned on the tuning half of the gold."""

    title_weight: float = 4.0
    self_weight: float = 2.0
    setting_weight: float = 1.5
    heading_weight: float = 2.0
    country_min: float = 2.0
    # A short document (an abstract) names its setting once: one own mention is enough.
    country_min_short: float = 0.75
    short_sentences: int = 25
    country_share: float = 0.3
    # A review's countries are those of the studies it brings together, some named less often.
    review_country_share: float = 0.15
    phase_min: float = 0.75
    phase_share: float = 0.35
    setting_min: float = 2.0
    setting_share: float = 0.4
    multi_country_min: int = 3


def sentence_weight(s: Sentence, rules: PlaceRules) -> float:
    """How much a mention in this sentence says about where the study itself took place."""
    if s.kind in NON_CONTENT or s.citation or AFFILIATION.search(s.text):
        return 0.0
    weight = SECTION_WEIGHT.get(s.kind, 0.8)
    if s.self_reference:
        weight = max(weight, rules.self_weight)
    if SETTING_CUE.search(s.text):
        weight = max(weight, rules.setting_weight)
    return weight


def grade_phases(text: str) -> Counter[str]:
    """Phases named by school grades, years, classes, standards or forms, and by ages."""
    found: Counter[str] = Counter()
    for m in GRADE.finditer(text):
        n = next(i for i in ("", "2", "3") if m.group("system" + i))
        system = m.group("system" + n).lower().rstrip("s")
        lo = int(m.group("lo" + n))
        hi = int(m.group("hi" + n) or lo)
        if hi < lo or hi > 13 or (system in ("p", "s") and not text[m.start() : m.end()].isupper()):
            continue
        if system == "year" and re.match(r"\d{4}", text[m.start("lo") :]):
            continue
        for grade in range(lo, hi + 1):
            found[_phase_of(system, grade)] += 1 / (hi - lo + 1)
    for m in GRADE_WORD.finditer(text):
        found[_phase_of("grade", NUMBER_WORDS[m.group("w").lower()])] += 1
    for m in ORDINAL_GRADE.finditer(text):
        grade = int(m.group("n")) if m.group("n") else WORD_NUMBERS[m.group("w").lower()]
        found[_phase_of("grade", grade)] += 1
    for m in AGES.finditer(text):
        lo, hi = int(m.group("lo")), int(m.group("hi"))
        if 0 <= lo <= hi <= 19:
            for age in (lo, hi):
                found[_phase_of_age(age)] += 0.5
    return found


def _phase_of(system: str, grade: int) -> str:
    if system == "form" or system == "s":
        return "secondary"
    if system == "year":  # England and Wales: Years 1-6 primary, 7-11 secondary, 12-13 post-16
        return "primary" if grade <= 6 else "secondary" if grade <= 11 else "post-16"
    return "primary" if grade <= 6 else "secondary"


def _phase_of_age(age: int) -> str:
    if age <= 5:
        return "early-years"
    return "primary" if age <= 11 else "secondary" if age <= 15 else "post-16"


def chosen(scores: Counter[str], minimum: float, share: float) -> list[str]:
    """Values scoring at least `minimum` and `share` of the best, best first."""
    top = max(scores.values(), default=0.0)
    return [
        value
        for value, score in sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        if score >= minimum and score >= share * top
    ]


def find_sample(sentences: Sequence[Sentence], review: bool) -> Sample | None:
    """The study's own sample as printed: the first count in a method or self-describing
    sentence, people before places; for a review, the number of studies it includes."""
    best: tuple[int, int, Sample] | None = None
    for s in sentences:
        if s.kind in NON_CONTENT or s.citation:
            continue
        if not (s.kind in ("method", "front") or s.self_reference or SETTING_CUE.search(s.text)):
            continue
        for m in SAMPLE.finditer(s.text):
            if GRADE_BEFORE.search(s.text[max(0, m.start() - 12) : m.start()]):
                continue  # "Class 3 pupils" names a grade, not a number of pupils
            unit = m.group("unit").lower()
            if review != (unit in ("studies", "trials", "records")):
                continue
            size = int(m.group("n").replace(",", ""))
            if size < 2 or 1900 <= size <= 2100 and "," not in m.group("n"):
                continue
            rank = (UNIT_PRIORITY.index(unit), s.index)
            if best is None or rank < best[:2]:
                best = (*rank, Sample(size, unit, re.sub(r"\s+", " ", m.group(0))))
    return best[2] if best else None


def multi_country_stated(sentences: Sequence[Sentence]) -> bool:
    """The document says it covers several countries ("in nine countries", "15 countries")."""
    return any(
        MULTI_COUNTRY.search(s.text)
        for s in sentences
        if s.kind not in NON_CONTENT
        and not s.citation
        and (s.self_reference or s.kind in ("front", "method") or s.index < 15)
    )
