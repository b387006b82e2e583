"""`slinky verify` against a real slurmctld: the harness's, reached through --scontrol.

The release is slinky-pr's output for the upstream chart and the example catalogue,
running on Slurm 26.05 (postrender.slurm.cluster). No Slurm output is mocked: every
comparison reads scontrol from live daemons; mismatches come from profiles that differ
from the release, or from changing the live cluster (draining a node).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from kubectl_standin import calls, kubectl_standin, recorded_objects

from postrender.cli.slinky import slinky_main
from postrender.model.profiles import parse_profile
from postrender.pipeline import post_render
from postrender.slurm.assemble import assemble
from postrender.slurm.cluster import SlurmCluster
from postrender.slurm.live_cluster import fullname, kubectl_scontrol
from postrender.slurm.verify import bad_states

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "testdata" / "examples"
UPSTREAM = EXAMPLES / "release.yaml"
IN_RELEASE = [
    "--partition",
    "gpu-partition",
    "--partition",
    "debug",
    "--partition",
    "cpu-partition",
]


def profile_text(old: str = "", new: str = "") -> str:
    """The example catalogue, edited."""
    text = (EXAMPLES / "profiles.yaml").read_text()
    if old:
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def cluster(
    slurm_required: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlurmCluster]:
    output = post_render(UPSTREAM.read_text(), parse_profile(profile_text())).output
    with SlurmCluster(assemble(output), tmp_path_factory.mktemp("verify")) as running:
        yield running


def verify(cluster: SlurmCluster, tmp_path: Path, *args: str, profile: str = "") -> Result:
    path = tmp_path / "profiles.yaml"
    path.write_text(profile or profile_text())
    scontrol = shlex.join(cluster.client_command())
    return CliRunner().invoke(
        slinky_main, ["verify", "--config", str(path), "--scontrol", scontrol, *args]
    )


# ----- against the live harness ------------------------------------------------------


@pytest.mark.slurm
def test_matching_release_exits_0(cluster: SlurmCluster, tmp_path: Path) -> None:
    result = verify(cluster, tmp_path, *IN_RELEASE)
    assert result.exit_code == 0, result.output
    assert "OK: 3 partition(s) of profile cluster slinky-cluster match Slurm" in result.output
    assert "gpu-0  IDLE+DYNAMIC_NORM  gpu:a100:8(S:0)  gpu,p4d.24xlarge,efa" in result.output


@pytest.mark.slurm
def test_matching_release_as_json(cluster: SlurmCluster, tmp_path: Path) -> None:
    result = verify(cluster, tmp_path, *IN_RELEASE, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True and report["findings"] == []
    rows = {row["partition"]: row for row in report["partitions"]}
    assert rows["debug"]["max_time"] == "00:30:00" and rows["debug"]["priority_tier"] == "20"


@pytest.mark.slurm
@pytest.mark.parametrize(
    ("args", "edit", "line"),
    [
        # Without --partition the whole catalogue is checked, static-gpu-partition too.
        (
            [],
            ("", ""),
            "MISMATCH partition static-gpu-partition: missing: Slurm has no such partition "
            "(it has: gpu, all, gpu-partition, debug, cpu-partition)",
        ),
        (
            IN_RELEASE,
            ("MaxTime: 2-00:00:00", "MaxTime: 3-00:00:00"),
            "MISMATCH partition gpu-partition: MaxTime is 2-00:00:00, the profile wants 3-00:00:00",
        ),
        (
            IN_RELEASE,
            ("nodesets: [gpu]", "nodesets: [gpu, cpu]"),
            "MISMATCH partition debug: nodes of NodeSet cpu are not in it: cpu-0",
        ),
    ],
    ids=["missing partition", "wrong MaxTime", "NodeSet not in partition"],
)
def test_profile_and_slurm_differ(
    cluster: SlurmCluster, tmp_path: Path, args: list[str], edit: tuple[str, str], line: str
) -> None:
    result = verify(cluster, tmp_path, *args, profile=profile_text(*edit))
    assert result.exit_code == 1, result.output
    assert f"{line}\n1 problem(s)\n" in result.output


@pytest.mark.slurm
def test_same_time_written_differently_matches(cluster: SlurmCluster, tmp_path: Path) -> None:
    edited = profile_text("MaxTime: 2-00:00:00", "MaxTime: 2880").replace(
        "MaxTime: 30\n", 'MaxTime: "0:30:00"\n'
    )
    assert verify(cluster, tmp_path, *IN_RELEASE, profile=edited).exit_code == 0


@pytest.mark.slurm
def test_nodes_without_the_gres_or_features_asked_for(
    cluster: SlurmCluster, tmp_path: Path
) -> None:
    edited = profile_text("gres: auto", "gres: gpu:4\n        features: [nvlink]")
    result = verify(cluster, tmp_path, *IN_RELEASE, "--format", "json", profile=edited)
    assert result.exit_code == 1
    findings = {f["kind"]: f for f in json.loads(result.output)["findings"]}
    assert findings["gres"]["node"] == "gpu-0"
    assert findings["gres"]["message"] == "Gres is gpu:a100:8(S:0), the profile wants gpu:4"
    assert findings["features"]["expected"] == "nvlink"


@pytest.mark.slurm
def test_drained_node_with_its_reason(cluster: SlurmCluster, tmp_path: Path) -> None:
    cluster.scontrol("update", "NodeName=cpu-0", "State=DRAIN", "Reason=disk full")
    try:
        result = verify(cluster, tmp_path, *IN_RELEASE)
    finally:
        cluster.scontrol("update", "NodeName=cpu-0", "State=RESUME")
        # slurmctld marks a resumed node NOT_RESPONDING until its next ping answers.
        deadline = time.monotonic() + 20
        while bad_states(cluster.show_nodes()["cpu-0"]["State"]) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert result.exit_code == 1, result.output
    line = "MISMATCH partition cpu-partition, node cpu-0: is IDLE+DRAIN+DYNAMIC_NORM: disk full"
    assert line in result.output


@pytest.mark.slurm
def test_kubectl_exec_into_the_slurmctld_pod(cluster: SlurmCluster, tmp_path: Path) -> None:
    """The default commands, run by a stand-in kubectl (tests/kubectl_standin.py) that
    answers `get` with the operator's recorded objects and execs the local scontrol."""
    kubectl, record = kubectl_standin(
        tmp_path, recorded_objects("ml-slurm"), cluster.client_command()
    )
    path = tmp_path / "profiles.yaml"
    path.write_text(profile_text())
    result = CliRunner().invoke(
        slinky_main,
        ["verify", "-c", str(path), "--release", "ml", "--kubectl", kubectl, *IN_RELEASE],
        env={"HELM_NAMESPACE": "hpc", "HELM_KUBECONTEXT": "prod"},
    )
    assert result.exit_code == 0, result.output
    head = ["--context", "prod"]
    # first the operator's objects, then scontrol in the slurmctld pod
    assert calls(record) == [
        [*head, "get", "-n", "hpc", "configmap", "ml-slurm-config", "-o", "json"],
        [*head, "get", "-n", "hpc", "controllers.slinky.slurm.net", "ml-slurm", "-o", "json"],
        [*head, "get", "-n", "hpc", "configmap", "ml-slurm-gres", "-o", "json"],
        [*head, "get", "-n", "hpc", "nodesets.slinky.slurm.net", "-o", "json"],
        [*head, "get", "-n", "hpc", "pods", "-o", "json"],
        *(
            [*head, "exec", "-n", "hpc", "ml-slurm-controller-0", "-c", "slurmctld", "--",
             "scontrol", "--all", "show", entity, "-o"]
            for entity in ("partition", "node")
        ),
    ]  # fmt: skip


# ----- a Karpenter pool that never scaled up ------------------------------------------


@pytest.mark.slurm
def test_partition_with_no_nodes(slurm_required: None, tmp_path: Path) -> None:
    output = post_render(UPSTREAM.read_text(), parse_profile(profile_text())).output
    # The cpu NodeSet's 10 pods stay Pending: no slurmd, no Slurm node.
    with SlurmCluster(assemble(output), tmp_path / "slurm", unscheduled={"cpu"}) as running:
        result = verify(running, tmp_path, *IN_RELEASE)
    assert result.exit_code == 1
    assert "MISMATCH partition cpu-partition: has no nodes" in result.output
    assert "1 problem(s)" in result.output


# ----- without Slurm ------------------------------------------------------------------


def test_scontrol_that_fails_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(profile_text())
    failing = shlex.join([sys.executable, "-c", "raise SystemExit('no route to host')"])
    result = CliRunner().invoke(slinky_main, ["verify", "-c", str(path), "--scontrol", failing])
    assert result.exit_code == 3
    assert "cannot read the Slurm state" in result.output
    assert "--all show partition -o: no route to host" in result.output


def test_default_pod_and_command() -> None:
    assert fullname("slinky") == "slinky-slurm" and fullname("slurm") == "slurm"
    assert kubectl_scontrol("kubectl --kubeconfig k", "ns", "p", "slurmctld") == [
        "kubectl",
        "--kubeconfig",
        "k",
        "exec",
        "-n",
        "ns",
        "p",
        "-c",
        "slurmctld",
        "--",
        "scontrol",
    ]


def test_node_states_that_block_jobs() -> None:
    assert bad_states("IDLE+DRAIN+DYNAMIC_NORM+INVALID_REG") == ["DRAIN", "INVALID_REG"]
    assert bad_states("MIXED+DYNAMIC_NORM") == []
