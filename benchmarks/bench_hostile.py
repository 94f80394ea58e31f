"""Before/after table for hostile inputs: each case of issues 15 and 24 run through the `synth`
command of two checkouts, its outcome observed (exit code, traceback, time, what the index holds
after).

    .venv/bin/python benchmarks/bench_hostile.py --before /path/to/base/src [--only NAME ...]

The "after" side is this checkout's src/. Each case gets fresh files and a fresh two-document
index made by that side's own code; a command still running after the case's limit counts as
a hang. Cases that need `cryptography` absent (main did not install it) hide it from "before".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hostile"))

from nasty import (  # noqa: E402
    bibtex_doubling,
    billion_laughs,
    bomb_pdf,
    encrypted_pdf,
    pdf_with_title,
    text_pdf,
    tree_pdf,
)

GOOD = {
    "clubs.md": "# Homework Clubs\n\nVolunteers ran homework clubs after school for pupils.\n",
    "meals.md": "# School Meals\n\nFree breakfasts raised attendance in primary schools.\n",
}


class Side:
    """One checkout's `synth` command, run in a fresh process per call."""

    templates = Path(tempfile.gettempdir()) / "synth-bench-hostile"

    def __init__(self, src: Path, work: Path, hide_crypto: bool = False) -> None:
        self.src, self.work, self.hide_crypto = src, work, hide_crypto

    def run(self, *args: str, limit: float = 300) -> dict[str, object]:
        hide = "sys.modules['cryptography'] = None; " if self.hide_crypto else ""
        code = (
            f"import sys; {hide}from synth.cli import main; sys.argv[0] = 'synth'; sys.exit(main())"
        )
        env = {**os.environ, "PYTHONPATH": str(self.src), "HF_HUB_OFFLINE": "1"}
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-c", code, *args],
                capture_output=True,
                text=True,
                timeout=limit,
                env=env,
                cwd=self.work,
            )
        except subprocess.TimeoutExpired:
            return {"hang": True, "seconds": limit, "rc": None, "out": "", "err": ""}
        return {
            "hang": False,
            "seconds": round(time.perf_counter() - start, 1),
            "rc": done.returncode,
            "out": done.stdout,
            "err": done.stderr,
        }

    def index(self, name: str = "index") -> Path:
        """A fresh copy of a two-document index made once by this side's code."""
        root = self.work / name
        if root.exists():
            return root
        template = self.templates / self.src.as_posix().replace("/", "_")
        if not template.exists():
            template.mkdir(parents=True)
            for file, text in GOOD.items():
                (template / file).write_text(text)
            Side(self.src, template).run("ingest", *GOOD, "--index", "index", "-q")
        shutil.copytree(template / "index", root)
        return root

    def docs(self, root: Path) -> int | str:
        got = self.run("info", "--index", str(root))
        try:
            return len(json.loads(got["out"])["documents"])
        except (ValueError, KeyError, TypeError):
            return "unreadable"


def outcome(r: dict[str, object]) -> str:
    if r["hang"]:
        return f"hang (> {r['seconds']:.0f} s)"
    err = str(r["err"])
    if "Traceback" in err:
        last = [line for line in err.strip().splitlines() if line.strip()][-1]
        return f"traceback ({last[:70]})"
    return f"exit {r['rc']}, {r['seconds']} s"


def failed_line(r: dict[str, object], name: str) -> str:
    for line in str(r["out"]).splitlines():
        if line.strip().startswith("FAILED") and name in line:
            return line.split(": ", 1)[-1][:80]
    return ""


Case = Callable[[Side], str]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn

    return register


def _corrupt_then_ingest(side: Side, damage: Callable[[Path], None]) -> str:
    root = side.index()
    damage(root)
    extra = side.work / "extra.md"
    extra.write_text("# Extra\n\nReading corners in every class.\n")
    info = side.run("info", "--index", "index")
    ingest = side.run("ingest", "extra.md", "--index", "index", "-q")
    after = side.docs(root)
    return f"info: {outcome(info)}; ingest: {outcome(ingest)}; documents after: {after} (had 2)"


def _live(root: Path) -> Path:
    return root / "builds" / (root / "CURRENT").read_text().strip()


@case("CURRENT garbage, then ingest")
def current_garbage(side: Side) -> str:
    return _corrupt_then_ingest(side, lambda r: (r / "CURRENT").write_bytes(b"\x00garbage\xff"))


@case("live manifest.json missing, then ingest")
def manifest_missing(side: Side) -> str:
    return _corrupt_then_ingest(side, lambda r: (_live(r) / "manifest.json").unlink())


@case("DROP TABLE chunks_fts, then ingest")
def drop_fts(side: Side) -> str:
    def damage(root: Path) -> None:
        with sqlite3.connect(_live(root) / "synth.sqlite") as db:
            db.execute("DROP TABLE chunks_vocab")
            db.execute("DROP TABLE chunks_fts")

    return _corrupt_then_ingest(side, damage)


@case("half the chunk rows deleted: info --check")
def half_chunks(side: Side) -> str:
    root = side.index()
    with sqlite3.connect(_live(root) / "synth.sqlite") as db:
        db.execute("DELETE FROM chunks WHERE id % 2 = 0")
    check = side.run("info", "--check", "--index", "index")
    said = "reports damage" if "repair" in str(check["err"]) else "nothing notices"
    return f"{outcome(check)}; {said}"


@case("synth.sqlite garbled: search")
def sqlite_garbled(side: Side) -> str:
    root = side.index()
    path = _live(root) / "synth.sqlite"
    data = bytearray(path.read_bytes())
    rng = random.Random(3)
    for i in range(4096, len(data), 997):
        data[i] = rng.randrange(256)
    path.write_bytes(bytes(data))
    return _search(side)


def _search(side: Side) -> str:
    got = side.run("search", "homework", "--index", "index")
    return outcome(got) + ("; fell back" if "warning" in str(got["err"]) else "")


@case("vectors.faiss truncated: search")
def faiss_damaged(side: Side) -> str:
    root = side.index()
    path = _live(root) / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:100])
    return _search(side)


@case("manifest names an uninstalled model: search")
def model_missing(side: Side) -> str:
    root = side.index()
    manifest = _live(root) / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "model": "gone-model"}))
    return outcome(side.run("search", "homework", "--index", "index"))


def _batch(side: Side, files: dict[str, str | bytes], limit: float = 600) -> dict[str, object]:
    folder = side.work / "batch"
    folder.mkdir(exist_ok=True)
    for name, text in {**GOOD, **files}.items():
        (folder / name).write_bytes(text.encode() if isinstance(text, str) else text)
    return side.run("ingest", "batch", "--index", "batch-index", "-q", limit=limit)


def _landed(side: Side, r: dict[str, object]) -> str:
    docs = side.docs(side.work / "batch-index") if (side.work / "batch-index").exists() else 0
    return f"{outcome(r)}; documents indexed: {docs}"


@case("1.1 MB Markdown in a batch of 3")
def long_markdown(side: Side) -> str:
    text = "# Long\n\n" + "Pupils read with a partner every day in the trial. " * 21_000
    return _landed(side, _batch(side, {"long.md": text}, limit=900))


@case("PDF whose /Title is 1.1M characters, in a batch of 3")
def huge_title(side: Side) -> str:
    (side.work / "batch").mkdir(exist_ok=True)
    pdf_with_title(side.work / "batch" / "title.pdf", "T" * 1_100_000, ["Breakfast clubs."])
    return _landed(side, _batch(side, {}))


@case("malformed X.md.yaml sidecar, in a batch of 3")
def bad_sidecar(side: Side) -> str:
    r = _batch(side, {"x.md": "# X\n\nText about tutoring.\n", "x.md.yaml": "title: [oops\n"})
    return _landed(side, r)


@case("sidecar with a 6,000-digit year, in a batch of 3")
def huge_year(side: Side) -> str:
    r = _batch(side, {"y.md": "# Y\n\nText about phonics.\n", "y.md.yaml": "year: " + "9" * 6000})
    return _landed(side, r)


@case("PDF page of 10,000 lines")
def long_page(side: Side) -> str:
    (side.work / "batch").mkdir(exist_ok=True)
    text_pdf(side.work / "batch" / "lines.pdf", [f"line {i} of many" for i in range(10_000)])
    return _landed(side, _batch(side, {}, limit=600))


def _with_metadata(side: Side, name: str, text: str) -> dict[str, object]:
    (side.work / name).write_text(text)
    (side.work / "one.md").write_text(GOOD["clubs.md"])
    return side.run("ingest", "one.md", "--metadata", name, "--index", "m", "-q", limit=180)


@case("YAML billion laughs as --metadata")
def yaml_bomb(side: Side) -> str:
    r = _with_metadata(side, "bomb.yaml", billion_laughs())
    return outcome(r) + (f": {str(r['err']).strip()[:60]}" if r["rc"] == 2 else "")


@case("BibTeX @string doubling chain as --metadata")
def bib_bomb(side: Side) -> str:
    return outcome(_with_metadata(side, "bomb.bib", bibtex_doubling(32)))


@case("deep JSON (CSL) as --metadata")
def deep_json(side: Side) -> str:
    return outcome(_with_metadata(side, "deep.json", "[" * 100_000 + "]" * 100_000))


def _brief_with(side: Side, template: str) -> str:
    side.index()
    folder = side.work / "tpl"
    folder.mkdir(exist_ok=True)
    (folder / "evil.md.j2").write_text(template)
    args = ("brief", "homework", "--index", "index", "--templates", "tpl", "--template", "evil")
    return outcome(side.run(*args, "-o", "out.md", limit=180))


@case("template {{ 'a' * 1000000000 }}")
def template_big(side: Side) -> str:
    return _brief_with(side, "{{ 'a' * 1000000000 }}")


@case("template with nested range(100000) loops")
def template_loops(side: Side) -> str:
    return _brief_with(
        side, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )


@case("PDF title with terminal escapes: search output")
def escapes(side: Side) -> str:
    folder = side.work / "esc"
    folder.mkdir()
    pdf_with_title(folder / "esc.pdf", "Forged \x1b[2J\x1b]0;pwned\x07", ["Reading corners."])
    side.run("ingest", "esc", "--index", "esc-index", "-q")
    got = side.run("search", "reading corners", "--index", "esc-index")
    raw = "\x1b" in str(got["out"])
    return outcome(got) + ("; raw ESC printed" if raw else "; no escape characters")


@case("control characters in a title: DOCX brief")
def docx_controls(side: Side) -> str:
    folder = side.work / "ctl"
    folder.mkdir()
    (folder / "c.md").write_text(
        "---\ntitle: Bad \x01\x02 title\n---\n\n# H\n\nHomework clubs help.\n"
    )
    side.run("ingest", "ctl", "--index", "ctl-index", "-q")
    args = ("brief", "homework clubs", "--index", "ctl-index", "--format", "docx")
    return outcome(side.run(*args, "-o", "b.docx"))


@case("failed file named 'x\\nFAILED forged.pdf: ok.txt'")
def forged_line(side: Side) -> str:
    r = _batch(side, {"x\nFAILED forged.pdf: ok.txt": "\n\n"})  # empty: fails on both sides
    forged = any(line.startswith("FAILED forged") for line in str(r["out"]).splitlines())
    return outcome(r) + ("; forged line printed" if forged else "; name shown quoted")


@case("AES-256 PDF with an empty user password")
def aes(side: Side) -> str:
    (side.work / "batch").mkdir(exist_ok=True)
    encrypted_pdf(side.work / "batch" / "aes.pdf", ["Reading corners help pupils."], "")
    r = _batch(side, {})
    return failed_line(r, "aes.pdf") or "indexed"


@case("decompression bomb PDF")
def bomb(side: Side) -> str:
    (side.work / "batch").mkdir(exist_ok=True)
    bomb_pdf(side.work / "batch" / "bomb.pdf")
    return failed_line(_batch(side, {}), "bomb.pdf")


@case("200 kB of random bytes named .txt")
def random_txt(side: Side) -> str:
    r = _batch(side, {"noise.txt": random.Random(1).randbytes(200_000)})
    return failed_line(r, "noise.txt") or "indexed"


@case("50 MB text file")
def fifty_mb(side: Side) -> str:
    r = _batch(side, {"big.txt": "word " * 10_000_000}, limit=900)
    return (failed_line(r, "big.txt") or "indexed") + f" ({r['seconds']} s)"


@case("toolkit import of binary / cp1252 / deep / wrongly typed files")
def toolkit(side: Side) -> str:
    files = {
        "bin.json": random.Random(2).randbytes(3000),
        "cp.csv": "id,title,topic\ncafe,Caf\u00e9 clubs,feedback\n".encode("cp1252"),
        "deep.json": b"[" * 5000 + b"]" * 5000,
        "typed.json": b'[{"id": "x", "title": "T", "topic": "feedback", "padlocks": [1]}]',
    }
    out = []
    for name, data in files.items():
        (side.work / name).write_bytes(data)
        out.append(f"{name}: {outcome(side.run('toolkit', 'import', name, '--toolkit', 'tk.db'))}")
    return "; ".join(out)


@case("QA TSV with a 131 kB cell: synth eval")
def qa_cell(side: Side) -> str:
    side.index()
    (side.work / "qa.tsv").write_text("query\tphrase\nhomework\t" + "x" * 140_000 + "\n")
    return outcome(side.run("eval", "qa.tsv", "--index", "index"))


@case("--year-from 99999999999999999999")
def year(side: Side) -> str:
    side.index()
    return outcome(
        side.run("search", "x", "--year-from", "99999999999999999999", "--index", "index")
    )


@case("synth search -feedback")
def dash_query(side: Side) -> str:
    side.index()
    return outcome(side.run("search", "-feedback", "--index", "index"))


@case("--queries file with U+2028 and a form feed in one line")
def queries(side: Side) -> str:
    side.index()
    (side.work / "q.txt").write_text("homework\u2028clubs\x0cmeals\n", encoding="utf-8")
    got = side.run("search", "--queries", "q.txt", "--index", "index")
    return outcome(got) + f"; {len(str(got['out']).splitlines())} result lines for 1 query"


# ---------------------------------------------------------------- round 3 (issue 24)


@case("20 Markdown files of 10,000 brackets around a word")
def brackets(side: Side) -> str:
    files = {
        f"b{i:02d}.md": f"# Note {i}\n\n" + "[" * 10_000 + "word" + "]" * 10_000 + "\n"
        for i in range(20)
    }
    return _landed(side, _batch(side, files, limit=600)) + " (of 22)"


@case("toolkit CSV export of formula cells")
def csv_formulas(side: Side) -> str:
    strands = [
        {"id": f"s{i}", "title": f, "topic": "feedback", "summary": f}
        for i, f in enumerate(['=HYPERLINK("http://x.test","x")', "=cmd|' /C calc'!A0", "@SUM(1)"])
    ]
    (side.work / "in.json").write_text(json.dumps(strands))
    side.run("toolkit", "import", "in.json", "--toolkit", "tk.db")
    got = side.run("toolkit", "export", "--format", "csv", "--toolkit", "tk.db")
    import csv
    import io

    cells = [c for row in csv.reader(io.StringIO(str(got["out"]))) for c in row]
    live = sum(1 for c in cells if c[:1] in ("=", "+", "@", "-") and c[1:2] != "")
    return f"{outcome(got)}; {live} formula cells"


@case("brief --bib ris/bibtex with a javascript: URL")
def bib_urls(side: Side) -> str:
    (side.work / "docs").mkdir()
    (side.work / "docs" / "clubs.md").write_text(GOOD["clubs.md"])
    (side.work / "docs" / "clubs.md.yaml").write_text(
        "title: '=HYPERLINK(\"http://x.test\")'\nurl: 'javascript:alert(document.cookie)'\n"
    )
    side.run("ingest", "docs", "--index", "bib-index", "-q")
    found = []
    for kind in ("ris", "bibtex"):
        side.run("brief", "homework clubs", "--index", "bib-index", "--bib", kind, f"refs.{kind}")
        path = side.work / f"refs.{kind}"
        text = path.read_text() if path.exists() else ""
        found.append(f"{kind}: {'javascript: kept' if 'javascript:' in text else 'no javascript:'}")
    return "; ".join(found)


def _two_builds(side: Side) -> Path:
    root = side.index()
    (side.work / "third.md").write_text("# Reading Corners\n\nEvery class set up a corner.\n")
    side.run("ingest", "third.md", "--index", "index", "-q")
    return root


@case("8 KB of random bytes inside the live synth.sqlite (two builds): search")
def sqlite_block(side: Side) -> str:
    root = _two_builds(side)
    path = _live(root) / "synth.sqlite"
    with open(path, "r+b") as handle:
        handle.seek(path.stat().st_size // 2 - 4096)
        handle.write(random.Random(7).randbytes(8192))
    return _search(side)


@case("one keyword segment of the live build overwritten (two builds): search")
def shared_segment(side: Side) -> str:
    root = _two_builds(side)
    folder = _live(root) / "keyword"
    if not folder.is_dir():
        return "no keyword folder"
    biggest = max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    with open(biggest, "r+b") as handle:
        handle.seek(biggest.stat().st_size // 2)
        handle.write(random.Random(8).randbytes(64))
    return _search(side)


def _template(side: Side, body: str) -> str:
    side.index()
    folder = side.work / "tpl"
    folder.mkdir(exist_ok=True)
    (folder / "evil.md.j2").write_text(body)
    got = side.run(
        "brief", "homework", "--index", "index", "--templates", "tpl", "--template", "evil",
        limit=180,
    )  # fmt: skip
    last = str(got["err"]).strip().splitlines()[:1]
    return outcome(got) + (f"; {last[0][:90]}" if last else "")


@case("template '%0999999999d' % 1")
def template_width(side: Side) -> str:
    return _template(side, '{{ "%0999999999d" % 1 }}')


@case("template doubling a 1 MB string with ~ ten times")
def template_doubling(side: Side) -> str:
    return _template(side, "{% set a = 'x' * 1000000 %}" + "{% set a = a ~ a %}" * 10 + "{{ a }}")


@case("smaller items: BOM-only, page trees, colours, mixed encoding, unclosed comment")
def smaller(side: Side) -> str:
    folder = side.work / "batch"
    folder.mkdir(exist_ok=True)
    tree_pdf(folder / "deep.pdf", 5000, 1)
    tree_pdf(folder / "doubling.pdf", 40, 2)
    files = {
        "bom.md": b"\xef\xbb\xbf\n",
        "colours.md": ("# Log\n\n" + "\x1b[31mred\x1b[0m pupils read. " * 50).encode(),
        "mixed.txt": "Les élèves lisent.\n\n".encode() + "Les élèves écrivent.\n".encode("latin-1"),
        "comment.html": b"<p>Shown.</p><!-- open <p>Hidden text.</p>",
    }
    r = _batch(side, files)
    parts = [f"{n}: {failed_line(r, n) or 'indexed'}" for n in ("deep.pdf", "doubling.pdf", *files)]
    search = side.run("search", "Hidden text", "--index", "batch-index", "--json")
    parts.append(
        "hidden comment text " + ("found" if "Hidden text" in str(search["out"]) else "absent")
    )
    mixed = side.run("search", "élèves lisent", "--index", "batch-index", "--json")
    parts.append("UTF-8 half " + ("right" if "élèves lisent" in str(mixed["out"]) else "garbled"))
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="src/ folder of the checkout to compare")
    parser.add_argument("--only", nargs="*", help="case names containing these words")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    rows = []
    for name, fn in CASES.items():
        if args.only and not any(word in name for word in args.only):
            continue
        row = {"case": name}
        for label, src in (("before", Path(args.before)), ("after", REPO / "src")):
            with tempfile.TemporaryDirectory() as tmp:
                side = Side(src, Path(tmp), hide_crypto=label == "before")
                try:
                    row[label] = fn(side)
                except Exception as exc:  # the harness itself must go on to the next case
                    row[label] = f"harness error: {exc!r:.80}"
            print(f"{name} | {label}: {row[label]}", file=sys.stderr, flush=True)
        rows.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    print("| case | before | after |\n|---|---|---|")
    for row in rows:
        print(f"| {row['case']} | {row['before']} | {row['after']} |")


if __name__ == "__main__":
    main()
