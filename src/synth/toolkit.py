"""Toolkit entries in the style of the EEF Teaching and Learning Toolkit: one strand per record.

A strand carries headline figures (impact in months, cost £1-5, evidence strength in padlocks,
number of studies), practitioner sections, and links to the indexed passages behind it. The
conversions here are pure functions so the tables can be tested edge by edge; the curator's
entered values always win over computed suggestions. Storage lives in toolkit_store.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pathlib import Path

    from .index import Index
    from .taxonomy import Taxonomy

Status = Literal["draft", "published"]
STATUSES: tuple[str, ...] = ("draft", "published")

# EEF conversion: the largest absolute effect size (2 dp) that earns each number of months.
IMPACT_BANDS: tuple[tuple[Decimal, int], ...] = tuple(
    (Decimal(upper), months)
    for upper, months in (
        ("0.01", 0),
        ("0.09", 1),
        ("0.18", 2),
        ("0.26", 3),
        ("0.35", 4),
        ("0.44", 5),
        ("0.52", 6),
        ("0.61", 7),
        ("0.69", 8),
        ("0.78", 9),
        ("0.87", 10),
        ("0.95", 11),
        ("1.00", 12),
    )
)
MAX_MONTHS = 12
# EEF cost bands: the largest cost per pupil per year (GBP) for each rating; above the last is 5.
COST_BANDS: tuple[tuple[Decimal, int], ...] = (
    (Decimal(80), 1),
    (Decimal(200), 2),
    (Decimal(720), 3),
    (Decimal(1200), 4),
)
CLASS_SIZE = 25
# Padlocks from the number of distinct studies: the largest count for each padlock level.
PADLOCK_BANDS: tuple[tuple[int, int], ...] = ((0, 0), (2, 1), (4, 2), (9, 3), (24, 4))
STUDY_DESIGNS = ("systematic-review", "rct", "quasi-experimental")
REVIEW_DESIGNS = ("systematic-review",)
RANDOMISED_DESIGNS = ("rct",)
RECENT_YEAR = 2015
MIN_RANDOMISED_SHARE = 0.5
MIN_RECENT_SHARE = 0.3
CONTEXT_FACETS = ("country", "region", "income", "phase", "setting")

# Practitioner sections of a strand page, in page order, with their headings.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "key_findings": "Key findings",
    "how_it_works": "How it works",
    "behind_the_average": "Behind the average",
    "closing_the_gap": "Closing the disadvantage gap",
    "implementation": "How to implement in your setting",
}
CAVEAT = (
    "Look beyond the headlines: the months of progress are an average over studies that differ "
    "in phase, subject, setting and delivery, so read behind the average before deciding. Months "
    "from different strategies do not add up: two approaches of +4 months do not give +8. The "
    "padlocks describe how secure the average is, not how well the approach will work in your "
    "school."
)


class ToolkitError(ValueError):
    """A value a curator gave that cannot be stored; the message is one line naming it."""


# ---------------------------------------------------------------- conversions


def _decimal(value: object, what: str) -> Decimal:
    """A finite number as written (floats through repr, so 0.125 stays 0.125, not 0.12499...)."""
    if isinstance(value, bool):
        raise ToolkitError(f"{what} must be a number, not {value!r}")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        number = Decimal(text.replace(",", "").lstrip("£"))
    except InvalidOperation:
        raise ToolkitError(f"{what} must be a number, not '{value}'") from None
    if not number.is_finite():
        raise ToolkitError(f"{what} must be a finite number, not '{value}'")
    return number


def round_effect_size(effect_size: object) -> Decimal:
    """Round half away from zero to 2 dp: 0.125 -> 0.13, -0.125 -> -0.13, 0.0149 -> 0.01."""
    return _decimal(effect_size, "effect size").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ImpactConversion:
    """An effect size read through the EEF table; `capped` when |ES| > 1.00 stopped at 12."""

    effect_size: float
    rounded: float
    months: int
    capped: bool


def convert_effect_size(effect_size: object) -> ImpactConversion:
    """Months of progress for an effect size; negatives mirror the table with a minus sign."""
    rounded = round_effect_size(effect_size)
    size = abs(rounded)
    months = next((m for upper, m in IMPACT_BANDS if size <= upper), MAX_MONTHS)
    signed = -months if rounded < 0 else months
    return ImpactConversion(
        float(_decimal(effect_size, "effect size")),
        float(rounded),
        signed,
        size > IMPACT_BANDS[-1][0],
    )


def impact_months(effect_size: object) -> int:
    """EEF months of progress (-12..12) for an effect size, rounded half away from zero to 2 dp."""
    return convert_effect_size(effect_size).months


def impact_label(months: int) -> str:
    """EEF wording: 0 very low or none, 1-2 low, 3-5 moderate, 6-8 high, 9+ very high."""
    if months < 0:
        return "negative"
    for top, label in ((0, "very low or none"), (2, "low"), (5, "moderate"), (8, "high")):
        if months <= top:
            return label
    return "very high"


def cost_rating(cost_per_pupil: object) -> int:
    """EEF cost rating 1-5 from GBP per pupil per year: <=80, <=200, <=720, <=1,200, more."""
    cost = _decimal(cost_per_pupil, "cost per pupil")
    if cost < 0:
        raise ToolkitError(f"cost per pupil cannot be negative ({cost_per_pupil})")
    return next((rating for upper, rating in COST_BANDS if cost <= upper), 5)


def cost_rating_per_class(cost_per_class: object, class_size: int = CLASS_SIZE) -> int:
    """The same bands read per class of 25: <=2,000, <=5,000, <=18,000, <=30,000, more."""
    return cost_rating(_decimal(cost_per_class, "cost per class") / Decimal(class_size))


def per_pupil_from_class(cost_per_class: object, class_size: int = CLASS_SIZE) -> float:
    """GBP per pupil from a per-class figure, so one stored number drives the rating."""
    cost = _decimal(cost_per_class, "cost per class")
    if cost < 0:
        raise ToolkitError(f"cost per class cannot be negative ({cost_per_class})")
    return float(cost / Decimal(class_size))


def cost_label(rating: int) -> str:
    return "£" * rating


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class LinkedEvidence:
    """One indexed passage behind a strand; `independent` marks an evaluation not run by the
    programme's developer (the curator says so: no tag can tell)."""

    chunk_id: str
    doc_id: str
    source: str = ""
    page: int | None = None
    quote: str | None = None
    independent: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LinkedEvidence:
        chunk_id = str(data.get("chunk_id") or "").strip()
        if not chunk_id:
            raise ToolkitError(f"a linked passage needs a chunk_id ({dict(data)!r})")
        page = data.get("page")
        return cls(
            chunk_id=chunk_id,
            doc_id=str(data.get("doc_id") or doc_id_of(chunk_id)),
            source=str(data.get("source") or ""),
            page=_int(page, "page") if page not in (None, "") else None,
            quote=str(data["quote"]) if data.get("quote") else None,
            independent=_bool(data.get("independent", False)),
        )


def doc_id_of(chunk_id: str) -> str:
    """Chunk ids are '<doc_id>-<seq>' (chunk.py), so the document is known without an index."""
    return chunk_id.rsplit("-", 1)[0] if re.fullmatch(r".+-\d+", chunk_id) else ""


@dataclass
class ToolkitEntry:
    """One strand. `impact_months` follows `effect_size` and `cost` follows `cost_per_pupil`
    whenever those are given; entered months or ratings stand when they are not."""

    id: str
    title: str
    topic: str
    status: Status = "draft"
    summary: str = ""
    effect_size: float | None = None
    impact_months: int | None = None
    cost_per_pupil: float | None = None
    cost: int | None = None
    padlocks: int | None = None
    suggested_padlocks: int | None = None
    padlock_reasons: list[str] = field(default_factory=list)
    studies: int | None = None
    key_findings: str = ""
    how_it_works: str = ""
    behind_the_average: str = ""
    closing_the_gap: str = ""
    implementation: str = ""
    contexts: dict[str, list[str]] = field(default_factory=dict)
    links: list[LinkedEvidence] = field(default_factory=list)
    index_build: str | None = None

    @property
    def impact_capped(self) -> bool:
        return self.effect_size is not None and convert_effect_size(self.effect_size).capped

    @property
    def shown_padlocks(self) -> int | None:
        """What the card shows: the curator's padlocks, else the suggestion from the evidence."""
        return self.padlocks if self.padlocks is not None else self.suggested_padlocks

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ToolkitEntry:
        """Build and check a record from JSON-like data (an import row, a stored version)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ToolkitError(f"unknown toolkit field(s): {', '.join(unknown)}")
        for name in ("id", "title", "topic"):
            if not str(data.get(name) or "").strip():
                raise ToolkitError(f"a toolkit entry needs a {name}")
        base = cls(id=str(data["id"]).strip(), title=str(data["title"]), topic=str(data["topic"]))
        values = {k: v for k, v in data.items() if k not in ("id", "title", "topic")}
        if "effect_size" in values and values["effect_size"] not in (None, ""):
            values.pop("impact_months", None)
        if "cost_per_pupil" in values and values["cost_per_pupil"] not in (None, ""):
            values.pop("cost", None)
        return apply_changes(base, values)


@dataclass(frozen=True)
class Version:
    """One saved state of an entry: every change is kept with its time and note."""

    entry_id: str
    n: int
    created_at: str
    note: str
    author: str | None
    entry: ToolkitEntry


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: object
    new: object


def _int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ToolkitError(f"{what} must be a whole number, not {value!r}")
    number = _decimal(value, what)
    if number != number.to_integral_value():
        raise ToolkitError(f"{what} must be a whole number, not '{value}'")
    return int(number)


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


def _in_range(value: object, what: str, low: int, high: int) -> int:
    number = _int(value, what)
    if not low <= number <= high:
        raise ToolkitError(f"{what} must be between {low} and {high}, not {number}")
    return number


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _set_effect_size(entry: ToolkitEntry, value: object) -> None:
    if _blank(value):
        entry.effect_size = None
        return
    conversion = convert_effect_size(value)
    entry.effect_size = conversion.effect_size
    entry.impact_months = conversion.months


def _set_cost_per_pupil(entry: ToolkitEntry, value: object) -> None:
    if _blank(value):
        entry.cost_per_pupil = None
        return
    entry.cost = cost_rating(value)
    entry.cost_per_pupil = float(_decimal(value, "cost per pupil"))


def _set_scalar(entry: ToolkitEntry, name: str, value: object) -> None:
    ranges = {
        "impact_months": ("impact months", -MAX_MONTHS, MAX_MONTHS),
        "cost": ("cost rating", 1, 5),
        "padlocks": ("padlocks", 0, 5),
        "suggested_padlocks": ("suggested padlocks", 0, 5),
        "studies": ("number of studies", 0, 1_000_000),
    }
    what, low, high = ranges[name]
    setattr(entry, name, None if _blank(value) else _in_range(value, what, low, high))
    if name == "impact_months":
        entry.effect_size = None
    elif name == "cost":
        entry.cost_per_pupil = None


def _set_contexts(entry: ToolkitEntry, value: object) -> None:
    value = json.loads(value) if isinstance(value, str) and value.strip() else value or {}
    if not isinstance(value, Mapping):
        raise ToolkitError("contexts must map a facet to a list of values")
    entry.contexts = {str(k): sorted({str(v) for v in vs}) for k, vs in sorted(value.items())}


def _set_links(entry: ToolkitEntry, value: object) -> None:
    value = json.loads(value) if isinstance(value, str) and value.strip() else value or []
    if not isinstance(value, list):
        raise ToolkitError("links must be a list of linked passages")
    links = [v if isinstance(v, LinkedEvidence) else LinkedEvidence.from_json(v) for v in value]
    entry.links = list({link.chunk_id: link for link in links}.values())


def _set_reasons(entry: ToolkitEntry, value: object) -> None:
    value = json.loads(value) if isinstance(value, str) and value.strip() else value or []
    if not isinstance(value, list):
        raise ToolkitError("padlock_reasons must be a list of strings")
    entry.padlock_reasons = [str(v) for v in value]


def apply_changes(entry: ToolkitEntry, changes: Mapping[str, object]) -> ToolkitEntry:
    """A copy of `entry` with the changes checked and applied; blank text or None clears a field.

    Effect size and cost per pupil are applied last so their computed months and rating win over
    entered ones given in the same change set; entering months (or a rating) alone clears them.
    """
    new = replace(entry, padlock_reasons=list(entry.padlock_reasons), links=list(entry.links))
    new.contexts = {k: list(v) for k, v in entry.contexts.items()}
    setters = {
        "effect_size": _set_effect_size,
        "cost_per_pupil": _set_cost_per_pupil,
        "contexts": _set_contexts,
        "links": _set_links,
        "padlock_reasons": _set_reasons,
    }
    known = {f.name for f in fields(ToolkitEntry)}
    order = sorted(changes, key=lambda k: k in ("effect_size", "cost_per_pupil"))
    for name in order:
        value = changes[name]
        if name not in known:
            raise ToolkitError(f"unknown toolkit field '{name}'")
        if name in setters:
            setters[name](new, value)
        elif name in ("impact_months", "cost", "padlocks", "suggested_padlocks", "studies"):
            _set_scalar(new, name, value)
        elif name == "status":
            if value not in STATUSES:
                raise ToolkitError(f"status must be draft or published, not '{value}'")
            new.status = value  # type: ignore[assignment]
        elif name in ("title", "topic", "id") and _blank(value):
            raise ToolkitError(f"{name} cannot be empty")
        else:
            setattr(new, name, None if name == "index_build" and _blank(value) else str(value))
    return new


def check_topic(entry: ToolkitEntry, taxonomy: Taxonomy) -> ToolkitEntry:
    """Resolve the topic through the taxonomy (labels and synonyms work), or raise."""
    from .taxonomy import TaxonomyError

    try:
        return replace(entry, topic=taxonomy.resolve("topic", entry.topic))
    except TaxonomyError as exc:
        raise ToolkitError(f"unknown topic: {exc}") from None


def diff_entries(old: ToolkitEntry, new: ToolkitEntry) -> list[FieldChange]:
    """Fields whose values differ, in record order: what `history --diff` prints."""
    a, b = old.to_json(), new.to_json()
    return [FieldChange(name, a[name], b[name]) for name in a if a[name] != b[name]]


def slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:60].rstrip("-") or "entry"


# ---------------------------------------------------------------- evidence from the index


@dataclass(frozen=True)
class StudyDocument:
    """A linked document counted as a study: its design tags, year and independence."""

    doc_id: str
    source: str
    designs: tuple[str, ...]
    year: int | None
    independent: bool


@dataclass(frozen=True)
class EvidenceSummary:
    """What the linked passages' documents show; the input of `suggest_padlocks`."""

    n_documents: int
    studies: tuple[StudyDocument, ...] = ()
    reported_studies: int | None = None
    contexts: dict[str, list[str]] = field(default_factory=dict)

    def count(self, designs: Iterable[str]) -> int:
        wanted = set(designs)
        return sum(1 for s in self.studies if wanted & set(s.designs))


@dataclass(frozen=True)
class PadlockSuggestion:
    padlocks: int
    reasons: list[str]


def padlocks_for_studies(n: int) -> int:
    """0 studies -> 0, 1-2 -> 1, 3-4 -> 2, 5-9 -> 3, 10-24 -> 4, 25 or more -> 5."""
    return next((p for top, p in PADLOCK_BANDS if n <= top), 5)


def _base_count(summary: EvidenceSummary) -> tuple[int, list[str]]:
    linked = len(summary.studies)
    reported = summary.reported_studies
    reviews = summary.count(REVIEW_DESIGNS)
    if reported is not None and reported > linked:
        if reviews:
            return reported, [
                f"{reported} studies as entered, backed by {reviews} linked review(s)"
            ]
        return linked, [
            f"{reported} studies entered but no linked systematic review backs that count: "
            f"capped at the {linked} linked study document(s)"
        ]
    return linked, [f"{linked} distinct linked study document(s) of {summary.n_documents} linked"]


def _threats(summary: EvidenceSummary) -> list[str]:
    studies = summary.studies
    threats = []
    primary = [s for s in studies if not set(s.designs) <= set(REVIEW_DESIGNS)]
    randomised = sum(1 for s in primary if set(s.designs) & set(RANDOMISED_DESIGNS))
    if primary and randomised / len(primary) < MIN_RANDOMISED_SHARE:
        threats.append(f"-1: only {randomised} of {len(primary)} primary studies randomised (<50%)")
    recent = sum(1 for s in studies if s.year is not None and s.year >= RECENT_YEAR)
    if recent / len(studies) < MIN_RECENT_SHARE:
        threats.append(
            f"-1: only {recent} of {len(studies)} studies from {RECENT_YEAR} on (<30%; "
            "undated studies count as older)"
        )
    if not any(s.independent for s in studies):
        threats.append(
            "-1: no linked study marked as an independent evaluation "
            "(mark one with `synth toolkit edit ID --independent DOC`)"
        )
    return threats


def suggest_padlocks(summary: EvidenceSummary) -> PadlockSuggestion:
    """Suggest 0-5 padlocks from the linked evidence; the curator decides.

    Rule: count the distinct linked documents tagged with a study design (RCT, quasi-experimental,
    systematic review). A larger number of studies entered by the curator is used only when a
    linked systematic review backs it; otherwise the count is capped at what the linked documents
    show. Padlocks from the count: 0 -> 0, 1-2 -> 1, 3-4 -> 2, 5-9 -> 3, 10-24 -> 4, >=25 -> 5.
    Then lose one padlock for each threat: under 50% of primary (non-review) studies randomised;
    under 30% of studies published 2015 or later (undated count as older); no linked study marked
    as an independent evaluation. Never below 0.
    """
    n, reasons = _base_count(summary)
    base = padlocks_for_studies(n)
    reasons.append(f"{base} padlock(s) for {n} studies")
    if base == 0:
        return PadlockSuggestion(0, [*reasons, "no study designs among the linked documents"])
    threats = _threats(summary)
    return PadlockSuggestion(max(0, base - len(threats)), reasons + threats)


def _year(tags: Iterable[object], metadata: object) -> int | None:
    year = getattr(metadata, "year", None)
    if year:
        return int(year)
    years = [int(t.value) for t in tags if t.facet == "year" and str(t.value).isdigit()]  # type: ignore[attr-defined]
    return min(years) if years else None


def summarise_evidence(entry: ToolkitEntry, index: Index) -> EvidenceSummary:
    """Read each linked document's design, year and context tags from the index."""
    doc_ids = list(dict.fromkeys(link.doc_id for link in entry.links))
    independent = {link.doc_id for link in entry.links if link.independent}
    contexts: dict[str, set[str]] = {}
    studies = []
    for doc_id in doc_ids:
        tags = index.document_tags(doc_id)
        for tag in tags.tags:
            if tag.facet in CONTEXT_FACETS:
                contexts.setdefault(tag.facet, set()).add(tag.value)
        designs = tuple(sorted({t.value for t in tags.tags if t.facet == "design"}))
        if set(designs) & set(STUDY_DESIGNS):
            year = _year(tags.tags, tags.metadata)
            studies.append(StudyDocument(doc_id, tags.source, designs, year, doc_id in independent))
    return EvidenceSummary(
        n_documents=len(doc_ids),
        studies=tuple(studies),
        reported_studies=entry.studies,
        contexts={f: sorted(contexts[f]) for f in CONTEXT_FACETS if f in contexts},
    )


def resolve_links(links: Iterable[LinkedEvidence], index: Index) -> list[LinkedEvidence]:
    """Fill document, source and page of each link from the index; unknown ids or quotes raise."""
    links = list(links)
    if not links:
        return []
    marks = ",".join("?" * len(links))
    rows = index.query(
        "SELECT c.chunk_id, c.doc_id, c.page_start, c.text, d.source FROM chunks c "
        f"JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id IN ({marks})",
        [link.chunk_id for link in links],
    )
    found = {r["chunk_id"]: r for r in rows}
    missing = [link.chunk_id for link in links if link.chunk_id not in found]
    if missing:
        raise ToolkitError(
            f"unknown chunk id(s) in index build {index.build_id}: {', '.join(missing)}"
        )
    out = []
    for link in links:
        row = found[link.chunk_id]
        if link.quote and _squash(link.quote) not in _squash(row["text"]):
            raise ToolkitError(f"quote not found in chunk {link.chunk_id}: '{link.quote[:60]}'")
        out.append(
            replace(link, doc_id=row["doc_id"], source=row["source"], page=row["page_start"])
        )
    return out


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def refresh_from_index(entry: ToolkitEntry, index: Index) -> ToolkitEntry:
    """Check links against an index build and recompute contexts and the padlock suggestion."""
    links = resolve_links(entry.links, index)
    updated = replace(entry, links=links, index_build=index.build_id)
    summary = summarise_evidence(updated, index)
    suggestion = suggest_padlocks(summary)
    return replace(
        updated,
        contexts=summary.contexts,
        suggested_padlocks=suggestion.padlocks,
        padlock_reasons=suggestion.reasons,
    )


# ---------------------------------------------------------------- import and export

CSV_FIELDS = [f.name for f in fields(ToolkitEntry)]
JSON_CELLS = ("padlock_reasons", "contexts", "links")


def entries_to_json(entries: Iterable[ToolkitEntry]) -> str:
    return json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=2) + "\n"


def entries_to_csv(entries: Iterable[ToolkitEntry]) -> str:
    """One row per entry; lists and mappings as JSON in their cell so the file round-trips."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        row = entry.to_json()
        for name in JSON_CELLS:
            row[name] = json.dumps(row[name], ensure_ascii=False)
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def entries_from_text(text: str, fmt: Literal["json", "csv"]) -> list[ToolkitEntry]:
    """Parse an export (JSON list or object, or CSV); a bad row names its position."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ToolkitError(f"not valid JSON: {exc}") from None
        rows = data if isinstance(data, list) else [data]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    entries = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ToolkitError(f"entry {i}: expected an object")
        try:
            entries.append(ToolkitEntry.from_json(row))
        except (ToolkitError, json.JSONDecodeError) as exc:
            raise ToolkitError(f"entry {i} ({row.get('id') or 'no id'}): {exc}") from None
    return entries


_HEADINGS = {re.sub(r"[^a-z]", "", title.lower()): name for name, title in SECTIONS.items()}
_HEADINGS |= {re.sub(r"[^a-z]", "", name): name for name in SECTIONS}


def fields_from_markdown(text: str) -> dict[str, str]:
    """Sections of a Markdown file by their '## ' headings (as on the card); '# ' sets the title."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if m := re.match(r"^(#{1,2})\s+(.*?)\s*#*\s*$", line):
            if m.group(1) == "#":
                found["title"] = [m.group(2)]
                current = None
                continue
            current = _HEADINGS.get(re.sub(r"[^a-z]", "", m.group(2).lower()))
            if current is None:
                known = "; ".join(SECTIONS.values())
                raise ToolkitError(f"unknown section '## {m.group(2)}' (sections: {known})")
            found[current] = []
        elif current is not None:
            found[current].append(line)
        elif line.strip():
            raise ToolkitError(f"text before the first '## ' section heading: '{line[:60]}'")
    return {name: "\n".join(lines).strip() for name, lines in found.items()}


def fields_from_file(text: str, suffix: str) -> dict[str, object]:
    """Field values from a JSON object or a Markdown file of sections (`edit ID --from FILE`)."""
    if suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ToolkitError(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ToolkitError("a JSON fields file must hold one object of field: value")
        return data
    return dict(fields_from_markdown(text))


# ---------------------------------------------------------------- the strand card

CARD_TEMPLATE = "toolkit-card"


@dataclass(frozen=True)
class CardProvenance:
    """Where a card's figures come from: the index build its links were checked in, the record
    version, when it was rendered and by which synth."""

    build_id: str | None
    rendered: str
    synth_version: str
    version: int | None = None
    version_date: str | None = None


@dataclass(frozen=True)
class CardSource:
    """The linked passages of one document, as the card lists them."""

    source: str
    doc_id: str
    pages: list[int]
    quotes: list[tuple[str, int | None]]
    chunk_ids: list[str]
    independent: bool


def _card_sources(links: list[LinkedEvidence]) -> list[CardSource]:
    by_doc: dict[str, list[LinkedEvidence]] = {}
    for link in links:
        by_doc.setdefault(link.doc_id, []).append(link)
    return [
        CardSource(
            source=next((x.source for x in group if x.source), doc_id),
            doc_id=doc_id,
            pages=sorted({x.page for x in group if x.page is not None}),
            quotes=[(x.quote, x.page) for x in group if x.quote],
            chunk_ids=[x.chunk_id for x in group],
            independent=any(x.independent for x in group),
        )
        for doc_id, group in by_doc.items()
    ]


def _labels(taxonomy: Taxonomy | None, facet: str, values: list[str]) -> list[str]:
    spec = taxonomy.facets.get(facet) if taxonomy else None
    return [spec.label_of(v) if spec else v for v in values]


def card_context(
    entry: ToolkitEntry, provenance: CardProvenance, taxonomy: Taxonomy | None = None
) -> dict[str, object]:
    """Everything a card template reads, already labelled, so templates hold no logic."""
    topic = _labels(taxonomy, "topic", [entry.topic])[0]
    contexts = [
        (
            taxonomy.facets[f].label if taxonomy and f in taxonomy.facets else f,
            _labels(taxonomy, f, v),
        )
        for f, v in entry.contexts.items()
        if v
    ]
    months = entry.impact_months
    rounded = (
        convert_effect_size(entry.effect_size).rounded if entry.effect_size is not None else None
    )
    return {
        "entry": entry,
        "topic_label": topic,
        "impact": {
            "months": months,
            "signed": None if months is None else f"{months:+d}" if months else "0",
            "label": None if months is None else impact_label(months),
            "effect_size": rounded,
            "capped": entry.impact_capped,
        },
        "cost": {
            "rating": entry.cost,
            "label": cost_label(entry.cost) if entry.cost else None,
            "per_pupil": _money(entry.cost_per_pupil),
            "per_class": _money(entry.cost_per_pupil and entry.cost_per_pupil * CLASS_SIZE),
        },
        "padlocks": {
            "value": entry.shown_padlocks,
            "suggested_only": entry.padlocks is None and entry.suggested_padlocks is not None,
            "reasons": entry.padlock_reasons,
        },
        "sections": [(SECTIONS[k], getattr(entry, k)) for k in SECTIONS if k != "summary"],
        "contexts": contexts,
        "sources": _card_sources(entry.links),
        "provenance": provenance,
        "caveat": CAVEAT,
    }


def _money(amount: float | None) -> str | None:
    if amount is None:
        return None
    amount = round(amount, 2)
    return f"£{amount:,.0f}" if float(amount).is_integer() else f"£{amount:,.2f}"


def _html_sections(entry: ToolkitEntry) -> dict[str, object]:
    """Curator Markdown as escaped HTML (raw HTML is shown as text, never run), via mdparse."""
    from markupsafe import Markup

    from .export import blocks_to_html
    from .mdparse import parse_markdown

    def to_html(text: str) -> Markup:
        return Markup(blocks_to_html(parse_markdown(text)))

    return {
        "summary_html": to_html(entry.summary),
        "sections_html": [
            (SECTIONS[k], to_html(getattr(entry, k)))
            for k in SECTIONS
            if k != "summary" and getattr(entry, k)
        ],
    }


def render_card(
    entry: ToolkitEntry,
    provenance: CardProvenance,
    fmt: Literal["md", "html"] = "md",
    taxonomy: Taxonomy | None = None,
    templates_dir: str | Path | None = None,
) -> str:
    """Fill toolkit-card.<fmt>.j2 in brief.py's sandbox and template search path."""
    from .brief import render_template

    context = card_context(entry, provenance, taxonomy)
    if fmt == "html":
        context |= _html_sections(entry)
    return render_template(f"{CARD_TEMPLATE}.{fmt}.j2", context, templates_dir)


def export_card(
    entry: ToolkitEntry,
    provenance: CardProvenance,
    fmt: Literal["md", "html", "pdf", "docx"],
    taxonomy: Taxonomy | None = None,
) -> bytes:
    """The card as file bytes; PDF and DOCX are made from the Markdown card by export.py."""
    from .export import render_markdown_to

    if fmt in ("md", "html"):
        return render_card(entry, provenance, fmt, taxonomy).encode("utf-8")
    return render_markdown_to(fmt, render_card(entry, provenance, "md", taxonomy), entry.title)
