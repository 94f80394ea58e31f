"""Toolkit entries in the style of the EEF Teaching and Learning Toolkit: one strand per record.

A strand carries headline figures (impact in months, cost £1-5, evidence strength in padlocks,
number of studies), practitioner sections, and links to the indexed passages behind it. The
conversions here are pure functions so the tables can be tested edge by edge; the curator's
entered values always win over computed suggestions. Storage lives in store.py, evidence from
the index in evidence.py, files in exchange.py and the card in card.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from synth.taxonomy import Taxonomy

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
# Effect sizes in education are rarely above 1; beyond this one is refused unless confirmed
# (it is usually a typing slip: 54 for 0.54, or a percentage).
EFFECT_SIZE_LIMIT = Decimal(2)
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


def number_text(text: str) -> str:
    """A typed number in the form Decimal reads: "0,54" -> "0.54" (decimal comma), "1,200" ->
    "1200" and "1.234,5" -> "1234.5" (thousands separators), "£ 80" -> "80".

    One comma followed by exactly three digits after a non-zero whole part is a thousands
    separator ("1,200"); any other single comma is a decimal comma ("0,54", "-0,125", "12,5").
    """
    text = re.sub(r"\s+", "", text).lstrip("£")
    if "," in text and "." in text:
        decimal = "," if text.rindex(",") > text.rindex(".") else "."
        thousands = "." if decimal == "," else ","
        return text.replace(thousands, "").replace(decimal, ".")
    if text.count(",") == 1:
        whole, frac = text.split(",")
        if len(frac) == 3 and whole.lstrip("+-") not in ("", "0"):
            return whole + frac
        return f"{whole}.{frac}"
    return text.replace(",", "")


def _decimal(value: object, what: str) -> Decimal:
    """A finite number as written (floats through repr, so 0.125 stays 0.125, not 0.12499...)."""
    if isinstance(value, bool):
        raise ToolkitError(f"{what} must be a number, not {value!r}")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        number = Decimal(number_text(text))
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
        # Stored versions and exports were checked when entered; `synth toolkit import` checks
        # effect sizes itself (check_effect_size) so an import cannot slip a 54 past the curator.
        return apply_changes(base, values, confirm_effect_size=True)


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


def check_effect_size(value: object, confirmed: bool = False) -> None:
    """Refuse an effect size outside -2..2 unless the curator has confirmed it."""
    number = _decimal(value, "effect size")
    if abs(number) > EFFECT_SIZE_LIMIT and not confirmed:
        raise ToolkitError(
            f"effect size {value} is outside -2 to 2; education effect sizes are rarely above 1. "
            "Check it (a decimal comma is fine: 0,54 is read as 0.54) and confirm it if it is right"
        )


def _set_effect_size(entry: ToolkitEntry, value: object, confirmed: bool = False) -> None:
    if _blank(value):
        entry.effect_size = None
        return
    check_effect_size(value, confirmed)
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


def apply_changes(
    entry: ToolkitEntry, changes: Mapping[str, object], confirm_effect_size: bool = False
) -> ToolkitEntry:
    """A copy of `entry` with the changes checked and applied; blank text or None clears a field.

    Effect size and cost per pupil are applied last so their computed months and rating win over
    entered ones given in the same change set; entering months (or a rating) alone clears them.
    An effect size outside -2..2 is refused unless `confirm_effect_size`.
    """
    new = replace(entry, padlock_reasons=list(entry.padlock_reasons), links=list(entry.links))
    new.contexts = {k: list(v) for k, v in entry.contexts.items()}
    setters = {
        "effect_size": lambda e, v: _set_effect_size(e, v, confirm_effect_size),
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
    from synth.taxonomy import TaxonomyError

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
