"""Fixtures of the end-to-end suite: the loopback control plane, the upstream chart, the
Helm 3 and Helm 4 CLIs (all from tools/e2e: build.sh builds them, devcluster.py runs them).

The control plane is started once per session and stopped by PID at its end, also on
Ctrl-C and SIGTERM. Where a binary is missing the tests skip, and fail under CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_cli import HelmCli
from needs import missing

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "e2e"))
import devcluster  # noqa: E402
import pins  # noqa: E402

VENV_BIN = Path(sys.executable).parent
Completed = subprocess.CompletedProcess[str]
E2E_DATA = ROOT / "testdata" / "e2e"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
#: Two NodeSets, `gpu` (gpu-partition) and `cpu` (cpu-partition), as the upstream renders.
VALUES = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.0.1_gpu-cpu.values.yaml"
#: The upgrade: a third NodeSet, `static` (static-gpu-partition).
STATIC_GPU = E2E_DATA / "static-gpu.values.yaml"
SLINKY = "slinky.slurm.net"
#: The operator and chart under test ($SLINKY_E2E_OPERATOR, tools/e2e/versions.env).
OPERATOR = pins.operator_version()


def operator_at_least(version: str) -> bool:
    """Whether the operator (and chart) under test is ``version`` ("1.1") or newer."""
    have = tuple(int(part) for part in OPERATOR.lstrip("v").split(".")[:2])
    return have >= tuple(int(part) for part in version.split("."))


def need_binaries(*names: str) -> None:
    absent = [n for n in names if not os.access(pins.BIN / n, os.X_OK)]
    if absent:
        missing(f"{', '.join(absent)} not in {pins.BIN} (tools/e2e/build.sh)", "e2e")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devcluster.Cluster]:
    need_binaries("etcd", "kube-apiserver", "kubectl", *pins.operator_binaries(OPERATOR))
    with devcluster.running(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upstream `slurm` chart of the operator module under test."""
    return upstream_chart(tmp_path_factory.mktemp("chart") / "slurm")


def upstream_chart(dest: Path, version: str | None = None) -> Path:
    """The `slurm` chart of the operator module under test (or the given version), copied from the
    module cache with the DCGM stand-in helpers (testdata/e2e/vendor-dcgm-stand-in.tpl says
    why)."""
    # copyfile: the module cache is read-only, the copy need not be
    shutil.copytree(
        pins.operator_module(version) / "helm" / "slurm", dest, copy_function=shutil.copyfile
    )
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.copyfile(
        E2E_DATA / "vendor-dcgm-stand-in.tpl", dest / "templates" / "_vendor-dcgm-stand-in.tpl"
    )
    return dest


class Helm(HelmCli):
    """A Helm CLI talking to the control plane."""

    def __init__(self, binary: Path, home: Path, cluster: devcluster.Cluster) -> None:
        super().__init__(binary, home, kubeconfig=cluster.kubeconfig)
        self.cluster = cluster

    def history(self, release: str, namespace: str) -> list[dict[str, Any]]:
        out = self("history", release, "-n", namespace, "-o", "json").stdout
        rows: list[dict[str, Any]] = yaml.safe_load(out)
        return rows


def helm_for(name: str, home: Path, cluster: devcluster.Cluster) -> Helm:
    need_binaries(name)
    return Helm(pins.BIN / name, home, cluster)


def get(cluster: devcluster.Cluster, kind: str, namespace: str, name: str = "") -> Any:
    """One object (or a List) as a dict, read back from the API server."""
    args = ["get", kind, *([name] if name else []), "-n", namespace, "-o", "yaml"]
    return yaml.safe_load(cluster.kubectl(*args))


def eventually(check: Any, timeout: float = 60.0) -> Any:
    """Poll ``check()`` until it returns something truthy (the operator reconciles
    asynchronously); the last AssertionError or falsy result fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
            error: Exception = AssertionError(f"{check} still {result!r} after {timeout} s")
        except (AssertionError, pins.ClusterError) as err:
            error = err
        if time.monotonic() > deadline:
            raise error
        time.sleep(0.5)


#: Operator 1.0.1's Controller webhook reads ConfigMaps through its informer cache: a
#: ConfigMap Helm created a moment before the Controller can still be missing there.
WEBHOOK_CACHE_MISS = re.compile(
    r'webhook "controller-[^"]*" denied the request: ConfigMap "([^"]+)" not found'
)


def retry_webhook_cache_miss(
    cluster: devcluster.Cluster, namespace: str, run: Callable[[], Completed]
) -> Completed:
    """``run()`` (a Helm install or upgrade); run again once if the Controller webhook
    denied it for a ConfigMap that the API server does have (its cache lagged). A
    ConfigMap created after the Controller, or not at all, still fails: kubectl raises."""
    done = run()
    miss = WEBHOOK_CACHE_MISS.search(done.stderr)
    if done.returncode != 0 and miss:
        cluster.kubectl("get", "configmap", miss.group(1), "-n", namespace)
        done = run()
    return done


# --- the release the Helm 3 and Helm 4 stack tests install ---------------------------------

RELEASE = "slinky"
FULLNAME = "slinky-slurm"  # the chart's fullname for release `slinky`


def config(profiles: Path = PROFILES) -> list[str]:
    """The post-renderer arguments naming the profile file."""
    return ["--post-renderer-args", f"--config={profiles}"]


def install(helm: Helm, chart: Path, namespace: str, *extra: str | Path) -> Completed:
    """`helm upgrade --install` of the chart with the two NodeSets' values and slinky-pr as
    post-renderer; ``extra``: more values files and post-renderer arguments."""
    return retry_webhook_cache_miss(helm.cluster, namespace, lambda: helm(
        "upgrade", "--install", RELEASE, chart, "-n", namespace, "--create-namespace",
        "-f", VALUES, *extra, "--post-renderer", "slinky-pr", check=False,
    ))  # fmt: skip


def nodeset(cluster: devcluster.Cluster, namespace: str, key: str) -> Any:
    return get(cluster, f"nodesets.{SLINKY}", namespace, f"{FULLNAME}-worker-{key}")


def controller(cluster: devcluster.Cluster, namespace: str) -> Any:
    return get(cluster, f"controllers.{SLINKY}", namespace, FULLNAME)


def nodeset_gone(cluster: devcluster.Cluster, namespace: str, key: str) -> bool:
    try:
        nodeset(cluster, namespace, key)
    except pins.ClusterError as err:
        return "NotFound" in str(err)
    return False


def upgrade_and_roll_back(helm: Helm, chart: Path, namespace: str, *extra: str | Path) -> None:
    """On an installed release: revision 2 like revision 1, revision 3 adding the `static`
    NodeSet and its GPU partition, then `helm rollback` to 2, which removes them again.
    (Revision 1 alone holds the chart's Secrets: Helm 3 cannot roll back to it.)"""
    cluster = helm.cluster
    assert install(helm, chart, namespace, *extra).returncode == 0
    done = install(helm, chart, namespace, "-f", STATIC_GPU, *extra)
    assert done.returncode == 0, done.stderr
    static = nodeset(cluster, namespace, "static")
    assert "Gres=gpu:8" in static["spec"]["extraConf"]
    assert static["spec"]["slurmd"]["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert static["spec"]["template"]["spec"]["nodeSelector"]["role"] == "slurm-static-gpu"
    partition = "PartitionName=static-gpu-partition"
    assert partition in controller(cluster, namespace)["spec"]["extraConf"]
    assert helm.history(RELEASE, namespace)[-1]["status"] == "deployed"

    rolled = helm("rollback", RELEASE, "2", "-n", namespace, check=False)
    assert rolled.returncode == 0, rolled.stderr
    assert helm.history(RELEASE, namespace)[-1]["status"] == "deployed"
    assert partition not in controller(cluster, namespace)["spec"]["extraConf"]
    eventually(lambda: nodeset_gone(cluster, namespace, "static"))
    assert "Gres=gpu:a100:8" in nodeset(cluster, namespace, "gpu")["spec"]["extraConf"]


def refused_upgrade(
    helm: Helm, chart: Path, namespace: str, good: list[str], bad: list[str]
) -> Completed:
    """Install with the ``good`` post-renderer arguments, then upgrade (adding the `static`
    NodeSet) with the ``bad`` ones, which slinky-pr must refuse: the release, its history
    and its NodeSets stay as they were. The refused run, for its message."""
    cluster = helm.cluster
    assert install(helm, chart, namespace, *good).returncode == 0
    history = helm.history(RELEASE, namespace)
    keys = ("gpu", "cpu")
    before = {k: nodeset(cluster, namespace, k)["metadata"]["generation"] for k in keys}

    done = install(helm, chart, namespace, "-f", STATIC_GPU, *bad)
    assert done.returncode != 0
    assert helm.history(RELEASE, namespace) == history
    after = {k: nodeset(cluster, namespace, k)["metadata"]["generation"] for k in keys}
    assert after == before
    assert nodeset_gone(cluster, namespace, "static")
    return done
