"""Checks on the shipped taxonomy data file (src/synth/taxonomy/taxonomy.yaml).

The ids in it are a contract shared by the tagger, the index and the app, and the synonyms drive
literal matching, so the file is checked for the fixed ids, uniqueness, World Bank fields and
phrases that would make one match point at two values.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

import synth

TAXONOMY_PATH = Path(synth.__file__).parent / "taxonomy" / "taxonomy.yaml"

FACETS = [
    "topic",
    "country",
    "region",
    "income",
    "phase",
    "setting",
    "evidence_type",
    "evidence_use",
    "level",
    "design",
    "kind",
    "outcome",
    "year",
]

FIXED_IDS = {
    "topic": [
        "feedback",
        "metacognition",
        "tutoring",
        "peer-tutoring",
        "teaching-at-the-right-level",
        "structured-pedagogy",
        "phonics-reading",
        "reading-comprehension",
        "oral-language",
        "mathematics",
        "early-childhood",
        "family-engagement",
        "social-emotional",
        "digital-technology",
        "teacher-development",
        "formative-assessment",
        "learner-profiles",
        "school-leadership",
        "out-of-school-learning",
        "workforce-skills",
        "inclusion-send",
        "girls-education",
        "attendance-dropout",
        "teaching-assistants",
        "class-size",
        "homework",
        "mastery-learning",
        "collaborative-learning",
        "behaviour",
        "extended-school-time",
        "evidence-use",
        "arts-participation",
        "assessment-systems",
        "school-feeding",
        "language-of-instruction",
        "remedial-education",
        "scholarships-cash-transfers",
    ],
    "region": [
        "east-asia-pacific",
        "europe-central-asia",
        "latin-america-caribbean",
        "middle-east-north-africa",
        "north-america",
        "south-asia",
        "sub-saharan-africa",
    ],
    "income": ["low", "lower-middle", "upper-middle", "high", "lmic"],
    "phase": ["early-years", "primary", "secondary", "post-16", "adult"],
    "setting": ["urban", "rural", "out-of-school", "crisis-displacement"],
    "evidence_type": [
        "research-evidence",
        "sector-data",
        "pedagogical-evidence",
        "practice-advice",
    ],
    "evidence_use": ["transparent", "instrumental", "embedded"],
    "level": ["individual", "organisational", "system"],
    "design": [
        "systematic-review",
        "rct",
        "quasi-experimental",
        "qualitative",
        "case-study",
        "survey-admin",
        "practitioner-account",
    ],
    "kind": [
        "primary-study",
        "systematic-review",
        "evaluation-report",
        "data-brief",
        "practice-guide",
        "programme-description",
        "policy-document",
    ],
    "outcome": [
        "reading",
        "writing",
        "mathematics",
        "language",
        "science",
        "attainment",
        "attendance",
        "retention",
        "wellbeing",
        "behaviour",
        "teaching-practice",
        "parent-engagement",
        "early-development",
    ],
}

# (alpha-2, region, income) from the World Bank FY2025 classification.
SPOT_CHECKS = [
    ("GH", "sub-saharan-africa", "lower-middle"),
    ("IN", "south-asia", "lower-middle"),
    ("GB", "europe-central-asia", "high"),
    ("ET", "sub-saharan-africa", "low"),
    ("BR", "latin-america-caribbean", "upper-middle"),
    ("US", "north-america", "high"),
    ("PK", "south-asia", "lower-middle"),
    ("MT", "middle-east-north-africa", "high"),
    ("RU", "europe-central-asia", "high"),
    ("DZ", "middle-east-north-africa", "upper-middle"),
    ("PS", "middle-east-north-africa", "lower-middle"),
    ("VE", "latin-america-caribbean", None),
]

NON_COUNTRY = [f for f in FACETS if f not in ("country", "year")]


@pytest.fixture(scope="module")
def taxonomy() -> dict:
    with TAXONOMY_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def facets(taxonomy: dict) -> dict:
    return taxonomy["facets"]


@pytest.fixture(scope="module")
def countries(facets: dict) -> dict[str, dict]:
    return {c["id"]: c for c in facets["country"]["values"]}


def _ids(facet: dict) -> list[str]:
    return [v["id"] for v in facet["values"]]


def _phrases(value: dict) -> list[str]:
    """Every literal phrase a value is matched by, apart from its label."""
    return list(value.get("synonyms") or []) + list(value.get("demonyms") or [])


def test_file_is_package_data_and_loads(taxonomy: dict) -> None:
    assert TAXONOMY_PATH.is_file()
    assert taxonomy["version"] == 1
    assert isinstance(taxonomy["facets"], dict)


def test_every_facet_present_with_label_and_description(facets: dict) -> None:
    assert list(facets) == FACETS
    for fid, facet in facets.items():
        assert isinstance(facet["label"], str) and facet["label"].strip(), fid
        assert isinstance(facet["description"], str) and facet["description"].strip(), fid


def test_year_facet_is_typed_and_has_no_values(facets: dict) -> None:
    assert facets["year"]["type"] == "year"
    assert "values" not in facets["year"]


@pytest.mark.parametrize("fid", FACETS[:-1])
def test_ids_unique_within_facet(facets: dict, fid: str) -> None:
    dupes = [i for i, n in Counter(_ids(facets[fid])).items() if n > 1]
    assert not dupes, f"{fid}: duplicate ids {dupes}"


@pytest.mark.parametrize("fid", list(FIXED_IDS))
def test_fixed_value_ids(facets: dict, fid: str) -> None:
    assert sorted(_ids(facets[fid])) == sorted(FIXED_IDS[fid])


def test_topic_count(facets: dict) -> None:
    assert len(facets["topic"]["values"]) >= 25
    assert len(facets["topic"]["values"]) == 37


@pytest.mark.parametrize("fid", NON_COUNTRY)
def test_values_have_label_and_rich_description(facets: dict, fid: str) -> None:
    for v in facets[fid]["values"]:
        assert isinstance(v["label"], str) and v["label"].strip(), (fid, v["id"])
        assert isinstance(v["description"], str), (fid, v["id"])
        assert len(v["description"].strip()) >= 40, (fid, v["id"])


def test_topic_synonym_counts(facets: dict) -> None:
    for v in facets["topic"]["values"]:
        assert 4 <= len(v["synonyms"]) <= 12, (v["id"], len(v["synonyms"]))


@pytest.mark.parametrize("fid", FACETS[:-1])
def test_synonyms_are_strings_without_duplicates(facets: dict, fid: str) -> None:
    for v in facets[fid]["values"]:
        phrases = _phrases(v)
        assert all(isinstance(p, str) and p.strip() == p and p for p in phrases), v["id"]
        lowered = [p.casefold() for p in phrases]
        dupes = [p for p, n in Counter(lowered).items() if n > 1]
        assert not dupes, f"{fid}/{v['id']}: duplicate phrases {dupes}"


def _norm(text: str) -> str:
    """Case, hyphens and spacing do not distinguish phrases (``small-group`` = ``small group``)."""
    return re.sub(r"[\s_\-]+", " ", text.strip().casefold())


@pytest.mark.parametrize("fid", FACETS[:-1])
def test_no_phrase_shared_between_values(facets: dict, fid: str) -> None:
    """An id, code, label or phrase naming two values of one facet would make a match ambiguous."""
    owner: dict[str, str] = {}
    clashes = []
    for v in facets[fid]["values"]:
        names = [v["id"], v["label"], v.get("alpha3", ""), *_phrases(v)]
        for phrase in {_norm(p) for p in names if p}:
            if phrase in owner and owner[phrase] != v["id"]:
                clashes.append((phrase, owner[phrase], v["id"]))
            owner.setdefault(phrase, v["id"])
    assert not clashes, f"{fid}: {clashes}"


def test_all_iso_countries_with_codes(countries: dict[str, dict]) -> None:
    assert len(countries) >= 249
    alpha3 = [c["alpha3"] for c in countries.values()]
    assert len(set(alpha3)) == len(alpha3)
    for cid, c in countries.items():
        assert re.fullmatch(r"[A-Z]{2}", cid), cid
        assert re.fullmatch(r"[A-Z]{3}", c["alpha3"]), cid
        assert isinstance(c["label"], str) and c["label"].strip(), cid
        assert isinstance(c["synonyms"], list) and isinstance(c["demonyms"], list), cid
        assert isinstance(c["ambiguous"], bool), cid


def test_country_regions_and_incomes_are_known_ids(facets: dict, countries: dict) -> None:
    regions = set(_ids(facets["region"]))
    incomes = set(_ids(facets["income"]))
    for cid, c in countries.items():
        assert c["region"] in regions or (cid == "AQ" and c["region"] is None), cid
        assert c["income"] in incomes or c["income"] is None, cid
    assert all(c["region"] for c in countries.values() if c["income"] is not None)


def test_income_group_sizes_match_world_bank_fy2025(countries: dict[str, dict]) -> None:
    """FY2025 has 26 low, 51 lower-middle and 54 upper-middle economies (Kosovo included).

    High income is 87 here, not 86: ISO splits the World Bank's Channel Islands into JE and GG.
    """
    sizes = Counter(c["income"] for c in countries.values())
    assert sizes["low"] == 26
    assert sizes["lower-middle"] == 51
    assert sizes["upper-middle"] == 54
    assert sizes["high"] == 87


@pytest.mark.parametrize(("cid", "region", "income"), SPOT_CHECKS)
def test_country_spot_checks(countries: dict, cid: str, region: str, income: str | None) -> None:
    assert countries[cid]["region"] == region
    assert countries[cid]["income"] == income


def test_country_names_and_ambiguity_flags(countries: dict[str, dict]) -> None:
    assert countries["TZ"]["label"] == "Tanzania"
    assert "United Republic of Tanzania" in countries["TZ"]["synonyms"]
    assert countries["GH"]["alpha3"] == "GHA"
    assert {"Ghanaian", "Ghanaians"} <= set(countries["GH"]["demonyms"])
    assert {"UK", "United Kingdom", "England", "Scotland", "Wales"} <= {
        countries["GB"]["label"],
        *countries["GB"]["synonyms"],
    }
    for cid in ("TD", "JO", "GE", "TR", "GN"):
        assert countries[cid]["ambiguous"] is True, cid
    for cid in ("GH", "NG", "KE", "IN", "NE"):
        assert countries[cid]["ambiguous"] is False, cid
