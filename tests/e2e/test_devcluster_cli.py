"""docs/e2e.md's `make cluster-up` / `make cluster-down`: `devcluster.py up` returns with the
control plane running and prints its kubeconfig; `down` stops every process by PID.

The operator's webhook port is fixed (9443) and the session's control plane holds it, so
this second one runs in a network namespace of its own (`unshare --net`, its own
loopback); PIDs are shared, so `down` runs from outside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import devcluster
import host
import pins
from e2e_stack import OPERATOR, need_binaries
from needs import missing


def test_up_prints_a_working_kubeconfig_and_down_stops_everything(tmp_path: Path) -> None:
    need_binaries("etcd", "kube-apiserver", "kubectl", *pins.operator_binaries(OPERATOR))
    if not (shutil.which("unshare") and shutil.which("ip")):
        missing("unshare or ip (util-linux, iproute2) not found", "the devcluster CLI test")
    script = Path(devcluster.__file__)
    kubectl = pins.binary("kubectl")
    inside = (
        "ip link set lo up"
        f' && "{sys.executable}" "{script}" up --dir "{tmp_path}" > "{tmp_path}/printed"'
        f' && "{kubectl}" --kubeconfig "$(cat "{tmp_path}/printed")"'
        " get crd/nodesets.slinky.slurm.net crd/nodepools.karpenter.sh"
        " validatingwebhookconfiguration/slurm-operator-validating-webhook-configuration -o name"
    )
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", inside],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    state = json.loads((tmp_path / "state.json").read_text())
    try:
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "printed").read_text().strip() == str(tmp_path / "kubeconfig")
        assert done.stdout.split() == [
            "customresourcedefinition.apiextensions.k8s.io/nodesets.slinky.slurm.net",
            "customresourcedefinition.apiextensions.k8s.io/nodepools.karpenter.sh",
            "validatingwebhookconfiguration.admissionregistration.k8s.io/"
            "slurm-operator-validating-webhook-configuration",
        ]
        names = [p["name"] for p in state["procs"]]
        assert names == ["etcd", "kube-apiserver", "slurm-operator-webhook", "slurm-operator"]
        # still running after `up` returned
        assert all(host.start_time(p["pid"]) == p["start"] for p in state["procs"])
    finally:
        down = subprocess.run(
            [sys.executable, script, "down", "--dir", tmp_path],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert down.returncode == 0, down.stderr
    assert all(host.start_time(p["pid"]) != p["start"] for p in state["procs"])
    assert json.loads((tmp_path / "state.json").read_text())["procs"] == []


def test_versions_lists_the_operator_pins_and_up_refuses_another(tmp_path: Path) -> None:
    script = Path(devcluster.__file__)
    listed = subprocess.run(
        [sys.executable, script, "versions"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed == pins.operator_versions() and "v1.1.0" in listed
    env = {**os.environ, "SLINKY_E2E_OPERATOR": "v9.9.9"}
    done = subprocess.run(
        [sys.executable, script, "up", "--dir", tmp_path],
        capture_output=True, text=True, check=False, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert f"SLINKY_E2E_OPERATOR=v9.9.9: not one of {', '.join(listed)}" in done.stderr
