"""Study records of real papers written by others against the hand-reconciled gold labels.

    .venv/bin/python benchmarks/bench_real_studies.py [--index DIR] [--errors tune] [--json]

Indexes the 32 real PDFs of ../shared/corpora/real/ (or reuses --index), rebuilds each study
record from the stored pages with the current rules, and compares it with
benchmarks/real_gold/{tune,held-out}.yaml (README.md there says how the labels were made and
how the halves were split, by document and before any tuning). Report the held-out half;
--errors prints one half's mistakes (tune while tuning). The fields are those of issue 20:

- title: equal after folding case, spaces and punctuation;
- kind, own design: exact;
- country and phase: F1 over the documents' sets;
- headline = a main finding: the record's headline shares most of its words with one of the
  authors' main findings (or sits inside one) on the same page; "any finding" the same for
  any extracted finding;
- effects: a gold effect is found when the record prints the same value (to its printed
  precision) in a compatible unit on the same page; recall counts gold effects in the units
  synth reads (standard deviations, d, g, percentage points, percent, months, odds ratios),
  not those labelled "other" (money, miles, raw test points, proportions left as printed),
  which are counted apart; precision is over the record's effects (side estimates it finds
  count against it, as gold holds main effects only);
- CI or SE captured: of the gold effects that print one, how many the record carries.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synth.index import Index, ingest
from synth.index.studies import load_document
from synth.ingest.study import build_record
from synth.models import StudyRecord

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "corpora" / "real"
GOLD = REPO / "benchmarks" / "real_gold"
HALVES = ("tune", "held-out")
TARGETS = {
    "kind": 0.90,
    "own design": 0.90,
    "country F1": 0.90,
    "phase F1": 0.90,
    "headline = main finding": 0.75,
    "effect recall": 0.85,
    "effect precision": 0.95,
    "CI or SE captured": 0.80,
    "title": 0.95,
}
# Units that name the same scale: a standardised mean difference however it is printed.
UNIT_CLASS = {"sd": "smd", "d": "smd", "g": "smd", "pp": "pp", "percent": "percent"}


def fold(text: str) -> str:
    return re.sub(r"[^a-z0-9áéíóúñü]+", " ", text.lower()).strip()


def words(text: str) -> set[str]:
    return {w for w in fold(text).split() if len(w) > 2}


def same_finding(text: str, page: int, gold: list[dict]) -> bool:
    """`text` on `page` is one of the gold main findings: inside it, or most words shared."""
    mine = words(text)
    for finding in gold:
        if finding.get("page") != page:
            continue
        theirs = words(finding["quote"])
        if not mine or not theirs:
            continue
        inside = fold(finding["quote"]) in fold(text) or fold(text) in fold(finding["quote"])
        if inside or len(mine & theirs) / min(len(mine), len(theirs)) >= 0.6:
            return True
    return False


def same_value(gold: float, got: float) -> bool:
    return abs(gold - got) <= max(0.005, abs(gold) * 0.01)


@dataclass
class Tally:
    """Counts for one half."""

    n: int = 0
    right: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sets: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    effects: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # found, gold, right, got
    precision: list[int] = field(default_factory=lambda: [0, 0])  # with CI/SE kept, printed
    errors: list[str] = field(default_factory=list)

    def exact(self, label: str, name: str, gold: object, got: object) -> None:
        if gold == got:
            self.right[label] += 1
        else:
            self.errors.append(f"{name}: {label} gold={gold!r} got={got!r}")

    def overlap(self, label: str, name: str, gold: set[str], got: set[str]) -> None:
        counts = self.sets[label]
        counts[0] += len(gold & got)
        counts[1] += len(gold)
        counts[2] += len(got)
        if gold != got:
            self.errors.append(f"{name}: {label} gold={sorted(gold)} got={sorted(got)}")

    def table(self) -> dict[str, object]:
        def f1(label: str) -> float:
            tp, gold, got = self.sets[label]
            return 2 * tp / (gold + got) if gold + got else 1.0

        found, gold, right, got = self.effects
        kept, printed = self.precision
        with_result = self.right["with result"]
        return {
            "documents": self.n,
            "title": self.right["title"] / self.n,
            "kind": self.right["kind"] / self.n,
            "own design": self.right["own design"] / self.n,
            "country F1": f1("country"),
            "phase F1": f1("phase"),
            "headline = main finding": f"{self.right['headline']} of {with_result}",
            "any finding = main finding": f"{self.right['any finding']} of {with_result}",
            "no result of its own said so": f"{self.right['no result']} of {self.n - with_result}",
            "effect recall": found / gold if gold else 1.0,
            "effect precision": right / got if got else 1.0,
            "effects (gold / found / extracted)": f"{gold} / {found} / {got}",
            "gold effects in other units (not counted)": str(self.right["other units"]),
            "CI or SE captured": kept / printed if printed else 1.0,
        }


def compare(item: dict, record: StudyRecord, title: str, tally: Tally) -> None:
    name = item["source"]
    tally.n += 1
    tally.exact("title", name, fold(item["title"]), fold(title))
    tally.exact("kind", name, item["kind"], record.kind)
    tally.exact("own design", name, item["design"], record.design)
    tally.overlap("country", name, set(item["countries"]), set(record.countries))
    tally.overlap("phase", name, set(item["phase"]), set(record.phase))
    if item["own_result"]:
        tally.right["with result"] += 1
        head = record.headline
        if head is not None and same_finding(head.text, head.page, item["main_findings"]):
            tally.right["headline"] += 1
        else:
            shown = f"p{head.page}: {head.text[:120]}" if head else None
            tally.errors.append(f"{name}: headline not a main finding: {shown}")
        if any(same_finding(f.text, f.page, item["main_findings"]) for f in record.findings):
            tally.right["any finding"] += 1
    elif record.headline is None:
        tally.right["no result"] += 1
    else:
        tally.errors.append(f"{name}: no result of its own, headline {record.headline.text[:80]}")
    _effects(item, record, tally)


def _effects(item: dict, record: StudyRecord, tally: Tally) -> None:
    got = [(e, f.page) for f in record.findings for e in f.effects]
    matched: set[int] = set()
    for gold in item["effects"]:
        if gold["unit"] == "other":
            tally.right["other units"] += 1
            continue
        tally.effects[1] += 1
        unit = UNIT_CLASS.get(gold["unit"], gold["unit"])
        hit = next(
            (
                i
                for i, (e, page) in enumerate(got)
                if page == gold["page"]
                and UNIT_CLASS.get(e.unit, e.unit) == unit
                and same_value(float(gold["value"]), e.value)
            ),
            None,
        )
        if hit is None:
            tally.errors.append(
                f"{item['source']}: effect missed p{gold['page']} {gold['value']} {gold['unit']}"
            )
        else:
            tally.effects[0] += 1
            matched.add(hit)
        if gold.get("ci") or gold.get("se") is not None:
            tally.precision[1] += 1
            if hit is not None and _has_precision(got[hit][0]):
                tally.precision[0] += 1
    tally.effects[3] += len(got)
    tally.effects[2] += len(matched)


def _has_precision(effect: object) -> bool:
    return any(getattr(effect, name, None) is not None for name in ("ci_low", "se"))


def evaluate(index: Index, half_items: dict[str, list[dict]]) -> dict[str, Tally]:
    by_name = {Path(d.path).name: d.doc_id for d in index.documents()}
    tallies = {half: Tally() for half in HALVES}
    for half, items in half_items.items():
        for item in items:
            doc_id = by_name.get(item["source"])
            if doc_id is None:
                tallies[half].errors.append(f"{item['source']}: not indexed")
                continue
            doc, chunks, _ = load_document(index.db, doc_id)
            compare(item, build_record(doc, chunks), doc.title, tallies[half])
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="reuse (or create) the index of the real PDFs here")
    parser.add_argument("--errors", choices=HALVES, help="print one half's mistakes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not REAL.is_dir():
        print(f"../shared is absent ({REAL}); the real documents are there", file=sys.stderr)
        return 2
    half_items = {h: yaml.safe_load((GOLD / f"{h}.yaml").read_text())["items"] for h in HALVES}
    with contextlib.ExitStack() as stack:
        root = Path(args.index or stack.enter_context(tempfile.TemporaryDirectory()))
        if not (root / "CURRENT").exists():
            report = ingest(sorted(REAL.glob("*.pdf")), root)
            failed = [(f.path, f.reason) for f in report.files if f.status == "failed"]
            if failed:
                print(f"not indexed: {failed}", file=sys.stderr)
        with Index.open(root) as index:
            tallies = evaluate(index, half_items)
    tables = {half: t.table() for half, t in tallies.items()}
    if args.json:
        print(json.dumps(tables, indent=2))
    else:
        print("| field | target | tune | held-out |\n|---|---|---|---|")
        for key in tables["tune"]:
            target = TARGETS.get(key)
            cells = [
                f"{v:.2f}" if isinstance(v, float) else str(v)
                for v in (tables[h][key] for h in HALVES)
            ]
            print(f"| {key} | {f'≥ {target:.2f}' if target else ''} | {cells[0]} | {cells[1]} |")
    if args.errors:
        print("\n".join(tallies[args.errors].errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
