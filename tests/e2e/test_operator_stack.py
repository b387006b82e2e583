"""What the real Slinky operator builds from a post-rendered release, read back from the API
server and run on Slurm 26.05: the Controller's slurm.conf ConfigMap, the gres.conf of the
ConfigMap its configFileRefs names, and the NodeSet pods' slurmd arguments.

Without a kubelet the pods are created and stay Pending; their slurmd runs here instead, in
the real-Slurm harness (postrender.slurm.operator: only the keys that bind the files to the
pods' environment are rebound). The same files are held equal to `postrender.slurm.assemble`,
which rebuilds them from the stream for the other real-Slurm tests.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pins
import pytest
import yaml
from devcluster import Cluster
from e2e_stack import (
    PROFILES,
    STATIC_GPU,
    VALUES,
    VENV_BIN,
    eventually,
    get,
    helm_for,
    operator_at_least,
    retry_webhook_cache_miss,
)
from operator_slurm import conf_keys_changed, run_and_probe

from postrender.errors import EXIT_FINDINGS, EXIT_INPUT
from postrender.slurm.assemble import assemble, operator_slurmd_conf
from postrender.slurm.operator import REBOUND, PodSlurmd, pod_slurmds

NAMESPACE = "operator"
# Operator 1.0.1 confuses Controllers of one name in several namespaces (it sets owner
# references across namespaces and creates no pods): the other tests' releases are all
# `slinky`, so this one has a name of its own.
RELEASE = "opcheck"
FULLNAME = "opcheck-slurm"


@pytest.fixture(scope="module")
def stream(cluster: Cluster, chart: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Install with the Helm 3 CLI; returns the manifest Helm applied."""
    helm = helm_for("helm3", tmp_path_factory.mktemp("helm3"), cluster)
    done = retry_webhook_cache_miss(cluster, NAMESPACE, lambda: helm(
        "upgrade", "--install", RELEASE, chart, "-n", NAMESPACE, "--create-namespace",
        "-f", VALUES, "-f", STATIC_GPU, "--post-renderer", "slinky-pr",
        "--post-renderer-args", f"--config={PROFILES}", check=False,
    ))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return helm("get", "manifest", RELEASE, "-n", NAMESPACE).stdout


def slurm_conf(cluster: Cluster) -> dict[str, str]:
    data: dict[str, str] = get(cluster, "configmap", NAMESPACE, f"{FULLNAME}-config")["data"]
    return data


def test_operator_slurm_conf_has_the_partitions_and_gres(cluster: Cluster, stream: str) -> None:
    data = eventually(lambda: slurm_conf(cluster))
    conf = data["slurm.conf"].splitlines()
    assert "GresTypes=gpu" in conf
    for partition in ("gpu-partition", "cpu-partition", "static-gpu-partition", "debug"):
        assert any(line.startswith(f"PartitionName={partition} ") for line in conf), partition
    # gres.conf comes from slinky-pr's ConfigMap (configFileRefs), so the operator does not
    # write its default one
    assert "gres.conf" not in data

    # assemble rebuilds the same NodeSet and partition lines (operator 1.0.1 writes
    # NodeSets in its cache's order, 1.1.0 sorts them: compared as a set) and the same
    # extraConf lines, in order
    sim = assemble(stream).slurm_conf_body().splitlines()
    assert sim[0] == "AccountingStorageType=accounting_storage/none" and sim[0] in conf
    nodes = conf.index("### COMPUTE & PARTITION ###")
    extra = conf.index("### EXTRA CONFIG ###")
    nodeset_lines = [line.rstrip() for line in conf[nodes:extra] if not line.startswith("#")]
    sim_nodeset_lines = [
        line.rstrip() for line in sim if line.startswith(("NodeSet=", "PartitionName="))
    ]
    n = len(nodeset_lines)
    assert sorted(nodeset_lines) == sorted(sim_nodeset_lines[:n])
    assert [line for line in conf[extra + 1 :] if line] == sim[1 + n :]


def slurmd_args(cluster: Cluster) -> dict[str, list[str]]:
    pods: Any = get(cluster, "pods", NAMESPACE)
    found = {}
    for pod in pods["items"]:
        for container in pod["spec"]["containers"]:
            if container["name"] == "slurmd":
                found[pod["metadata"]["name"]] = container["args"]
    return found


def test_operator_nodeset_pods_run_slurmd_with_the_merged_conf(
    cluster: Cluster, stream: str
) -> None:
    nodesets = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(stream)
        if isinstance(d, dict) and d["kind"] == "NodeSet"
    }
    expected_pods = {f"{name}-0" for name in nodesets}
    if operator_at_least("1.1"):
        # Operator 1.1.0 asks slurmrestd for the Slurm nodes (RefreshNodeCache) before it
        # makes NodeSet pods; no slurmrestd runs here, so it stops there and makes none.
        log = cluster.log("slurm-operator")
        eventually(lambda: f"{FULLNAME}-restapi.{NAMESPACE}:6820/slurm/" in log.read_text())
        assert slurmd_args(cluster) == {}
        return
    pods = eventually(
        lambda: expected_pods <= slurmd_args(cluster).keys() and slurmd_args(cluster), 120
    )
    for name, spec in ((n, d["spec"]) for n, d in nodesets.items()):
        key = spec["template"]["spec"]["hostname"].strip("-")
        args = pods[f"{name}-0"]
        assert args[0] == "-Z"
        conf = args[args.index("--conf") + 1]
        assert conf == f"'{operator_slurmd_conf(spec.get('extraConf', ''), key)}'"
        if key in ("gpu", "static"):
            assert "Gres=gpu:" in conf and f"Features={key}" in conf


def modelled_slurmd(nodeset: dict[str, Any]) -> PodSlurmd:
    """The first pod's slurmd as operators 1.0.x make it, from the NodeSet."""
    spec = nodeset["spec"]
    key = spec["template"]["spec"]["hostname"].strip("-")
    limit = ((spec.get("slurmd") or {}).get("resources") or {}).get("limits") or {}
    gpus = limit.get("nvidia.com/gpu")
    conf = operator_slurmd_conf(spec.get("extraConf", ""), key)
    server = f"{FULLNAME}-controller.{NAMESPACE}:6817"
    return PodSlurmd(
        f"{key}-0", ("-Z", "--conf-server", server, "--conf", f"'{conf}'"),
        None if gpus is None else int(str(gpus)),
    )  # fmt: skip


@pytest.mark.slurm
def test_the_operators_files_and_slurmd_args_run_on_slurm(
    cluster: Cluster, stream: str, tmp_path: Path
) -> None:
    """The operator's slurm.conf, slinky-pr's gres.conf (through configFileRefs) and each
    NodeSet's first pod's slurmd args, as the API server holds them (operator 1.1.0 makes no
    pods here: the args operators 1.0.x give them), run on Slurm 26.05:
    every node registers, ``srun --gres=gpu:8`` runs on every partition of the GPU
    NodeSets and ``gpu:9`` is refused."""
    conf = eventually(lambda: slurm_conf(cluster))["slurm.conf"]
    refs = get(cluster, "controller", NAMESPACE, FULLNAME)["spec"]["configFileRefs"]
    files: dict[str, str] = {}
    for ref in refs:
        files.update(get(cluster, "configmap", NAMESPACE, ref["name"])["data"])
    assert set(files) == {"gres.conf"}
    nodesets = [
        d for d in yaml.safe_load_all(stream) if isinstance(d, dict) and d["kind"] == "NodeSet"
    ]
    if operator_at_least("1.1"):
        # No pods here (see the test above): its slurm.conf runs with the slurmd arguments
        # operators 1.0.x give their pods, built by the model that test holds equal to them.
        pods = tuple(sorted((modelled_slurmd(d) for d in nodesets), key=lambda p: p.hostname))
    else:
        first_pods = {f"{d['metadata']['name']}-0" for d in nodesets}
        eventually(lambda: first_pods <= slurmd_args(cluster).keys(), 120)
        pods = pod_slurmds(get(cluster, "pods", NAMESPACE)["items"])
    assert [p.hostname for p in pods] == ["cpu-0", "gpu-0", "static-0"]

    written, results = run_and_probe(conf, files, pods, tmp_path)
    assert conf_keys_changed(conf, written) == set(REBOUND)
    ran = {
        (part, gres)
        for part, gres, code, said in results
        if code == 0 and said == "0,1,2,3,4,5,6,7"
    }
    refused = {(part, gres) for part, gres, code, said in results if code != 0}
    gpu_partitions = {"gpu", "all", "gpu-partition", "debug", "static", "static-gpu-partition"}
    assert ran == {(part, "gpu:8") for part in gpu_partitions}
    assert refused == {(part, "gpu:9") for part in gpu_partitions}


def run_verify(cluster: Cluster, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kubectl = f"{pins.binary('kubectl')} --kubeconfig {cluster.kubeconfig}"
    return subprocess.run(
        [VENV_BIN / "slinky", "verify", "--config", profile, "-n", NAMESPACE,
         "--release", RELEASE, "--kubectl", kubectl, *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_verify_checks_the_operators_objects_and_stops_where_a_pod_is_needed(
    cluster: Cluster, stream: str, tmp_path: Path
) -> None:
    """`slinky verify` against this API server: its first step reads what the operator built
    (the slurm.conf ConfigMap, gres.conf through configFileRefs, the NodeSet pods' slurmd
    --conf) and finds every partition of the release as the profile asks; then no
    controller-manager makes the slurmctld pod, so the exec is refused: verify keeps the
    first step's report, says which command stopped it and why, without a traceback."""
    assert get(cluster, "statefulset", NAMESPACE, f"{FULLNAME}-controller")
    eventually(lambda: slurm_conf(cluster))
    if not operator_at_least("1.1"):
        # 1.0.x makes the NodeSet pods (Pending): wait for them so their --conf is checked
        first_pods = {
            f"{d['metadata']['name']}-0"
            for d in yaml.safe_load_all(stream)
            if isinstance(d, dict) and d["kind"] == "NodeSet"
        }
        eventually(lambda: first_pods <= slurmd_args(cluster).keys(), 120)
    done = run_verify(cluster, PROFILES, "--format", "json")
    assert done.returncode == EXIT_INPUT, done.stderr
    report = json.loads(done.stdout)
    assert report["findings"] == []
    assert report["checked"] == ["static-gpu-partition", "gpu-partition", "debug", "cpu-partition"]
    exec_argv = f"exec -n {NAMESPACE} {FULLNAME}-controller-0 -c slurmctld -- scontrol"
    refused = f'pods "{FULLNAME}-controller-0" not found'
    assert exec_argv in report["stopped"] and refused in report["stopped"]
    assert exec_argv in done.stderr and refused in done.stderr
    assert "cannot read the Slurm state" in done.stderr
    assert "Traceback" not in done.stderr
    if operator_at_least("1.1"):
        # no pods here (see above): each NodeSet's slurmd --conf is noted as not checked
        assert all("has no pods yet" in note for note in report["notes"])
        assert len(report["notes"]) == 4, report["notes"]  # one per partition
    else:
        assert "notes" not in report

    # A profile asking another MaxTime is a finding of the first step; the stop stays.
    wants = tmp_path / "profiles.yaml"
    wants.write_text(PROFILES.read_text().replace("MaxTime: 2-00:00:00", "MaxTime: 3-00:00:00"))
    done = run_verify(cluster, wants)
    assert done.returncode == EXIT_FINDINGS, done.stderr
    assert (
        f"MISMATCH partition gpu-partition: slurm.conf (ConfigMap {NAMESPACE}/{FULLNAME}-config):"
        " MaxTime is 2-00:00:00, the profile wants 3-00:00:00\n" in done.stdout
    )
    assert f"STOPPED {pins.binary('kubectl')}" in done.stdout and refused in done.stdout
