"""Toolkit entries: EEF conversions at every band edge, versioned store, import/export round trips,
validation, the CLI in-process, and contexts and padlocks read from the real corpus index."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from synth.cli import main
from synth.toolkit.card import CardProvenance, render_card
from synth.toolkit.entries import (
    CAVEAT,
    LinkedEvidence,
    ToolkitEntry,
    ToolkitError,
    apply_changes,
    convert_effect_size,
    cost_rating,
    cost_rating_per_class,
    diff_entries,
    impact_label,
    impact_months,
)
from synth.toolkit.evidence import (
    EvidenceSummary,
    StudyDocument,
    padlocks_for_studies,
    refresh_from_index,
    suggest_padlocks,
    summarise_evidence,
)
from synth.toolkit.exchange import (
    entries_from_text,
    entries_to_csv,
    entries_to_json,
    fields_from_markdown,
)
from synth.toolkit.store import DEFAULT_TOOLKIT_PATH, ToolkitStore, toolkit_path

# The EEF table as DOMAIN.md prints it: months, lowest and highest effect size of the band.
EEF_TABLE = [
    (0, "-0.01", "0.01"),
    (1, "0.02", "0.09"),
    (2, "0.10", "0.18"),
    (3, "0.19", "0.26"),
    (4, "0.27", "0.35"),
    (5, "0.36", "0.44"),
    (6, "0.45", "0.52"),
    (7, "0.53", "0.61"),
    (8, "0.62", "0.69"),
    (9, "0.70", "0.78"),
    (10, "0.79", "0.87"),
    (11, "0.88", "0.95"),
    (12, "0.96", "1.00"),
]
BAND_EDGES = [(low, m) for m, low, _ in EEF_TABLE[1:]] + [(high, m) for m, _, high in EEF_TABLE]


def _negate(value: str) -> str:
    return str(-Decimal(value))


# ---------------------------------------------------------------- impact months


@pytest.mark.parametrize(("effect_size", "months"), BAND_EDGES)
def test_impact_months_at_both_ends_of_every_band(effect_size, months):
    assert impact_months(effect_size) == months
    assert impact_months(float(effect_size)) == months


@pytest.mark.parametrize(("effect_size", "months"), BAND_EDGES)
def test_negative_effect_sizes_mirror_the_table(effect_size, months):
    assert impact_months(_negate(effect_size)) == -months


def test_zero_band_spans_minus_to_plus_one_hundredth():
    assert [impact_months(x) for x in ("-0.01", "0", "0.00", "0.01")] == [0, 0, 0, 0]
    assert (impact_months("-0.02"), impact_months("0.02")) == (-1, 1)


@pytest.mark.parametrize("effect_size", ["1.01", "1.5", "3.2", 2])
def test_effect_sizes_above_one_cap_at_twelve_months_with_a_flag(effect_size):
    up = convert_effect_size(effect_size)
    down = convert_effect_size(_negate(str(effect_size)))
    assert (up.months, up.capped) == (12, True)
    assert (down.months, down.capped) == (-12, True)


def test_one_point_zero_is_twelve_months_without_the_cap_flag():
    assert convert_effect_size("1.00").capped is False
    assert convert_effect_size("1.004").capped is False  # rounds to 1.00
    assert convert_effect_size("1.005").capped is True  # rounds to 1.01


@pytest.mark.parametrize(
    ("effect_size", "rounded", "months"),
    [
        ("0.015", 0.02, 1),  # half away from zero: up out of the zero band
        ("0.0149", 0.01, 0),
        ("-0.015", -0.02, -1),  # and down, symmetrically, for negatives
        ("0.095", 0.10, 2),
        ("0.0949", 0.09, 1),
        ("0.185", 0.19, 3),  # banker's rounding (and float round()) would give 0.18 -> 2
        ("0.125", 0.13, 2),
        ("-0.185", -0.19, -3),
        ("0.955", 0.96, 12),
        ("0.954", 0.95, 11),
        ("0.265", 0.27, 4),
        ("0.264", 0.26, 3),
    ],
)
def test_three_decimal_effect_sizes_round_half_away_from_zero(effect_size, rounded, months):
    conversion = convert_effect_size(effect_size)
    assert conversion.rounded == rounded
    assert conversion.months == months
    assert convert_effect_size(float(effect_size)).months == months  # floats read as written


def test_python_round_would_disagree_on_the_documented_case():
    # The rule matters: float rounding puts 0.185 in the 2-month band, the rule in the 3-month.
    assert round(0.185, 2) == 0.18
    assert impact_months(0.185) == 3


@pytest.mark.parametrize("bad", ["abc", "", "nan", "inf", float("nan"), float("-inf"), True])
def test_effect_size_that_is_not_a_finite_number_is_refused(bad):
    with pytest.raises(ToolkitError, match="effect size"):
        impact_months(bad)


@pytest.mark.parametrize(
    ("months", "label"),
    [
        (0, "very low or none"),
        (1, "low"),
        (2, "low"),
        (3, "moderate"),
        (5, "moderate"),
        (6, "high"),
        (8, "high"),
        (9, "very high"),
        (12, "very high"),
        (-1, "negative"),
    ],
)
def test_impact_labels_at_their_edges(months, label):
    assert impact_label(months) == label


# ---------------------------------------------------------------- cost


@pytest.mark.parametrize(
    ("per_pupil", "rating"),
    [
        ("0", 1),
        ("79.99", 1),
        ("80", 1),
        ("80.01", 2),
        ("200", 2),
        ("200.01", 3),
        ("720", 3),
        ("720.01", 4),
        ("1200", 4),
        ("1200.01", 5),
        ("1,200", 4),
        ("£1,200.01", 5),
        ("100000", 5),
    ],
)
def test_cost_rating_per_pupil_at_every_band_edge(per_pupil, rating):
    assert cost_rating(per_pupil) == rating


@pytest.mark.parametrize(
    ("per_class", "rating"),
    [
        (2000, 1),
        ("2000.01", 2),
        (2001, 2),
        (5000, 2),
        (5001, 3),
        (18000, 3),
        (18001, 4),
        (30000, 4),
        (30001, 5),
    ],
)
def test_cost_rating_per_class_of_25_at_every_band_edge(per_class, rating):
    assert cost_rating_per_class(per_class) == rating


@pytest.mark.parametrize("bad", ["-1", "cheap", "nan"])
def test_bad_costs_are_refused(bad):
    with pytest.raises(ToolkitError, match="cost per pupil"):
        cost_rating(bad)


# ---------------------------------------------------------------- padlocks


def _studies(n, designs=("rct",), year=2020, independent=1):
    return tuple(
        StudyDocument(f"d{i}", f"s{i}.pdf", designs, year, i < independent) for i in range(n)
    )


@pytest.mark.parametrize(
    ("n", "padlocks"),
    [(0, 0), (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (9, 3), (10, 4), (24, 4), (25, 5), (80, 5)],
)
def test_padlocks_from_the_number_of_studies(n, padlocks):
    assert padlocks_for_studies(n) == padlocks
    suggestion = suggest_padlocks(EvidenceSummary(n, _studies(n)))
    assert suggestion.padlocks == padlocks, suggestion.reasons


def test_each_threat_costs_one_padlock():
    clean = EvidenceSummary(10, _studies(10))
    assert suggest_padlocks(clean).padlocks == 4
    # 5 of 10 randomised is 50%: no threat; 4 of 10 is.
    half = _studies(5) + _studies(5, designs=("quasi-experimental",), independent=0)
    assert suggest_padlocks(EvidenceSummary(10, half)).padlocks == 4
    few = _studies(4) + _studies(6, designs=("quasi-experimental",), independent=0)
    assert suggest_padlocks(EvidenceSummary(10, few)).padlocks == 3
    # 3 of 10 since 2015 is 30%: no threat; 2 of 10 (undated count as older) is.
    dated = _studies(3) + _studies(7, year=2010, independent=0)
    assert suggest_padlocks(EvidenceSummary(10, dated)).padlocks == 4
    old = _studies(2) + _studies(4, year=2014, independent=0) + _studies(4, year=None)
    assert suggest_padlocks(EvidenceSummary(10, old)).padlocks == 3
    dependent = _studies(10, independent=0)
    suggestion = suggest_padlocks(EvidenceSummary(10, dependent))
    assert suggestion.padlocks == 3
    assert any("independent" in r for r in suggestion.reasons)


def test_all_threats_together_never_go_below_zero():
    weak = _studies(2, designs=("quasi-experimental",), year=2001, independent=0)
    suggestion = suggest_padlocks(EvidenceSummary(2, weak))
    assert suggestion.padlocks == 0
    assert sum(r.startswith("-1") for r in suggestion.reasons) == 3


def test_entered_study_count_needs_a_linked_review_to_count():
    primary = _studies(3)
    capped = suggest_padlocks(EvidenceSummary(3, primary, reported_studies=40))
    assert capped.padlocks == 2
    assert "capped" in capped.reasons[0]
    review = (StudyDocument("r", "r.pdf", ("systematic-review",), 2019, True),)
    backed = suggest_padlocks(EvidenceSummary(4, primary + review, reported_studies=40))
    assert backed.padlocks == 5, backed.reasons
    only_review = suggest_padlocks(EvidenceSummary(1, review, reported_studies=12))
    assert only_review.padlocks == 4  # no primary studies: randomised share is not assessed


def test_no_study_designs_means_no_padlocks():
    suggestion = suggest_padlocks(EvidenceSummary(3, (), reported_studies=None))
    assert suggestion.padlocks == 0


# ---------------------------------------------------------------- records and store


def _entry(**changes) -> ToolkitEntry:
    base = ToolkitEntry(
        id="oral-language", title="Oral language interventions", topic="oral-language"
    )
    return apply_changes(base, changes)


@pytest.mark.parametrize(
    ("typed", "value", "months"),
    [
        ("0,54", 0.54, 7),
        ("-0,125", -0.125, -2),
        (" 0,2 ", 0.2, 3),
        ("1,5", 1.5, 12),
        ("0.54", 0.54, 7),
    ],
)
def test_an_effect_size_with_a_decimal_comma_is_read_as_a_decimal(typed, value, months):
    entry = _entry(effect_size=typed)
    assert (entry.effect_size, entry.impact_months) == (value, months)


def test_thousands_separators_still_read_as_thousands_in_costs():
    assert _entry(cost_per_pupil="1,200").cost_per_pupil == 1200.0
    assert _entry(cost_per_pupil="1.200,50").cost_per_pupil == 1200.5
    assert _entry(cost_per_pupil="12,50").cost_per_pupil == 12.5


@pytest.mark.parametrize("typed", ["54", "2.01", "-3", "1,234", "0,54e3"])
def test_effect_sizes_outside_two_are_refused_unless_confirmed(typed):
    with pytest.raises(ToolkitError, match="outside -2 to 2"):
        _entry(effect_size=typed)
    base = ToolkitEntry(id="x", title="X", topic="feedback")
    confirmed = apply_changes(base, {"effect_size": typed}, confirm_effect_size=True)
    assert confirmed.impact_months in (12, -12)


def test_a_stored_entry_with_a_large_effect_size_still_loads():
    data = ToolkitEntry(id="x", title="X", topic="feedback").to_json()
    data["effect_size"] = 54.0  # saved before the range check existed
    assert ToolkitEntry.from_json(data).effect_size == 54.0


def test_effect_size_and_cost_figures_drive_months_and_rating():
    entry = _entry(effect_size="0.32", cost_per_pupil="150", impact_months=1, cost=5)
    assert (entry.impact_months, entry.cost) == (4, 2)  # computed values win in one change set
    entered = apply_changes(entry, {"impact_months": "6", "cost": "3"})
    assert (entered.effect_size, entered.impact_months) == (None, 6)
    assert (entered.cost_per_pupil, entered.cost) == (None, 3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"padlocks": "6"}, "padlocks must be between 0 and 5"),
        ({"padlocks": "-1"}, "padlocks must be between 0 and 5"),
        ({"padlocks": "2.5"}, "padlocks must be a whole number"),
        ({"cost": "0"}, "cost rating must be between 1 and 5"),
        ({"impact_months": "13"}, "impact months must be between -12 and 12"),
        ({"studies": "many"}, "number of studies must be a number"),
        ({"status": "live"}, "status must be draft or published"),
        ({"title": "  "}, "title cannot be empty"),
        ({"colour": "red"}, "unknown toolkit field 'colour'"),
    ],
)
def test_invalid_values_are_one_line_errors(changes, message):
    with pytest.raises(ToolkitError, match=message) as info:
        _entry(**changes)
    assert "\n" not in str(info.value)


def test_store_keeps_every_version_and_diffs_them(tmp_path):
    with ToolkitStore(tmp_path / "tk.sqlite") as store:
        first = store.create(_entry(effect_size="0.2"), "first draft", "amina")
        edited = apply_changes(first.entry, {"key_findings": "Talk matters.", "padlocks": 3})
        second = store.save(edited, "added findings", "ben")
        assert store.save(edited, "no change") is None
        published = store.save(apply_changes(edited, {"status": "published"}), "publish")
        history = store.history("oral-language")
    assert [v.n for v in history] == [1, 2, 3]
    assert [v.note for v in history] == ["first draft", "added findings", "publish"]
    assert [v.author for v in history] == ["amina", "ben", None]
    assert history[0].entry.key_findings == "" and history[0].entry.status == "draft"
    assert second is not None and published is not None
    changed = {c.field: (c.old, c.new) for c in diff_entries(history[0].entry, history[1].entry)}
    assert changed == {"padlocks": (None, 3), "key_findings": ("", "Talk matters.")}
    assert [c.field for c in diff_entries(history[1].entry, history[2].entry)] == ["status"]


def test_store_refuses_duplicates_and_unknown_versions(tmp_path):
    with ToolkitStore(tmp_path / "tk.sqlite") as store:
        store.create(_entry())
        with pytest.raises(ToolkitError, match="already exists"):
            store.create(_entry())
        with pytest.raises(ToolkitError, match="has no version 7"):
            store.version("oral-language", 7)
        with pytest.raises(ToolkitError, match="no toolkit entry 'nope'"):
            store.get("nope")
        assert store.new_id("Oral language interventions!") == "oral-language-interventions"
        assert store.new_id("Oral language") == "oral-language-2"


def test_store_location_default_env_and_flag(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTH_TOOLKIT", raising=False)
    assert toolkit_path() == DEFAULT_TOOLKIT_PATH == Path("toolkit/toolkit.sqlite")
    monkeypatch.setenv("SYNTH_TOOLKIT", str(tmp_path / "env.sqlite"))
    assert toolkit_path() == tmp_path / "env.sqlite"
    assert toolkit_path(tmp_path / "flag.sqlite") == tmp_path / "flag.sqlite"
    monkeypatch.delenv("SYNTH_TOOLKIT")
    monkeypatch.chdir(tmp_path)
    assert main(["toolkit", "new", "Homework", "--topic", "homework"]) == 0
    assert (tmp_path / "toolkit" / "toolkit.sqlite").is_file()


# ---------------------------------------------------------------- import and export

TRICKY = 'Line one, with a comma and "quotes".\n\n- a bullet; another\n- ünïcödé £ and a | pipe'


def _full_entries() -> list[ToolkitEntry]:
    full = _entry(
        summary=TRICKY,
        effect_size="0.285",
        cost_per_pupil="75.5",
        padlocks=2,
        suggested_padlocks=1,
        padlock_reasons=["1 padlock(s) for 2 studies", "-1: only 0 of 2 randomised"],
        studies=14,
        key_findings=TRICKY,
        how_it_works="Structured talk.",
        behind_the_average="Larger effects in early years.",
        closing_the_gap="Helps pupils with weaker vocabulary.",
        implementation="Train staff first.",
        contexts={"country": ["GH", "KE"], "phase": ["primary"]},
        links=[
            {
                "chunk_id": "abc123-0001",
                "doc_id": "abc123",
                "source": "a.pdf",
                "page": 2,
                "quote": 'Talk, "quoted".',
                "independent": True,
            },
            {"chunk_id": "abc123-0004"},
        ],
        index_build="20260101T000000-deadbeef",
        status="published",
    )
    sparse = ToolkitEntry(id="homework", title="Homework", topic="homework", impact_months=-2)
    return [full, sparse]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_and_import_round_trip(fmt):
    entries = _full_entries()
    text = entries_to_json(entries) if fmt == "json" else entries_to_csv(entries)
    back = entries_from_text(text, fmt)
    assert [e.to_json() for e in back] == [e.to_json() for e in entries]
    assert back[0].links[1].doc_id == "abc123"  # derived from the chunk id when absent


def test_import_errors_name_the_entry():
    rows = [{"id": "x", "title": "X", "topic": "feedback", "padlocks": "9"}]
    with pytest.raises(ToolkitError, match=r"entry 1 \(x\): padlocks must be between 0 and 5"):
        entries_from_text(json.dumps(rows), "json")
    with pytest.raises(ToolkitError, match="not valid JSON"):
        entries_from_text("{nope", "json")


def test_markdown_fields_file():
    text = (
        "# New title\n\n## Key findings\n\n- One\n- Two\n\n"
        "## How to implement in your setting\nStart small.\n"
    )
    assert fields_from_markdown(text) == {
        "title": "New title",
        "key_findings": "- One\n- Two",
        "implementation": "Start small.",
    }
    with pytest.raises(ToolkitError, match="unknown section '## Costs'"):
        fields_from_markdown("## Costs\nfive")
    with pytest.raises(ToolkitError, match="text before the first"):
        fields_from_markdown("stray words\n## Summary\nok")


# ---------------------------------------------------------------- the card


def test_card_carries_caveat_provenance_and_escapes_html():
    entry = apply_changes(_full_entries()[0], {"summary": "Good <script>alert(1)</script> talk"})
    entry = apply_changes(entry, {"effect_size": "-1.3"})
    provenance = CardProvenance(
        "build-123", "2026-01-02", "9.9.9", version=4, version_date="2026-01-01"
    )
    md = render_card(entry, provenance, "md")
    html = render_card(entry, provenance, "html")
    for text in (md, html):
        assert "Look beyond the headlines" in text
        assert "build-123" in text and "9.9.9" in text and "version 4" in text
        assert "-12 months" in text and "capped at 12 months" in text
    assert CAVEAT in md and "do not add up" in CAVEAT
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<li>a bullet; another</li>" in html  # curator Markdown becomes HTML
    assert "2/5 padlocks" in md and "Ghana" not in md  # no taxonomy given: ids as stored
    assert "GH" in md


# ---------------------------------------------------------------- CLI in-process


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_new_edit_history_publish_show(tmp_path, capsys):
    tk = ["--toolkit", str(tmp_path / "tk.sqlite")]
    code, out, _ = _run(
        capsys,
        "toolkit",
        "new",
        "Reading comprehension strategies",
        "--topic",
        "Reading comprehension",
        "--effect-size",
        "0.455",
        "--cost-per-class",
        "2001",
        *tk,
    )
    assert code == 0 and "created reading-comprehension-strategies" in out
    entry_id = "reading-comprehension-strategies"
    fields_file = tmp_path / "sections.md"
    fields_file.write_text("## Behind the average\n\nBigger in secondary.\n", encoding="utf-8")
    code, out, _ = _run(
        capsys,
        "toolkit",
        "edit",
        entry_id,
        "--from",
        str(fields_file),
        "--padlocks",
        "3",
        "--note",
        "curated sections",
        "--author",
        "amina",
        *tk,
    )
    assert code == 0 and "version 2" in out
    assert _run(capsys, "toolkit", "publish", entry_id, *tk)[0] == 0
    code, out, _ = _run(capsys, "toolkit", "history", entry_id, *tk)
    lines = out.strip().splitlines()
    assert len(lines) == 3 and "curated sections" in lines[1] and "by amina" in lines[1]
    assert "publish" in lines[2]
    code, out, _ = _run(capsys, "toolkit", "history", entry_id, "--diff", "1", "2", *tk)
    assert "2 field(s) changed" in out and "padlocks: null -> 3" in out
    assert "behind_the_average: '' -> 'Bigger in secondary.'" in out
    code, out, _ = _run(capsys, "toolkit", "show", entry_id, "--json", *tk)
    shown = json.loads(out)
    assert shown["topic"] == "reading-comprehension"  # label resolved to the taxonomy id
    assert (shown["impact_months"], shown["cost"], shown["status"]) == (6, 2, "published")
    code, out, _ = _run(capsys, "toolkit", "show", entry_id, "--version", "1", *tk)
    assert "Draft" in out and "+6 months (high)" in out and "££ (2/5)" in out
    code, out, _ = _run(capsys, "toolkit", "list", "--status", "published", "--json", *tk)
    assert [e["id"] for e in json.loads(out)] == [entry_id]
    code, out, _ = _run(capsys, "toolkit", "list", "--status", "draft", *tk)
    assert "no toolkit entries" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--effect-size", "big"], "effect size must be a number, not 'big'"),
        (["--padlocks", "6"], "padlocks must be between 0 and 5, not 6"),
        (["--effect-size", "0.2", "--impact-months", "3"], "not both"),
        (["--cost", "2", "--cost-per-pupil", "90"], "give one of"),
        (["--topic", "astrology"], "unknown topic: 'astrology' is not a value of topic"),
        (["--id", "../escape"], "entry id '../escape' must be"),
        (["--cost-per-pupil", "-5"], "cost per pupil cannot be negative"),
        (["--effect-size", "54"], "effect size 54 is outside -2 to 2"),
    ],
)
def test_cli_validation_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    base = ["toolkit", "new", "Bad", "--toolkit", str(tmp_path / "tk.sqlite")]
    topic = [] if "--topic" in argv else ["--topic", "feedback"]
    code, out, err = _run(capsys, *base, *topic, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1
    with ToolkitStore(tmp_path / "tk.sqlite") as store:
        assert store.ids() == []


def test_cli_confirms_a_large_effect_size_and_reads_a_decimal_comma(tmp_path, capsys):
    tk = ["--toolkit", str(tmp_path / "tk.sqlite")]
    new = ["toolkit", "new", "Odd", "--topic", "feedback", *tk]
    assert _run(capsys, *new, "--effect-size", "2.4", "--confirm-effect-size")[0] == 0
    code, out, _ = _run(capsys, "toolkit", "show", "odd", "--json", *tk)
    assert json.loads(out)["effect_size"] == 2.4
    edit = ["toolkit", "edit", "odd", "--note", "typed with a comma", *tk]
    assert _run(capsys, *edit, "--effect-size", "0,54")[0] == 0
    code, out, _ = _run(capsys, "toolkit", "show", "odd", "--json", *tk)
    assert (json.loads(out)["effect_size"], json.loads(out)["impact_months"]) == (0.54, 7)
    big = tmp_path / "big.json"
    big.write_text(
        json.dumps([{"id": "big", "title": "Big", "topic": "feedback", "effect_size": 5}])
    )
    code, _, err = _run(capsys, "toolkit", "import", str(big), *tk)
    assert code == 2 and "big: effect size 5" in err and "--confirm-effect-size" in err
    assert _run(capsys, "toolkit", "import", str(big), "--confirm-effect-size", *tk)[0] == 0


def test_cli_export_import_round_trip_and_new_version_on_import(tmp_path, capsys):
    one, two = (
        ["--toolkit", str(tmp_path / "one.sqlite")],
        ["--toolkit", str(tmp_path / "two.sqlite")],
    )
    _run(capsys, "toolkit", "new", "Feedback", "--topic", "feedback", "--effect-size", "0.6", *one)
    _run(capsys, "toolkit", "new", "Homework", "--topic", "homework", "--cost", "1", *one)
    for fmt in ("json", "csv"):
        out_file = tmp_path / f"export.{fmt}"
        assert _run(capsys, "toolkit", "export", "--format", fmt, "-o", str(out_file), *one)[0] == 0
    code, out, _ = _run(capsys, "toolkit", "import", str(tmp_path / "export.csv"), *two)
    assert code == 0 and "2 created" in out
    code, out, _ = _run(capsys, "toolkit", "export", *two)
    assert out == (tmp_path / "export.json").read_text(encoding="utf-8")
    data = json.loads(out)
    data[0]["padlocks"] = 2
    (tmp_path / "changed.json").write_text(json.dumps(data), encoding="utf-8")
    code, out, _ = _run(capsys, "toolkit", "import", str(tmp_path / "changed.json"), *two)
    assert "1 updated, 1 unchanged" in out
    code, out, _ = _run(capsys, "toolkit", "history", "feedback", *two)
    assert out.strip().splitlines()[-1].endswith("imported")
    code, out, _ = _run(capsys, "toolkit", "export", "--format", "md", *two)
    assert out.count("Look beyond the headlines") == 4  # heading and caveat, per card


# ---------------------------------------------------------------- evidence from the real index

LINKED = (
    "tutoring-ninth-grade-maths-trial.pdf",
    "teaching-at-the-right-level-zambia.pdf",
    "peer-tutoring-kenya-observation.pdf",
)


@pytest.fixture(scope="module")
def linked_chunks(corpus_index) -> list[str]:
    docs = sorted(corpus_index.find_documents(LINKED), key=lambda d: LINKED.index(d.source))
    assert [d.source for d in docs] == list(LINKED)
    rows = [
        corpus_index.query(
            "SELECT chunk_id FROM chunks WHERE doc_id = ? ORDER BY seq LIMIT 2", (d.doc_id,)
        )
        for d in docs
    ]
    return [r["chunk_id"] for pair in rows for r in pair]


def _tag_union(index, doc_ids, facet) -> list[str]:
    return sorted(
        {t.value for d in doc_ids for t in index.document_tags(d).tags if t.facet == facet}
    )


def test_contexts_are_the_union_of_linked_documents_tags(corpus_index, linked_chunks):
    entry = _entry(links=[{"chunk_id": c} for c in linked_chunks])
    refreshed = refresh_from_index(entry, corpus_index)
    doc_ids = {link.doc_id for link in refreshed.links}
    assert len(doc_ids) == 3
    for facet in ("country", "phase"):
        expected = _tag_union(corpus_index, doc_ids, facet)
        assert expected, f"precondition: the linked documents carry {facet} tags"
        assert refreshed.contexts[facet] == expected
    assert {link.source for link in refreshed.links} == set(LINKED)
    assert all(link.page and link.page >= 1 for link in refreshed.links)
    assert refreshed.index_build == corpus_index.build_id


def test_padlock_suggestion_counts_linked_study_designs(corpus_index, linked_chunks):
    entry = _entry(links=[{"chunk_id": c} for c in linked_chunks])
    refreshed = refresh_from_index(entry, corpus_index)
    summary = summarise_evidence(refreshed, corpus_index)
    designs = {
        link.doc_id: {
            t.value for t in corpus_index.document_tags(link.doc_id).tags if t.facet == "design"
        }
        for link in refreshed.links
    }
    studies = {
        d for d, v in designs.items() if v & {"rct", "quasi-experimental", "systematic-review"}
    }
    assert {s.doc_id for s in summary.studies} == studies
    assert summary.n_documents == 3
    suggestion = suggest_padlocks(summary)
    assert refreshed.suggested_padlocks == suggestion.padlocks
    assert suggestion.padlocks <= padlocks_for_studies(len(studies))
    assert f"{len(studies)} distinct linked study document(s) of 3 linked" in suggestion.reasons[0]
    threats = sum(r.startswith("-1") for r in suggestion.reasons)
    base = padlocks_for_studies(len(studies))
    assert suggestion.padlocks == max(0, base - threats)
    assert any("independent" in r for r in suggestion.reasons)
    # Marking the linked studies independent removes exactly that threat.
    marked = apply_changes(
        refreshed, {"links": [{**vars(x), "independent": True} for x in refreshed.links]}
    )
    better = suggest_padlocks(summarise_evidence(marked, corpus_index))
    assert not any("independent" in r for r in better.reasons)
    assert better.padlocks == max(0, base - threats + 1)


def test_cli_links_checked_against_the_index(
    tmp_path, capsys, corpus_index, corpus_index_root, linked_chunks
):
    tk = ["--toolkit", str(tmp_path / "tk.sqlite")]
    index = ["--index", str(corpus_index_root)]
    code, _, err = _run(
        capsys,
        "toolkit",
        "new",
        "Tutoring",
        "--topic",
        "tutoring",
        "--link",
        "feedbeef-0001",
        *index,
        *tk,
    )
    assert code == 2 and "unknown chunk id(s)" in err and "feedbeef-0001" in err
    tutoring, _, tarl, _, kenya, _ = linked_chunks  # two chunks per document, in LINKED order
    link = [f"--link={tutoring}", f"--link={tarl}"]
    code, out, _ = _run(
        capsys, "toolkit", "new", "Tutoring", "--topic", "tutoring", *link, *index, *tk
    )
    assert code == 0
    quote = f"{kenya}=this sentence is not in the chunk"
    code, _, err = _run(
        capsys, "toolkit", "edit", "tutoring", "--link", quote, "--note", "q", *index, *tk
    )
    assert code == 2 and "quote not found" in err
    code, out, _ = _run(capsys, "toolkit", "suggest", "tutoring", "--json", *index, *tk)
    result = json.loads(out)
    assert 0 <= result["suggestion"]["padlocks"] <= 5
    doc_ids = {c.rsplit("-", 1)[0] for c in (tutoring, tarl)}
    assert result["summary"]["contexts"]["phase"] == _tag_union(corpus_index, doc_ids, "phase")
    effect = result["effect_size"]
    assert effect["label"] == "suggestion"
    records = corpus_index.studies(sorted(doc_ids))
    printed = [
        (e.value, f.page)
        for r in records.values()
        for f in r.findings
        for e in f.effects
        if e.unit in ("d", "g", "sd")
    ]
    assert [(e["value"], e["page"]) for e in effect["effects"]] == printed
    assert printed, "the tutoring trial's record prints standardised effect sizes"
    if printed:  # the range is the printed sizes' range, each with its source and page
        assert (effect["low"], effect["high"]) == (min(printed)[0], max(printed)[0])
        assert effect["n_studies"] >= 1 and all(
            e["source"].endswith(".pdf") for e in effect["effects"]
        )
    code, out, _ = _run(capsys, "toolkit", "suggest", "tutoring", "--apply", *index, *tk)
    assert code == 0 and "suggested padlocks" in out and "suggested effect size" in out
    code, out, _ = _run(capsys, "toolkit", "show", "tutoring", "--format", "html", *tk)
    assert LINKED[0] in out and LINKED[1] in out and LINKED[2] not in out
    assert "Look beyond the headlines" in out


def test_cli_card_names_linked_studies_by_reference(
    tmp_path, capsys, monkeypatch, corpus_index, corpus_index_root, linked_chunks
):
    """With an index (given, or the default one) the card lists studies as the app does: an
    APA reference first, the file in brackets; without one it can only name files."""
    from synth.brief.references import references_for

    tk = ["--toolkit", str(tmp_path / "tk.sqlite")]
    tutoring, _, tarl, *_ = linked_chunks
    link = [f"--link={tutoring}", f"--link={tarl}"]
    index = ["--index", str(corpus_index_root)]
    _run(capsys, "toolkit", "new", "Tutoring", "--topic", "tutoring", *link, *index, *tk)
    docs = corpus_index.find_documents(LINKED[:2])
    expected = {r.doc_id: r for r in references_for(corpus_index, [d.doc_id for d in docs])}
    monkeypatch.chdir(tmp_path)  # no default index here
    code, bare, _ = _run(capsys, "toolkit", "show", "tutoring", *tk)
    assert code == 0 and f"- {LINKED[0]} Passages on p." in bare
    code, out, _ = _run(capsys, "toolkit", "show", "tutoring", *index, *tk)
    assert code == 0
    studies = out.split("## The evidence behind it: studies")[1].split("---")[0]
    items = [line for line in studies.splitlines() if line.startswith("- ")]
    assert len(items) == 2
    for doc in docs:
        item = next(i for i in items if i.endswith(f"({doc.source})."))
        year = expected[doc.doc_id].apa_text.split("(")[1][:4]
        assert not item.startswith(f"- {doc.source}"), item
        assert doc.title.split()[0] in item and year in item, item
    (tmp_path / "index").symlink_to(corpus_index_root)  # the default index is used when built
    code, again, _ = _run(capsys, "toolkit", "show", "tutoring", *tk)
    assert again.split("## The evidence")[1] == out.split("## The evidence")[1]
    code, exported, _ = _run(capsys, "toolkit", "export", "--format", "md", *tk)
    assert studies in exported
    code, _, err = _run(capsys, "toolkit", "show", "tutoring", "--index", "nowhere", *tk)
    assert code == 2 and "no index at 'nowhere'" in err


def test_linked_evidence_requires_a_chunk_id():
    with pytest.raises(ToolkitError, match="chunk_id"):
        LinkedEvidence.from_json({"doc_id": "x"})


def test_cli_card_as_pdf_and_docx(tmp_path, capsys):
    tk = ["--toolkit", str(tmp_path / "tk.sqlite")]
    findings = "- Short daily sessions\n- Trained tutors"
    _run(capsys, "toolkit", "new", "Small group tuition", "--topic", "tutoring", *tk)
    _run(
        capsys,
        "toolkit",
        "edit",
        "small-group-tuition",
        "--key-findings",
        findings,
        "--effect-size",
        "0.27",
        "--note",
        "findings",
        *tk,
    )
    pdf, docx_file = tmp_path / "card.pdf", tmp_path / "card.docx"
    assert (
        _run(
            capsys, "toolkit", "show", "small-group-tuition", "--format", "pdf", "-o", str(pdf), *tk
        )[0]
        == 0
    )
    assert (
        _run(
            capsys,
            "toolkit",
            "show",
            "small-group-tuition",
            "--format",
            "docx",
            "-o",
            str(docx_file),
            *tk,
        )[0]
        == 0
    )
    code, _, err = _run(capsys, "toolkit", "show", "small-group-tuition", "--format", "pdf", *tk)
    assert code == 2 and "needs -o FILE" in err

    import docx
    from pypdf import PdfReader

    pdf_text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    docx_text = " ".join(p.text for p in docx.Document(str(docx_file)).paragraphs)
    for text in (pdf_text, docx_text):
        assert "Small group tuition" in text and "Trained tutors" in text
        assert "Look beyond the headlines" in text and "+4 months" in " ".join(text.split())


def test_cli_independent_flag_marks_links_of_a_document(tmp_path, capsys):
    tk = ["--toolkit", str(tmp_path / "tk.sqlite")]
    links = [
        "--link",
        "aaaa1111-0001",
        "--link",
        "aaaa1111-0002",
        "--link",
        "bbbb2222-0001=A quote.",
    ]
    _run(capsys, "toolkit", "new", "Mentoring", "--topic", "teacher-development", *links, *tk)
    code, out, _ = _run(
        capsys,
        "toolkit",
        "edit",
        "mentoring",
        "--independent",
        "aaaa1111",
        "--unlink",
        "bbbb2222-0001",
        "--note",
        "independent trial",
        *tk,
    )
    assert code == 0
    entry = json.loads(_run(capsys, "toolkit", "show", "mentoring", "--json", *tk)[1])
    assert [(x["chunk_id"], x["independent"]) for x in entry["links"]] == [
        ("aaaa1111-0001", True),
        ("aaaa1111-0002", True),
    ]
    code, out, _ = _run(capsys, "toolkit", "history", "mentoring", "--diff", "1", "2", *tk)
    assert "links:" in out and out.count("  - ") == 3 and out.count("  + ") == 2


def test_cli_edit_needs_a_note_and_a_known_entry(tmp_path, capsys):
    tk = ["--toolkit", str(tmp_path / "tk.sqlite")]
    _run(capsys, "toolkit", "new", "Behaviour", "--topic", "behaviour", *tk)
    code, _, err = _run(
        capsys, "toolkit", "edit", "behaviour", "--padlocks", "1", "--note", " ", *tk
    )
    assert code == 2 and "--note must say why" in err
    code, _, err = _run(capsys, "toolkit", "edit", "nope", "--padlocks", "1", "--note", "x", *tk)
    assert code == 2 and "no toolkit entry 'nope'" in err
    code, out, _ = _run(capsys, "toolkit", "edit", "behaviour", "--note", "nothing", *tk)
    assert code == 0 and "nothing changed" in out
    assert len(_run(capsys, "toolkit", "history", "behaviour", *tk)[1].splitlines()) == 1
