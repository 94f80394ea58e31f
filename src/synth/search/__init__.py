"""Hits: hybrid retrieval over an index, fused and restricted exactly by filters.

In: an `Index`, an embedder and a query (plus `Filters`). Out: `Hit` lists and facet counts;
`evaluate` scores retrieval on a QA file; `gaps` counts documents per pair of facet values.
Must not import: synth.brief, synth.toolkit, synth.ui, synth.cli.
"""

from .hybrid import Mode, SearchResult, SearchSettings, clean_query, search, search_faceted

__all__ = ["Mode", "SearchResult", "SearchSettings", "clean_query", "search", "search_faceted"]
