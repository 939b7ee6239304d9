#!/usr/bin/env bash
# The whole test suite: formatting, clippy, then every test with nextest.
# Installs what it needs (rustfmt, clippy, cargo-nextest, promtool, redis-server) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with rustup first (rust-toolchain.toml pins the version)" >&2
  exit 1
fi
# rust-toolchain.toml names the components; this makes rustup fetch them if absent.
rustup show active-toolchain >/dev/null

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# Installs Debian package $2 when program $1 is missing (sudo unless root).
need() {
  command -v "$1" >/dev/null && return
  echo "== installing $1 (Debian package $2)"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if ! { $sudo apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$2"; } ||
    ! command -v "$1" >/dev/null; then
    echo "$1 is missing and could not be installed: apt-get install $2, then rerun" >&2
    exit 1
  fi
}
# promtool checks the Prometheus rules and Grafana queries in deploy/
# (daemon/tests/observability_files.rs fails under CI without it).
need promtool prometheus
# The Redis fan-out tests start their own server (daemon/tests/redis_bridge.rs).
need redis-server redis-server

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo nextest run --workspace --locked --profile ci
