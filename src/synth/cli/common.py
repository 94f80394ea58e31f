"""What every command shares: error lines, progress bars, opening the index, filters, search."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

from synth.index import DEFAULT_INDEX_DIR, Index
from synth.ingest.safeload import escape_controls, printable, strip_controls
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
    """One line on stderr: line breaks in a message (a file name, a reason) become spaces."""
    print(f"synth: {printable(message)}", file=sys.stderr)


class _SafeStream(io.TextIOBase):
    """A text stream that drops control characters (terminal escapes, bidi overrides) from
    everything written, so document text cannot clear a screen or retitle a terminal."""

    def __init__(self, stream: TextIO, keep: str = "") -> None:
        self.stream = stream
        self.keep = keep

    def write(self, text: str) -> int:
        self.stream.write(strip_controls(text, self.keep))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def buffer(self):  # binary output (PDF, DOCX) is written as it is
        return self.stream.buffer

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", "utf-8")


@contextlib.contextmanager
def safe_output() -> Iterator[None]:
    """stdout and stderr without control characters for the length of one command."""
    saved = sys.stdout, sys.stderr
    # stderr keeps carriage returns: progress bars redraw with them (messages go through err)
    sys.stdout = _SafeStream(sys.stdout)  # type: ignore[assignment]
    sys.stderr = _SafeStream(sys.stderr, keep="\r")  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def json_text(data: object, indent: int | None = 2) -> str:
    """JSON for stdout: characters a terminal acts on are written as \\u escapes, not raw."""
    return escape_controls(json.dumps(data, ensure_ascii=False, indent=indent))


def year(value: str) -> int:
    """An argparse type: a year from 0 to 9999."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value[:40]}' is not a year") from None
    if not 0 <= number <= 9999:
        raise argparse.ArgumentTypeError(f"'{value[:40]}' is not a year (0 to 9999)")
    return number


def open_index(index_dir: str) -> Index:
    """The live build; a warning on stderr when a damaged one was passed over."""
    index = Index.open(index_dir)
    if index.warning:
        err(f"warning: {index.warning}")
    return index


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
    p.add_argument("--year-from", type=year, help="only documents from this year on")
    p.add_argument("--year-to", type=year, help="only documents up to this year")
