"""`synth serve`: the Streamlit app on an index."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .common import err, with_index


def app_path() -> Path:
    return Path(__file__).resolve().parents[3] / "app.py"


def cmd_serve(args: argparse.Namespace) -> int:
    app = app_path()
    if not app.is_file():
        err(f"app.py not found at {app}; run from a source checkout")
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


def add_parser(sub) -> None:
    p = with_index(sub.add_parser("serve", help="open the Streamlit app on the index"))
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_serve)
