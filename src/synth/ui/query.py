"""A search as a URL: query text, facet values and a year range to and from query parameters.

The URL is the search's source of truth, so any search with its filters can be bookmarked or
shared: `?q=tutoring&country=GH&country=KE&phase=primary&year_from=2015`. Values may be given
as ids, labels or synonyms (`country=Ghana`); unknown facets and values are dropped, not fatal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from synth.models import Filters
from synth.search import clean_query
from synth.taxonomy import YEAR_FACET, Taxonomy, TaxonomyError

QUERY = "q"
VIEW = "view"
VIEWS = ("studies", "passages")
YEAR_FROM = "year_from"
YEAR_TO = "year_to"
MAX_QUERY_CHARS = 500
# Session key of the last search's URL parameters, so other pages can return to it.
LAST_PARAMS = "search_last_params"


def facet_names(taxonomy: Taxonomy) -> list[str]:
    """Facets filtered by value (every facet but the year, which is a range)."""
    return [name for name, facet in taxonomy.facets.items() if facet.kind != YEAR_FACET]


@dataclass(frozen=True)
class SearchState:
    """What the search page shows: a query and the selected values of each facet."""

    query: str = ""
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None
    view: str = VIEWS[0]

    @property
    def filters(self) -> Filters:
        return Filters({k: v for k, v in self.values.items() if v}, self.year_from, self.year_to)

    @property
    def empty(self) -> bool:
        return not self.query and self.filters.empty

    def selected(self, facet: str) -> tuple[str, ...]:
        return self.values.get(facet, ())

    def with_query(self, query: str) -> SearchState:
        return replace(self, query=clean_query(query)[:MAX_QUERY_CHARS])

    def with_value(self, facet: str, value: str, on: bool) -> SearchState:
        current = [v for v in self.selected(facet) if v != value]
        if on:
            current.append(value)
        values = {**self.values, facet: tuple(current)}
        return replace(self, values={k: v for k, v in values.items() if v})

    def with_values(self, facet: str, chosen: Sequence[str]) -> SearchState:
        """The facet's selection replaced, in the order given (as a pills widget holds it)."""
        values = {**self.values, facet: tuple(dict.fromkeys(chosen))}
        return replace(self, values={k: v for k, v in values.items() if v})

    def with_years(self, year_from: int | None, year_to: int | None) -> SearchState:
        return replace(self, year_from=year_from, year_to=year_to)

    def without_filters(self) -> SearchState:
        return SearchState(query=self.query, view=self.view)

    def with_view(self, view: str) -> SearchState:
        return replace(self, view=view if view in VIEWS else VIEWS[0])

    def to_params(self) -> dict[str, str | list[str]]:
        """Query parameters in a stable order: q, facets as stored, then the year range."""
        params: dict[str, str | list[str]] = {}
        if self.query:
            params[QUERY] = self.query
        for facet, values in self.values.items():
            if values:
                params[facet] = list(values)
        if self.year_from is not None:
            params[YEAR_FROM] = str(self.year_from)
        if self.year_to is not None:
            params[YEAR_TO] = str(self.year_to)
        if self.view != VIEWS[0]:
            params[VIEW] = self.view
        return params


def _year(raw: Sequence[str]) -> int | None:
    for item in reversed(raw):
        if re.fullmatch(r"\d{4}", item.strip()):
            return int(item.strip())
    return None


def state_from_params(params: Mapping[str, Sequence[str]], taxonomy: Taxonomy) -> SearchState:
    """Read a SearchState from query parameters ({name: [values]}), ignoring what is invalid."""
    query = params.get(QUERY) or [""]
    values: dict[str, tuple[str, ...]] = {}
    for facet in facet_names(taxonomy):
        chosen: list[str] = []
        for raw in params.get(facet, ()):
            for part in raw.split(","):
                try:
                    value = taxonomy.resolve(facet, part) if part.strip() else ""
                except TaxonomyError:
                    continue
                if value and value not in chosen:
                    chosen.append(value)
        if chosen:
            values[facet] = tuple(chosen)
    state = SearchState(values=values).with_query(query[-1])
    state = state.with_view((params.get(VIEW) or [VIEWS[0]])[-1])
    return state.with_years(_year(params.get(YEAR_FROM, ())), _year(params.get(YEAR_TO, ())))
