#!/usr/bin/env bash
# Smoke test of a cortex image (default cortex:local, from
# scripts/build-image.sh): three voters in containers on a private network,
# each hardened as in production (read-only root, no capabilities, no new
# privileges, user 65532, data on a named volume, mTLS between daemons with
# certificates from the image's own `cortex cert`) and one agent. Checks
# /healthz and /readyz, a write through one voter read back through another,
# the CLI in a container, a small run (a builtin worker on a voter, a
# `process` worker pinned to the agent), then kills the leader: the other two
# elect a new one and keep taking writes, and the old leader restarts on its
# volume and rejoins. Removes everything it created.
#
#   scripts/smoke-image.sh [IMAGE]
#
# Needs docker, curl and jq; pulls nothing. Not part of `make test` (the
# image needs a release build); run it after changing the image.
set -euo pipefail
cd "$(dirname "$0")/.."

image="${1:-cortex:local}"
for tool in docker curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done
docker image inspect "$image" >/dev/null 2>&1 ||
  { echo "no image $image: build it with scripts/build-image.sh" >&2; exit 1; }

prefix="cortex-smoke-$$"
net="$prefix"
# The daemon wants at least 16 characters.
token="smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d " \n")"
plan=$(mktemp)
tls=$(mktemp -d)
started=$(date +%s)

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    for i in 1 2 3 agent; do
      echo "---- logs of $prefix-$i (last 30 lines)" >&2
      docker logs --tail 30 "$prefix-$i" 2>&1 | sed 's/^/    /' >&2 || true
    done
  fi
  for i in 1 2 3 agent; do docker rm -f "$prefix-$i" >/dev/null 2>&1 || true; done
  for i in 1 2 3; do docker volume rm "$prefix-$i" >/dev/null 2>&1 || true; done
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -f "$plan"
  rm -rf "$tls"
  exit "$status"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local limit=$1
  shift
  local deadline=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# Host port published for voter $1's API.
declare -A port
api() { echo "http://127.0.0.1:${port[$1]}"; }
# curl with the admin token.
call() { curl -fsS --max-time 10 -H "Authorization: Bearer $token" "$@"; }
ready() { curl -fsS --max-time 2 "$(api "$1")/readyz"; }
# The leader's id as voter $1 sees it.
leader_seen_by() { curl -fsS --max-time 2 "$(api "$1")/readyz" | jq -er '.leader'; }
peers="1=$prefix-1:7710,2=$prefix-2:7710,3=$prefix-3:7710"
# Mounts the cluster's certificates as the chart does (a read-only Secret).
tls_mount=(-v "$tls/member:/etc/cortex/tls:ro" -e CORTEX_TLS_DIR=/etc/cortex/tls)
start_voter() {
  local i=$1
  docker run -d --name "$prefix-$i" --hostname "$prefix-$i" --network "$net" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
    -v "$prefix-$i:/var/lib/cortex" \
    -e CORTEX_ADMIN_TOKEN="$token" "${tls_mount[@]}" \
    -p 127.0.0.1::7700 \
    "$image" daemon --node-id "$i" --listen 0.0.0.0:7710 --api-addr 0.0.0.0:7700 \
    --peers "$peers" --data-dir /var/lib/cortex >/dev/null
  port[$i]=$(docker port "$prefix-$i" 7700/tcp | head -n1 | sed 's/.*://')
}

step "image $image"
docker run --rm "$image" --version

step "cluster CA and certificate (cortex cert, in the image)"
cert() { docker run --rm --user "$(id -u):$(id -g)" -v "$tls:/out" "$image" cert "$@"; }
cert ca --out /out/ca >/dev/null
cert node --ca /out/ca --out /out/member >/dev/null
# The daemon runs as 65532 and the files are ours; a Secret volume would give
# it read access the same way.
chmod a+r "$tls/member/tls.key"
echo "certificates in $tls/member"

step "private network $net, three voters"
docker network create "$net" >/dev/null
for i in 1 2 3; do
  docker volume create "$prefix-$i" >/dev/null
  start_voter "$i"
done
for i in 1 2 3; do
  wait_for 30 curl -fsS --max-time 2 "$(api "$i")/healthz" || fail "voter $i: /healthz did not answer"
  [ "$(curl -fsS "$(api "$i")/healthz")" = ok ] || fail "voter $i: /healthz is not ok"
done
echo "/healthz: ok on all three"
for i in 1 2 3; do
  wait_for 30 ready "$i" || fail "voter $i: /readyz not 200 within 30 s: $(curl -sS "$(api "$i")/readyz")"
done
leader=$(leader_seen_by 1)
echo "/readyz: 200 on all three, leader $leader ($(($(date +%s) - started)) s after start)"

step "an agent"
docker run -d --name "$prefix-agent" --hostname "$prefix-agent" --network "$net" \
  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  "${tls_mount[@]}" -p 127.0.0.1::7700 \
  "$image" daemon --role agent --voters "$peers" --api-addr 0.0.0.0:7700 >/dev/null
port[agent]=$(docker port "$prefix-agent" 7700/tcp | head -n1 | sed 's/.*://')
wait_for 30 curl -fsS --max-time 2 "$(api agent)/healthz" || fail "agent: /healthz did not answer"
agent_alive() {
  call "$(api 1)/v1/cluster" |
    jq -e --arg name "$prefix-agent" '.executors[] | select(.name == $name and .status == "alive")'
}
wait_for 30 agent_alive || fail "the agent did not register with the voters"
echo "agent $prefix-agent: /healthz ok, registered and alive"

step "write through one voter, read through another"
follower=$((leader % 3 + 1))
other=$((follower % 3 + 1))
call -X PUT --data-binary 'from-the-image' "$(api "$follower")/v1/kv/smoke" >/dev/null ||
  fail "PUT through voter $follower"
got=$(call "$(api "$other")/v1/kv/smoke" | jq -r '.value')
[ "$got" = from-the-image ] || fail "read back through voter $other: $got"
echo "PUT via voter $follower, GET via voter $other: $got"

step "the CLI in a container: cortex cluster status"
docker run --rm --network "$net" --read-only --cap-drop ALL \
  -e CORTEX_ADMIN_TOKEN="$token" -e CORTEX_API="http://$prefix-$other:7700" \
  "$image" cluster status

step "a run: a builtin worker, then a process worker pinned to the agent"
# The image has no shell: the process worker runs a program the image has.
cat >"$plan" <<'EOF'
apiVersion: cortex.dev/v1
kind: Run
metadata:
  name: image-smoke
spec:
  budget: { total: 20000 }
  masters:
    coordinator: { personal: 10000, workers: 10000 }
  tasks:
    - id: nap
      master: coordinator
      worker: documentation
      budget: 1000
      retries: 0
      executor:
        builtin: { name: sleep, duration: 1s, tokens: 100 }
    - id: version
      master: coordinator
      worker: documentation
      budget: 1000
      retries: 0
      dependsOn: [nap]
      node: AGENT
      executor:
        process: { command: ["/usr/local/bin/cortex", "--version"] }
EOF
sed -i "s/AGENT/$prefix-agent/" "$plan"
run=$(call -X POST --data-binary @"$plan" -H 'Content-Type: application/yaml' "$(api "$follower")/v1/runs" | jq -er '.id') ||
  fail "submitting the plan"
run_status() { call "$(api "$other")/v1/runs/$run" | jq -r '.status'; }
run_ended() { case "$(run_status)" in completed | failed | cancelled) return 0 ;; *) return 1 ;; esac; }
wait_for 60 run_ended || fail "run $run did not end within 60 s (status $(run_status))"
[ "$(run_status)" = completed ] || fail "run $run ended $(run_status)"
ran_on=$(call "$(api "$other")/v1/runs/$run" | jq -r '.tasks[] | select(.id == "version") | .attempts[-1].node')
[ "$ran_on" = "$prefix-agent" ] || fail "the process worker ran on $ran_on, not on the agent"
logged=$(call "$(api "$other")/v1/runs/$run/tasks/version/logs?format=text" || true)
echo "run $run completed; the process worker on the agent printed: $(grep -o 'cortex [0-9][^ ]*' <<<"$logged" | head -n1)"

step "SIGKILL the leader (voter $leader)"
docker kill "$prefix-$leader" >/dev/null
new_leader() {
  local seen
  seen=$(leader_seen_by "$follower") && [ "$seen" != "$leader" ]
}
killed_at=$(date +%s)
wait_for 30 new_leader || fail "no new leader within 30 s"
echo "new leader $(leader_seen_by "$follower") after $(($(date +%s) - killed_at)) s"
call -X PUT --data-binary 'after-the-kill' "$(api "$other")/v1/kv/smoke" >/dev/null ||
  fail "PUT after the kill"
echo "write accepted by the remaining two"

step "restart voter $leader on its volume"
docker start "$prefix-$leader" >/dev/null
port[$leader]=$(docker port "$prefix-$leader" 7700/tcp | head -n1 | sed 's/.*://')
wait_for 30 ready "$leader" || fail "voter $leader not ready after restart: $(curl -sS "$(api "$leader")/readyz")"
got=$(call "$(api "$leader")/v1/kv/smoke" | jq -r '.value')
[ "$got" = after-the-kill ] || fail "voter $leader reads $got after restart"
echo "voter $leader rejoined; reads the write made while it was down"

echo "PASS: smoke test of $image in $(($(date +%s) - started)) s"
