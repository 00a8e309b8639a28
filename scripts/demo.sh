#!/usr/bin/env bash
# Set everything up (see scripts/setup.sh), then draw a tutorial sample: out/neurons.svg.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/gradviz run samples/neurons.py -o out/neurons.svg
echo "open out/neurons.svg in a browser; more samples: ls samples/"
