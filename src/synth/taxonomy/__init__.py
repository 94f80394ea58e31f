"""The facet taxonomy (topics, countries with region and income, phase, setting, evidence type,
design, ...) and its YAML data.

In: taxonomy.yaml (or a user's file). Out: `Taxonomy`. Must not import any other synth package.
"""

from .taxonomy import (
    DEFAULT_TAXONOMY,
    DERIVED_FROM_COUNTRY,
    YEAR_FACET,
    Facet,
    FacetValue,
    Taxonomy,
    TaxonomyError,
    load_taxonomy,
    parse_taxonomy,
)

__all__ = [
    "DEFAULT_TAXONOMY",
    "DERIVED_FROM_COUNTRY",
    "YEAR_FACET",
    "Facet",
    "FacetValue",
    "Taxonomy",
    "TaxonomyError",
    "load_taxonomy",
    "parse_taxonomy",
]
