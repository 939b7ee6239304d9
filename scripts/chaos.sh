#!/usr/bin/env bash
# The whole chaos suite (docs/chaos.md): every scenario with SEEDS seeds
# (default 5) against the debug build, report into docs/chaos/.
# SCENARIOS=fast|all|name,... picks scenarios; RANDOM_SECS sets how long the
# random schedule runs. Needs root (network namespaces) and redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "the chaos suite puts nodes in network namespaces: run it as root" >&2
  exit 1
fi
for tool in ip iptables redis-server; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is missing: apt-get install iproute2 iptables redis-server" >&2
    exit 1
  fi
done
target="${CARGO_TARGET_DIR:-target}"
cargo build --locked --bin cortex --bin cortex-chaos
exec "$target/debug/cortex-chaos" \
  --binary "$target/debug/cortex" \
  --scenarios "${SCENARIOS:-all}" \
  --seeds "${SEEDS:-5}" \
  --random-secs "${RANDOM_SECS:-20}" \
  --out "${OUT:-docs/chaos}"
