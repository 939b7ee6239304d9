#!/usr/bin/env bash
# Checks the monitoring files the Helm chart ships (chart/files/) with
# Prometheus's own promtool:
#   1. the alert rules parse (PromQL and annotation templates);
#   2. their unit tests pass: every alert fires on bad series and stays quiet
#      on healthy ones (chart/files/prometheus/cortex-alerts.test.yaml);
#   3. every Grafana panel query is valid PromQL: each target's expr becomes
#      a recording rule (Grafana variables replaced by concrete values) in a
#      temporary rule file that promtool checks.
# daemon/tests/observability_files.rs runs this script under `cargo nextest`
# and also checks the dashboard's structure and the metric names used.
set -euo pipefail
cd "$(dirname "$0")/.."

RULES=chart/files/prometheus/cortex-alerts.yaml
RULE_TESTS=chart/files/prometheus/cortex-alerts.test.yaml
DASHBOARD=chart/files/grafana/cortex-orchestration.json

for tool in promtool python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "check-observability: $tool not found (promtool: apt-get install prometheus; scripts/test.sh installs it)" >&2
    exit 127
  fi
done

echo "== promtool check rules $RULES"
promtool check rules "$RULES"

echo "== promtool test rules $RULE_TESTS"
promtool test rules "$RULE_TESTS"

echo "== dashboard queries: promtool check rules (one recording rule per panel target)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Python only to read JSON (it is on every machine the project uses); the
# output is YAML whose strings are JSON-quoted, which YAML reads as is.
python3 - "$DASHBOARD" >"$tmp/dashboard-queries.yaml" <<'PY'
import json, re, sys

# Concrete stand-ins for Grafana's variables, so promtool sees plain PromQL.
VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "master": ".*",
}

def substitute(expr, where):
    def value(match):
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            sys.exit(f"{where}: unknown Grafana variable ${name}; add a stand-in to VARIABLES in scripts/check-observability.sh")
        return VARIABLES[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)

dashboard = json.load(open(sys.argv[1]))
panels = []
for panel in dashboard["panels"]:
    panels.append(panel)
    panels.extend(panel.get("panels", []))  # panels inside a collapsed row

print("groups:")
count = 0
for panel in panels:
    targets = [t for t in panel.get("targets", []) if t.get("expr")]
    if not targets:
        continue
    print(f"  - name: {json.dumps('panel %s: %s' % (panel['id'], panel.get('title', '')))}")
    print("    rules:")
    for target in targets:
        where = f"panel {panel['id']} ({panel.get('title')}) target {target.get('refId')}"
        print(f"      - record: cortex_dashboard:panel_{panel['id']}_{target.get('refId', 'A')}")
        print(f"        expr: {json.dumps(substitute(target['expr'], where))}")
        count += 1
if count == 0:
    sys.exit("no panel target has an expr: is this the right dashboard?")
print(f"{count} panel queries", file=sys.stderr)
PY
promtool check rules "$tmp/dashboard-queries.yaml"

echo "observability files OK"
