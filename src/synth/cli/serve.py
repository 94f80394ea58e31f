"""`synth serve`: the Streamlit app on an index, run in this process.

Streamlit runs here rather than in a child process, so SIGTERM or SIGINT sent to `synth serve`
reach Streamlit's own handlers and nothing is left behind. While the server starts, a thread
loads the index's embedding model, so the first search does not wait for it.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from pathlib import Path

from .common import err, with_index

LOG = logging.getLogger("synth.serve")


def app_path() -> Path:
    return Path(__file__).resolve().parents[3] / "app.py"


def preload_model(index: Path) -> None:
    """Load the live build's model into the process-wide cache the app's searches use."""
    from synth.index.build import live_build, read_manifest
    from synth.ingest.embed import load_embedder

    build = live_build(index)
    if build is None:
        return
    try:
        load_embedder(read_manifest(build).model)
    except Exception as exc:  # the app reports model errors on the first search instead
        LOG.warning("could not preload the embedding model: %s", exc)


def streamlit_args(app: Path, args: argparse.Namespace) -> list[str]:
    return [
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
        # An error never shows a traceback (with server paths) in the browser.
        "--client.showErrorDetails",
        "none",
    ]


def cmd_serve(args: argparse.Namespace) -> int:
    app = app_path()
    if not app.is_file():
        err(f"app.py not found at {app}; run from a source checkout")
        return 2
    index = Path(args.index).resolve()
    os.environ["SYNTH_INDEX"] = str(index)
    threading.Thread(target=preload_model, args=(index,), name="preload", daemon=True).start()
    from streamlit.web import cli as streamlit_cli

    try:
        streamlit_cli.main(args=streamlit_args(app, args), standalone_mode=False)
    except SystemExit as exc:  # click's way of ending: keep its code
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def add_parser(sub) -> None:
    p = with_index(sub.add_parser("serve", help="open the Streamlit app on the index"))
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_serve)
