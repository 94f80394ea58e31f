"""Counts as a person writes them: "3 trials in 2 countries, all primary", not "n=3"."""

from __future__ import annotations

from collections import Counter

# A study design as a countable noun (singular, plural).
DESIGN_NOUNS = {
    "systematic-review": ("review", "reviews"),
    "rct": ("trial", "trials"),
    "quasi-experimental": ("quasi-experimental study", "quasi-experimental studies"),
    "qualitative": ("qualitative study", "qualitative studies"),
    "case-study": ("case study", "case studies"),
    "survey-admin": ("survey or data study", "survey or data studies"),
    "practitioner-account": ("practitioner account", "practitioner accounts"),
}


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def and_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _designs(designs: list[str | None]) -> str:
    """'2 trials and 1 review', or 'N studies' when the designs are not known."""
    known = Counter(d for d in designs if d in DESIGN_NOUNS)
    n = len(designs)
    if not known:
        return plural(n, "study", "studies")
    parts = [plural(k, *DESIGN_NOUNS[d]) for d, k in known.most_common()]
    other = n - sum(known.values())
    if other:
        parts.append(plural(other, "other study", "other studies"))
    return and_list(parts)


def _places(countries: list[list[str]]) -> str:
    named = sorted({c for cs in countries for c in cs})
    if not named:
        return ""
    if len(named) <= 3:
        return " in " + and_list(named)
    return f" in {len(named)} countries"


def _phases(phases: list[list[str]]) -> str:
    known = [p for p in phases if p]
    if not known:
        return ""
    flat = Counter(v for p in known for v in set(p))
    if len(flat) == 1:
        value = next(iter(flat)).lower()
        every = "all " if len(phases) > 2 else "both " if len(phases) == 2 else ""
        unknown = "" if len(known) == len(phases) else " where stated"
        return f", {every}{value}{unknown}" if every else f", {value}"
    return ", " + and_list([f"{k} {v.lower()}" for v, k in flat.most_common()])


def describe_studies(
    designs: list[str | None], countries: list[list[str]], phases: list[list[str]]
) -> str:
    """One phrase for a set of studies, e.g. '2 trials and 1 review in Ghana and Kenya, all
    primary'. Country and phase lists hold labels, one list per study."""
    if not designs:
        return "no studies"
    return _designs(designs) + _places(countries) + _phases(phases)
