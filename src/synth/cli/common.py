"""What every command shares: error lines, progress bars, opening the index, filters, search."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from synth.index import DEFAULT_INDEX_DIR, Index
from synth.models import Filters

if TYPE_CHECKING:
    from synth.search import SearchResult

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


def err(message: str) -> None:
    print(f"synth: {message}", file=sys.stderr)


def open_index(index_dir: str) -> Index:
    return Index.open(index_dir)


def filters_from(args: argparse.Namespace) -> Filters:
    from synth.index.facets import parse_where
    from synth.taxonomy import load_taxonomy

    return parse_where(args.where or [], load_taxonomy(), args.year_from, args.year_to)


def filters_or_error(args: argparse.Namespace) -> Filters | None:
    """The command's --where filters, or None after printing why they cannot be read."""
    from synth.taxonomy import TaxonomyError

    try:
        return filters_from(args)
    except TaxonomyError as exc:
        err(str(exc))
        return None


def run_search(
    index: Index, query: str, k: int, filters: Filters | None = None, counts: bool = False
) -> SearchResult:
    from synth.ingest.embed import load_embedder
    from synth.search import SearchSettings, search_faceted

    embedder = load_embedder(index.manifest.model)
    return search_faceted(index, embedder, query, SearchSettings(k=k), filters, with_counts=counts)


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
