"""A throwaway Kubernetes control plane on loopback for the end-to-end suite (README).

``up`` starts etcd, kube-apiserver, the Slinky operator's webhook server and its manager
(binaries from tools/e2e/build.sh; $SLINKY_E2E_OPERATOR picks one of the operator pins of
versions.env, default the first), installs the Slinky CRDs (from that operator's Go
module) and the Karpenter v1 CRDs (testdata/upstream/crds), registers the operator's
webhook configurations (its config/webhook/manifests.yaml) against the local webhook
server with a throwaway CA, and prints the kubeconfig path. ``down`` stops every process
it started, by PID. There is no kubelet, scheduler or controller-manager: objects are
admitted and the operator reconciles them, pods stay Pending.

    python3 tools/e2e/devcluster.py up [--dir DIR]     # prints DIR/kubeconfig
    python3 tools/e2e/devcluster.py down [--dir DIR]
    python3 tools/e2e/devcluster.py versions           # the operator pins, one a line
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from host import free_port, make_pki, on_signals, start_time, stop_pid
from pins import (
    CACHE,
    ClusterError,
    binary,
    operator_binaries,
    operator_module,
    operator_version,
    operator_versions,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KARPENTER_CRDS = [
    ROOT / "testdata" / "upstream" / "crds" / name
    for name in (
        "karpenter.sh_nodepools.yaml",
        "karpenter.sh_nodeclaims.yaml",
        "karpenter.k8s.aws_ec2nodeclasses.yaml",
    )
]
TOKEN = "slinky-e2e-admin-token"  # loopback-only throwaway cluster
#: Bounded waits, seconds: a loaded 2-core machine starts kube-apiserver in ~10-40 s.
START_TIMEOUT = float(os.environ.get("SLINKY_E2E_START_TIMEOUT", "120"))
#: The webhook server of operator 1.0.x has no address flag: controller-runtime's default
#: port, on every interface (so one control plane at a time per machine).
WEBHOOK_PORT = 9443


@dataclass
class Cluster:
    """One control plane under ``dir``: state.json records ports and PIDs for ``down``."""

    dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def save(self) -> None:
        state = {"ports": self.ports, "procs": self.procs}
        (self.dir / "state.json").write_text(json.dumps(state, indent=1))

    @classmethod
    def load(cls, directory: Path) -> Cluster:
        state = json.loads((directory / "state.json").read_text())
        return cls(directory, state["ports"], state["procs"])

    def spawn(self, name: str, argv: list[str | Path], env: dict[str, str] | None = None) -> None:
        log = self.dir / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [str(a) for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # a Ctrl-C in the terminal reaches us, not them
            )
        self.procs.append({"name": name, "pid": proc.pid, "start": start_time(proc.pid)})
        self.save()

    def wait(self, name: str, ready: Any) -> None:
        """Poll ``ready()`` until true; fail early if the process died, late at the bound."""
        deadline = time.monotonic() + START_TIMEOUT
        proc = next(p for p in self.procs if p["name"] == name)
        while time.monotonic() < deadline:
            if start_time(proc["pid"]) != proc["start"]:
                raise ClusterError(f"{name} exited during start-up; see {self.log(name)}")
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            time.sleep(0.3)
        raise ClusterError(f"{name} not ready after {START_TIMEOUT:.0f} s; see {self.log(name)}")

    def log(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.dir / "pki" / "ca.crt"))

    def get(self, url: str, *, token: bool = False, context: ssl.SSLContext | None = None) -> str:
        request = urllib.request.Request(url)
        if token:
            request.add_header("Authorization", f"Bearer {TOKEN}")
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            body: bytes = response.read()
            return body.decode()

    def kubectl(self, *args: str | Path, stdin: str | None = None) -> str:
        done = subprocess.run(
            [binary("kubectl"), "--kubeconfig", self.kubeconfig, *map(str, args)],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT,
        )
        if done.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(map(str, args))}: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        """Stop every recorded process, last started first."""
        for proc in reversed(self.procs):
            stop_pid(proc["pid"], proc["start"])
        self.procs = []
        if (self.dir / "state.json").exists():
            self.save()


def write_kubeconfig(cluster: Cluster) -> None:
    ca = (cluster.dir / "pki" / "ca.crt").read_text()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "slinky-e2e",
                "cluster": {
                    "server": cluster.server,
                    "certificate-authority-data": base64.b64encode(ca.encode()).decode(),
                },
            }
        ],
        "users": [{"name": "admin", "user": {"token": TOKEN}}],
        "contexts": [{"name": "slinky-e2e", "context": {"cluster": "slinky-e2e", "user": "admin"}}],
        "current-context": "slinky-e2e",
    }
    cluster.kubeconfig.write_text(json.dumps(config, indent=1))
    cluster.kubeconfig.chmod(0o600)


def webhook_configurations(cluster: Cluster, module: Path) -> str:
    """The operator's own webhook manifests, pointed at the local webhook server by URL
    with the throwaway CA instead of at an in-cluster Service."""
    ca = base64.b64encode((cluster.dir / "pki" / "ca.crt").read_bytes()).decode()
    docs = [d for d in yaml.safe_load_all((module / "config/webhook/manifests.yaml").read_text())]
    for doc in docs:
        if not doc:
            continue
        doc["metadata"]["name"] = f"slurm-operator-{doc['metadata']['name']}"
        for hook in doc["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {
                "url": f"https://127.0.0.1:{cluster.ports['webhook']}{path}",
                "caBundle": ca,
            }
    return yaml.safe_dump_all([d for d in docs if d])


def up(directory: Path) -> Cluster:
    """Start everything; on any failure (or signal) stop what was started and raise."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "state.json").exists() and Cluster.load(directory).procs:
        raise ClusterError(f"{directory} has a running cluster: run down first")
    for stale in ("etcd", "tmp"):
        subprocess.run(["rm", "-rf", str(directory / stale)], check=True)
    cluster = Cluster(directory)
    names = ("etcd", "etcd-peer", "apiserver", "webhook-health", "manager-health")
    cluster.ports = {name: free_port() for name in names}
    cluster.ports["webhook"] = WEBHOOK_PORT
    try:
        start(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start(cluster: Cluster) -> None:
    d, ports = cluster.dir, cluster.ports
    module = operator_module()
    manager, webhook = operator_binaries(operator_version())
    binaries = {n: binary(n) for n in ("etcd", "kube-apiserver", "kubectl")}
    binaries.update({"slurm-operator": binary(manager), "slurm-operator-webhook": binary(webhook)})
    make_pki(d / "pki")
    pki = d / "pki"
    (pki / "tokens.csv").write_text(f"{TOKEN},admin,admin,system:masters\n")
    write_kubeconfig(cluster)

    etcd_url = f"http://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
    cluster.spawn("etcd", [
        binaries["etcd"], "--name", "e2e", "--data-dir", d / "etcd",
        "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
        "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", f"e2e={peer_url}", "--unsafe-no-fsync",
    ])  # fmt: skip
    cluster.wait("etcd", lambda: '"health":"true"' in cluster.get(f"{etcd_url}/health"))

    cluster.spawn("kube-apiserver", [
        binaries["kube-apiserver"], "--etcd-servers", etcd_url,
        "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
        "--secure-port", str(ports["apiserver"]), "--cert-dir", pki,
        "--tls-cert-file", pki / "apiserver.crt", "--tls-private-key-file", pki / "apiserver.key",
        "--client-ca-file", pki / "ca.crt", "--token-auth-file", pki / "tokens.csv",
        "--authorization-mode", "RBAC",
        "--service-account-issuer", "https://kubernetes.default.svc",
        "--service-account-key-file", pki / "sa.pub",
        "--service-account-signing-key-file", pki / "sa.key",
        "--service-cluster-ip-range", "10.96.0.0/24",
        # No controller-manager creates the namespaces' default ServiceAccounts, so the
        # admission plugin that requires them would refuse every pod the operator makes.
        "--disable-admission-plugins", "ServiceAccount",
        "--endpoint-reconciler-type", "none", "--profiling=false",
        # slurmd runs privileged; a kubelet would pass this, and pods are refused without it
        "--allow-privileged=true",
    ])  # fmt: skip
    tls = cluster.tls()
    cluster.wait(
        "kube-apiserver",
        lambda: cluster.get(f"{cluster.server}/readyz", token=True, context=tls) == "ok",
    )

    crds = sorted((module / "config" / "crd" / "bases").glob("*.yaml")) + KARPENTER_CRDS
    for crd in crds:
        cluster.kubectl("apply", "--server-side", "-f", crd)
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")

    # controller-runtime reads the webhook certificate from $TMPDIR/k8s-webhook-server.
    certs = d / "tmp" / "k8s-webhook-server" / "serving-certs"
    certs.mkdir(parents=True)
    (certs / "tls.crt").write_bytes((pki / "webhook.crt").read_bytes())
    (certs / "tls.key").write_bytes((pki / "webhook.key").read_bytes())
    env = {"KUBECONFIG": str(cluster.kubeconfig), "TMPDIR": str(d / "tmp")}
    with socket.socket() as probe:
        # as Go's listeners do: connections of a previous run in TIME_WAIT do not count
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", WEBHOOK_PORT))
        except OSError as err:
            raise ClusterError(f"the webhook port {WEBHOOK_PORT} is taken: {err}") from None
    cluster.spawn("slurm-operator-webhook", [
        binaries["slurm-operator-webhook"],
        "--health-addr", f"127.0.0.1:{ports['webhook-health']}", "--metrics-addr", "0",
    ], env)  # fmt: skip

    def webhook_serves() -> bool:
        with socket.create_connection(("127.0.0.1", ports["webhook"]), timeout=2) as raw:
            tls.wrap_socket(raw, server_hostname="127.0.0.1").close()
        return True

    cluster.wait("slurm-operator-webhook", webhook_serves)
    cluster.kubectl("apply", "-f", "-", stdin=webhook_configurations(cluster, module))

    cluster.spawn("slurm-operator", [
        binaries["slurm-operator"], "--health-addr", f"127.0.0.1:{ports['manager-health']}",
        "--metrics-addr", "0",
    ], env)  # fmt: skip
    health = f"http://127.0.0.1:{ports['manager-health']}/readyz"
    cluster.wait("slurm-operator", lambda: cluster.get(health) == "ok")


def down(directory: Path) -> None:
    if (directory / "state.json").exists():
        Cluster.load(directory).stop()


@contextlib.contextmanager
def running(directory: Path) -> Iterator[Cluster]:
    """``up`` then, whatever happens, ``down``. SIGTERM and SIGHUP are turned into
    KeyboardInterrupt meanwhile: pytest stops the session on it and runs its teardowns."""
    with on_signals(KeyboardInterrupt):
        cluster = up(directory)
        try:
            yield cluster
        finally:
            cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devcluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "versions"])
    parser.add_argument("--dir", type=Path, default=CACHE / "cluster", help="state directory")
    args = parser.parse_args(argv)
    directory = args.dir.resolve()
    try:
        with on_signals():
            if args.command == "up":
                cluster = up(directory)
                print(cluster.kubeconfig)
            elif args.command == "versions":
                print("\n".join(operator_versions()))
            else:
                down(directory)
    except ClusterError as err:
        print(f"devcluster {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: up() has stopped what it started
        print(f"devcluster {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
