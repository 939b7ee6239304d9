#!/usr/bin/env bash
# The README's test command as a new user meets it: a fresh clone of this
# checkout's HEAD, an empty cargo home (no downloaded crates, no cargo-deny),
# an empty target directory and an empty tool cache (no chart venv), then
# `make test`, timed. Proves that `make test` needs no manual step and no
# leftovers of earlier work on this machine (issue 19).
#
#   scripts/test-fresh.sh            # clone HEAD into a temporary directory
#   KEEP=1 scripts/test-fresh.sh     # leave the temporary directory behind
#
# What stays shared with this machine: the Rust toolchain (rustup's, pinned
# by rust-toolchain.toml), programs on the PATH (cargo-nextest when it is
# installed system-wide) and Debian packages that are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

fresh=$(mktemp -d "${TMPDIR:-/tmp}/cortex-fresh.XXXXXX")
cleanup() {
  if [ -z "${KEEP:-}" ]; then rm -rf "$fresh"; else echo "kept $fresh"; fi
}
trap cleanup EXIT

git clone --quiet --no-local . "$fresh/cortex"
mkdir -p "$fresh/cargo-home" "$fresh/target" "$fresh/cache"
echo "== fresh clone of $(git rev-parse --short HEAD) in $fresh/cortex"
echo "== empty CARGO_HOME, CARGO_TARGET_DIR and CORTEX_CACHE_DIR under $fresh"

start=$(date +%s)
status=0
(
  cd "$fresh/cortex"
  # rustup's proxies on the PATH keep finding the toolchain through
  # RUSTUP_HOME; everything cargo downloads or installs goes to the new home.
  export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  export CARGO_HOME="$fresh/cargo-home"
  export PATH="$CARGO_HOME/bin:$PATH"
  export CARGO_TARGET_DIR="$fresh/target"
  export CORTEX_CACHE_DIR="$fresh/cache"
  export CARGO_TERM_COLOR=never
  make test
) || status=$?
end=$(date +%s)

secs=$((end - start))
printf '== cold make test: %s (%dm%02ds), %d cores\n' \
  "$([ "$status" -eq 0 ] && echo passed || echo "FAILED (exit $status)")" \
  $((secs / 60)) $((secs % 60)) "$(nproc)"
exit "$status"
