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
echo "installed: $(.venv/bin/python -m pip freeze 2>/dev/null | grep -iE '^(torch|sentence-transformers|faiss-cpu|spacy|streamlit|pypdf)==' | tr '\n' ' ')"
