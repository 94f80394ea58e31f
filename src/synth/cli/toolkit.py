"""The `synth toolkit` subcommand: curate EEF-style toolkit strands in a versioned store.

A command family of its own (ten actions, their options and handlers). Toolkit, taxonomy and
rendering imports stay inside the handlers, so building the parser does not load them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import textwrap
from pathlib import Path

from synth import __version__
from synth.index import DEFAULT_INDEX_DIR

from .common import err, open_index

INDEX_HELP = (
    f"name linked studies by their references from this index (default: {DEFAULT_INDEX_DIR})"
)
TOOLKIT_TEXT_OPTIONS = ("key_findings", "how_it_works", "behind_the_average", "closing_the_gap")


def _tk_store(args: argparse.Namespace):
    from synth.toolkit.store import ToolkitStore

    return ToolkitStore.open(args.toolkit)


def _tk_changes(args: argparse.Namespace) -> dict[str, object]:
    """Field values given as options; both ways of giving impact or cost at once is an error."""
    from synth.toolkit.entries import ToolkitError, per_pupil_from_class

    if args.effect_size is not None and args.impact_months is not None:
        raise ToolkitError("give --effect-size or --impact-months, not both")
    costs = [args.cost_per_pupil, args.cost_per_class, args.cost]
    if sum(c is not None for c in costs) > 1:
        raise ToolkitError("give one of --cost-per-pupil, --cost-per-class or --cost")
    names = ("title", "topic", "summary", "effect_size", "impact_months", "cost_per_pupil")
    names += ("cost", "padlocks", "studies", "implementation", *TOOLKIT_TEXT_OPTIONS)
    changes = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if args.cost_per_class is not None:
        changes["cost_per_pupil"] = per_pupil_from_class(args.cost_per_class)
    return changes


def _tk_links(entry, args: argparse.Namespace):
    """Apply --link CHUNK[=QUOTE], --unlink, --independent and --not-independent."""
    from dataclasses import replace

    from synth.toolkit.entries import LinkedEvidence, doc_id_of

    links = {link.chunk_id: link for link in entry.links}
    for spec in args.link or []:
        chunk_id, _, quote = spec.partition("=")
        chunk_id = chunk_id.strip()
        links[chunk_id] = LinkedEvidence(chunk_id, doc_id_of(chunk_id), quote=quote or None)
    for chunk_id in getattr(args, "unlink", None) or []:
        links.pop(chunk_id.strip(), None)
    marks = [(t, True) for t in args.independent or []]
    marks += [(t, False) for t in args.not_independent or []]
    for target, flag in marks:
        for key, link in links.items():
            if target in (link.chunk_id, link.doc_id, link.source):
                links[key] = replace(link, independent=flag)
    return replace(entry, links=list(links.values()))


def _tk_finish(entry, args: argparse.Namespace):
    """Resolve the topic, and with --index check links and refresh contexts and padlocks."""
    from synth.taxonomy import load_taxonomy
    from synth.toolkit.entries import check_topic
    from synth.toolkit.evidence import refresh_from_index

    entry = check_topic(entry, load_taxonomy())
    if args.index:
        with open_index(args.index) as index:
            entry = refresh_from_index(entry, index)
    return entry


def _tk_new(args: argparse.Namespace) -> int:
    from synth.toolkit.entries import ToolkitEntry, apply_changes

    with _tk_store(args) as store:
        entry_id = args.id or store.new_id(args.title)
        entry = ToolkitEntry(id=entry_id, title=args.title, topic=args.topic)
        changed = apply_changes(entry, _tk_changes(args), args.confirm_effect_size)
        entry = _tk_finish(_tk_links(changed, args), args)
        version = store.create(entry, args.note or "created", args.author)
    print(f"created {version.entry_id} (version {version.n}, {entry.status})")
    return 0


def _tk_edit(args: argparse.Namespace) -> int:
    from synth.toolkit.entries import ToolkitError, apply_changes, diff_entries
    from synth.toolkit.exchange import fields_from_file, read_export

    if not args.note.strip():
        raise ToolkitError("--note must say why the entry changed (it is kept with the version)")
    with _tk_store(args) as store:
        old = store.get(args.entry_id)
        changes: dict[str, object] = {}
        if args.from_file:
            path = Path(args.from_file)
            changes.update(fields_from_file(read_export(path.read_bytes()), path.suffix))
            changes.pop("id", None)
        changes.update(_tk_changes(args))
        changed = apply_changes(old, changes, args.confirm_effect_size)
        entry = _tk_finish(_tk_links(changed, args), args)
        version = store.save(entry, args.note, args.author)
    if version is None:
        print(f"{args.entry_id}: nothing changed, no new version")
        return 0
    changed = ", ".join(c.field for c in diff_entries(old, entry))
    print(f"edited {version.entry_id}: version {version.n} ({changed})")
    return 0


def _tk_status(args: argparse.Namespace) -> int:
    from synth.toolkit.entries import apply_changes

    status = "published" if args.action == "publish" else "draft"
    with _tk_store(args) as store:
        entry = apply_changes(store.get(args.entry_id), {"status": status})
        version = store.save(entry, args.note or args.action, args.author)
    if version is None:
        print(f"{args.entry_id} is already {status}")
    else:
        print(f"{args.entry_id}: {status} (version {version.n})")
    return 0


def _tk_list(args: argparse.Namespace) -> int:
    from synth.taxonomy import load_taxonomy
    from synth.toolkit.entries import cost_label

    topic = load_taxonomy().resolve("topic", args.topic) if args.topic else None
    with _tk_store(args) as store:
        entries = store.entries(args.status, topic)
    if args.json:
        print(json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=2))
        return 0
    if not entries:
        print("no toolkit entries")
    for e in entries:
        months = "-" if e.impact_months is None else f"{e.impact_months:+d}m"
        cost = cost_label(e.cost) if e.cost else "-"
        locks = "-" if e.shown_padlocks is None else f"{e.shown_padlocks}/5"
        print(f"{e.id:<32} {e.status:<9} {e.topic:<24} {months:>4} {cost:<5} {locks:<4} {e.title}")
    return 0


def _tk_index(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """The index a card's references come from: --index, else the default index when one is
    built there. Without one (or when the default is damaged) the card names files instead."""
    if args.index:
        return open_index(args.index)
    try:
        return open_index(str(DEFAULT_INDEX_DIR))
    except (OSError, ValueError, sqlite3.Error):
        return contextlib.nullcontext()


def _tk_render(version, fmt: str, index=None) -> bytes:
    from datetime import UTC, datetime

    from synth.taxonomy import load_taxonomy
    from synth.toolkit.card import CardProvenance, card_references, export_card

    provenance = CardProvenance(
        build_id=version.entry.index_build,
        rendered=datetime.now(UTC).strftime("%Y-%m-%d"),
        synth_version=__version__,
        version=version.n,
        version_date=version.created_at[:10],
    )
    references = card_references(version.entry, index) if index is not None else None
    return export_card(version.entry, provenance, fmt, load_taxonomy(), references)


def _tk_show(args: argparse.Namespace) -> int:
    from synth.toolkit.entries import ToolkitError

    with _tk_store(args) as store:
        version = store.version(args.entry_id, args.version)
    if args.json:
        data = (json.dumps(version.entry.to_json(), ensure_ascii=False, indent=2) + "\n").encode()
    else:
        with _tk_index(args) as index:
            data = _tk_render(version, args.format, index)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"{args.entry_id} version {version.n} written to {args.output}")
    elif args.format in ("pdf", "docx") and not args.json:
        raise ToolkitError(f"--format {args.format} needs -o FILE")
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


def _tk_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def _tk_history(args: argparse.Namespace) -> int:
    import difflib

    from synth.toolkit.entries import diff_entries

    with _tk_store(args) as store:
        if not args.diff:
            for v in store.history(args.entry_id):
                by = f" by {v.author}" if v.author else ""
                print(f"{v.n:>3}  {v.created_at}  {v.entry.status:<9}{by}  {v.note}")
            return 0
        a, b = (store.version(args.entry_id, n) for n in args.diff)
    changes = diff_entries(a.entry, b.entry)
    print(f"{args.entry_id}: version {a.n} -> {b.n}, {len(changes)} field(s) changed")
    for c in changes:
        if isinstance(c.old, list) and isinstance(c.new, list):
            gone = [f"  - {_tk_value(x)}" for x in c.old if x not in c.new]
            added = [f"  + {_tk_value(x)}" for x in c.new if x not in c.old]
            print("\n".join([f"{c.field}:", *gone, *added]))
        elif isinstance(c.old, str) and isinstance(c.new, str) and "\n" in c.old + c.new:
            lines = difflib.unified_diff(c.old.splitlines(), c.new.splitlines(), lineterm="", n=1)
            print(f"{c.field}:")
            print(textwrap.indent("\n".join(list(lines)[2:]), "  "))
        else:
            print(f"{c.field}: {_tk_value(c.old)} -> {_tk_value(c.new)}")
    return 0


def _tk_export(args: argparse.Namespace) -> int:
    from synth.toolkit.exchange import entries_to_csv, entries_to_json

    with _tk_store(args) as store:
        entries = store.entries(args.status)
        if args.format == "json":
            text = entries_to_json(entries)
        elif args.format == "csv":
            text = entries_to_csv(entries)
        else:
            with _tk_index(args) as index:
                cards = [_tk_render(store.version(e.id), "md", index).decode() for e in entries]
            text = "\n\n---\n\n".join(cards)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(entries)} toolkit entries written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _tk_import(args: argparse.Namespace) -> int:
    """Check every record first, then write: new ids are created, known ids get a new version."""
    from synth.taxonomy import load_taxonomy
    from synth.toolkit.entries import ToolkitError, check_effect_size, check_topic
    from synth.toolkit.exchange import entries_from_text, read_export

    path = Path(args.file)
    fmt = args.format or path.suffix.lower().lstrip(".")
    if fmt not in ("json", "csv"):
        raise ToolkitError(f"cannot tell the format of '{path.name}': use --format json|csv")
    taxonomy = load_taxonomy()
    text = read_export(path.read_bytes())
    entries = [check_topic(e, taxonomy) for e in entries_from_text(text, fmt)]
    for entry in entries:
        if entry.effect_size is not None:
            try:
                check_effect_size(entry.effect_size, args.confirm_effect_size)
            except ToolkitError as exc:
                raise ToolkitError(f"{entry.id}: {exc} (--confirm-effect-size)") from None
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with _tk_store(args) as store:
        for entry in entries:
            if not store.exists(entry.id):
                store.create(entry, "imported", args.author)
                counts["created"] += 1
            elif store.save(entry, "imported", args.author) is None:
                counts["unchanged"] += 1
            else:
                counts["updated"] += 1
    print(", ".join(f"{n} {k}" for k, n in counts.items()) + f" from {path}")
    return 0


def _tk_suggest(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from synth.toolkit.evidence import (
        refresh_from_index,
        resolve_links,
        suggest_effect_size,
        suggest_padlocks,
        summarise_evidence,
    )

    with _tk_store(args) as store, open_index(args.index) as index:
        entry = store.get(args.entry_id)
        checked = replace(entry, links=resolve_links(entry.links, index))
        summary = summarise_evidence(checked, index)
        suggestion = suggest_padlocks(summary)
        effect = suggest_effect_size(checked, index)
        version = None
        if args.apply:
            note = args.note or f"evidence refreshed from index build {index.build_id}"
            version = store.save(refresh_from_index(entry, index), note, args.author)
    if args.json:
        out = {
            "suggestion": asdict(suggestion),
            "effect_size": {**asdict(effect), "label": "suggestion", "text": effect.text},
            "summary": asdict(summary),
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        entered = "not set" if entry.effect_size is None else f"{entry.effect_size:g}"
        print(f"suggested effect size: {effect.text} (curator: {entered})")
        for e in effect.effects:
            print(f"  {e.text} ({e.unit}): {e.source}, p. {e.page}: {e.sentence}")
        for e in effect.other_units:
            print(f"  not pooled, {e.unit}: {e.text}: {e.source}, p. {e.page}")
        curator = "not set" if entry.padlocks is None else f"{entry.padlocks}/5"
        print(f"suggested padlocks: {suggestion.padlocks}/5 (curator: {curator})")
        for reason in suggestion.reasons:
            print(f"  {reason}")
        for s in summary.studies:
            flag = ", independent" if s.independent else ""
            print(f"  study: {s.source} ({', '.join(s.designs)}; {s.year or 'no year'}{flag})")
        for facet, values in summary.contexts.items():
            print(f"contexts {facet}: {', '.join(values)}")
    if version is not None:
        print(f"saved as version {version.n}")
    return 0


def cmd_toolkit(args: argparse.Namespace) -> int:
    """Curate EEF-style toolkit strands kept, versioned, in a store outside the index."""
    from synth.taxonomy import TaxonomyError
    from synth.toolkit.entries import ToolkitError

    handlers = {
        "new": _tk_new,
        "edit": _tk_edit,
        "list": _tk_list,
        "show": _tk_show,
        "history": _tk_history,
        "publish": _tk_status,
        "unpublish": _tk_status,
        "export": _tk_export,
        "import": _tk_import,
        "suggest": _tk_suggest,
    }
    try:
        return handlers[args.action](args)
    except (ToolkitError, TaxonomyError, OSError) as exc:
        err(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
        return 2


def add_parser(sub) -> None:
    p = sub.add_parser("toolkit", help="curate EEF-style toolkit entries (versioned)")
    tk = p.add_subparsers(dest="action", required=True)

    def common(q: argparse.ArgumentParser) -> argparse.ArgumentParser:
        q.add_argument(
            "--toolkit", help="toolkit store (default $SYNTH_TOOLKIT or toolkit/toolkit.sqlite)"
        )
        q.add_argument("--author", default=os.environ.get("SYNTH_AUTHOR"), help="who changed it")
        return q

    def fields(q: argparse.ArgumentParser, edit: bool) -> None:
        if edit:
            q.add_argument("--title")
            q.add_argument("--topic", help="topic id or label (`synth facets topic`)")
        q.add_argument("--summary")
        q.add_argument(
            "--effect-size",
            help="pooled effect size (0.54 or 0,54); months come from the EEF table",
        )
        q.add_argument(
            "--confirm-effect-size",
            action="store_true",
            help="accept an effect size outside -2..2 (refused otherwise as a likely slip)",
        )
        q.add_argument("--impact-months", help="months of progress, when no effect size is given")
        q.add_argument("--cost-per-pupil", help="GBP per pupil per year; sets the cost rating")
        q.add_argument("--cost-per-class", help="GBP per class of 25 per year")
        q.add_argument("--cost", help="cost rating 1-5, when no cost figure is given")
        q.add_argument("--padlocks", help="evidence strength 0-5 (the curator's decision)")
        q.add_argument("--studies", help="number of studies behind the strand")
        for name in (*TOOLKIT_TEXT_OPTIONS, "implementation"):
            q.add_argument("--" + name.replace("_", "-"), metavar="TEXT")
        q.add_argument(
            "--link",
            action="append",
            metavar="CHUNK_ID[=QUOTE]",
            help="link an indexed passage (repeatable)",
        )
        q.add_argument(
            "--independent",
            action="append",
            metavar="DOC",
            help="mark a linked document or chunk as an independent evaluation",
        )
        q.add_argument("--not-independent", action="append", metavar="DOC")
        q.add_argument("--index", help="check links in this index; refresh contexts and padlocks")

    q = common(tk.add_parser("new", help="create an entry (version 1, draft)"))
    q.add_argument("title")
    q.add_argument("--topic", required=True, help="topic id or label (`synth facets topic`)")
    q.add_argument("--id", help="entry id (default: a slug of the title)")
    q.add_argument("--note", default="")
    fields(q, edit=False)
    q = common(tk.add_parser("edit", help="change fields; saves a new version"))
    q.add_argument("entry_id")
    q.add_argument("--note", required=True, help="why (kept with the version)")
    q.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="fields from a JSON object or a Markdown file of '## Section' headings",
    )
    q.add_argument("--unlink", action="append", metavar="CHUNK_ID")
    fields(q, edit=True)
    q = common(tk.add_parser("list", help="entries with their headline figures"))
    q.add_argument("--status", choices=["draft", "published"])
    q.add_argument("--topic")
    q.add_argument("--json", action="store_true")
    q = common(tk.add_parser("show", help="one entry as a card (md/html) or JSON"))
    q.add_argument("entry_id")
    q.add_argument("--version", type=int, help="an earlier version")
    q.add_argument("--json", action="store_true")
    q.add_argument("--format", choices=["md", "html", "pdf", "docx"], default="md")
    q.add_argument("-o", "--output")
    q.add_argument("--index", help=INDEX_HELP)
    q = common(tk.add_parser("history", help="versions of an entry, or a diff of two"))
    q.add_argument("entry_id")
    q.add_argument("--diff", nargs=2, type=int, metavar=("A", "B"))
    for action in ("publish", "unpublish"):
        q = common(tk.add_parser(action, help=f"{action} an entry (saves a new version)"))
        q.add_argument("entry_id")
        q.add_argument("--note", default="")
    q = common(tk.add_parser("export", help="all entries as JSON, CSV or Markdown cards"))
    q.add_argument("--format", choices=["json", "csv", "md"], default="json")
    q.add_argument("--status", choices=["draft", "published"])
    q.add_argument("-o", "--output")
    q.add_argument("--index", help=INDEX_HELP)
    q = common(tk.add_parser("import", help="entries from a JSON or CSV export"))
    q.add_argument("file")
    q.add_argument("--format", choices=["json", "csv"])
    q.add_argument(
        "--confirm-effect-size",
        action="store_true",
        help="accept effect sizes outside -2..2 in the file",
    )
    q = common(tk.add_parser("suggest", help="padlocks and contexts from the linked evidence"))
    q.add_argument("entry_id")
    q.add_argument("--index", default=str(DEFAULT_INDEX_DIR), help="index directory")
    q.add_argument("--apply", action="store_true", help="save contexts and suggestion")
    q.add_argument("--note", default="")
    q.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_toolkit)
