#!/usr/bin/env bash
# Checks the Helm chart (chart/) with the official Helm SDK: renders and
# lints it for every chart/ci/*-values.yaml, validates every object with
# kubernetes-validate --strict, audits the rendering with `cortex audit`,
# requires chart/ci/bad/*.yaml to be refused, and runs the rendered daemons
# as local processes. What each step proves: scripts/check_chart.py.
#
#   scripts/check-chart.sh [--no-smoke]
#
# The tools (scripts/chart-requirements.txt, from PyPI) go to a venv in
# ${CORTEX_TOOLS_DIR:-${CORTEX_CACHE_DIR:-~/.cache/cortex}/tools}/chart-venv, made once and
# remade when the requirements change. Needs python3 with venv support.
# CORTEX_BIN=PATH uses that cortex binary instead of building one.
#
# Exit status: 0 all passed, 1 a check failed, 75 the tools could not be
# installed (no network, no venv support): daemon/tests/chart.rs skips then,
# unless CI is set.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${CORTEX_TOOLS_DIR:-${CORTEX_CACHE_DIR:-$HOME/.cache/cortex}/tools}/chart-venv"
requirements=scripts/chart-requirements.txt
stamp="$tools/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)

unavailable() {
  echo "check-chart: $1" >&2
  exit 75
}

if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  command -v python3 >/dev/null || unavailable "python3 not found"
  echo "== installing the chart tools into $tools"
  rm -rf "$tools"
  python3 -m venv "$tools" ||
    unavailable "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-input --require-virtualenv -r "$requirements" ||
    unavailable "pip could not install $requirements (no network?)"
  echo "$wanted" >"$stamp"
fi

if [ -z "${CORTEX_BIN:-}" ]; then
  echo "== cargo build -p cortex-daemon"
  cargo build --quiet --locked -p cortex-daemon --bin cortex
  CORTEX_BIN="${CARGO_TARGET_DIR:-target}/debug/cortex"
fi

exec env PYTHONDONTWRITEBYTECODE=1 "$tools/bin/python" scripts/check_chart.py --cortex "$CORTEX_BIN" "$@"
