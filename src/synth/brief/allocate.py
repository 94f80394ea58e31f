"""Which quotable unit goes where: theme leads, template sections, theme support, and a place
for every passage, with no sentence used twice.

Order of filling: each theme's lead finding (maximal marginal relevance across themes, so themes
do not repeat one another), then the layout's sections by role, then up to two supporting quotes
per theme from other documents, then one quote for each passage still unused, placed in the
section of its role when the template prints it, else under its theme.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .quotes import Unit
from .sections import SECTIONS_BY_NAME

QUOTES_PER_SECTION = 3
SUPPORT_PER_THEME = 2
MMR_LAMBDA = 0.7
LEAD_LAMBDA = 0.75


@dataclass
class Pool:
    """Verified units with what allocation weighs: role, role score, vector, relevance."""

    units: list[Unit]
    roles: list[str]
    role_strength: np.ndarray  # the score of each unit's own role
    vectors: np.ndarray
    relevance: np.ndarray
    theme_of: np.ndarray  # theme id of each unit's passage
    n_hits: int
    # 0..1: a study record's finding, with a printed size, from a strong design
    evidence: np.ndarray | None = None
    # False where a unit may not lead a theme: its document has a study record and the unit
    # is none of the record's findings (key messages come from the records' findings)
    may_lead: np.ndarray | None = None
    # the role classifier's word where a record made a unit a finding: such a unit can still
    # fill that role's section, and leads a theme only if nothing else can
    classified: list[str] | None = None

    def section_role(self, i: int) -> set[str]:
        return {self.roles[i], self.classified[i] if self.classified else self.roles[i]}


@dataclass
class Allocation:
    leads: dict[int, int | None] = field(default_factory=dict)  # theme -> unit (None: no finding)
    support: dict[int, list[int]] = field(default_factory=dict)  # theme -> units
    sections: dict[str, list[int]] = field(default_factory=dict)  # section -> units
    used: set[int] = field(default_factory=set)


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


class _Ledger:
    """Sentences (by document and offsets, and by wording) already printed."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.spans: set[tuple[str, int, int, int]] = set()
        self.texts: set[str] = set()

    def _keys(self, i: int) -> list[tuple[str, int, int, int]]:
        unit = self.pool.units[i]
        return [(unit.quote.doc_id, *s) for s in unit.sentences]

    def free(self, i: int) -> bool:
        unit = self.pool.units[i]
        return (
            not any(k in self.spans for k in self._keys(i)) and _norm(unit.main) not in self.texts
        )

    def take(self, i: int, alloc: Allocation) -> None:
        self.spans.update(self._keys(i))
        self.texts.add(_norm(self.pool.units[i].main))
        alloc.used.add(i)


def _mmr(
    order: list[int], score: np.ndarray, vectors: np.ndarray, chosen: list[int], lam: float
) -> int | None:
    best, best_value = None, -np.inf
    for i in order:
        redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
        value = lam * float(score[i]) - (1 - lam) * redundancy
        if value > best_value:
            best, best_value = i, value
    return best


def _leads(
    pool: Pool,
    themes: list[int],
    centres: dict[int, np.ndarray],
    ledger: _Ledger,
    alloc: Allocation,
    layout: tuple[str, ...],
) -> None:
    reserved = {r for name in layout for r in SECTIONS_BY_NAME[name].roles}
    chosen: list[int] = []
    for g in themes:
        mine = [
            i
            for i in range(len(pool.units))
            if pool.theme_of[i] == g
            and pool.roles[i] == "finding"
            and (pool.may_lead is None or pool.may_lead[i])
        ]
        score = 0.4 * (pool.vectors @ centres[g]) + 0.4 * pool.relevance + 0.2 * pool.role_strength
        if pool.evidence is not None:  # a record's finding with a printed size leads
            score = score + 0.6 * pool.evidence
        free = [i for i in mine if ledger.free(i)]
        # A finding the classifier also reads as, say, a recommendation is kept for that
        # section when the template prints one, unless the theme has no other finding.
        spare = [i for i in free if not (pool.section_role(i) - {"finding"}) & reserved]
        pick = _mmr(spare or free, score, pool.vectors, chosen, LEAD_LAMBDA)
        alloc.leads[g] = pick
        if pick is not None:
            chosen.append(pick)
            ledger.take(pick, alloc)


def _pick_from_documents(
    pool: Pool,
    fits: Callable[[int], bool],
    score: np.ndarray,
    limit: int,
    ledger: _Ledger,
    alloc: Allocation,
    lead: int | None = None,
) -> list[int]:
    """Up to `limit` free units that `fits` accepts, one per document (not the lead's), by
    maximal marginal relevance; a single-document group may give a second sentence instead."""
    docs = {pool.units[lead].quote.doc_id} if lead is not None else set()
    picked: list[int] = []
    while len(picked) < limit:
        mine = [i for i in range(len(pool.units)) if fits(i) and ledger.free(i)]
        order = [i for i in mine if pool.units[i].quote.doc_id not in docs]
        if lead is not None and not order and not picked:
            order = mine if len({pool.units[i].quote.doc_id for i in mine}) <= 1 else []
        chosen = picked + ([lead] if lead is not None else [])
        best = _mmr(order, score, pool.vectors, chosen, MMR_LAMBDA)
        if best is None:
            break
        picked.append(best)
        docs.add(pool.units[best].quote.doc_id)
        ledger.take(best, alloc)
    return picked


def _sections(pool: Pool, layout: tuple[str, ...], ledger: _Ledger, alloc: Allocation) -> None:
    score = pool.relevance + 0.3 * pool.role_strength
    for name in layout:
        roles = set(SECTIONS_BY_NAME[name].roles)
        alloc.sections[name] = _pick_from_documents(
            pool, lambda i, r=roles: bool(pool.section_role(i) & r), score,
            QUOTES_PER_SECTION, ledger, alloc,
        )  # fmt: skip


def _support(pool: Pool, themes: list[int], ledger: _Ledger, alloc: Allocation) -> None:
    """Up to SUPPORT_PER_THEME more quotes per theme, from documents the theme has not quoted
    yet; a theme from a single document gets a second sentence of it instead."""
    prefer = np.array(
        [1.0 if r == "finding" else 0.5 if r != "background" else 0.0 for r in pool.roles]
    )
    score = pool.relevance + 0.3 * prefer
    for g in themes:
        lead = alloc.leads.get(g)
        alloc.support[g] = _pick_from_documents(
            pool, lambda i, g=g: pool.theme_of[i] == g and pool.roles[i] != "background",
            score, SUPPORT_PER_THEME, ledger, alloc, lead,
        )  # fmt: skip


def _cover(pool: Pool, layout: tuple[str, ...], ledger: _Ledger, alloc: Allocation) -> None:
    """Give every passage with nothing quoted its best free unit, in its role's section if the
    layout prints one, else under its theme."""
    covered = {pool.units[i].hit for i in alloc.used}
    home = {role: name for name in layout for role in SECTIONS_BY_NAME[name].roles}
    rank = pool.relevance + 0.3 * np.array([r != "background" for r in pool.roles], dtype=float)
    for hit in range(pool.n_hits):
        if hit in covered:
            continue
        options = [i for i in range(len(pool.units)) if pool.units[i].hit == hit and ledger.free(i)]
        if not options:
            continue
        best = max(options, key=lambda i: rank[i])
        ledger.take(best, alloc)
        covered.add(hit)
        section = next((home[r] for r in sorted(pool.section_role(best)) if r in home), None)
        if section is not None:
            alloc.sections[section].append(best)
        else:
            alloc.support.setdefault(int(pool.theme_of[best]), []).append(best)


def allocate(
    pool: Pool, themes: list[int], centres: dict[int, np.ndarray], layout: tuple[str, ...]
) -> Allocation:
    """Place units: theme leads, sections, theme support, then one for each uncovered passage."""
    alloc = Allocation()
    ledger = _Ledger(pool)
    _leads(pool, themes, centres, ledger, alloc, layout)
    _sections(pool, layout, ledger, alloc)
    _support(pool, themes, ledger, alloc)
    _cover(pool, layout, ledger, alloc)
    return alloc
