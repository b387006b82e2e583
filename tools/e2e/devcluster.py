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
import signal
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = Path(os.environ.get("SLINKY_E2E_CACHE") or Path.home() / ".cache" / "slinky-pr" / "e2e")
BIN = CACHE / "bin"
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
STOP_TIMEOUT = 15.0
#: The webhook server of operator 1.0.x has no address flag: controller-runtime's default
#: port, on every interface (so one control plane at a time per machine).
WEBHOOK_PORT = 9443


class ClusterError(Exception):
    """A step of ``up`` or ``down`` failed; the message says which and where the log is."""


def pins() -> dict[str, str]:
    """versions.env as a dict (KEY=VALUE lines, # comments)."""
    out = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def operator_versions() -> list[str]:
    """Every operator pin of versions.env, the default first."""
    p = pins()
    extra = [v for v in p.get("SLURM_OPERATOR_REPLACED_VERSIONS", "").split(",") if v]
    return [p["SLURM_OPERATOR_VERSION"], *extra]


def operator_version() -> str:
    """The operator (and chart) under test: $SLINKY_E2E_OPERATOR, else the default pin."""
    versions = operator_versions()
    version = os.environ.get("SLINKY_E2E_OPERATOR") or versions[0]
    if version not in versions:
        raise ClusterError(f"SLINKY_E2E_OPERATOR={version}: not one of {', '.join(versions)}")
    return version


def operator_binaries(version: str) -> tuple[str, str]:
    """The manager's and webhook server's names in BIN (tools/e2e/build.sh)."""
    if version == operator_versions()[0]:
        return "slurm-operator", "slurm-operator-webhook"
    return f"slurm-operator-{version}", f"slurm-operator-webhook-{version}"


def operator_module(version: str | None = None) -> Path:
    """The slurm-operator module under test (or the given version), in the Go module cache
    (downloaded from the module proxy if absent): its helm/slurm chart, CRDs and webhook
    manifests."""
    p = pins()
    version = version or operator_version()
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"{p['SLURM_OPERATOR_MODULE']}@{version}"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    info = json.loads(done.stdout or "{}")
    if done.returncode != 0 or "Dir" not in info:
        raise ClusterError(f"go mod download slurm-operator@{version}: {info or done.stderr}")
    return Path(info["Dir"])


def binary(name: str) -> Path:
    path = BIN / name
    if not os.access(path, os.X_OK):
        raise ClusterError(f"{path} is missing: run tools/e2e/build.sh")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (/proc/PID/stat field 22), so that a PID
    reused by another process after ours exited is never signalled."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def stop_pid(pid: int, started: str | None) -> None:
    """SIGTERM, a bounded wait, then SIGKILL; only if PID is still the process we started."""
    if started is None or start_time(pid) != started:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        if start_time(pid) != started:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def openssl(*args: str | Path, cwd: Path) -> None:
    done = subprocess.run(
        ["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ClusterError(f"openssl {' '.join(map(str, args))}: {done.stderr.strip()}")


def make_pki(pki: Path) -> None:
    """A throwaway CA, serving certificates for kube-apiserver and the webhook server
    (127.0.0.1), and the service-account signing key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=slinky-e2e-ca", cwd=pki)  # fmt: skip
    for name in ("apiserver", "webhook"):
        (pki / f"{name}.ext").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        )
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=pki)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                "-out", f"{name}.crt", cwd=pki)  # fmt: skip
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", "sa.key", cwd=pki)  # fmt: skip
    openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


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


@contextlib.contextmanager
def on_signals(exception: type[BaseException] = SystemExit) -> Iterator[None]:
    """SIGTERM and SIGHUP raise ``exception`` (SystemExit: with the shell's exit status),
    so ``finally`` blocks stop the processes."""

    def leave(signum: int, _frame: object) -> None:
        if exception is SystemExit:
            raise SystemExit(128 + signum)
        raise exception

    previous = {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


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
