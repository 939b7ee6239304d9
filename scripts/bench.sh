#!/usr/bin/env bash
# The benchmark (bench/, docs in bench/src/main.rs): Cortex against a
# three-member etcd cluster and a Redis server, all started by cortex-bench
# itself on loopback. Writes bench/results.json and bench/results.md.
# Arguments go to cortex-bench (`scripts/bench.sh --quick`, `--only write`).
# Installs etcd-server, redis-server and protobuf-compiler (etcd-client's
# build needs protoc) with apt when missing and run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# Whether $1 is here: a program on the PATH, or a file if it is a path.
have() {
  case "$1" in
  /*) [ -e "$1" ] ;;
  *) command -v "$1" >/dev/null ;;
  esac
}
# Installs Debian package $2 when program (or file) $1 is missing (as root only).
need() {
  have "$1" && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "$1 is missing: apt-get install $2 (or run this script as root)" >&2
    exit 1
  fi
  echo "== installing $1 (Debian package $2)"
  if ! { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2"; } ||
    ! have "$1"; then
    echo "$1 is missing and could not be installed: apt-get install $2, then rerun" >&2
    exit 1
  fi
}
need etcd etcd-server
need redis-server redis-server
need protoc protobuf-compiler
# etcd's .proto files import google/protobuf/*.proto, which Debian ships apart.
need /usr/include/google/protobuf/descriptor.proto libprotobuf-dev

target="${CARGO_TARGET_DIR:-target}"
# Release builds: the figures are for the optimised daemon.
cargo build --release --locked -p cortex-daemon -p cortex-bench
exec "$target/release/cortex-bench" --cortex-bin "$target/release/cortex" "$@"
