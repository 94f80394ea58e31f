#!/usr/bin/env bash
# Create .venv (if needed) and install synth into it, editable. Usage: scripts/install.sh [extras]
# The CPU-only torch wheel comes from pip's configured indexes; see README for other machines.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "synth needs Python 3.11+"'
  "$PYTHON" -m venv .venv
fi
target="."
[ -n "$extras" ] && target=".[$extras]"
log=$(mktemp)
echo "installing synth${extras:+ with [$extras]} into .venv (log: $log) ..."
if ! .venv/bin/python -m pip install --disable-pip-version-check -e "$target" >"$log" 2>&1; then
  grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -40
  echo "install failed; full log in $log" >&2
  exit 1
fi
# The browser tests check every page with axe-core (npm's axe.min.js, injected by Playwright).
if [[ ",$extras," == *",test,"* ]]; then
  axe=.cache/axe/node_modules/axe-core/axe.min.js
  if [ ! -f "$axe" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm is needed for axe-core (apt-get install npm)" >&2; exit 1; }
    npm install --prefix .cache/axe --no-audit --no-fund --silent axe-core@4 >"$log" 2>&1 \
      || { tail -20 "$log"; echo "npm install axe-core failed" >&2; exit 1; }
  fi
fi
echo "installed: $(.venv/bin/python -m pip freeze 2>/dev/null | grep -iE '^(torch|sentence-transformers|faiss-cpu|spacy|streamlit|pypdf)==' | tr '\n' ' ')"
