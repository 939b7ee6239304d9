#!/usr/bin/env bash
# The whole test suite: formatting, clippy, then every test with nextest.
# Installs what it needs (rustfmt, clippy, cargo-nextest, cargo-deny, promtool, redis-server,
# etcd, protoc, chromium and chromedriver, python3 venv support) when missing.
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
if ! cargo deny --version >/dev/null 2>&1; then
  echo "== installing cargo-deny"
  cargo install cargo-deny --locked
fi

# Whether $1 is here: a program on the PATH, or a file if it is a path.
have() {
  case "$1" in
  /*) [ -e "$1" ] ;;
  *) command -v "$1" >/dev/null ;;
  esac
}
# Installs Debian package $2 when program (or file) $1 is missing (sudo unless root).
need() {
  have "$1" && return
  echo "== installing $1 (Debian package $2)"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if ! { $sudo apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$2"; } ||
    ! have "$1"; then
    echo "$1 is missing and could not be installed: apt-get install $2, then rerun" >&2
    exit 1
  fi
}
# promtool checks the Prometheus rules and Grafana queries in chart/files/
# (daemon/tests/observability_files.rs fails under CI without it).
need promtool prometheus
# The Redis fan-out tests start their own server (daemon/tests/redis_bridge.rs).
need redis-server redis-server
# The benchmark tool's etcd client is generated from .proto files at build
# time, and its smoke test (bench/tests/quick.rs) starts a three-member etcd.
need protoc protobuf-compiler
# etcd's .proto files import google/protobuf/*.proto, which Debian ships apart.
need /usr/include/google/protobuf/descriptor.proto libprotobuf-dev
need etcd etcd-server
# The partition and chaos tests put nodes in network namespaces and cut links
# with iptables (daemon/tests/partition.rs, daemon/tests/chaos.rs; as root).
need ip iproute2
need iptables iptables
# The web dashboard's end-to-end test drives headless Chromium, directly and
# through WebDriver, against `cortex dev --demo` (daemon/tests/ui_e2e.rs
# fails without them).
need chromium chromium
need chromedriver chromium-driver
# The chart check installs its tools (Helm SDK, kubernetes-validate) from PyPI
# into a venv (scripts/check-chart.sh, run by daemon/tests/chart.rs): python3
# must be able to make one (Debian splits that into python3.X-venv).
need python3 python3
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  need_venv="python3-venv python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
  echo "== installing $need_venv"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  # shellcheck disable=SC2086 # two package names
  if ! { $sudo apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends $need_venv; } ||
    ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "python3 cannot make a venv: apt-get install python3-venv, then rerun" >&2
    exit 1
  fi
fi

# Every crate in Cargo.lock, for every target platform, into the local
# registry: `cargo deny --offline` reads them all (a Linux build alone never
# downloads the Android or Windows ones), and nothing later may depend on
# what an earlier build on this machine happened to fetch.
echo "== cargo fetch --locked"
cargo fetch --locked

echo "== cargo fmt --check"
cargo fmt --all -- --check

# Licenses, banned and duplicate crates, sources (deny.toml). The advisory
# database needs the network, which CI here does not have.
echo "== cargo deny (licenses, bans, sources)"
cargo deny --offline --locked check licenses bans sources

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo nextest run --workspace --locked --profile ci
