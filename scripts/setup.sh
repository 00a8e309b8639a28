#!/usr/bin/env bash
# Set up a development environment in .venv: Python venv, CPU torch, gradviz (editable, with dev
# tools), and the Graphviz `dot` program when it is missing. Safe to run again: it skips what is done.
# Usage: bash scripts/setup.sh        (sourced by scripts/demo.sh and scripts/test.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TORCH_SPEC="${GRADVIZ_TORCH:-torch==2.13.0}"   # pinned here only; the package asks for torch>=2.1
PYTHON="${PYTHON:-python3}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  as_root apt-get install -y -qq "$@" >/dev/null
}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "gradviz needs Python 3.10 or newer; found: $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi

if ! command -v dot >/dev/null 2>&1; then
  echo "==> installing Graphviz (the dot program)"
  apt_install graphviz
fi

# The explorer's tests drive Chromium (Playwright's own browser download cannot be used here).
if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Chromium (for the explorer's browser tests)"
  apt_install chromium
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv
    "$PYTHON" -m venv .venv
  fi
fi

stamp=.venv/.gradviz-setup
want="$TORCH_SPEC $(sha1sum pyproject.toml | cut -c1-12)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing $TORCH_SPEC and gradviz into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check "$TORCH_SPEC"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
  echo "$want" > "$stamp"
fi

# Mermaid's browser bundle for the Mermaid tests (pinned and hashed; kept in ~/.cache/gradviz).
if ! .venv/bin/python scripts/fetch_mermaid.py >/dev/null; then
  echo "==> Mermaid browser tests will be skipped" >&2
fi
