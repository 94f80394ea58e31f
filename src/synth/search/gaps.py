"""Evidence gap maps: how many documents cover each pair of facet values (topic x country...).

Counts come from document-level effective tags (doc_tags: automatic, manifest and curator tags
merged), so a document counts once per cell however many of its chunks mention the topic. A
cell of 0 is a gap: a topic and a context the corpus has nothing on together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from synth.index import Index
from synth.models import Filters
from synth.taxonomy import YEAR_FACET, Facet, Taxonomy, load_taxonomy

Cell = tuple[str, str]
NOT_STATED = "not-stated"
MULTI_COUNTRY = ("multi-country", "Multi-country")
# Columns where a multi-country review spreads over every place it names: it counts once, in
# the MULTI_COUNTRY column, instead (a multi-country trial counts where it took place).
PLACE_FACETS = ("country", "region", "income")
REVIEW_KINDS = ("systematic-review",)


@dataclass
class GapMap:
    """Rows and columns as (value id, label) in display order; a count for every cell."""

    row_facet: str
    col_facet: str
    rows: list[tuple[str, str]]
    cols: list[tuple[str, str]]
    counts: dict[Cell, int] = field(default_factory=dict)
    n_documents: int = 0
    # Documents in scope with no tag in the row facet or none in the column facet.
    n_unplaced: int = 0
    # Each cell's documents (ids, in id order), so a click can list them.
    documents: dict[Cell, list[str]] = field(default_factory=dict)
    # With `colour`: that facet's values as (id, label) in taxonomy order (NOT_STATED last when
    # used) and each document's one category, so a cell's bubbles add up to its count.
    colour_facet: str | None = None
    categories: list[tuple[str, str]] = field(default_factory=list)
    category: dict[str, str] = field(default_factory=dict)

    def breakdown(self, row: str, col: str) -> list[tuple[str, int]]:
        """(category id, documents) in a cell, in legend order, non-zero only."""
        docs = self.documents.get((row, col), [])
        return [
            (cat, n)
            for cat, _ in self.categories
            if (n := sum(1 for d in docs if self.category.get(d) == cat))
        ]

    def count(self, row: str, col: str) -> int:
        return self.counts.get((row, col), 0)

    @property
    def gaps(self) -> list[Cell]:
        return [cell for cell, n in self.counts.items() if n == 0]


def _doc_tags(index: Index) -> dict[str, dict[str, set[str]]]:
    """Every document's effective tags: {doc_id: {facet: {value ids}}}."""
    tags: dict[str, dict[str, set[str]]] = {d.doc_id: defaultdict(set) for d in index.documents()}
    if not index.has_facets:
        return tags
    for r in index.query("SELECT doc_id, facet, value FROM doc_tags"):
        if r[0] in tags:
            tags[r[0]][r[1]].add(r[2])
    return tags


def _passes(tags: dict[str, set[str]], filters: Filters) -> bool:
    """Document-level filter: one value of every filtered facet, and a year in range."""
    for facet, values in filters.values.items():
        if not tags.get(facet, set()) & set(values):
            return False
    if filters.year_from is None and filters.year_to is None:
        return True
    years = [int(y) for y in tags.get(YEAR_FACET, ()) if y.isdigit()]
    lo, hi = filters.year_from or 0, filters.year_to or 9999
    return any(lo <= y <= hi for y in years)


def _axis(facet: Facet, present: set[str], every_value: bool) -> list[tuple[str, str]]:
    """Axis values in taxonomy order (countries by name); all of them, or only those present."""
    if facet.kind == YEAR_FACET:
        return [(y, y) for y in sorted(present)]
    values = [(v.id, v.label) for v in facet.values if every_value or v.id in present]
    if facet.name == "country":
        values.sort(key=lambda item: item[1].casefold())
    return values


def gap_map(
    index: Index,
    rows: str = "topic",
    cols: str = "country",
    filters: Filters | None = None,
    *,
    all_rows: bool = True,
    all_cols: bool = False,
    taxonomy: Taxonomy | None = None,
    colour: str | None = None,
) -> GapMap:
    """Distinct documents per (row value, column value) among the documents `filters` allow.

    Rows default to every value of the row facet (every topic, so absent topics show as gaps);
    columns to the values at least one document in scope carries. `colour` (a facet such as
    design or evidence_type) puts each document in one category: its first value of that facet
    in taxonomy order, or NOT_STATED.
    """
    taxonomy = taxonomy or load_taxonomy()
    row_facet, col_facet = taxonomy.facet(rows), taxonomy.facet(cols)
    filters = filters or Filters()
    docs = {d: t for d, t in _doc_tags(index).items() if _passes(t, filters)}
    multi = _multi_country_reviews(index, docs) if col_facet.name in PLACE_FACETS else set()
    for doc_id in multi:
        docs[doc_id] = {**docs[doc_id], col_facet.name: {MULTI_COUNTRY[0]}}
    present_rows = {v for t in docs.values() for v in t.get(row_facet.name, ())}
    present_cols = {v for t in docs.values() for v in t.get(col_facet.name, ())}
    result = GapMap(
        row_facet=row_facet.name,
        col_facet=col_facet.name,
        rows=_axis(row_facet, present_rows, all_rows),
        cols=_axis(col_facet, present_cols, all_cols),
        n_documents=len(docs),
    )
    if multi:
        result.cols = [c for c in result.cols if c[0] != MULTI_COUNTRY[0]] + [MULTI_COUNTRY]
    result.counts = {(r, c): 0 for r, _ in result.rows for c, _ in result.cols}
    for doc_id, tags in sorted(docs.items()):
        row_values, col_values = tags.get(row_facet.name, set()), tags.get(col_facet.name, set())
        if not row_values or not col_values:
            result.n_unplaced += 1
        for r in row_values:
            for c in col_values:
                if (r, c) in result.counts:
                    result.counts[(r, c)] += 1
                    result.documents.setdefault((r, c), []).append(doc_id)
    if colour:
        _colour(result, taxonomy.facet(colour), docs)
    return result


def _multi_country_reviews(index: Index, docs: dict[str, dict[str, set[str]]]) -> set[str]:
    """Documents whose study record says it reviews evidence from several countries."""
    records = index.studies(list(docs))
    return {
        doc_id
        for doc_id, record in records.items()
        if record.multi_country and record.kind in REVIEW_KINDS
    }


def _colour(result: GapMap, facet: Facet, docs: dict[str, dict[str, set[str]]]) -> None:
    order = [v.id for v in facet.values]
    result.colour_facet = facet.name
    for doc_id, tags in docs.items():
        values = tags.get(facet.name, set())
        result.category[doc_id] = next((v for v in order if v in values), NOT_STATED)
    used = set(result.category.values())
    result.categories = [(v.id, v.label) for v in facet.values if v.id in used]
    if NOT_STATED in used:
        result.categories.append((NOT_STATED, "Not stated"))
