"""The `synth` command: a thin shell over the library, one module per group of subcommands.

In: argv. Out: text on stdout, one-line errors on stderr, an exit code. Each command calls the
library (synth.index, synth.search, synth.brief, synth.toolkit) and only formats what it gets.
Must not import: synth.ui.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from synth import __version__
from synth.index import IndexBusy, IndexDamaged, IndexNotFound
from synth.ingest.embed import ModelNotInstalled

from . import brief, corpus, search, serve, studies, toolkit
from .common import err, safe_output


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """argv to options; a search query may start with '-' (`synth search -feedback`)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "search" and not args.query and not args.queries:
        args.query = " ".join(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error the user can cause is one line on stderr, never a traceback
    (set SYNTH_DEBUG=1 to see the traceback of an internal error)."""
    with safe_output():
        args = parse_args(argv)
        try:
            return int(args.func(args))
        except (IndexNotFound, IndexBusy, IndexDamaged, ModelNotInstalled) as exc:
            err(str(exc))
            return 2
        except KeyboardInterrupt:
            err("interrupted; the previous index is untouched")
            return 130
        except sqlite3.DatabaseError as exc:  # damage a reader met after its checks at open
            hint = f"; if it is the index, run `synth repair --index {args.index}`"
            err(f"a database cannot be read ({exc}){hint if getattr(args, 'index', None) else ''}")
            return 2
        except Exception as exc:
            from synth.brief.render import BriefError

            if isinstance(exc, BriefError):
                err(str(exc))
                return 2
            if os.environ.get("SYNTH_DEBUG"):
                raise
            err(f"internal error: {exc.__class__.__name__}: {exc} (SYNTH_DEBUG=1 shows where)")
            return 70


if __name__ == "__main__":
    sys.exit(main())
