"""`synth brief`: search (or read a basket), synthesise, fill a template, write a format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import err, filters_from, open_index, run_search, with_filters, with_index


def cmd_brief(args: argparse.Namespace) -> int:
    """Search (or read a basket of chunk ids), synthesise, fill a template, write a format."""
    from synth.brief.basket import BasketError, hits_from_basket, read_basket
    from synth.brief.references import to_bibtex, to_ris
    from synth.brief.render import export_brief
    from synth.brief.synthesize import synthesize
    from synth.ingest.embed import load_embedder
    from synth.taxonomy import TaxonomyError

    binary = args.format in ("pdf", "docx")
    if binary and not args.output and sys.stdout.isatty():
        err(f"{args.format} is a binary format: write it to a file with -o FILE.{args.format}")
        return 2
    if not args.query and not args.basket:
        err("give a question, or --basket FILE with chunk ids (one per line)")
        return 2
    if args.bib and args.bib[0] not in ("ris", "bibtex"):
        err(f"--bib takes ris or bibtex, not '{args.bib[0]}'")
        return 2
    try:
        filters = filters_from(args)
    except TaxonomyError as exc:
        err(str(exc))
        return 2
    if args.basket and not filters.empty:
        err("--where/--year-* filter a search; a basket is already the chosen evidence")
        return 2
    index = open_index(args.index)
    try:
        basket = read_basket(args.basket) if args.basket else []
        hits = (
            hits_from_basket(index, basket)
            if args.basket
            else run_search(index, args.query, args.k, filters).hits
        )
    except (BasketError, OSError) as exc:
        err(str(exc))
        return 2
    embedder = load_embedder(index.manifest.model)
    content = synthesize(
        index, embedder, args.query, hits, filters=filters, basket=basket, template=args.template
    )
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
    err(
        f"quote check: {checks.checked} sentences checked, {checks.passed} passed, "
        f"{checks.failed} dropped; {checks.shown} verified quotations for the template"
    )
    for dropped in content.dropped_quotes:
        err(f"quote dropped (not found on its page): {dropped}")
    return 0


def add_parser(sub) -> None:
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
