#!/usr/bin/env bash
# Set everything up (see scripts/setup.sh), then run lint, type checks and the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
GRADVIZ_SETUP_TESTS=1 bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest -p no:cacheprovider -n auto "$@"  # pytest-xdist: one worker per core
