"""`slinky verify`'s first step, which needs no pod: the operator's objects against the profile.

The objects are the real operator's output recorded in testdata/slurm/operator-1.0.1 (see its
SOURCE.md: the e2e release of tests/e2e/test_operator_stack.py, with the example catalogue),
as recorded and hand-broken; tests/e2e/test_operator_stack.py runs the same step against the
live API server and operator.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from postrender.model.profiles import Profile, parse_profile
from postrender.slurm.verify_config import OperatorConfig, check_config, slurmd_conf

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "testdata" / "slurm" / "operator-1.0.1"
PROFILES = (ROOT / "testdata" / "examples" / "profiles.yaml").read_text()
SLURM_CONF = (DATA / "slurm.conf").read_text()
GRES_CONF = (DATA / "gres.conf").read_text()
PODS: list[dict[str, Any]] = json.loads((DATA / "pods.json").read_text())
SOURCE = "ConfigMap operator/opcheck-slurm-config"


def profile(old: str = "", new: str = "") -> Profile:
    """The example catalogue (the one the recorded release was rendered with), edited."""
    assert old in PROFILES
    return parse_profile(PROFILES.replace(old, new) if old else PROFILES)


def objects(
    slurm_conf: str = SLURM_CONF,
    files: dict[str, str] | None = None,
    pods: list[dict[str, Any]] | None = None,
) -> OperatorConfig:
    gres = {"gres.conf": GRES_CONF} if files is None else files
    return OperatorConfig(SOURCE, slurm_conf, gres, PODS if pods is None else pods)


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def findings(config: OperatorConfig, prof: Profile | None = None) -> list[tuple[str, str]]:
    found, _ = check_config(prof or profile(), config)
    return [(f.kind, f.format()) for f in found]


def test_the_operators_recorded_objects_match_the_profile() -> None:
    found, notes = check_config(profile(), objects())
    assert found == [] and notes == []


def test_a_missing_partition_line() -> None:
    conf = edit(SLURM_CONF, "PartitionName=debug Nodes=gpu MaxTime=30 PriorityTier=20\n", "")
    assert findings(objects(conf)) == [
        (
            "missing-partition",
            f"partition debug: slurm.conf ({SOURCE}) has no PartitionName=debug line (it has: "
            "cpu, static, gpu, all, static-gpu-partition, gpu-partition, cpu-partition)",
        )
    ]


def test_a_wrong_max_time_in_slurm_conf_or_in_the_profile() -> None:
    line = f"partition gpu-partition: slurm.conf ({SOURCE}): MaxTime is "
    conf = edit(SLURM_CONF, "MaxTime=2-00:00:00", "MaxTime=1-00:00:00")
    assert findings(objects(conf)) == [
        ("option", line + "1-00:00:00, the profile wants 2-00:00:00")
    ]
    wants_more = profile("MaxTime: 2-00:00:00", "MaxTime: 3-00:00:00")
    assert findings(objects(), wants_more) == [
        ("option", line + "2-00:00:00, the profile wants 3-00:00:00")
    ]


def test_options_are_read_as_slurm_reads_them() -> None:
    # 2880 minutes is 2-00:00:00; an option on the PartitionName=DEFAULT line applies too.
    same = profile("MaxTime: 2-00:00:00", "MaxTime: 2880")
    assert findings(objects(), same) == []
    conf = edit(SLURM_CONF, " PriorityTier=20", "")
    assert [kind for kind, _ in findings(objects(conf))] == ["option"]
    with_default = conf.replace("#\n### EXTRA CONFIG ###", "PartitionName=DEFAULT PriorityTier=20")
    assert findings(objects(with_default)) == []


def test_a_partition_without_a_profile_nodeset() -> None:
    conf = edit(SLURM_CONF, "PartitionName=debug Nodes=gpu", "PartitionName=debug Nodes=cpu")
    assert findings(objects(conf)) == [
        (
            "nodeset",
            f"partition debug: slurm.conf ({SOURCE}): Nodes=cpu lacks NodeSet(s) gpu",
        )
    ]


def test_a_pod_whose_slurmd_conf_lacks_the_gres() -> None:
    pods = copy.deepcopy(PODS)
    gpu = pods[1]["spec"]["containers"][0]
    assert gpu["args"][-1] == "'Features=gpu,p4d.24xlarge,efa Gres=gpu:a100:8'"
    gpu["args"][-1] = "'Features=gpu,p4d.24xlarge,efa'"
    message = "pod gpu-0 slurmd --conf: Gres is (null), the profile wants gpu:a100:8"
    # debug, on the same NodeSet, asks for no GRES: one finding, gpu-partition's
    assert findings(objects(pods=pods)) == [
        ("gres", f"partition gpu-partition, node gpu-0: {message}"),
    ]
    gpu["args"][-1] = "'Features=gpu,p4d.24xlarge Gres=gpu:a100:4'"
    assert findings(objects(pods=pods)) == [
        (
            "gres",
            "partition gpu-partition, node gpu-0: pod gpu-0 slurmd --conf: Gres is "
            "gpu:a100:4, the profile wants gpu:a100:8",
        ),
        (
            "features",
            "partition gpu-partition, node gpu-0: pod gpu-0 slurmd --conf: features "
            "gpu,p4d.24xlarge lack efa",
        ),
    ]


def test_gres_types_and_gres_conf() -> None:
    conf = edit(SLURM_CONF, "GresTypes=gpu\n", "")
    kinds = [kind for kind, _ in findings(objects(conf))]
    # gpu-partition and static-gpu-partition ask for GPUs
    assert kinds == ["gres-types", "gres-types"]
    assert [kind for kind, _ in findings(objects(files={}))] == ["gres-conf", "gres-conf"]
    wrong = {"gres.conf": "Name=mps Count=100\n"}
    assert findings(objects(files=wrong))[0] == (
        "gres-conf",
        f"partition static-gpu-partition: gres.conf beside {SOURCE} neither autodetects "
        "GPUs nor lists Name=gpu",
    )
    listed = {"gres.conf": "NodeName=gpu-[0-1] Name=gpu Type=a100 File=/dev/nvidia[0-7]\n"}
    assert findings(objects(files=listed)) == []
    # gres_conf: false leaves gres.conf to the user
    assert findings(objects(files={}), profile("clusters:\n  - name: slinky-cluster\n",
        "clusters:\n  - name: slinky-cluster\n    gres_conf: false\n")) == []  # fmt: skip


def test_nodesets_without_pods_are_noted_not_errors() -> None:
    # A Karpenter pool that never scaled: the operator made no pods for cpu yet.
    pods = [p for p in PODS if p["spec"]["hostname"] != "cpu-0"]
    found, notes = check_config(profile(), objects(pods=pods))
    assert found == []
    assert notes == [
        "partition cpu-partition: NodeSet cpu has no pods yet (a node pool that never "
        "scaled up?): its slurmd --conf is not checked"
    ]


def test_only_the_partitions_asked_for() -> None:
    conf = edit(SLURM_CONF, "PartitionName=debug Nodes=gpu MaxTime=30 PriorityTier=20\n", "")
    found, _ = check_config(profile(), objects(conf), ["gpu-partition", "cpu-partition"])
    assert found == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-Z", "--conf", "'Features=a Gres=gpu:2'"], ("n-0", "Features=a Gres=gpu:2")),
        (["-Z", "--conf-server", "c:6817"], ("n-0", None)),
        (["-Z", "--conf", "'Features=a"], ("n-0", None)),  # a shell refuses it too
    ],
)
def test_slurmd_conf_of_a_pod(args: list[str], expected: tuple[str, str | None]) -> None:
    pod = {"spec": {"hostname": "n-0", "containers": [{"name": "slurmd", "args": args}]}}
    assert slurmd_conf(pod) == expected
    assert slurmd_conf({"spec": {"containers": [{"name": "logfile"}]}}) is None


def test_a_partition_the_profile_lacks() -> None:
    found, _ = check_config(profile(), objects(), ["gpu-partition", "gpu-partiton"])
    assert [(f.kind, f.format()) for f in found] == [
        (
            "unknown-partition",
            "partition gpu-partiton: profile cluster slinky-cluster has no partition gpu-partiton",
        )
    ]
