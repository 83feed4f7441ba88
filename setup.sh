#!/usr/bin/env bash
# One set-up for users and CI: a venv in .venv with torch pinned to the CPU build first.
# Usage: ./setup.sh            install (a no-op when nothing changed)
#        ./setup.sh test [ARGS] install, then lint and run the test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.iterdeploy-setup
want=$(cat pyproject.toml setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # torch first and pinned: a plain `torch` pulls a multi-GB CUDA build.
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi

case "${1:-}" in
  test)
    shift
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    exec .venv/bin/python -m pytest "$@"
    ;;
  "") ;;
  *) echo "usage: ./setup.sh [test [PYTEST_ARGS...]]" >&2; exit 2 ;;
esac
