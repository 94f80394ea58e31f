"""Matching a record to an ingested file: by attachment path, then DOI, then title.

Matching must never guess: each step returns every record that fits, and only a single
distinct work counts as a match.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from .record import DocMetadata, _basename, _trim_doi, _unique

TITLE_FUZZ = 0.92
# A fuzzy title match may differ in punctuation, short words or a misspelling, never in a
# content word: "... in Kenya" and "... in Ghana" score 0.96 but are different works.
FUZZ_WORD_CHARS = 3
MIN_TITLE_CHARS = 12
# A main title without its subtitle must be this long to identify a work on its own.
MIN_MAIN_TITLE_CHARS = 30  # shorter normalised titles ("Contents", "Report") never match on title


def match_record(
    records: list[DocMetadata], path: Path, title: str = "", text_head: str = ""
) -> DocMetadata | None:
    """The record for an ingested file: by attachment path, then DOI in the text, then title.

    Every step must be unambiguous: when several different records fit equally, the next step
    narrows them down, and if nothing does the answer is None rather than a guess. Several
    different record DOIs in `text_head` look like a reference list, so they count as no match.
    """
    by_file = _match_file(records, Path(path))
    if len(by_file) == 1:
        return by_file[0]
    pool = by_file or records
    by_doi = _match_doi(pool, text_head)
    if len(by_doi) == 1:
        return by_doi[0]
    for candidates in (by_doi, pool):
        by_title = _match_title(candidates, title)
        if len(by_title) == 1:
            return by_title[0]
    return None


@lru_cache(maxsize=16384)
def main_title(title: str) -> str:
    """The title before its subtitle (after ':', ' - ', an en or em dash, or '?')."""
    return re.split(r":|\s[-\u2013\u2014]\s|\?", title or "", maxsplit=1)[0]


def normalize_title(title: str) -> str:
    """Lowercase ASCII words only, so punctuation, accents and spacing do not block a match."""
    text = unicodedata.normalize("NFKD", title or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    return " ".join(re.findall(r"[^\W_]+", text))


# ---------------------------------------------------------------- matching


def _distinct(records: list[DocMetadata]) -> list[DocMetadata]:
    """Drop repeats of the same work (same DOI, or same title and year) loaded twice."""
    seen: set[tuple] = set()
    out = []
    for record in records:
        if record.doi:
            key: tuple = ("doi", record.doi)
        elif record.title:
            key = ("title", normalize_title(record.title), record.year)
        else:
            key = ("origin", record.origin)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


def _match_file(records: list[DocMetadata], path: Path) -> list[DocMetadata]:
    target = str(path.expanduser().resolve())
    exact = [r for r in records if target in r.resolved_files]
    if exact:
        return _distinct(exact)
    name = path.name.casefold()
    return _distinct([r for r in records if any(_basename(f).casefold() == name for f in r.files)])


_TEXT_DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>]+", re.I)


def dois_in_text(text: str) -> list[str]:
    """DOIs written in running text, in order, mending a line break right after the prefix."""
    text = re.sub(r"(10\.\d{4,9}/)\s+", r"\1", text or "")
    return _unique(_trim_doi(m.group(0).lower()) for m in _TEXT_DOI.finditer(text))


def _match_doi(records: list[DocMetadata], text_head: str) -> list[DocMetadata]:
    if not text_head:
        return []
    found = set(dois_in_text(text_head))
    return _distinct([r for r in records if r.doi and r.doi in found])


def _match_title(records: list[DocMetadata], title: str) -> list[DocMetadata]:
    wanted = normalize_title(title)
    if len(wanted) < MIN_TITLE_CHARS:
        return []
    equal = [r for r in records if normalize_title(r.title) == wanted]
    if equal:
        return _distinct(equal)
    main = normalize_title(main_title(title))
    if len(main) >= MIN_MAIN_TITLE_CHARS:
        # One side carries a subtitle the other lacks ("...in Chile: A Trial Summary").
        same_main = [
            r
            for r in records
            if main in (normalize_title(r.title), normalize_title(main_title(r.title)))
            or normalize_title(main_title(r.title)) == wanted
        ]
        if same_main:
            return _distinct(same_main)
    best: list[DocMetadata] = []
    best_ratio = TITLE_FUZZ
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(wanted)
    for record in records:
        matcher.set_seq1(normalize_title(record.title))
        if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
            continue
        ratio = matcher.ratio()
        if not _same_words(normalize_title(record.title), wanted):
            continue
        if ratio > best_ratio:
            best, best_ratio = [record], ratio
        elif ratio == best_ratio:
            best.append(record)
    return _distinct(best)


def _same_words(a: str, b: str) -> bool:
    """True when the titles differ only in short words or misspellings, not in content words."""
    only_a, only_b = set(a.split()) - set(b.split()), set(b.split()) - set(a.split())

    def spelled_alike(word: str, others: set[str], joined: str) -> bool:
        """A misspelling ("summry") or a split or joined word ("HongKong")."""
        return word in joined or any(
            difflib.SequenceMatcher(None, word, o).ratio() >= 0.8 for o in others
        )

    return all(
        len(word) <= FUZZ_WORD_CHARS or spelled_alike(word, other, joined.replace(" ", ""))
        for words, other, joined in ((only_a, only_b, b), (only_b, only_a, a))
        for word in words
    )
