"""Study records against hand labels: per field, on the tuning half and the held-out half.

    .venv/bin/python benchmarks/bench_studies.py [--index DIR] [--errors tune] [--json]

Builds (or reuses, with --index) one index of every document in benchmarks/study_gold.yaml:
corpus/ PDFs, the shared reports and Campbell reviews, benchmarks/gold_docs/ and the title +
abstract of RIS records (written to temporary Markdown files, never into the project). The
records are rebuilt from the index's stored pages with the current rules, so tuning a rule
needs no re-ingest; topics come from the index's document tags.

The split is fixed before tuning: within each origin group, items sorted by the SHA-1 of their
source alternate tune / held-out. Report the held-out figures; --errors prints mistakes for
one half only (tune while tuning).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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
from synth.ingest.metadata import load_metadata
from synth.ingest.study import build_record
from synth.ingest.study.tags import evidence_types
from synth.models import StudyRecord

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "corpora"
GOLD = REPO / "benchmarks" / "study_gold.yaml"
TARGETS = {
    "country P": 0.95,
    "country R": 0.90,
    "design F1": 0.85,
    "kind accuracy": 0.90,
    "phase F1": 0.85,
    "evidence_type macro-F1": 0.80,
    "topic P@1": 0.90,
    "effect precision": 0.95,
}
UNITS_EQUAL = {"sd": "sd", "d": "d", "g": "g", "pp": "pp", "months": "months"}


def origin(source: str) -> str:
    if source.startswith("shared:") and "#" in source:
        return "ris"
    return source.split("/")[0].split(":")[0]


def split_of(items: list[dict]) -> dict[str, str]:
    """tune / held-out per source: alternate within each origin group by SHA-1 order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for item in items:
        groups[origin(item["source"])].append(item["source"])
    out = {}
    for sources in groups.values():
        ordered = sorted(sources, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
        for i, source in enumerate(ordered):
            out[source] = "tune" if i % 2 == 0 else "held-out"
    return out


def materialise(items: list[dict], folder: Path) -> dict[str, Path]:
    """The file each gold item is read from; RIS records become Markdown in `folder`."""
    paths: dict[str, Path] = {}
    records: dict[str, list] = {}
    for item in items:
        source = item["source"]
        if source.startswith("shared:") and "#" in source:
            name, index = source.removeprefix("shared:").split("#")
            if name not in records:
                records[name] = list(load_metadata(SHARED / name))
            rec = records[name][int(index)]
            abstract = re.split(
                r"\s*\[ABSTRACT FROM AUTHOR\]|\s*\(PsycI[Nn][Ff][Oo]", rec.abstract
            )[0]
            path = folder / f"{Path(name).stem}-{index}.md"
            path.write_text(f"---\ntitle: {rec.title}\n---\n\n# {rec.title}\n\n{abstract}\n")
            paths[source] = path
        elif source.startswith("shared:"):
            paths[source] = SHARED / source.removeprefix("shared:")
        else:
            paths[source] = REPO / source
    return paths


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: set, pred: set) -> None:
        self.tp += len(gold & pred)
        self.fp += len(pred - gold)
        self.fn += len(gold - pred)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Score:
    n: int = 0
    fields: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    types: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    kind_right: int = 0
    multi_right: int = 0
    topic_right: int = 0
    topic_n: int = 0
    errors: list[str] = field(default_factory=list)

    def table(self) -> dict[str, float]:
        f = self.fields
        types = [c.f1 for c in self.types.values()]
        return {
            "documents": self.n,
            "kind accuracy": self.kind_right / max(self.n, 1),
            "design F1": f["design"].f1,
            "reviewed_designs F1": f["reviewed"].f1,
            "country P": f["country"].precision,
            "country R": f["country"].recall,
            "multi_country accuracy": self.multi_right / max(self.n, 1),
            "phase F1": f["phase"].f1,
            "setting F1": f["setting"].f1,
            "evidence_type macro-F1": sum(types) / max(len(types), 1),
            "topic P@1": self.topic_right / max(self.topic_n, 1),
            "effect precision": f["effect"].precision,
            "effect recall": f["effect"].recall,
            "effects extracted": f["effect"].tp + f["effect"].fp,
        }


def page_of(quote: str, pages: dict[int, str]) -> int | None:
    key = re.sub(r"\s+", " ", quote).lower()
    for number, text in pages.items():
        if key in re.sub(r"\s+", " ", text).lower():
            return number
    return None


def compare(
    item: dict, record: StudyRecord, topics: list[str], pages: dict[int, str], score: Score
) -> None:
    name = item["source"]
    score.n += 1

    def field_(label: str, gold: set, pred: set) -> None:
        score.fields[label].add(gold, pred)
        if gold != pred:
            score.errors.append(f"{name}: {label} gold={sorted(gold)} got={sorted(pred)}")

    if item["kind"] == record.kind:
        score.kind_right += 1
    else:
        score.errors.append(f"{name}: kind gold={item['kind']} got={record.kind}")
    field_("design", {item["design"]} - {None}, {record.design} - {None})
    field_("reviewed", set(item["reviewed_designs"]), set(record.reviewed_designs))
    field_("country", set(item["countries"]), set(record.countries))
    if item["multi_country"] == record.multi_country:
        score.multi_right += 1
    else:
        score.errors.append(f"{name}: multi_country gold={item['multi_country']}")
    field_("phase", set(item["phase"]), set(record.phase))
    field_("setting", set(item["setting"]), set(record.setting))
    gold_types, pred_types = set(item["evidence_type"]), set(evidence_types(record))
    for t in gold_types | pred_types:
        score.types[t].add(
            {name} & ({name} if t in gold_types else set()), {name} if t in pred_types else set()
        )
    if gold_types != pred_types:
        score.errors.append(
            f"{name}: evidence_type gold={sorted(gold_types)} got={sorted(pred_types)}"
        )
    if item["topic"]:
        score.topic_n += 1
        if topics and topics[0] in item["topic"]:
            score.topic_right += 1
        else:
            score.errors.append(f"{name}: topic@1 gold={item['topic']} got={topics[:3]}")
    gold_effects = set()
    for e in item["effects"]:
        gold_effects.add((round(float(e["value"]), 4), e["unit"], page_of(e["quote"], pages)))
    got = {(round(e.value, 4), e.unit, f.page) for f in record.findings for e in f.effects}
    field_("effect", gold_effects, got)


def build_index(paths: list[Path], root: Path) -> Index:
    report = ingest(paths, root)
    failed = [(f.path, f.reason) for f in report.files if f.status == "failed"]
    if failed:
        raise SystemExit(f"ingest failed: {failed}")
    return Index.open(root)


def evaluate(
    index: Index, items: list[dict], paths: dict[str, Path], split: dict[str, str]
) -> dict[str, Score]:
    scores = {"tune": Score(), "held-out": Score()}
    by_source = {Path(d.path).resolve(): d.doc_id for d in index.documents()}
    db = index.db
    for item in items:
        doc_id = by_source.get(paths[item["source"]].resolve())
        if doc_id is None:
            raise SystemExit(f"{item['source']} is not in the index")
        doc, chunks, _ = load_document(db, doc_id)
        record = build_record(doc, chunks)
        topics = [
            t.value
            for t in sorted(index.document_tags(doc_id).tags, key=lambda t: -t.confidence)
            if t.facet == "topic"
        ]
        pages = {p.number: p.text for p in doc.pages}
        compare(item, record, topics, pages, scores[split[item["source"]]])
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="reuse (or create) the gold index in this folder")
    parser.add_argument("--errors", choices=["tune", "held-out"], help="print one half's mistakes")
    parser.add_argument(
        "--refresh", action="store_true", help="re-ingest into --index (retags if rules changed)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"../shared is absent ({SHARED}); the gold needs it", file=sys.stderr)
        return 2
    items = yaml.safe_load(GOLD.read_text())["items"]
    split = split_of(items)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        abstracts = (
            Path(args.index).parent / "gold-abstracts" if args.index else folder / "abstracts"
        )
        abstracts.mkdir(parents=True, exist_ok=True)
        paths = materialise(items, abstracts)
        root = Path(args.index) if args.index else folder / "index"
        fresh = args.refresh or not (root / "CURRENT").exists()
        index = build_index(sorted(set(paths.values())), root) if fresh else Index.open(root)
        scores = evaluate(index, items, paths, split)
    tables = {half: s.table() for half, s in scores.items()}
    if args.json:
        print(json.dumps(tables, indent=2))
    else:
        print("| field | target | tune | held-out |")
        print("|---|---|---|---|")
        for key in tables["tune"]:
            target = TARGETS.get(key)
            cells = [
                f"{tables[h][key]:.3f}"
                if isinstance(tables[h][key], float)
                else str(tables[h][key])
                for h in ("tune", "held-out")
            ]
            print(f"| {key} | {f'≥ {target:.2f}' if target else ''} | {cells[0]} | {cells[1]} |")
    if args.errors:
        for line in scores[args.errors].errors:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
