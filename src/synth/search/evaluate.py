"""Retrieval evaluation: a QA file of questions with judgments, and rank metrics per search mode.

A QA file is a TSV with a header row. `query` is required; each row judges one passage by a
`phrase` (a span that must appear in a correct hit's text), or by `source` (file name, with or
without extension) and optionally `page` (which must fall within the hit's pages), or both.
Rows with the same query are one question with several relevant passages. An optional `grade`
column (a positive integer) turns on nDCG. Judgments are used only to score hits: search sees
the query text alone, so no mode can see the answers.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from synth.index import Index
from synth.ingest.embed import Embedder
from synth.models import Hit

from .hybrid import Mode, SearchSettings, search

MODES: tuple[Mode, ...] = ("fused", "dense", "keyword")
# Typographic quotes and dashes are folded before matching; everything not a letter or digit
# is then dropped, so spacing, hyphenation and line breaks in extracted PDF text cannot matter.
_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


class QAFileError(ValueError):
    """A QA file that cannot be read as questions; the message lists every bad line."""


@dataclass(frozen=True)
class Judgment:
    """One relevant passage: a phrase in its text, and/or its file (and page)."""

    line: int
    phrase: str = ""
    source: str = ""
    page: int | None = None
    grade: int = 1


@dataclass
class Question:
    """A query and every passage judged relevant to it."""

    line: int
    query: str
    judgments: list[Judgment] = field(default_factory=list)


@dataclass(frozen=True)
class QASet:
    questions: list[Question]
    graded: bool
    path: str = ""


@dataclass(frozen=True)
class Metrics:
    """Averages over questions: hit@k for each cutoff, MRR@depth and (if graded) nDCG@depth."""

    n: int
    depth: int
    hit_at: dict[int, float]
    mrr: float
    ndcg: float | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {f"hit@{k}": v for k, v in self.hit_at.items()}
        data[f"mrr@{self.depth}"] = self.mrr
        if self.ndcg is not None:
            data[f"ndcg@{self.depth}"] = self.ndcg
        data["n"] = self.n
        return data


@dataclass(frozen=True)
class ModeResult:
    """One mode's metrics and, per question, the rank of its first relevant hit (None: none)."""

    mode: str
    metrics: Metrics
    first_ranks: list[int | None]


@dataclass(frozen=True)
class EvalReport:
    """Every requested mode, scored on the same questions against the same index build."""

    build_id: str
    k: int
    questions: list[Question]
    results: list[ModeResult]
    unanswerable: list[Question]

    def to_json(self) -> dict[str, object]:
        return {
            "build_id": self.build_id,
            "k": self.k,
            "n_questions": len(self.questions),
            "unanswerable_lines": [q.line for q in self.unanswerable],
            "modes": {r.mode: r.metrics.to_json() for r in self.results},
            "questions": [
                {
                    "line": q.line,
                    "query": q.query,
                    "first_relevant_rank": {r.mode: r.first_ranks[i] for r in self.results},
                }
                for i, q in enumerate(self.questions)
            ],
        }


# ---------------------------------------------------------------- reading a QA file


def load_qa(path: str | Path) -> QASet:
    """Read a QA TSV; raise QAFileError naming every bad line rather than stopping at the first."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise QAFileError(f"{path}: cannot read QA file ({exc})") from exc
    return parse_qa(text, str(path))


def parse_qa(text: str, name: str = "QA file") -> QASet:
    """Parse QA TSV text; line numbers are the file's own (blank and # lines are skipped)."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    try:
        rows = [
            (n, row)
            for n, row in enumerate(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE), 1)
            if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")
        ]
    except csv.Error as exc:  # a cell past csv's field size limit (128 kB)
        raise QAFileError(f"{name}: {exc}") from None
    if not rows:
        raise QAFileError(f"{name}: empty QA file (expected a header row: query, phrase, ...)")
    header_line, header = rows[0]
    columns = [c.strip().lower() for c in header]
    missing = _missing_columns(columns)
    if missing:
        raise QAFileError(f"{name}: line {header_line}: {missing} (header: {', '.join(columns)})")
    errors: list[str] = []
    questions: dict[str, Question] = {}
    for line, row in rows[1:]:
        cells = {col: (row[i].strip() if i < len(row) else "") for i, col in enumerate(columns)}
        try:
            judgment = _judgment(line, cells)
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        query = cells["query"]
        question = questions.setdefault(query, Question(line, query))
        question.judgments.append(judgment)
    if errors:
        raise QAFileError(f"{name}: {len(errors)} bad line(s):\n  " + "\n  ".join(errors))
    if not questions:
        raise QAFileError(f"{name}: no questions after the header row")
    return QASet(list(questions.values()), graded="grade" in columns, path=name)


def _missing_columns(columns: list[str]) -> str:
    if "query" not in columns:
        return "missing column 'query'"
    if not {"phrase", "source"} & set(columns):
        return "needs a 'phrase' column or a 'source' column (with 'page')"
    if "page" in columns and "source" not in columns:
        return "a 'page' column needs a 'source' column"
    return ""


def _positive_int(value: str, what: str) -> int:
    if not re.fullmatch(r"\d+", value) or int(value) < 1:
        raise ValueError(f"bad {what} '{value}' (expected a whole number from 1)")
    return int(value)


def _judgment(line: int, cells: dict[str, str]) -> Judgment:
    if not cells.get("query"):
        raise ValueError("empty query")
    phrase, source, page = cells.get("phrase", ""), cells.get("source", ""), cells.get("page", "")
    if page and not source:
        raise ValueError("a page needs a source")
    if not phrase and not source:
        raise ValueError("needs a phrase, or a source and page")
    if phrase and not normalise(phrase):
        raise ValueError(f"phrase '{phrase}' has no letters or digits")
    grade = cells.get("grade", "")
    return Judgment(
        line=line,
        phrase=phrase,
        source=source,
        page=_positive_int(page, "page number") if page else None,
        grade=_positive_int(grade, "grade") if grade else 1,
    )


# ---------------------------------------------------------------- judging hits


def normalise(text: str) -> str:
    """Lower-case letters and digits only, after NFKC (ligatures) and quote folding."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _same_source(judged: str, source: str) -> bool:
    judged, source = judged.strip().casefold(), source.casefold()
    return judged in (source, Path(source).stem) or Path(judged).stem == source


@lru_cache(maxsize=4096)
def _normalised_phrase(phrase: str) -> str:
    return normalise(phrase)


def passage_matches(
    judgment: Judgment, text: str, source: str, page: int, page_end: int, norm_text: str = ""
) -> bool:
    """True if a passage satisfies every criterion the judgment gives."""
    if judgment.source and not _same_source(judgment.source, source):
        return False
    if judgment.page is not None and not page <= judgment.page <= page_end:
        return False
    return not judgment.phrase or _normalised_phrase(judgment.phrase) in (
        norm_text or normalise(text)
    )


def gains(question: Question, hits: Sequence[Hit]) -> list[float]:
    """Gain per ranked hit: the best grade among judgments it is first to satisfy, else 0.

    Each judged passage is credited once, so overlapping chunks that both hold one phrase do
    not count twice (which would let nDCG exceed 1).
    """
    credited: set[int] = set()
    out: list[float] = []
    for hit in hits:
        norm = normalise(hit.text)
        matched = [
            i
            for i, j in enumerate(question.judgments)
            if i not in credited
            and passage_matches(j, hit.text, hit.source, hit.page, hit.page_end, norm)
        ]
        credited.update(matched)
        out.append(float(max((question.judgments[i].grade for i in matched), default=0)))
    return out


def unanswerable(index: Index, questions: Sequence[Question]) -> list[Question]:
    """Questions no passage in the index satisfies: a typo in a phrase, or a missing file."""
    rows = index.query(
        "SELECT c.text, c.page_start, c.page_end, d.source FROM chunks c "
        "JOIN documents d ON d.doc_id = c.doc_id"
    )
    passages = [(r["text"], r["source"], r["page_start"], r["page_end"]) for r in rows]
    norms = [normalise(p[0]) for p in passages]
    return [
        q
        for q in questions
        if not any(
            passage_matches(j, text, source, page, end, norm)
            for j in q.judgments
            for (text, source, page, end), norm in zip(passages, norms, strict=True)
        )
    ]


# ---------------------------------------------------------------- metrics


def cutoffs_for(depth: int) -> tuple[int, ...]:
    """hit@1, hit@5 and hit@depth (fewer when depth is small)."""
    return tuple(sorted({k for k in (1, 5, depth) if k <= depth}))


def metrics(
    ranked_relevance_lists: Sequence[Sequence[float]],
    ideal: Sequence[Sequence[float]] | None = None,
    depth: int = 10,
) -> Metrics:
    """Average hit@k, MRR@depth and, given each question's ideal gains, nDCG@depth.

    Each inner list holds one question's gains in rank order (0 = not relevant). A question
    with no relevant hit scores 0 on every measure; an empty outer list gives all zeros.
    """
    n = len(ranked_relevance_lists)
    cut = cutoffs_for(depth)
    firsts = [first_relevant_rank(r, depth) for r in ranked_relevance_lists]
    hit_at = {k: _mean([1.0 if f is not None and f <= k else 0.0 for f in firsts], n) for k in cut}
    mrr = _mean([1.0 / f if f is not None else 0.0 for f in firsts], n)
    ndcg = None
    if ideal is not None:
        if len(ideal) != n:
            raise ValueError("ideal needs one list of gains per question")
        ndcg = _mean(
            [_ndcg(r, i, depth) for r, i in zip(ranked_relevance_lists, ideal, strict=True)], n
        )
    return Metrics(n=n, depth=depth, hit_at=hit_at, mrr=mrr, ndcg=ndcg)


def first_relevant_rank(gain_list: Sequence[float], depth: int = 10) -> int | None:
    return next((rank for rank, g in enumerate(gain_list[:depth], 1) if g > 0), None)


def _mean(values: Iterable[float], n: int) -> float:
    return sum(values) / n if n else 0.0


def _dcg(gain_list: Sequence[float], depth: int) -> float:
    return sum((2**g - 1) / math.log2(rank + 1) for rank, g in enumerate(gain_list[:depth], 1))


def _ndcg(gain_list: Sequence[float], ideal: Sequence[float], depth: int) -> float:
    best = _dcg(sorted(ideal, reverse=True), depth)
    return _dcg(gain_list, depth) / best if best > 0 else 0.0


# ---------------------------------------------------------------- running an evaluation


def evaluate(
    index: Index,
    embedder: Embedder | None,
    qa: QASet,
    modes: Sequence[Mode] = MODES,
    k: int = 10,
    settings: SearchSettings | None = None,
) -> EvalReport:
    """Search every question in every mode (query text only) and score the hits."""
    base = settings or SearchSettings()
    results = []
    for mode in modes:
        mode_settings = replace(base, mode=mode, k=k)
        ranked = [gains(q, search(index, embedder, q.query, mode_settings)) for q in qa.questions]
        ideal = [[float(j.grade) for j in q.judgments] for q in qa.questions] if qa.graded else None
        results.append(
            ModeResult(
                mode=mode,
                metrics=metrics(ranked, ideal, depth=k),
                first_ranks=[first_relevant_rank(r, k) for r in ranked],
            )
        )
    return EvalReport(
        build_id=index.build_id,
        k=k,
        questions=qa.questions,
        results=results,
        unanswerable=unanswerable(index, qa.questions),
    )


def parse_modes(text: str) -> list[Mode]:
    """'fused,dense' -> ['fused', 'dense']; unknown names raise ValueError."""
    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(
            f"unknown mode(s) {', '.join(bad) or '(none)'}; choose from {', '.join(MODES)}"
        )
    return list(dict.fromkeys(modes))  # type: ignore[arg-type]


def format_table(report: EvalReport) -> str:
    """A plain-text table, one row per mode, columns hit@k... MRR (and nDCG)."""
    first = report.results[0].metrics
    heads = [f"hit@{k}" for k in first.hit_at] + [f"MRR@{first.depth}"]
    if first.ndcg is not None:
        heads.append(f"nDCG@{first.depth}")
    lines = ["mode     " + "".join(f"{h:>9}" for h in heads)]
    for r in report.results:
        values = [*r.metrics.hit_at.values(), r.metrics.mrr]
        if r.metrics.ndcg is not None:
            values.append(r.metrics.ndcg)
        lines.append(f"{r.mode:<9}" + "".join(f"{v:>9.3f}" for v in values))
    return "\n".join(lines)
