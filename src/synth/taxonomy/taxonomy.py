"""The facet taxonomy (topics, contexts, evidence types, designs) loaded from the packaged YAML.

One file drives the tagger's phrase rules, the descriptions the embedding tagger compares chunks
with, the values `--where` accepts, and the labels the app shows.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_TAXONOMY = Path(__file__).parent / "taxonomy.yaml"
YEAR_FACET = "year"
# Facets whose values follow from a country tag rather than being tagged themselves.
DERIVED_FROM_COUNTRY = ("region", "income")


class TaxonomyError(ValueError):
    """The taxonomy file is malformed, or a user named a facet or value it does not hold."""


@dataclass(frozen=True)
class FacetValue:
    id: str
    label: str
    description: str = ""
    synonyms: tuple[str, ...] = ()
    demonyms: tuple[str, ...] = ()
    # Words typical of such passages without naming the value ("effect size" for research);
    # the tagger counts them at a lower weight, and they never resolve a --where value.
    cues: tuple[str, ...] = ()
    alpha3: str = ""
    region: str | None = None
    income: str | None = None
    ambiguous: bool = False
    members: tuple[str, ...] = ()
    places: tuple[str, ...] = ()

    @property
    def phrases(self) -> tuple[str, ...]:
        """Every literal string that names this value in running text."""
        return (self.label, *self.synonyms, *self.demonyms)


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    description: str = ""
    kind: str = "values"
    # "text": tagged from what chunks say; "record": set from the document's study record.
    source: str = "text"
    values: tuple[FacetValue, ...] = ()
    by_id: dict[str, FacetValue] = field(default_factory=dict, compare=False, repr=False)

    def label_of(self, value_id: str) -> str:
        value = self.by_id.get(value_id)
        return value.label if value else value_id


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


@dataclass(frozen=True)
class Taxonomy:
    facets: dict[str, Facet]
    digest: str
    _lookup: dict[tuple[str, str], str] = field(default_factory=dict, compare=False, repr=False)
    # The YAML it was parsed from: how a parsing child process (ingest/guard.py) gets it.
    text: str = field(default="", compare=False, repr=False)

    def facet(self, name: str) -> Facet:
        facet = self.facets.get(name.strip().lower().replace("-", "_"))
        if facet is None:
            known = ", ".join(self.facets)
            raise TaxonomyError(f"unknown facet '{name}' (facets: {known})")
        return facet

    def resolve(self, facet_name: str, raw: str) -> str:
        """Map an id, label, synonym, demonym or ISO alpha-3 code to the value id, or raise."""
        facet = self.facet(facet_name)
        if facet.kind == YEAR_FACET:
            if not re.fullmatch(r"\d{4}", raw.strip()):
                raise TaxonomyError(f"year must be four digits, not '{raw}'")
            return raw.strip()
        found = self._lookup.get((facet.name, _key(raw)))
        if found is None:
            examples = ", ".join(v.id for v in facet.values[:6])
            raise TaxonomyError(
                f"'{raw}' is not a value of {facet.name} (e.g. {examples}; "
                f"`synth facets {facet.name}` lists them all)"
            )
        return found

    def expand(self, facet_name: str, value_ids: tuple[str, ...]) -> tuple[str, ...]:
        """Value ids with group values (income lmic) replaced by their members."""
        facet = self.facets.get(facet_name)
        out: list[str] = []
        for value_id in value_ids:
            value = facet.by_id.get(value_id) if facet else None
            out += list(value.members) if value and value.members else [value_id]
        return tuple(dict.fromkeys(out))

    def country(self, value_id: str) -> FacetValue | None:
        return self.facets["country"].by_id.get(value_id) if "country" in self.facets else None


def _value(raw: dict[str, object], facet: str) -> FacetValue:
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("label"):
        raise TaxonomyError(f"facet {facet}: every value needs an id and a label ({raw!r})")

    def strings(key: str) -> tuple[str, ...]:
        items = raw.get(key) or []
        if not isinstance(items, list):
            raise TaxonomyError(f"facet {facet}, value {raw['id']}: {key} must be a list")
        return tuple(str(s) for s in items if str(s).strip())

    return FacetValue(
        id=str(raw["id"]),
        label=str(raw["label"]),
        description=str(raw.get("description") or ""),
        synonyms=strings("synonyms"),
        demonyms=strings("demonyms"),
        cues=strings("cues"),
        alpha3=str(raw.get("alpha3") or ""),
        region=raw.get("region") or None,  # type: ignore[arg-type]
        income=raw.get("income") or None,  # type: ignore[arg-type]
        ambiguous=bool(raw.get("ambiguous", False)),
        members=strings("members"),
        places=strings("places"),
    )


def parse_taxonomy(text: str) -> Taxonomy:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("facets"), dict):
        raise TaxonomyError("taxonomy must be a mapping with a 'facets' mapping")
    facets: dict[str, Facet] = {}
    lookup: dict[tuple[str, str], str] = {}
    for name, spec in data["facets"].items():
        spec = spec or {}
        values = tuple(_value(v, name) for v in spec.get("values") or [])
        by_id = {v.id: v for v in values}
        if len(by_id) != len(values):
            raise TaxonomyError(f"facet {name}: duplicate value ids")
        facets[name] = Facet(
            name=name,
            label=str(spec.get("label") or name.replace("_", " ").title()),
            description=str(spec.get("description") or ""),
            kind=str(spec.get("type") or "values"),
            source=str(spec.get("source") or "text"),
            values=values,
            by_id=by_id,
        )
        for value in values:
            for alias in (value.id, value.alpha3, *value.phrases):
                if alias:
                    lookup.setdefault((name, _key(alias)), value.id)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Taxonomy(facets=facets, digest=digest, _lookup=lookup, text=text)


@lru_cache(maxsize=4)
def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The packaged taxonomy unless a path is given; cached, as it is read on every search."""
    source = Path(path) if path else DEFAULT_TAXONOMY
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"cannot read taxonomy {source}: {exc.strerror}") from exc
    return parse_taxonomy(text)
