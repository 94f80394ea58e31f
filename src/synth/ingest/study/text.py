"""A document as the study-record rules read it: sentences with their place in the document.

Each sentence knows its page and offsets (so a finding can be verified like a brief quote), its
heading path, what kind of section it sits in, whether it speaks of the document itself ("this
trial", "we randomised") and whether it reports someone else's work (a citation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from synth.models import Chunk, Document

SectionKind = Literal[
    "front",
    "method",
    "findings",
    "background",
    "discussion",
    "practice",
    "references",
    "contents",
    "acknowledgements",
    "body",
]
NON_CONTENT = ("references", "contents", "acknowledgements")

_SECTION_RULES: list[tuple[SectionKind, re.Pattern[str]]] = [
    (
        "references",
        re.compile(
            r"^(references?|bibliography|works cited|sources|further reading|"
            r"(list of )?(included|excluded) studies|references to \w+ studies|"
            r"notes and references|endnotes)\b",
            re.I,
        ),
    ),
    ("contents", re.compile(r"^(table of )?contents\b", re.I)),
    (
        "acknowledgements",
        re.compile(
            r"^(acknowledge?ments?|funding|declarations? of interest|conflicts? of interest|"
            r"about the authors?|author contributions|contributions of authors|"
            r"sources of support|copyright|disclaimer)\b",
            re.I,
        ),
    ),
    (
        "front",
        re.compile(
            r"^(abstract|summary|executive summary|key (points|facts)|overview|at a glance)\b", re.I
        ),
    ),
    (
        "findings",
        re.compile(
            r"\b(findings?|results?|effects?|impacts?|what (we|the \w+) (found|shows?|says?)|"
            r"what the evidence|key messages?|how (effective|much)|evidence on|"
            r"what changed|did it work|learning gains?|outcomes for|(?:reading|learning|student|"
            r"pupil|child|attendance) outcomes)\b",
            re.I,
        ),
    ),
    (
        "method",
        re.compile(
            r"\b(methods?|methodology|study design|research design|evaluation design|design of|"
            r"data and|data sources?|sample|sampling|participants|how (the|we|this) \w+|"
            r"search (strategy|methods)|inclusion criteria|selection criteria|"
            r"criteria for|approach|the (trial|study|evaluation|survey|data)|about (the|this) "
            r"(study|trial|data|brief|evaluation)|what we did|measures|analysis|setting|"
            r"types of (studies|participants|interventions)|description of studies)\b",
            re.I,
        ),
    ),
    (
        "background",
        re.compile(
            r"\b(background|context|introduction|why\b|literature|previous (research|studies)|"
            r"the problem|rationale|what we already know|policy context|the challenge)",
            re.I,
        ),
    ),
    (
        "practice",
        re.compile(
            r"\b(implement\w*|recommendations?|what (this|it) means|lessons?|in practice|"
            r"how to|guidance|tips|next steps|for (teachers|schools|leaders|policy))\b",
            re.I,
        ),
    ),
    (
        "discussion",
        re.compile(
            r"\b(discussion|conclusions?|limitations?|caveats?|costs?|cost-effectiveness)\b", re.I
        ),
    ),
]

SELF_REFERENCE = re.compile(
    r"\b(?:(?:this|the present|the current|our|my)\s+(?:randomi[sz]ed\s+|cluster\s+|pilot\s+|"
    r"systematic\s+|rapid\s+|qualitative\s+|mixed[- ]methods?\s+|evidence\s+|data\s+|"
    r"practice\s+|guidance\s+|policy\s+|evaluation\s+|research\s+)?"
    r"(?:trial|study|evaluation|review|report|paper|brief|summary|note|analysis|survey|"
    r"research|meta-analysis|synthesis|guide|guidance|document|project|pilot|profile)s?\b"
    r"|\bwe\s+(?:randomi[sz]ed|randomly|assigned|surveyed|interviewed|observed|reviewed|"
    r"searched|analy[sz]ed|included|collected|conducted|ran|carried out|compared|estimated?|"
    r"found|tested|used|visited|studied|examined|draw on|drew on|measured|identified|"
    r"screened|synthesi[sz]ed|coded|worked|followed|asked|recruited|selected|looked|"
    r"assessed|spoke|sent|delivered)\b"
    r"|\b(?:here|in this (?:paper|report|review|study|brief|note|chapter)),?\s+we\b)",
    re.I,
)
# Someone else's work: "(Smith, 2019)", "Rogers and Feller (2018)", "Hattie et al.", "a study by".
CITATION = re.compile(
    r"\(\s*(?:[A-Z][^()]{0,80}?,?\s*)?(?:19|20)\d{2}[a-z]?\s*[;,)]"
    r"|\b[A-Z][\w'’-]+(?:\s+(?:et al\.?|and colleagues|and [A-Z][\w'’-]+))?[’']?s?"
    r"\s*\(\s*(?:19|20)\d{2}"
    r"|\bet al\b|\b[A-Z][\w'’-]+\s+and\s+colleagues\b|\bpublished by\s+[A-Z]"
    r"|\b[A-Z][\w'’-]+\s+and\s+[A-Z][\w'’-]+[’']s\b"
    r"|\b[A-Z][\w'’-]+[’']s\s+(?:19|20)\d{2}\b"
    r"|\b(?:a|the|one|another|earlier|previous|recent)\s+(?:\w+\s+)?(?:study|studies|trial|review|"
    r"evaluation|meta-analysis)\s+(?:by|from|of)\s+[A-Z]"
    r"|\b(?:19|20)\d{2}\)",
)
REFERENCE_LINE = re.compile(
    r"(?:^|\s)[A-Z][\w'’-]+,\s+(?:[A-Z]\.\s*){1,3}(?:,|and|&|\()|\((?:19|20)\d{2}[a-z]?\)\.|"
    r"\bdoi\b|https?://|\bvol\.|\bpp\.\s*\d|\d+\(\d+\)[,:]\s*\d+",
    re.I,
)
TOC_LINE = re.compile(r"(?:\.\s?){4,}\s*\d+|\s\d{1,3}\s*$")


# Structured abstracts label their parts inline: "Method: A descriptive study design ...".
INLINE_LABEL: list[tuple[SectionKind, re.Pattern[str]]] = [
    ("method", re.compile(r"^\s*(?:Methods?|Design|Research Design|Setting|Participants|Sample|"
                          r"Intervention|Data Collection(?: and Analysis)?)\s*[:.]\s", re.I)),
    ("findings", re.compile(r"^\s*(?:Results?|Findings)\s*[:.]\s", re.I)),
    ("background", re.compile(r"^\s*(?:Background|Context|Introduction)\s*[:.]\s", re.I)),
    ("discussion", re.compile(r"^\s*(?:Conclusions?|Implications|Discussion)\s*[:.]\s", re.I)),
]  # fmt: skip


@dataclass(frozen=True)
class Sentence:
    """One sentence of a document, in reading order."""

    text: str
    page: int
    start: int
    end: int
    section: tuple[str, ...]
    kind: SectionKind
    index: int

    @cached_property
    def self_reference(self) -> bool:
        return bool(SELF_REFERENCE.search(self.text))

    @cached_property
    def citation(self) -> bool:
        return bool(CITATION.search(self.text))

    @property
    def heading(self) -> str:
        return self.section[-1] if self.section else ""


def section_kind(path: tuple[str, ...] | list[str], title: str = "") -> SectionKind:
    """What a section is for, judged by its nearest heading (then the one above it)."""
    for heading in reversed([h for h in path if h and h != title][-2:]):
        for kind, pattern in _SECTION_RULES:
            if pattern.search(heading.strip()):
                return kind
    return "body"


def chunk_role(chunk: Chunk, title: str = "") -> str:
    """ "references", "contents", "acknowledgements" or "content": only content is ever a hit.

    Judged by heading and by structure, so an unheaded reference list (citation furniture in
    most lines) or a table of contents (dot leaders and page numbers) is caught too.
    """
    kind = section_kind(chunk.section, title)
    if kind in NON_CONTENT:
        return kind
    words = max(len(chunk.text.split()), 1)
    refs = len(REFERENCE_LINE.findall(chunk.text)) + len(CITATION.findall(chunk.text))
    if refs * 100 / words >= 6.0 or (refs >= 3 and refs * 100 / words >= 4.0 and words < 80):
        return "references"
    leaders = len(re.findall(r"(?:\.\s?){4,}\s*\d+", chunk.text))
    if leaders >= 3 or (leaders >= 2 and words < 60):
        return "contents"
    return "content"


def document_sentences(doc: Document, chunks: list[Chunk]) -> list[Sentence]:
    """Every sentence once (chunks overlap by a sentence), with page, offsets and section."""
    pages = {p.number: p.text for p in doc.pages}
    seen: set[tuple[int, int]] = set()
    out: list[Sentence] = []
    for chunk in chunks:
        path = tuple(chunk.section)
        kind = section_kind(path, doc.title)
        if kind not in NON_CONTENT and chunk_role(chunk, doc.title) != "content":
            kind = "references"
        for span in chunk.sentences:
            key = (span.page, span.start)
            if key in seen:
                continue
            seen.add(key)
            text = pages.get(span.page, "")[span.start : span.end]
            if text.strip():
                own = next(
                    (k for k, rx in INLINE_LABEL if kind not in NON_CONTENT and rx.match(text)),
                    kind,
                )
                out.append(Sentence(text, span.page, span.start, span.end, path, own, len(out)))
    return out
