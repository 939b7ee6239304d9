"""What a rendering of the chart must hold, beyond schema validity.

`common` runs on every combination; `BY_COMBINATION` adds the checks of one
values file (chart/ci/NAME-values.yaml). Each check raises Failure with what
is wrong; the driver collects them.
"""

import base64
import hashlib
import json
import re
from pathlib import Path

import yaml


class Failure(Exception):
    """One expectation the rendering does not meet."""


def check(condition, message):
    if not condition:
        raise Failure(message)


class Rendering:
    """One rendered combination: its values, template outputs and objects."""

    def __init__(self, name, values, merged, outputs, repo, namespace):
        self.name = name
        self.namespace = namespace
        self.values = values
        self.merged = merged
        self.outputs = outputs
        self.repo = repo
        self.objects = [
            doc
            for path, text in outputs.items()
            if not path.endswith("NOTES.txt")
            for doc in yaml.safe_load_all(text)
            if doc
        ]

    def all(self, kind):
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind, suffix=""):
        found = [o for o in self.all(kind) if o["metadata"]["name"].endswith(suffix)]
        check(len(found) == 1, f"expected one {kind} named *{suffix}, found {len(found)}")
        return found[0]

    def named(self, kind, name):
        found = [o for o in self.all(kind) if o["metadata"]["name"] == name]
        check(len(found) == 1, f"expected one {kind} named {name}, found {len(found)}")
        return found[0]

    def none(self, kind, suffix=""):
        found = [o["metadata"]["name"] for o in self.all(kind) if o["metadata"]["name"].endswith(suffix)]
        check(not found, f"expected no {kind} named *{suffix}, found {found}")

    def output(self, template):
        return next(text for path, text in self.outputs.items() if path.endswith("/templates/" + template))


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def containers(workload):
    spec = pod_spec(workload)
    return [(c, True) for c in spec.get("initContainers", [])] + [(c, False) for c in spec["containers"]]


def container(workload, name):
    return next(c for c, _ in containers(workload) if c["name"] == name)


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def voter_names(values):
    return [n.split("=", 1)[0] for n in values["voters"]["nodes"]]


def inventory_resources(repo):
    """(group, plural) of every kind k8s-inventory lists, read from the Rust
    source, so the ClusterRole cannot fall behind the inventory."""
    source = (repo / "agent/src/builtin/kube/list.rs").read_text()
    found = re.findall(r'kind\(\s*"\w+",\s*"([\w.]*)",\s*"\w+",\s*"(\w+)",', source)
    check(len(found) >= 20, f"read only {len(found)} kinds from agent/src/builtin/kube/list.rs")
    return set(found)


# --- every combination -----------------------------------------------------


def common(r: Rendering):
    values = r.merged
    names = voter_names(values)
    ports = values["ports"]

    voter = r.one("DaemonSet", "-voter")
    strategy = voter["spec"]["updateStrategy"]
    check(
        strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        f"voters must roll one at a time without surge, got {strategy}",
    )
    terms = pod_spec(voter)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    check(
        terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": names}]}],
        f"voter node affinity must be metadata.name In {names}, got {terms}",
    )
    volumes = {v["name"]: v for v in pod_spec(voter)["volumes"]}
    check(
        volumes["data"].get("hostPath") == {"path": values["voters"]["dataDir"], "type": "DirectoryOrCreate"},
        f"voter data must be hostPath {values['voters']['dataDir']} DirectoryOrCreate, got {volumes['data']}",
    )
    daemon = container(voter, "cortex")
    raft = [p for p in daemon["ports"] if p["name"] == "raft"]
    check(
        raft == [{"name": "raft", "containerPort": ports["raft"], "hostPort": ports["raft"], "protocol": "TCP"}],
        f"voter raft port must be hostPort {ports['raft']}, got {raft}",
    )
    check(daemon["readinessProbe"]["httpGet"]["path"] == "/readyz", "voter readiness must be /readyz")
    check(daemon["livenessProbe"]["httpGet"]["path"] == "/healthz", "voter liveness must be /healthz")
    tolerated = {t.get("key") for t in pod_spec(voter).get("tolerations", [])}
    check(
        {"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"} <= tolerated,
        f"voters must tolerate the control-plane taints, got {tolerated}",
    )
    check(
        env_of(daemon)["CORTEX_NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}},
        "CORTEX_NODE_NAME must come from spec.nodeName",
    )
    init = container(voter, "prepare-data-dir")
    security = values["podSecurityContext"]
    owner = f"{security['runAsUser']}:{security.get('runAsGroup', security['runAsUser'])}"
    check(
        init["args"] == ["prepare-dir", "/var/lib/cortex", "--owner", owner],
        f"init container must hand /var/lib/cortex to {owner}, got {init['args']}",
    )
    caps = init["securityContext"]["capabilities"]
    check(caps == {"drop": ["ALL"], "add": ["CHOWN"]}, f"init container capabilities: {caps}")

    if values["agents"]["enabled"]:
        agent = r.one("DaemonSet", "-agent")
        terms = pod_spec(agent)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        check(
            terms == [{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": names}]}],
            f"agent node affinity must be metadata.name NotIn {names}, got {terms}",
        )
        agent_daemon = container(agent, "cortex")
        check("hostPort" not in json.dumps(agent_daemon["ports"]), "agents must not take host ports")
        check(not any("hostPath" in v for v in pod_spec(agent)["volumes"]), "agents keep nothing on the node")
        check(agent_daemon["readinessProbe"]["httpGet"]["path"] == "/readyz", "agent readiness must be /readyz")

    hardened(r)

    # Services: the API and peers are voters only; metrics reach every daemon.
    api = r.named("Service", voter["metadata"]["name"].removesuffix("-voter"))
    for service in (api, r.one("Service", "-peers")):
        check(
            service["spec"]["selector"].get("app.kubernetes.io/component") == "voter",
            f"Service {service['metadata']['name']} must select voters only",
        )
    check(r.one("Service", "-peers")["spec"].get("publishNotReadyAddresses") is True, "peers Service must publish not-ready voters")
    metrics = r.one("Service", "-metrics")
    check("app.kubernetes.io/component" not in metrics["spec"]["selector"], "metrics Service must select voters and agents")

    # The config, its checksum on both pod templates, and the token.
    config = r.one("ConfigMap", "-config")
    check(
        config["data"]["CORTEX_VOTER_NODES"] == ",".join(values["voters"]["nodes"]),
        f"CORTEX_VOTER_NODES: {config['data']['CORTEX_VOTER_NODES']}",
    )
    check(config["data"]["CORTEX_RAFT_PORT"] == str(ports["raft"]), "CORTEX_RAFT_PORT")
    check(config["data"]["CORTEX_API_ADDR"] == f"0.0.0.0:{ports['api']}", "CORTEX_API_ADDR")
    digest = hashlib.sha256(r.output("configmap.yaml").encode()).hexdigest()
    for workload in r.all("DaemonSet"):
        annotation = workload["spec"]["template"]["metadata"]["annotations"].get("checksum/config")
        check(annotation == digest, f"{workload['metadata']['name']}: checksum/config is not the ConfigMap's sha256")
    if not values["adminToken"]["existingSecret"]:
        token = base64.b64decode(r.one("Secret", "-admin-token")["data"]["admin-token"]).decode()
        check(len(token) >= 16 and token.strip() == token, "the admin token must be 16+ characters")

    rbac(r)
    if not values["executors"]["k8sJob"]["enabled"]:
        r.none("Role", "-jobs")
        r.none("RoleBinding", "-jobs")
        check("CORTEX_K8S_JOBS_NAMESPACE" not in config["data"], "the k8s-job executor is off by default")

    # The dashboard is the file, byte for byte.
    if values["monitoring"]["dashboard"]["enabled"]:
        dashboard = r.one("ConfigMap", "-dashboard")
        shipped = (r.repo / "chart/files/grafana/cortex-orchestration.json").read_text()
        check(dashboard["data"]["cortex-orchestration.json"] == shipped, "dashboard ConfigMap differs from chart/files/grafana/")
        for key, value in values["monitoring"]["dashboard"]["labels"].items():
            check(dashboard["metadata"]["labels"].get(key) == value, f"dashboard label {key}")


def hardened(r: Rendering):
    """Every container but the init container: non-root, read-only root,
    no privilege escalation, ALL capabilities dropped and none added,
    RuntimeDefault seccomp, requests and limits; no host namespaces."""
    for workload in r.all("DaemonSet") + r.all("Deployment"):
        spec = pod_spec(workload)
        where = workload["metadata"]["name"]
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            check(not spec.get(field), f"{where}: {field}")
        pod = spec.get("securityContext", {})
        check(pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp RuntimeDefault")
        for c, is_init in containers(workload):
            at = f"{where}/{c['name']}"
            sc = c.get("securityContext", {})
            effective = lambda key: sc.get(key, pod.get(key))
            check(sc.get("allowPrivilegeEscalation") is False, f"{at}: allowPrivilegeEscalation must be false")
            check(sc.get("readOnlyRootFilesystem") is True, f"{at}: readOnlyRootFilesystem must be true")
            check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{at}: must drop ALL capabilities")
            check(not sc.get("privileged"), f"{at}: privileged")
            limits = c.get("resources", {}).get("limits", {})
            requests = c.get("resources", {}).get("requests", {})
            check({"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests), f"{at}: requests and limits")
            if is_init:
                continue
            check(effective("runAsNonRoot") is True, f"{at}: runAsNonRoot must be true")
            check(effective("runAsUser") != 0, f"{at}: runAsUser 0")
            check(not sc.get("capabilities", {}).get("add"), f"{at}: adds capabilities")


def rbac(r: Rendering):
    """Read-only, exactly the inventory's kinds, secrets only when asked
    (and then list only)."""
    if not r.merged["rbac"]["create"]:
        return
    role = r.one("ClusterRole", "-discovery")
    granted = set()
    for rule in role["rules"]:
        check(set(rule["verbs"]) <= {"get", "list", "watch"}, f"ClusterRole verbs {rule['verbs']} are not read-only")
        check("*" not in json.dumps(rule), "ClusterRole must not use wildcards")
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.add((group, resource))
                if resource == "secrets":
                    check(rule["verbs"] == ["list"], "secrets: list only (the metadata listing)")
    wanted = inventory_resources(r.repo)
    if not r.merged["rbac"]["readSecrets"]:
        wanted.discard(("", "secrets"))
    check(granted == wanted, f"ClusterRole grants {sorted(granted ^ wanted)} differently from the inventory's kinds")


# What the k8s-job executor does in the Jobs' namespace
# (agent/src/executor/k8s_job), as (group, resource) -> verbs; nothing else.
K8S_JOB_GRANTS = {
    ("batch", "jobs"): {"create", "get", "list", "watch", "delete"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "pods/log"): {"get"},
}


def k8s_job_rbac(r: Rendering, namespace):
    """A Role in `namespace` granting exactly K8S_JOB_GRANTS, bound to the
    daemons' service account; no other Role, and no cluster-wide write."""
    role = r.one("Role", "-jobs")
    check(role["metadata"]["namespace"] == namespace, f"Role namespace {role['metadata'].get('namespace')}, want {namespace}")
    granted = {}
    for rule in role["rules"]:
        check("*" not in json.dumps(rule), "the jobs Role must not use wildcards")
        check(not rule.get("resourceNames"), "the Job names are not known in advance")
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    check(granted == K8S_JOB_GRANTS, f"the jobs Role grants {granted}, want {K8S_JOB_GRANTS}")
    check(len(r.all("Role")) == 1, "one Role only")
    binding = r.one("RoleBinding", "-jobs")
    check(binding["metadata"]["namespace"] == namespace, "RoleBinding namespace")
    check(binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}, "RoleBinding roleRef")
    account = r.one("ServiceAccount")
    check(
        binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": r.namespace}],
        f"RoleBinding subjects {binding['subjects']}",
    )


# --- one combination each ---------------------------------------------------


def defaults(r: Rendering):
    # "auto" with no monitoring.coreos.com/v1 (an offline render) renders neither.
    r.none("ServiceMonitor")
    r.none("PrometheusRule")
    r.none("NetworkPolicy")
    r.none("Ingress")
    r.one("Deployment", "-redis")
    r.one("Service", "-redis")
    config = r.one("ConfigMap", "-config")["data"]
    check(config.get("CORTEX_REDIS_URL") == "redis://cortex-redis:6379", f"in-chart Redis URL: {config.get('CORTEX_REDIS_URL')}")
    voter = container(r.one("DaemonSet", "-voter"), "cortex")
    check("--no-execute" in voter["args"], "voters do not execute by default")
    check("CORTEX_TOKENS_FILE" not in env_of(voter), "no tokens file unless a Secret is given")
    check(voter["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}, "seed resources")


def monitoring(r: Rendering):
    labels = r.merged["monitoring"]["labels"]
    monitor = r.one("ServiceMonitor")
    rule = r.one("PrometheusRule")
    for obj in (monitor, rule):
        for key, value in labels.items():
            check(obj["metadata"]["labels"].get(key) == value, f"{obj['kind']} lacks label {key}={value}")
    metrics = r.one("Service", "-metrics")
    selector = monitor["spec"]["selector"]["matchLabels"]
    check(all(metrics["metadata"]["labels"].get(k) == v for k, v in selector.items()), "ServiceMonitor does not select the metrics Service")
    endpoint = monitor["spec"]["endpoints"][0]
    check(endpoint["port"] == "http" and endpoint["path"] == "/metrics", "ServiceMonitor endpoint")
    check({"action": "replace", "targetLabel": "job", "replacement": "cortex"} in endpoint["relabelings"], "job label must be cortex (the rules read up{job=\"cortex\"})")
    shipped = yaml.safe_load((r.repo / "chart/files/prometheus/cortex-alerts.yaml").read_text())
    check(rule["spec"]["groups"] == shipped["groups"], "PrometheusRule groups differ from chart/files/prometheus/cortex-alerts.yaml")
    check(r.one("ConfigMap", "-dashboard")["metadata"]["namespace"] == "monitoring", "dashboard namespace")


def external_redis(r: Rendering):
    r.none("Deployment", "-redis")
    r.none("Service", "-redis")
    url = r.merged["redis"]["url"]
    secret = r.one("Secret", "-redis")
    check(base64.b64decode(secret["data"]["redis-url"]).decode() == url, "redis Secret holds the URL")
    check("CORTEX_REDIS_URL" not in r.one("ConfigMap", "-config")["data"], "no Redis URL in the ConfigMap")
    for workload in r.all("DaemonSet"):
        ref = env_of(container(workload, "cortex"))["CORTEX_REDIS_URL"]["valueFrom"]["secretKeyRef"]
        check(ref == {"name": secret["metadata"]["name"], "key": "redis-url"}, f"{workload['metadata']['name']}: Redis URL from the Secret")
    password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    for obj in r.objects:
        if obj["kind"] != "Secret":
            check(password not in json.dumps(obj), f"{obj['kind']}/{obj['metadata']['name']} contains the Redis password")


def network_policy(r: Rendering):
    ports = r.merged["ports"]
    policies = {p["metadata"]["name"].rsplit("-", 1)[1]: p for p in r.all("NetworkPolicy")}
    check(set(policies) == {"voter", "agent", "redis"}, f"NetworkPolicies: {sorted(policies)}")
    opened = lambda p: sorted(port["port"] for rule in p["spec"]["ingress"] for port in rule["ports"])
    check(opened(policies["voter"]) == sorted([ports["raft"], ports["api"]]), "voters admit Raft and API only")
    check(opened(policies["agent"]) == [ports["api"]], "agents admit the API port only")
    check(opened(policies["redis"]) == [6379], "Redis admits 6379 only")
    check(policies["redis"]["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].get("app.kubernetes.io/name") == "cortex", "Redis admits the daemons only")
    for p in policies.values():
        check(p["spec"]["policyTypes"] == ["Ingress"], "ingress policies only")
    raft_rule = next(rule for rule in policies["voter"]["spec"]["ingress"] if rule["ports"][0]["port"] == ports["raft"])
    check(raft_rule["from"] == r.merged["networkPolicy"]["raftFrom"], "raftFrom")
    ingress = r.one("Ingress")
    check(ingress["spec"]["tls"][0]["secretName"] == "cortex-tls", "Ingress TLS")


def node_selector(r: Rendering):
    values = r.merged
    voter = r.one("DaemonSet", "-voter")
    agent = r.one("DaemonSet", "-agent")
    check(pod_spec(voter)["nodeSelector"] == values["voters"]["nodeSelector"], "voter nodeSelector")
    check(pod_spec(agent)["nodeSelector"] == values["agents"]["nodeSelector"], "agent nodeSelector")
    check(pod_spec(agent)["tolerations"] == values["agents"]["tolerations"], "agent tolerations")
    daemon = container(voter, "cortex")
    check("--no-execute" not in daemon["args"], "voters.execute: true")
    check(daemon["args"][daemon["args"].index("--labels") + 1] == "tier=control", "voter labels")
    agent_args = container(agent, "cortex")["args"]
    check(agent_args[agent_args.index("--labels") + 1] == "gpu=true,zone=eu-1", "agent labels")
    check(agent_args[agent_args.index("--capacity") + 1] == "8", "agent capacity")
    for service in r.all("Service"):
        for port in service["spec"]["ports"]:
            check(port["port"] in (8700, 8710, 6379), f"Service {service['metadata']['name']} port {port['port']}")


def options(r: Rendering):
    r.none("DaemonSet", "-agent")
    for kind in ("ClusterRole", "ClusterRoleBinding", "ServiceAccount", "Secret", "Deployment", "NetworkPolicy"):
        r.none(kind)
    check(all(o["metadata"]["name"].startswith("orchestrator") for o in r.objects), "fullnameOverride names every object")
    voter = r.one("DaemonSet", "-voter")
    spec = pod_spec(voter)
    check(spec["serviceAccountName"] == "orchestrator-reader", "the given service account")
    token = next(v for v in spec["volumes"] if v["name"] == "admin-token")["secret"]
    check(token["secretName"] == "orchestrator-token" and token["items"][0]["key"] == "token", f"existing token Secret: {token}")
    tokens = next(v for v in spec["volumes"] if v["name"] == "tokens")["secret"]
    check(tokens["secretName"] == "orchestrator-tokens" and tokens["items"][0] == {"key": "tokens.yaml", "path": "tokens.yaml"}, f"tokens Secret: {tokens}")
    daemon = container(voter, "cortex")
    env = env_of(daemon)
    check(env["CORTEX_TOKENS_FILE"]["value"] == "/etc/cortex/tokens/tokens.yaml", "the tokens file is passed")
    check({"name": "tokens", "mountPath": "/etc/cortex/tokens", "readOnly": True} in daemon["volumeMounts"], "the tokens file is mounted")
    check(env["CORTEX_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "shared-redis", "key": "url"}, "existing Redis Secret")
    check(env["ANTHROPIC_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "llm-keys", "extraEnv")
    check("--no-execute" not in daemon["args"] and daemon["args"][daemon["args"].index("--capacity") + 1] == "2", "an executing voter")
    check({"name": "repos", "mountPath": "/srv/repos"} in daemon["volumeMounts"], "extraVolumeMounts")
    check(r.one("ConfigMap", "-config")["data"]["CORTEX_LOG_FORMAT"] == "human", "logFormat")
    check("tls" not in r.one("Ingress")["spec"], "an Ingress without TLS")


def k8s_job(r: Rendering):
    namespace = r.merged["executors"]["k8sJob"]["namespace"]
    check(namespace == "cortex-jobs", "the CI values give the Jobs a namespace of their own")
    k8s_job_rbac(r, namespace)
    config = r.one("ConfigMap", "-config")
    check(config["data"].get("CORTEX_K8S_JOBS_NAMESPACE") == namespace, f"CORTEX_K8S_JOBS_NAMESPACE: {config['data'].get('CORTEX_K8S_JOBS_NAMESPACE')}")
    # Both daemons read it: the ConfigMap is their envFrom.
    for workload in r.all("DaemonSet"):
        c = container(workload, "cortex")
        refs = [e.get("configMapRef", {}).get("name") for e in c.get("envFrom", [])]
        check(config["metadata"]["name"] in refs, f"{workload['metadata']['name']} does not read {config['metadata']['name']}")
    check("--no-execute" not in container(r.one("DaemonSet", "-voter"), "cortex")["args"], "voters execute in this combination")


BY_COMBINATION = {
    "k8s-job": k8s_job,
    "options": options,
    "defaults": defaults,
    "monitoring": monitoring,
    "external-redis": external_redis,
    "network-policy": network_policy,
    "node-selector": node_selector,
}


def daemon_flags_and_env_exist(r: Rendering, daemon_help: str):
    """Every flag the chart passes and every CORTEX_* variable it sets is one
    `cortex daemon --help` lists: a typo cannot reach a cluster."""
    known_env = set(re.findall(r"\[env: (CORTEX_\w+)[=\]]", daemon_help))
    known_flags = set(re.findall(r"(--[a-z][-a-z]*)", daemon_help))
    for workload in r.all("DaemonSet"):
        c = container(workload, "cortex")
        check(c["args"][0] == "daemon", "the daemons run `cortex daemon`")
        for arg in c["args"]:
            if arg.startswith("--"):
                check(arg in known_flags, f"{workload['metadata']['name']}: unknown flag {arg}")
        for name in env_of(c):
            if name.startswith("CORTEX_"):
                check(name in known_env, f"{workload['metadata']['name']}: unknown env {name}")
    for key in r.one("ConfigMap", "-config")["data"]:
        check(key in known_env, f"ConfigMap key {key} is not a daemon env variable")


def readme_lists_every_value(repo: Path, values: dict):
    """chart/README.md's values table has one row per value, no more."""
    opaque = {"resources", "nodeSelector", "podSecurityContext", "securityContext", "labels"}

    def leaves(node, prefix):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and value and key not in opaque:
                yield from leaves(value, path + ".")
            else:
                yield path

    readme = (repo / "chart/README.md").read_text()
    documented = set(re.findall(r"^\| `([\w.]+)` \|", readme, re.M))
    expected = set(leaves(values, ""))
    check(documented == expected, f"chart/README.md values table: missing {sorted(expected - documented)}, extra {sorted(documented - expected)}")
    return f"the values table lists all {len(expected)} values"
