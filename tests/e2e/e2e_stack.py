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
from needs import missing

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "e2e"))
import devcluster  # noqa: E402

VENV_BIN = Path(sys.executable).parent
Completed = subprocess.CompletedProcess[str]
E2E_DATA = ROOT / "testdata" / "e2e"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
#: Two NodeSets, `gpu` (gpu-partition) and `cpu` (cpu-partition), as the upstream renders.
VALUES = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.0.1_gpu-cpu.values.yaml"
#: The upgrade: a third NodeSet, `static` (static-gpu-partition).
STATIC_GPU = E2E_DATA / "static-gpu.values.yaml"
#: A profile whose gres is not a count: slinky-pr must refuse it (line 5).
BROKEN_PROFILE = """\
clusters:
  - name: c
    partitions:
      - name: gpu-partition
        gres: gpu:eight
"""
SLINKY = "slinky.slurm.net"
#: The operator and chart under test ($SLINKY_E2E_OPERATOR, tools/e2e/versions.env).
OPERATOR = devcluster.operator_version()


def operator_at_least(version: str) -> bool:
    """Whether the operator (and chart) under test is ``version`` ("1.1") or newer."""
    have = tuple(int(part) for part in OPERATOR.lstrip("v").split(".")[:2])
    return have >= tuple(int(part) for part in version.split("."))


def need_binaries(*names: str) -> None:
    absent = [n for n in names if not os.access(devcluster.BIN / n, os.X_OK)]
    if absent:
        missing(f"{', '.join(absent)} not in {devcluster.BIN} (tools/e2e/build.sh)", "e2e")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devcluster.Cluster]:
    need_binaries("etcd", "kube-apiserver", "kubectl", *devcluster.operator_binaries(OPERATOR))
    with devcluster.running(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upstream `slurm` chart of the operator module under test, copied from the module
    cache with the DCGM stand-in helpers (testdata/e2e/vendor-dcgm-stand-in.tpl says why)."""
    dest = tmp_path_factory.mktemp("chart") / "slurm"
    # copyfile: the module cache is read-only, the copy need not be
    shutil.copytree(
        devcluster.operator_module() / "helm" / "slurm", dest, copy_function=shutil.copyfile
    )
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.copyfile(
        E2E_DATA / "vendor-dcgm-stand-in.tpl", dest / "templates" / "_vendor-dcgm-stand-in.tpl"
    )
    return dest


class Helm:
    """One Helm CLI with its own config, data, cache and plugin directories, talking to
    the control plane. PATH: the test virtualenv (slinky-pr, slinky) and the system."""

    def __init__(self, binary: Path, home: Path, cluster: devcluster.Cluster) -> None:
        self.binary = binary
        self.cluster = cluster
        kubeconfig = cluster.kubeconfig
        self.env = {
            **os.environ,
            "PATH": os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]),
            "KUBECONFIG": str(kubeconfig),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            "HELM_CACHE_HOME": str(home / "cache"),
            # Helm 4.3 installs local plugins under $HELM_DATA_HOME/plugins whatever
            # HELM_PLUGINS says, and loads them from HELM_PLUGINS: keep the two equal.
            "HELM_PLUGINS": str(home / "data" / "plugins"),
        }
        for name in ("SLINKY_PR_CONFIG", "HELM_BIN", "HELM_NAMESPACE", "VIRTUAL_ENV"):
            self.env.pop(name, None)

    def __call__(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, *map(str, args)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, f"helm {args}: {done.stderr}"
        return done

    def history(self, release: str, namespace: str) -> list[dict[str, Any]]:
        out = self("history", release, "-n", namespace, "-o", "json").stdout
        rows: list[dict[str, Any]] = yaml.safe_load(out)
        return rows


def helm_for(name: str, home: Path, cluster: devcluster.Cluster) -> Helm:
    need_binaries(name)
    return Helm(devcluster.BIN / name, home, cluster)


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
        except (AssertionError, devcluster.ClusterError) as err:
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
