"""Effect sizes as printed: Cohen's d, Hedges' g, SD units, percentage points, months of
progress and odds ratios. A number is taken only when its unit is printed beside it; nothing is
computed, converted or guessed."""

from __future__ import annotations

import re

from synth.models import Effect

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_MINUS = "\u2212\u2013-"
_SIGNED = rf"[+{_MINUS}]?\s?(?:\d+\.\d+|\.\d+|\d+)"
_DECIMAL = rf"[+{_MINUS}]?\s?(?:\d*\.\d+|\d+(?:\.\d+)?)"
_WORD = "|".join(NUMBER_WORDS)

# (unit, pattern): group "v" is the value. Order matters only for overlapping matches, where
# the longer match wins.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "d",
        re.compile(rf"\b(?:Cohen[’']?s\s+)?d\s*(?:=|of)\s*(?P<v>{_SIGNED})(?![\d.])"),
    ),
    (
        "g",
        re.compile(rf"\b(?:Hedges[’']?\s+)?g\s*(?:=|of)\s*(?P<v>{_SIGNED})(?![\d.])"),
    ),
    (
        "sd",
        re.compile(
            rf"(?P<v>{_DECIMAL})\s*(?:of\s+a\s+)?standard[- ]deviations?",
            re.I,
        ),
    ),
    (
        "sd",
        re.compile(rf"(?P<v>[+{_MINUS}]?\s?\d*\.\d+)\s*(?:SDs?\b|s\.d\.|σ)"),
    ),
    (
        "sd",
        re.compile(
            rf"\b(?:(?:average|mean|overall|pooled)\s+)?effect\s+sizes?\s+(?:was|were|is|of|"
            rf"=|:|reached|around|about)\s+(?:about\s+|around\s+|roughly\s+|approximately\s+"
            rf"|just\s+(?:over|under)\s+)?(?P<v>{_DECIMAL})(?![\d.%]|\s*(?:per|%|percent))",
            re.I,
        ),
    ),
    (
        "sd",
        re.compile(rf"\b(?:ES|SMD)\s*=\s*(?P<v>{_SIGNED})(?![\d.])"),
    ),
    (
        "pp",
        re.compile(
            rf"(?P<v>{_DECIMAL})\s*(?:percentage[- ]points?|pp\b|p\.p\.)",
            re.I,
        ),
    ),
    (
        "months",
        re.compile(
            rf"(?:\+\s?)?(?P<v>\d+(?:\.\d+)?|{_WORD})\s+(?:additional\s+|extra\s+)?months?"
            r"(?:[’']|\s+of)?\s+(?:additional\s+|extra\s+)?(?:progress|learning)\b",
            re.I,
        ),
    ),
    (
        "months",
        re.compile(r"\+\s?(?P<v>\d{1,2})\s+months?\b", re.I),
    ),
    (
        "odds-ratio",
        re.compile(
            r"\b(?:(?:adjusted\s+)?odds\s+ratio\s+(?:of|was|is|=)?\s*|\(?A?OR\)?\s*=\s*)"
            r"(?P<v>\d+(?:\.\d+)?)",
            re.I,
        ),
    ),
]


def _value(raw: str) -> float:
    raw = raw.strip().lower().replace(" ", "")
    if raw in NUMBER_WORDS:
        return float(NUMBER_WORDS[raw])
    for minus in _MINUS:
        raw = raw.replace(minus, "-")
    return float(raw)


def find_effects(text: str) -> list[Effect]:
    """Every printed effect size in a sentence, in reading order, each once."""
    found: list[tuple[int, int, Effect]] = []
    for unit, pattern in PATTERNS:
        for match in pattern.finditer(text):
            try:
                value = _value(match.group("v"))
            except ValueError:
                continue
            if unit in ("d", "g", "sd") and abs(value) > 5:
                continue  # a count or a percentage, not a standardised difference
            span = (match.start(), match.end())
            if any(s < span[1] and span[0] < e for s, e, _ in found):
                continue
            printed = re.sub(r"\s+", " ", match.group(0)).strip()
            found.append((span[0], span[1], Effect(value, unit, printed)))
    return [effect for _, _, effect in sorted(found, key=lambda item: item[0])]
