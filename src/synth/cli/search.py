"""`synth search` and `synth eval`: hits for a query, and retrieval scored on a QA file."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from synth.models import Hit

from .common import (
    err,
    filters_or_error,
    json_text,
    open_index,
    run_search,
    with_filters,
    with_index,
)
from .studies import print_studies

if TYPE_CHECKING:
    from synth.search import SearchResult


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
    filters = filters_or_error(args)
    if filters is None:
        return 2
    index = open_index(args.index)
    if not filters.empty and not index.has_facets:
        err("this index has no tags yet: run `synth ingest` again to tag it")
        return 2
    if args.queries:
        text = Path(args.queries).read_text(encoding="utf-8", errors="replace")
        # Only newlines end a query: U+2028, form feeds and the like are part of a line's text.
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        for line in lines[:-1] if lines and not lines[-1] else lines:
            result = run_search(index, line, args.k, filters)
            print(json_text([h.to_json() for h in result.hits], indent=None))
        return 0
    if args.by == "study":
        return _by_study(index, args, filters)
    result = run_search(index, args.query or "", args.k, filters, counts=args.facets)
    if args.json and args.facets:
        print(json_text(result.to_json()))
    elif args.json:
        print(json_text([h.to_json() for h in result.hits]))
    else:
        if result.n_allowed is not None:
            print(f"filter allows {result.n_allowed} chunks")
        _print_hits(result.hits)
        _print_counts(result)
    return 0


def _by_study(index, args: argparse.Namespace, filters) -> int:
    """One result per document, with its record and best passages."""
    from synth.ingest.embed import load_embedder
    from synth.search import SearchSettings
    from synth.search.studies import search_studies

    embedder = load_embedder(index.manifest.model)
    settings = SearchSettings(k=args.k)
    result = search_studies(index, embedder, args.query or "", settings, filters, args.facets)
    if args.json:
        print(json_text(result.to_json()))
        return 0
    print_studies(result)
    _print_counts(result)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score each search mode on a QA file, side by side, against one index build."""
    from synth.ingest.embed import load_embedder
    from synth.search.evaluate import QAFileError, evaluate, format_table, load_qa, parse_modes

    try:
        modes = parse_modes(args.modes)
        qa = load_qa(args.qa_file)
    except (QAFileError, ValueError) as exc:
        err(str(exc))
        return 2
    if args.k < 1:
        err("--k must be at least 1")
        return 2
    index = open_index(args.index)
    embedder = load_embedder(index.manifest.model) if modes != ["keyword"] else None
    report = evaluate(index, embedder, qa, modes, k=args.k)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(f"{len(qa.questions)} questions from {args.qa_file}; index build {report.build_id}")
    print(format_table(report))
    for q in report.unanswerable:
        err(f"line {q.line}: no passage in the index satisfies this question's judgment")
    return 0


def add_parsers(sub) -> None:
    p = with_index(sub.add_parser("search", help="hybrid search over the index"))
    p.add_argument("query", nargs="?", default="")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.add_argument("--queries", help="file with one query per line; prints one JSON array a line")
    with_filters(p)
    p.add_argument(
        "--facets", action="store_true", help="add per-facet counts (JSON: an object with hits)"
    )
    p.add_argument(
        "--by",
        choices=["passage", "study"],
        default="passage",
        help="passages (default), or one result per study with its record and best passages",
    )
    p.set_defaults(func=cmd_search)

    p = with_index(sub.add_parser("eval", help="score search modes on a QA file (TSV)"))
    p.add_argument("qa_file", help="TSV: query plus phrase, or source and page")
    p.add_argument("--k", type=int, default=10, help="hits retrieved per question")
    p.add_argument("--modes", default="fused,dense,keyword", help="comma-separated modes")
    p.add_argument("--json", action="store_true", help="print metrics and ranks as JSON")
    p.set_defaults(func=cmd_eval)
