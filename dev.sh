#!/usr/bin/env bash
# One entry point for people and CI:
#   ./dev.sh demo   set up (venv, package, Graphviz) and inspect the bundled fixture model
#   ./dev.sh test   set up and run the whole test suite (extra arguments go to pytest)
#   ./dev.sh setup  only set up
# Idempotent: the second run reinstalls nothing unless pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=${GS_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
FIXTURE=fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta

say() { printf '%s\n' "$*" >&2; }

need_python() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "error: $PYTHON not found; install Python 3.10 or newer (Debian: apt-get install python3 python3-venv)"
    exit 1
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    say "error: $("$PYTHON" --version) is too old; graphsurgeon needs Python 3.10 or newer"
    exit 1
  fi
}

setup_venv() {
  need_python
  local stamp="$VENV/.graphsurgeon-installed"
  local want
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/graphsurgeon" ]; then
    return 0
  fi
  say "setting up $VENV (first run takes a minute: TensorFlow is large)"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || {
      say "error: could not create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv"
      exit 1
    }
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test,tensorflow,dask]"
  echo "$want" > "$stamp"
}

# Graphviz's dot: installed through the system package manager when we may,
# otherwise a clear message and the commands that need it say so themselves.
setup_graphviz() {
  command -v dot >/dev/null 2>&1 && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
  fi
  if [ "$sudo" != none ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Graphviz (apt-get install graphviz)"
    $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq graphviz >/dev/null
  elif [ "$sudo" != none ] && command -v dnf >/dev/null 2>&1; then
    $sudo dnf install -y -q graphviz
  else
    say "note: Graphviz's 'dot' is missing and cannot be installed from here."
    say "      Install it (Debian/Ubuntu: sudo apt-get install graphviz; Fedora: sudo dnf install graphviz;"
    say "      macOS: brew install graphviz) to render SVG; everything else works without it."
  fi
}

# Headless Chromium, only for the tests that open rendered SVGs and the explore
# site in a real browser: system packages when we may, otherwise those tests skip
# and say why (under CI they fail).
setup_chromium() {
  local have=""
  for exe in chromium chromium-browser google-chrome; do
    command -v "$exe" >/dev/null 2>&1 && have=$exe && break
  done
  [ -n "$have" ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
  fi
  if [ "$sudo" != none ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium for the browser tests (apt-get install chromium fonts-dejavu-core)"
    $sudo apt-get update -qq >/dev/null && \
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core >/dev/null || \
      say "note: could not install Chromium; the browser tests (rendered SVGs, explore) will skip"
  else
    say "note: Chromium is missing and cannot be installed from here; the tests that open rendered SVGs"
    say "      and the explore site in a browser will skip (Debian/Ubuntu: sudo apt-get install chromium)."
  fi
}

cmd=${1:-demo}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup)
    setup_venv; setup_graphviz ;;
  demo)
    setup_venv; setup_graphviz
    mkdir -p build
    "$VENV/bin/graphsurgeon" info "$FIXTURE"
    "$VENV/bin/graphsurgeon" ls "$FIXTURE" --tree --depth 1
    "$VENV/bin/graphsurgeon" render "$FIXTURE" -o build/fixture.svg ;;
  test)
    setup_venv; setup_graphviz; setup_chromium
    "$VENV/bin/python" -m pytest "$@" ;;
  *)
    say "usage: ./dev.sh [setup|demo|test [pytest args...]]"; exit 2 ;;
esac
