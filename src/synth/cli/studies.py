"""`synth studies` and `synth search --by study`: what each document is, where it took place
and what it found, from the study records."""

from __future__ import annotations

import argparse
import json
import textwrap

from .common import err, filters_or_error, open_index, with_filters, with_index


def print_studies(result) -> None:
    """Studies as a reader scans them: title, what and where, the headline, best passages."""
    from synth.search.studies import describe, headline_text

    if result.no_close_match:
        print("no close match: nothing in the index is about this question")
        return
    if not result.studies:
        print("no results")
    for study in result.studies:
        print(f"{study.rank}. {study.title} ({study.source})")
        if study.record is not None:
            line = describe(study.record)
            if line:
                print(f"   {line}")
            headline = headline_text(study.record)
            if headline:
                finding = study.record.headline
                print(
                    textwrap.indent(
                        textwrap.fill(f"Finding (p. {finding.page}): {headline}", 96), "   "
                    )
                )
        for hit in study.passages:
            pages = (
                f"p. {hit.page}" if hit.page == hit.page_end else f"pp. {hit.page}-{hit.page_end}"
            )
            excerpt = textwrap.shorten(hit.text, 200, placeholder=" ...")
            print(textwrap.indent(textwrap.fill(f"- {pages}: {excerpt}", 96), "   "))


def cmd_studies(args: argparse.Namespace) -> int:
    """Every document's study record (or those a filter allows): JSON lines or a table."""
    from synth.search import SearchSettings
    from synth.search.studies import describe, search_studies

    filters = filters_or_error(args)
    if filters is None:
        return 2
    index = open_index(args.index)
    if not index.has_studies:
        err("this index has no study records yet: run `synth ingest` again to add them")
        return 2
    n = len(index.documents())
    result = search_studies(
        index, None, "", SearchSettings(k=max(n, 1)), filters, with_counts=False
    )
    for study in result.studies:
        if args.json:
            record = study.record.to_json() if study.record else {"doc_id": study.doc_id}
            print(json.dumps({"source": study.source, **record}, ensure_ascii=False))
        else:
            what = describe(study.record) if study.record else "no record"
            print(f"{study.source}\n   {what}")
    if not result.studies and not args.json:
        print("no documents match")
    return 0


def add_parser(sub) -> None:
    p = with_index(sub.add_parser("studies", help="study records: kind, design, where, findings"))
    with_filters(p)
    p.add_argument("--json", action="store_true", help="one JSON object per document")
    p.set_defaults(func=cmd_studies)
