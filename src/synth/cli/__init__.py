"""The `synth` command: a thin shell over the library, one module per group of subcommands.

In: argv. Out: text on stdout, one-line errors on stderr, an exit code. Each command calls the
library (synth.index, synth.search, synth.brief, synth.toolkit) and only formats what it gets.
Must not import: synth.ui.
"""

from __future__ import annotations

import argparse
import sys

from synth import __version__
from synth.index import IndexBusy, IndexNotFound

from . import brief, corpus, search, serve, studies, toolkit
from .common import err


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synth", description="Offline evidence synthesis and learning briefs for education."
    )
    parser.add_argument("--version", action="version", version=f"synth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    corpus.add_parsers(sub)
    search.add_parsers(sub)
    studies.add_parser(sub)
    brief.add_parser(sub)
    serve.add_parser(sub)
    toolkit.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (IndexNotFound, IndexBusy) as exc:
        err(str(exc))
        return 2
    except Exception as exc:
        from synth.brief.render import BriefError

        if isinstance(exc, BriefError):
            err(str(exc))
            return 2
        raise
    except KeyboardInterrupt:
        err("interrupted; the previous index is untouched")
        return 130


if __name__ == "__main__":
    sys.exit(main())
