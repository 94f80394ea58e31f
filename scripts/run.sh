#!/usr/bin/env bash
# Install synth, build the index of the shipped sample corpus, and open the app on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1
.venv/bin/synth ingest corpus/ --index index
exec .venv/bin/synth serve --index index "$@"
