"""The `synth` command: a thin shell over the library, one subcommand per job."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from . import __version__
from .index import DEFAULT_INDEX_DIR, Index, IndexBusy, IndexNotFound
from .models import Hit

STAGES = {"scan": "hashing files", "parse": "parsing + chunking", "embed": "embedding chunks"}


class TqdmProgress:
    """A progress bar per stage on stderr; silent when stderr is not a terminal and quiet is set."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar = None

    def start(self, stage: str, total: int) -> None:
        from tqdm import tqdm

        self.close()
        if not self.quiet and total:
            self.bar = tqdm(total=total, desc=STAGES.get(stage, stage), unit="item", leave=True)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _err(message: str) -> None:
    print(f"synth: {message}", file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    from .index import ingest

    progress = TqdmProgress(args.quiet)
    try:
        report = ingest(args.paths, args.index, progress=progress)
    finally:
        progress.close()
    print(
        f"files: {report.count('added')} added, {report.count('unchanged')} unchanged, "
        f"{report.count('replaced')} replaced, {report.count('failed')} failed"
    )
    for f in report.files:
        if f.status == "failed":
            print(f"  FAILED {f.path}: {f.reason}")
    if report.changed:
        print(
            f"chunks embedded: {report.n_embedded} new, {report.n_cached} from cache; "
            f"build {report.build_id} in {report.seconds:.1f}s"
        )
    ok = report.changed or report.count("unchanged") > 0
    if not report.files:
        _err("no supported files found (.pdf, .txt, .md, .html)")
    return 0 if ok else 1


def _open(index_dir: str) -> Index:
    return Index.open(index_dir)


def _run_search(index: Index, query: str, k: int) -> list[Hit]:
    from .embed import load_embedder
    from .search import SearchSettings, search

    return search(index, load_embedder(index.manifest.model), query, SearchSettings(k=k))


def _print_hits(hits: list[Hit]) -> None:
    if not hits:
        print("no results")
    for hit in hits:
        pages = f"p. {hit.page}" if hit.page == hit.page_end else f"pp. {hit.page}-{hit.page_end}"
        print(f"{hit.rank}. [{hit.score:.3f}] {hit.title} ({hit.source}, {pages})")
        if hit.section:
            print(f"   section: {hit.section}")
        excerpt = textwrap.shorten(hit.text, 300, placeholder=" ...")
        print(textwrap.indent(textwrap.fill(excerpt, 96), "   "))


def cmd_search(args: argparse.Namespace) -> int:
    index = _open(args.index)
    if args.queries:
        lines = Path(args.queries).read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines:
            hits = _run_search(index, line, args.k)
            print(json.dumps([h.to_json() for h in hits], ensure_ascii=False))
        return 0
    hits = _run_search(index, args.query or "", args.k)
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
    else:
        _print_hits(hits)
    return 0


def cmd_brief(args: argparse.Namespace) -> int:
    from .brief import render_brief
    from .embed import load_embedder
    from .synthesize import synthesize

    index = _open(args.index)
    hits = _run_search(index, args.query, args.k)
    content = synthesize(index, load_embedder(index.manifest.model), args.query, hits)
    text = render_brief(content, args.template, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"brief written to {args.output} ({len(content.sources)} sources)")
    else:
        sys.stdout.write(text)
    for dropped in content.dropped_quotes:
        _err(f"quote dropped (not found on its page): {dropped}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from .index import remove

    removed = remove(args.targets, args.index)
    if not removed:
        _err("no indexed document matched: " + ", ".join(args.targets))
        return 1
    print("removed: " + ", ".join(removed))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    stats = _open(args.index).stats()
    data = {
        "index": str(stats.path),
        "bytes_on_disk": stats.bytes_on_disk,
        **stats.manifest.to_json(),
        "documents": [
            {"source": d.source, "title": d.title, "pages": d.n_pages, "chunks": d.n_chunks}
            for d in stats.documents
        ],
    }
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def app_path() -> Path:
    return Path(__file__).resolve().parents[2] / "app.py"


def cmd_serve(args: argparse.Namespace) -> int:
    app = app_path()
    if not app.is_file():
        _err(f"app.py not found at {app}; run from a source checkout")
        return 2
    env = {**os.environ, "SYNTH_INDEX": str(Path(args.index).resolve())}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        "--browser.gatherUsageStats",
        "false",
        "--server.headless",
        "true" if args.headless else "false",
    ]
    return subprocess.call(command, env=env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synth", description="Offline evidence synthesis and learning briefs for education."
    )
    parser.add_argument("--version", action="version", version=f"synth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_index(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--index", default=str(DEFAULT_INDEX_DIR), help="index directory")
        return p

    p = with_index(sub.add_parser("ingest", help="add PDFs and reports to the index"))
    p.add_argument("paths", nargs="+", help="files or folders (.pdf .txt .md .html)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_ingest)

    p = with_index(sub.add_parser("search", help="hybrid search over the index"))
    p.add_argument("query", nargs="?", default="")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.add_argument("--queries", help="file with one query per line; prints one JSON array a line")
    p.set_defaults(func=cmd_search)

    p = with_index(sub.add_parser("brief", help="write a learning brief for a question"))
    p.add_argument("query")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--template", default="learning-brief")
    p.add_argument("--format", choices=["md", "html"], default="md")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_brief)

    p = with_index(sub.add_parser("remove", help="drop documents by file name, path or id"))
    p.add_argument("targets", nargs="+")
    p.set_defaults(func=cmd_remove)

    p = with_index(sub.add_parser("info", help="show the index manifest and documents"))
    p.set_defaults(func=cmd_info)

    p = with_index(sub.add_parser("serve", help="open the Streamlit app on the index"))
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (IndexNotFound, IndexBusy) as exc:
        _err(str(exc))
        return 2
    except Exception as exc:
        from .brief import BriefError

        if isinstance(exc, BriefError):
            _err(str(exc))
            return 2
        raise
    except KeyboardInterrupt:
        _err("interrupted; the previous index is untouched")
        return 130


if __name__ == "__main__":
    sys.exit(main())
