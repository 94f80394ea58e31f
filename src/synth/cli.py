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
            args.paths, args.index, progress=progress, metadata=records, taxonomy=args.taxonomy
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


# ---------------------------------------------------------------- toolkit entries

TOOLKIT_TEXT_OPTIONS = ("key_findings", "how_it_works", "behind_the_average", "closing_the_gap")


def _tk_store(args: argparse.Namespace):
    from .toolkit_store import ToolkitStore

    return ToolkitStore.open(args.toolkit)


def _tk_changes(args: argparse.Namespace) -> dict[str, object]:
    """Field values given as options; both ways of giving impact or cost at once is an error."""
    from .toolkit import ToolkitError, per_pupil_from_class

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

    from .toolkit import LinkedEvidence, doc_id_of

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
    from .taxonomy import load_taxonomy
    from .toolkit import check_topic, refresh_from_index

    entry = check_topic(entry, load_taxonomy())
    if args.index:
        with _open(args.index) as index:
            entry = refresh_from_index(entry, index)
    return entry


def _tk_new(args: argparse.Namespace) -> int:
    from .toolkit import ToolkitEntry, apply_changes

    with _tk_store(args) as store:
        entry_id = args.id or store.new_id(args.title)
        entry = ToolkitEntry(id=entry_id, title=args.title, topic=args.topic)
        entry = _tk_finish(_tk_links(apply_changes(entry, _tk_changes(args)), args), args)
        version = store.create(entry, args.note or "created", args.author)
    print(f"created {version.entry_id} (version {version.n}, {entry.status})")
    return 0


def _tk_edit(args: argparse.Namespace) -> int:
    from .toolkit import ToolkitError, apply_changes, diff_entries, fields_from_file

    if not args.note.strip():
        raise ToolkitError("--note must say why the entry changed (it is kept with the version)")
    with _tk_store(args) as store:
        old = store.get(args.entry_id)
        changes: dict[str, object] = {}
        if args.from_file:
            path = Path(args.from_file)
            changes.update(fields_from_file(path.read_text(encoding="utf-8"), path.suffix))
            changes.pop("id", None)
        changes.update(_tk_changes(args))
        entry = _tk_finish(_tk_links(apply_changes(old, changes), args), args)
        version = store.save(entry, args.note, args.author)
    if version is None:
        print(f"{args.entry_id}: nothing changed, no new version")
        return 0
    changed = ", ".join(c.field for c in diff_entries(old, entry))
    print(f"edited {version.entry_id}: version {version.n} ({changed})")
    return 0


def _tk_status(args: argparse.Namespace) -> int:
    from .toolkit import apply_changes

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
    from .taxonomy import load_taxonomy
    from .toolkit import cost_label

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


def _tk_render(version, fmt: str) -> bytes:
    from datetime import UTC, datetime

    from .taxonomy import load_taxonomy
    from .toolkit import CardProvenance, export_card

    provenance = CardProvenance(
        build_id=version.entry.index_build,
        rendered=datetime.now(UTC).strftime("%Y-%m-%d"),
        synth_version=__version__,
        version=version.n,
        version_date=version.created_at[:10],
    )
    return export_card(version.entry, provenance, fmt, load_taxonomy())


def _tk_show(args: argparse.Namespace) -> int:
    from .toolkit import ToolkitError

    with _tk_store(args) as store:
        version = store.version(args.entry_id, args.version)
    if args.json:
        data = (json.dumps(version.entry.to_json(), ensure_ascii=False, indent=2) + "\n").encode()
    else:
        data = _tk_render(version, args.format)
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

    from .toolkit import diff_entries

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
    from .toolkit import entries_to_csv, entries_to_json

    with _tk_store(args) as store:
        entries = store.entries(args.status)
        if args.format == "json":
            text = entries_to_json(entries)
        elif args.format == "csv":
            text = entries_to_csv(entries)
        else:
            cards = [_tk_render(store.version(e.id), "md").decode() for e in entries]
            text = "\n\n---\n\n".join(cards)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(entries)} toolkit entries written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _tk_import(args: argparse.Namespace) -> int:
    """Check every record first, then write: new ids are created, known ids get a new version."""
    from .taxonomy import load_taxonomy
    from .toolkit import ToolkitError, check_topic, entries_from_text

    path = Path(args.file)
    fmt = args.format or path.suffix.lower().lstrip(".")
    if fmt not in ("json", "csv"):
        raise ToolkitError(f"cannot tell the format of '{path.name}': use --format json|csv")
    taxonomy = load_taxonomy()
    entries = [check_topic(e, taxonomy) for e in entries_from_text(path.read_text("utf-8"), fmt)]
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

    from .toolkit import refresh_from_index, resolve_links, suggest_padlocks, summarise_evidence

    with _tk_store(args) as store, _open(args.index) as index:
        entry = store.get(args.entry_id)
        checked = replace(entry, links=resolve_links(entry.links, index))
        summary = summarise_evidence(checked, index)
        suggestion = suggest_padlocks(summary)
        version = None
        if args.apply:
            note = args.note or f"evidence refreshed from index build {index.build_id}"
            version = store.save(refresh_from_index(entry, index), note, args.author)
    if args.json:
        out = {"suggestion": asdict(suggestion), "summary": asdict(summary)}
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
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
    from .taxonomy import TaxonomyError
    from .toolkit import ToolkitError

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
        _err(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
        return 2


def _add_toolkit_parser(sub) -> None:
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
        q.add_argument("--effect-size", help="pooled effect size; months come from the EEF table")
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
    q = common(tk.add_parser("import", help="entries from a JSON or CSV export"))
    q.add_argument("file")
    q.add_argument("--format", choices=["json", "csv"])
    q = common(tk.add_parser("suggest", help="padlocks and contexts from the linked evidence"))
    q.add_argument("entry_id")
    q.add_argument("--index", default=str(DEFAULT_INDEX_DIR), help="index directory")
    q.add_argument("--apply", action="store_true", help="save contexts and suggestion")
    q.add_argument("--note", default="")
    q.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_toolkit)


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
    _add_toolkit_parser(sub)
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
