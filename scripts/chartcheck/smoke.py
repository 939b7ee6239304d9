"""Runs the rendered DaemonSets' containers as local processes.

The chart is rendered with three voters addressed as 127.0.0.11-13 and free
ports; then, as the kubelet would, each voter's init container and daemon
and one agent are started from the rendered spec: its args, the rendered
ConfigMap (envFrom), its env (spec.nodeName, Secret keys), its volumes as
directories (hostPath created root-owned, the token Secret as a file with
the rendered mode). Only the listen addresses are moved to each node's own
loopback address, since all run on one machine.

Run as root (with setpriv), the init container gets exactly the rendered
capabilities and the daemons run as the rendered uid/gid with none, so a
missing capability or a permission the daemon lacks fails here. Otherwise
the init container is skipped (its directory prepared by hand) and the
daemons run as the current user; the run says so.

It then waits until every voter is ready (/readyz: a leader), the agent is
healthy, and the cluster (GET /v1/cluster with the rendered token) has the
three voters and a leader, and all four daemons have registered, with the
capacity the values give (voters none unless voters.execute).
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .expectations import Failure, Rendering, check, container, pod_spec

ADDRESSES = {"k3s-master01": "127.0.0.11", "k3s-master02": "127.0.0.12", "k3s-master03": "127.0.0.13"}
AGENT = ("k3s-worker01", "127.0.0.14")
DEADLINE_S = 90


def free_ports():
    """Two ports free on every address used (API, Raft)."""
    for _ in range(50):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.11", 0))
            b.bind(("127.0.0.11", 0))
            ports = (a.getsockname()[1], b.getsockname()[1])
        if all(_free(host, port) for host in [*ADDRESSES.values(), AGENT[1]] for port in ports):
            return ports
    raise Failure("no free ports on 127.0.0.11-14")


def _free(host, port):
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def values():
    api, raft = free_ports()
    return {
        "voters": {"nodes": [f"{name}={host}" for name, host in ADDRESSES.items()]},
        "ports": {"api": api, "raft": raft},
        "redis": {"deploy": False},
    }


class Pod:
    """One DaemonSet pod on one simulated node."""

    def __init__(self, r: Rendering, workload, node, host, root: Path, privileged_run: bool, log):
        self.r, self.workload, self.node, self.host = r, workload, node, host
        self.dir = root / node
        self.dir.mkdir()
        self.privileged_run = privileged_run
        self.log = log
        self.spec = pod_spec(workload)
        self.security = self.spec.get("securityContext", {})
        self.mounts = {}  # volume name -> host directory
        self.process = None
        self._volumes()

    def _volumes(self):
        uid = 0 if self.privileged_run else os.getuid()
        for volume in self.spec.get("volumes", []):
            path = self.dir / "volumes" / volume["name"]
            if "hostPath" in volume:
                # DirectoryOrCreate: the kubelet makes it, root-owned, 0755.
                path.mkdir(parents=True, mode=0o755)
            elif "emptyDir" in volume:
                path.mkdir(parents=True)
                path.chmod(0o777)
            elif "secret" in volume:
                path.mkdir(parents=True)
                self._secret(volume["secret"], path, uid)
            else:
                raise Failure(f"smoke test: no stand-in for volume {volume}")
            self.mounts[volume["name"]] = path

    def _secret(self, source, path, uid):
        secret = self.r.named("Secret", source["secretName"])
        group = self.security.get("fsGroup", os.getgid()) if self.privileged_run else os.getgid()
        for item in source["items"]:
            target = path / item["path"]
            target.write_bytes(base64.b64decode(secret["data"][item["key"]]))
            os.chown(target, uid, group)
            target.chmod(source.get("defaultMode", 0o644))
        path.chmod(0o755)

    def _resolve(self, c, text):
        """A path inside the container, as the host directory it is mounted from."""
        for mount in sorted(c.get("volumeMounts", []), key=lambda m: -len(m["mountPath"])):
            if text == mount["mountPath"] or text.startswith(mount["mountPath"] + "/"):
                return str(self.mounts[mount["name"]]) + text[len(mount["mountPath"]):]
        return text

    def env(self, c):
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.mounts.get("tmp", self.dir))}
        for source in c.get("envFrom", []):
            env.update(self.r.named("ConfigMap", source["configMapRef"]["name"])["data"])
        for entry in c.get("env", []):
            if "value" in entry:
                env[entry["name"]] = self._resolve(c, entry["value"])
            elif entry["valueFrom"].get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
                env[entry["name"]] = self.node
            elif "secretKeyRef" in entry["valueFrom"]:
                ref = entry["valueFrom"]["secretKeyRef"]
                env[entry["name"]] = base64.b64decode(self.r.named("Secret", ref["name"])["data"][ref["key"]]).decode()
            else:
                raise Failure(f"smoke test: no stand-in for env {entry}")
        # One machine, many nodes: each listens on its own loopback address.
        if "CORTEX_API_ADDR" in env:
            api_port = env["CORTEX_API_ADDR"].rsplit(":", 1)[1]
            env["CORTEX_API_ADDR"] = f"{self.host}:{api_port}"
        if "CORTEX_RAFT_PORT" in env and self.workload["metadata"]["name"].endswith("-voter"):
            env["CORTEX_LISTEN"] = f"{self.host}:{env['CORTEX_RAFT_PORT']}"
        return env

    def _setpriv(self, c):
        """setpriv arguments giving the container's user and capabilities."""
        sc = {**self.security, **c.get("securityContext", {})}
        caps = [cap.lower() for cap in sc.get("capabilities", {}).get("add", [])]
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{c['name']}: drops ALL")
        cap_set = ",".join(["-all"] + [f"+{cap}" for cap in caps])
        uid, gid = sc.get("runAsUser", 0), sc.get("runAsGroup", sc.get("runAsUser", 0))
        groups = [str(self.security["fsGroup"])] if "fsGroup" in self.security else []
        args = ["setpriv", f"--reuid={uid}", f"--regid={gid}"]
        args += [f"--groups={','.join(groups)}"] if groups else ["--clear-groups"]
        args += [f"--bounding-set={cap_set}", f"--inh-caps={cap_set}"]
        if sc.get("allowPrivilegeEscalation") is False:
            args.append("--no-new-privs")
        return args

    def command(self, c, binary):
        argv = [binary] + [self._resolve(c, a) for a in c["args"]]
        return (self._setpriv(c) if self.privileged_run else []) + argv

    def init(self, binary):
        for c in self.spec.get("initContainers", []):
            if not self.privileged_run:
                self.log(f"    {self.node}: init container {c['name']} skipped (not root: cannot take its uid and capabilities)")
                for mount in c.get("volumeMounts", []):
                    self.mounts[mount["name"]].chmod(0o700)
                continue
            result = subprocess.run(self.command(c, binary), env=self.env(c), capture_output=True, text=True, timeout=30)
            check(result.returncode == 0, f"{self.node}: init container {c['name']} failed: {result.stderr.strip()}")
            self.log(f"    {self.node}: init container {c['name']}: {result.stdout.strip().replace(str(self.dir), '<node>')}")

    def start(self, binary):
        c = container(self.workload, "cortex")
        self.output = open(self.dir / "daemon.log", "w")
        self.process = subprocess.Popen(
            self.command(c, binary), env=self.env(c), stdout=self.output, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.api = f"http://{self.host}:{self.env(c)['CORTEX_API_ADDR'].rsplit(':', 1)[1]}"

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process:
            self.output.close()

    def tail(self):
        path = self.dir / "daemon.log"
        return path.read_text()[-3000:] if path.exists() else ""


def get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def expected_capacity(r: Rendering, executors):
    """The agent executes with agents.capacity; voters only with voters.execute."""
    values = r.merged
    check(executors[AGENT[0]]["capacity"] == values["agents"]["capacity"], f"agent capacity: {executors[AGENT[0]]}")
    for name in ADDRESSES:
        capacity = executors.get(name, {}).get("capacity")
        wanted = values["voters"]["capacity"] if values["voters"]["execute"] else 0
        check(capacity == wanted, f"voter {name} capacity {capacity}, expected {wanted}")


def run(r: Rendering, binary: str, log):
    privileged_run = os.geteuid() == 0 and shutil.which("setpriv") is not None
    root = Path(tempfile.mkdtemp(prefix="cortex-chart-smoke-"))
    root.chmod(0o755)  # the daemons' uid must reach its directories
    voter_set, agent_set = r.one("DaemonSet", "-voter"), r.one("DaemonSet", "-agent")
    pods = [Pod(r, voter_set, node, host, root, privileged_run, log) for node, host in ADDRESSES.items()]
    agent = Pod(r, agent_set, *AGENT, root, privileged_run, log)
    token = base64.b64decode(r.one("Secret", "-admin-token")["data"]["admin-token"]).decode()
    try:
        for pod in pods:
            pod.init(binary)
        for pod in pods + [agent]:
            pod.start(binary)
        deadline = time.monotonic() + DEADLINE_S
        waiting = "start"
        while time.monotonic() < deadline:
            for pod in pods + [agent]:
                check(pod.process.poll() is None, f"{pod.node} exited with {pod.process.returncode}:\n{pod.tail()}")
            ready = [get(p.api + "/readyz")[0] == 200 for p in pods]
            healthy = get(agent.api + "/readyz")[0] == 200
            status, body = get(pods[0].api + "/v1/cluster", token)
            cluster = json.loads(body) if status == 200 else {}
            voters = cluster.get("membership", {}).get("voters", [])
            executors = {e["name"]: e for e in cluster.get("executors", [])}
            registered = all(executors.get(name, {}).get("status") == "alive" for name in [AGENT[0], *ADDRESSES])
            if all(ready) and healthy and len(voters) == 3 and cluster.get("leader") and registered:
                expected_capacity(r, executors)
                user = "as the rendered uid with the rendered capabilities" if privileged_run else "as the current user"
                return f"the rendered voters and an agent, run {user}: 3 voters ready (leader {cluster['leader']}), all 4 registered"
            waiting = f"ready={ready} agent healthy={healthy} /v1/cluster {status} voters={voters} agent registered={registered}"
            time.sleep(0.5)
        logs = "\n".join(f"--- {p.node}\n{p.tail()}" for p in pods + [agent])
        raise Failure(f"cluster from the rendered chart not up in {DEADLINE_S}s: {waiting}\n{logs}")
    finally:
        for pod in pods + [agent]:
            pod.stop()
        shutil.rmtree(root, ignore_errors=True)
