#!/usr/bin/env python3
"""Checks the Helm chart in chart/ (run through scripts/check-chart.sh, which
provides the tools in a venv).

For each values file chart/ci/NAME-values.yaml (defaults, monitoring,
external-redis, network-policy, node-selector, options, k8s-job):

  1. schema   the values pass values.schema.json (Helm SDK);
  2. lint     `helm lint` (Helm v4 Go SDK, via helm-python-sdk) reports no
              error and no warning;
  3. render   the chart renders offline (release `cortex`, namespace `cortex`);
  4. k8s      every object passes `kubernetes-validate --strict` for the
              oldest Kubernetes the chart supports (Chart.yaml kubeVersion)
              and the newest the tool knows; ServiceMonitor/PrometheusRule,
              which it has no schema for, pass the strict schemas of
              chartcheck/crd_schemas.py instead;
  5. expect   the objects hold what chartcheck/expectations.py requires
              (voters roll one at a time, hardened containers, RBAC equal to
              the inventory's kinds, the config checksum, the monitoring
              files embedded as they are, ...);
  6. flags    every flag and CORTEX_* variable the chart passes is one
              `cortex daemon --help` lists;
  7. audit    `cortex audit --fail-on high` on the rendered manifests passes,
              and every accepted finding is one of the waivers the design
              needs (ACCEPTED below), nothing else.

Then:
  * every chart/ci/bad/*.yaml is refused, with the message its `# error:`
    line names (schema or template failure);
  * the packaged chart (.tgz) carries the monitoring files and renders them
    as the directory does, without the CI values and rule tests;
  * rbac.readSecrets=true makes the audit fail with RBAC-SECRETS-READ;
  * executors.k8sJob without a namespace puts the Jobs (and their Role) in
    the release's namespace, and rbac.create=false leaves the Role out;
  * chart/README.md's values table lists every value;
  * smoke: the rendered voters and an agent run as local processes (see
    chartcheck/smoke.py) and form a cluster.

Usage: check_chart.py --cortex PATH/TO/cortex [--no-smoke]
Exit status 0 when everything passes, 1 otherwise.
"""

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml

from chartcheck import crd_schemas, expectations, smoke
from chartcheck.expectations import Failure, Rendering

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "chart"
RELEASE = "cortex"
NAMESPACE = "cortex"

# Findings the chart accepts on purpose (each with a waiver annotation on
# the voter DaemonSet): (rule, container or None for the pod).
ACCEPTED = {
    ("PSS-HOST-PATH", None),
    ("PSS-HOST-PORTS", "cortex"),
    ("PSS-RUN-AS-ROOT-USER", "prepare-data-dir"),
    ("PSS-RUN-AS-NON-ROOT", "prepare-data-dir"),
    ("PSS-CAPABILITIES-RESTRICTED", "prepare-data-dir"),
}


def kube_versions():
    """The chart's oldest supported Kubernetes and the newest known to
    kubernetes-validate."""
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    oldest = re.match(r">=\s*(\d+\.\d+\.\d+)", constraint).group(1)
    return [oldest, kubernetes_validate.latest_version()]


def load_values(path):
    return yaml.safe_load(path.read_text()) or {}


def render(chart, values):
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def lint(values, kube_version):
    report = helm.lint(str(CHART), values, namespace=NAMESPACE, kube_version=f"v{kube_version}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    if problems or report["errors"]:
        raise Failure(f"helm lint: {problems or report['errors']}")
    return [m["error"] for m in report["messages"]]


def write_manifests(outputs, directory: Path):
    directory.mkdir(parents=True)
    for path, text in outputs.items():
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        (directory / Path(path).name).write_text(text)


def validate_kubernetes(rendering: Rendering, directory: Path, versions):
    tool = Path(sys.executable).parent / "kubernetes-validate"
    files = sorted(str(p) for p in directory.iterdir())
    crds = [o for o in rendering.objects if (o["apiVersion"], o["kind"]) in crd_schemas.BY_KIND]
    for version in versions:
        result = subprocess.run([str(tool), "--strict", "-k", version, *files], capture_output=True, text=True)
        lines = (result.stdout + result.stderr).strip().splitlines()
        passed = [line for line in lines if line.startswith("INFO") and " passed " in line]
        unknown = [line for line in lines if "Couldn't find schema for kind" in line]
        other = [line for line in lines if line not in passed and line not in unknown]
        if result.returncode != 0 or other:
            raise Failure(f"kubernetes-validate --strict -k {version}:\n" + "\n".join(other or lines))
        if len(unknown) != len(crds) or len(passed) + len(crds) != len(rendering.objects):
            raise Failure(f"kubernetes-validate {version}: {len(passed)} passed, unknown kinds {unknown}")
    for obj in crds:
        try:
            jsonschema.validate(obj, crd_schemas.BY_KIND[(obj["apiVersion"], obj["kind"])])
        except jsonschema.ValidationError as e:
            raise Failure(f"{obj['kind']}/{obj['metadata']['name']}: {e.message} at {list(e.absolute_path)}")
    return len(rendering.objects) - len(crds), len(crds)


def audit(cortex, directory: Path):
    """The findings of `cortex audit --json`, and its exit status."""
    result = subprocess.run([cortex, "audit", "--fail-on", "high", "--json", str(directory)], capture_output=True, text=True)
    try:
        findings = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise Failure(f"cortex audit printed no JSON (status {result.returncode}): {result.stdout}{result.stderr}")
    return findings, result.returncode


def check_audit(cortex, directory: Path):
    findings, status = audit(cortex, directory)
    failing = [f for f in findings if not f["accepted"] and f["severity"] in ("critical", "high")]
    if status != 0 or failing:
        raise Failure(f"cortex audit --fail-on high: status {status}, {json.dumps(failing, indent=1)}")
    for f in findings:
        if f["accepted"]:
            key = (f["rule"], f["container"])
            if key not in ACCEPTED or f["kind"] != "DaemonSet" or not f["name"].endswith("-voter"):
                raise Failure(f"accepted finding outside the chart's waivers: {f['rule']} on {f['kind']}/{f['name']} ({f['container']})")
    accepted = sum(1 for f in findings if f["accepted"])
    others = {}
    for f in findings:
        if not f["accepted"]:
            key = f"{f['severity']} {f['rule']}"
            others[key] = others.get(key, 0) + 1
    return accepted, ", ".join(f"{n} {key}" for key, n in sorted(others.items())) or "none"


def combination(chart, cortex, daemon_help, values_file, versions, work: Path):
    name = values_file.name.removesuffix("-values.yaml")
    values = load_values(values_file)
    chart.validate_schema(values)
    notes = lint(values, versions[-1])
    outputs = render(chart, values)
    rendering = Rendering(name, values, chart.merge_values(values), outputs, REPO, NAMESPACE)
    directory = work / name
    write_manifests(outputs, directory)
    k8s, crds = validate_kubernetes(rendering, directory, versions)
    expectations.common(rendering)
    expectations.BY_COMBINATION[name](rendering)
    expectations.daemon_flags_and_env_exist(rendering, daemon_help)
    accepted, unaccepted = check_audit(cortex, directory)
    kinds = sorted({o["kind"] for o in rendering.objects})
    return (
        f"lint clean ({len(notes)} info); {len(rendering.objects)} objects ({', '.join(kinds)}); "
        f"kubernetes-validate --strict {' & '.join(versions)}: {k8s} passed"
        + (f", {crds} operator objects by their schemas" if crds else "")
        + f"; expectations met; audit: {accepted} accepted, others: {unaccepted}"
    )


def bad_values(chart, path: Path):
    text = path.read_text()
    wanted = re.search(r"^# error: (.+)$", text, re.M)
    if not wanted:
        raise Failure(f"{path.name} has no `# error:` line")
    values = load_values(path)
    try:
        chart.validate_schema(values)
        render(chart, values)
    except (helm.HelmValuesError, helm.HelmRenderError) as e:
        if wanted.group(1) not in str(e):
            raise Failure(f"{path.name} was refused, but not with {wanted.group(1)!r}: {e}")
        kind = "schema" if isinstance(e, helm.HelmValuesError) else "template"
        return f"refused by the {kind}: {wanted.group(1)}"
    raise Failure(f"{path.name} was accepted")


def packaged(work: Path):
    """The packaged chart holds the monitoring files (and not the CI values
    or the rule tests), and renders the same as the directory."""
    archive = helm.package(str(CHART), destination=str(work))
    with tarfile.open(archive) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames()}
    for needed in ("files/grafana/cortex-orchestration.json", "files/prometheus/cortex-alerts.yaml", "values.schema.json", "README.md"):
        if needed not in names:
            raise Failure(f"{Path(archive).name} lacks {needed}")
    leaked = sorted(n for n in names if n.startswith("ci/") or n.endswith(".test.yaml"))
    if leaked:
        raise Failure(f"{Path(archive).name} carries {leaked}")
    values = load_values(CHART / "ci/monitoring-values.yaml")
    with helm.Chart.load(archive) as from_archive:
        outputs = render(from_archive, values)
    expected = render(helm.Chart.load(str(CHART)), values)
    for path in ("cortex/templates/prometheusrule.yaml", "cortex/templates/dashboard.yaml"):
        if outputs[path] != expected[path]:
            raise Failure(f"the packaged chart renders {path} differently")
    return f"{Path(archive).name}: {len(names)} files, monitoring files in, CI values and rule tests out"


def secrets_read_is_reported(chart, cortex, work: Path):
    values = load_values(CHART / "ci/defaults-values.yaml")
    values["rbac"] = {"readSecrets": True}
    directory = work / "read-secrets"
    write_manifests(render(chart, values), directory)
    findings, status = audit(cortex, directory)
    rules = {f["rule"] for f in findings if not f["accepted"]}
    if status != 1 or rules != {"RBAC-SECRETS-READ", "NETPOL-MISSING"}:
        raise Failure(f"rbac.readSecrets=true: audit status {status}, unaccepted rules {sorted(rules)}")
    return "the audit fails with RBAC-SECRETS-READ (high), as documented"


def jobs_namespace_defaults(chart):
    """executors.k8sJob.enabled without a namespace: the Jobs and their Role
    go to the release's namespace; without rbac.create, no Role at all."""
    values = load_values(CHART / "ci/k8s-job-values.yaml")
    values["executors"]["k8sJob"]["namespace"] = ""
    rendering = Rendering("k8s-job-default", values, chart.merge_values(values), render(chart, values), REPO, NAMESPACE)
    expectations.k8s_job_rbac(rendering, NAMESPACE)
    config = rendering.one("ConfigMap", "-config")["data"]
    expectations.check(config.get("CORTEX_K8S_JOBS_NAMESPACE") == NAMESPACE, f"default Jobs namespace: {config.get('CORTEX_K8S_JOBS_NAMESPACE')}")
    values["rbac"] = {"create": False}
    rendering = Rendering("k8s-job-no-rbac", values, chart.merge_values(values), render(chart, values), REPO, NAMESPACE)
    rendering.none("Role")
    rendering.none("RoleBinding")
    config = rendering.one("ConfigMap", "-config")["data"]
    expectations.check(config.get("CORTEX_K8S_JOBS_NAMESPACE") == NAMESPACE, "the daemons still get the namespace")
    return f"Jobs and their Role in the release's namespace ({NAMESPACE}) by default; no Role without rbac.create"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cortex", required=True, help="the cortex binary (for `cortex audit` and the smoke test)")
    parser.add_argument("--no-smoke", action="store_true", help="skip running the rendered daemons")
    args = parser.parse_args()

    started = time.monotonic()
    failures = []

    def log(line):
        print(line, flush=True)

    def step(label, action):
        """Runs one check; it returns what to print after `ok`."""
        try:
            summary = action()
        except (Failure, helm.HelmError, subprocess.SubprocessError, OSError) as e:
            failures.append(label)
            log(f"FAIL {label}: {e}")
        else:
            log(f"ok   {label:<36} {summary}")

    chart = helm.Chart.load(str(CHART))
    versions = kube_versions()
    daemon_help = subprocess.run([args.cortex, "daemon", "--help"], capture_output=True, text=True, check=True).stdout
    log(f"chart {chart.name} {chart.version}; Helm SDK {helm.helm_sdk_version()}; kubernetes-validate for {', '.join(versions)}")
    with tempfile.TemporaryDirectory(prefix="cortex-chart-") as tmp:
        work = Path(tmp)
        for values_file in sorted((CHART / "ci").glob("*-values.yaml")):
            step(values_file.name, lambda: combination(chart, args.cortex, daemon_help, values_file, versions, work))
        for path in sorted((CHART / "ci/bad").glob("*.yaml")):
            step(f"bad/{path.name}", lambda: bad_values(chart, path))
        step("package", lambda: packaged(work))
        step("rbac.readSecrets=true", lambda: secrets_read_is_reported(chart, args.cortex, work))
        step("executors.k8sJob defaults", lambda: jobs_namespace_defaults(chart))
        step("chart/README.md", lambda: expectations.readme_lists_every_value(REPO, chart.values))
        if args.no_smoke:
            log("skip smoke (--no-smoke)")
        else:

            def run_smoke():
                values = smoke.values()
                rendering = Rendering("smoke", values, chart.merge_values(values), render(chart, values), REPO, NAMESPACE)
                return smoke.run(rendering, args.cortex, log)

            step("smoke", run_smoke)
    took = time.monotonic() - started
    if failures:
        log(f"chart check FAILED ({len(failures)}: {', '.join(failures)}) in {took:.0f}s")
        return 1
    log(f"chart check OK in {took:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
