#!/usr/bin/env bash
# Install synth with its test tools and run lint plus the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# [cluster] brings Ray, so the Ray ingest tests run rather than skip.
bash scripts/install.sh test,cluster
export HF_HUB_OFFLINE=1
.venv/bin/ruff check src tests app.py scripts benchmarks
.venv/bin/ruff format --check src tests app.py scripts benchmarks
.venv/bin/python -m pytest "$@"
