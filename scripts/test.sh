#!/usr/bin/env bash
# The whole test suite: formatting, clippy, then every test with nextest.
# Installs what it needs (rustfmt, clippy, cargo-nextest) when missing.
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

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo nextest run --workspace --locked --profile ci
