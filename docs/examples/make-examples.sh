#!/usr/bin/env bash
# Rebuild the example briefs in docs/examples from the shipped corpus with the real CLI.
# Usage: bash docs/examples/make-examples.sh   (from the repository root, after scripts/install.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1
index="${SYNTH_EXAMPLES_INDEX:-/tmp/synth-examples-index}"
.venv/bin/synth ingest corpus --index "$index" -q
learning="What helps pupils who have fallen behind in reading and maths catch up?"
practitioner="How can teaching assistants best support pupils who are behind?"
for fmt in md pdf; do
  .venv/bin/synth brief "$learning" --index "$index" --template learning-brief \
    --format "$fmt" -o "docs/examples/learning-brief-catch-up.$fmt"
  .venv/bin/synth brief "$practitioner" --index "$index" --template practitioner-brief \
    --format "$fmt" -o "docs/examples/practitioner-brief-teaching-assistants.$fmt"
done
