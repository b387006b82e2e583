"""`slinky export eksctl`: managed node groups that match the static partitions."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from postrender.cli.slinky import slinky_main
from postrender.errors import EXIT_PROFILE, SlinkyError
from postrender.export import eksctl
from postrender.model.profiles import load_profile, parse_profile

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "testdata" / "export").glob("eksctl-*"))
EXAMPLES = ROOT / "testdata" / "examples" / "profiles.yaml"


def profile(partition: str) -> object:
    return parse_profile(f"clusters:\n  - name: c\n    partitions:\n{partition}", "p.yaml")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path, request: pytest.FixtureRequest) -> None:
    """``profiles.yaml`` → ``expected.yaml``; ``pytest --update-golden`` rewrites it."""
    actual = eksctl.export(load_profile(str(case / "profiles.yaml")))
    expected_path = case / "expected.yaml"
    if request.config.getoption("update_golden", default=False):
        expected_path.write_text(actual)
    expected = expected_path.read_text()
    assert actual == expected, "".join(
        difflib.unified_diff(expected.splitlines(True), actual.splitlines(True))
    )


def test_static_gpu_partition_of_the_domain_brief() -> None:
    text = eksctl.export(
        load_profile(str(ROOT / "testdata/export/eksctl-static-gpu/profiles.yaml"))
    )
    (group,) = yaml.safe_load(text)["managedNodeGroups"]
    assert group["instanceType"] == "p4d.24xlarge"
    assert group["minSize"] == group["maxSize"] == group["desiredCapacity"] == 2
    assert group["labels"] == {"role": "slurm-static-gpu"}
    assert group["taints"] == [
        {"key": "slinky.io/usage", "value": "gpu-task", "effect": "NoSchedule"}
    ]
    assert group["efaEnabled"] is True


def test_the_example_catalogue_lacks_what_a_node_group_needs() -> None:
    with pytest.raises(SlinkyError) as caught:
        eksctl.export(load_profile(str(EXAMPLES)))
    assert caught.value.exit_code == EXIT_PROFILE
    text = caught.value.format()
    assert "partition static-gpu-partition at instance_types" in text
    assert "hint: add nodes: N" in text


def test_options_spot_types_and_efa_zone_note() -> None:
    text = eksctl.export(
        profile(
            """
      - name: hpc.nodes
        instance_types: [ml.c5n.18xlarge, c6in.32xlarge]
        nodes: 4
        efa_enabled: true
        capacity_type: spot
        nodeSelector: {example.com/pool: hpc, topology.kubernetes.io/zone: us-east-1a}
        tolerations: [{key: hpc, operator: Exists}]
        eksctl: {name: hpc, amiFamily: Bottlerocket}
"""
        ),
        volume_size=300,
    )
    (group,) = yaml.safe_load(text)["managedNodeGroups"]
    assert group == {
        "name": "hpc",
        "instanceTypes": ["c5n.18xlarge", "c6in.32xlarge"],
        "minSize": 4,
        "maxSize": 4,
        "desiredCapacity": 4,
        "volumeSize": 300,
        "amiFamily": "Bottlerocket",
        "availabilityZones": ["us-east-1a"],
        "spot": True,
        "labels": {"example.com/pool": "hpc"},
        "taints": [{"key": "hpc", "effect": "NoSchedule"}],
        "efaEnabled": True,
    }
    assert "availability zone" not in text  # the zone selector already pins it
    assert "# nodeSelector topology.kubernetes.io/zone: set on every node" in text


def test_efa_across_zones_and_reserved_labels_are_refused() -> None:
    with pytest.raises(SlinkyError) as caught:
        eksctl.export(
            profile(
                """
      - name: p
        instance_types: [p5.48xlarge]
        nodes: 2
        efa_enabled: true
        nodeSelector: {karpenter.k8s.aws/pool: x}
        eksctl: {availabilityZones: [us-east-1a, us-east-1b]}
"""
            )
        )
    text = caught.value.format()
    assert "single availability zone" in text
    assert "cannot be a node group label" in text


def test_no_static_partition() -> None:
    with pytest.raises(SlinkyError, match="no static partition"):
        eksctl.export(
            profile(
                """
      - name: p
        nodeSelector: {karpenter.sh/nodepool: pool}
      - name: q
        nodeSelector: {example.com/pool: q}
        karpenter: {nodepool: true}
"""
            )
        )


def test_cli(tmp_path: Path) -> None:
    config = ROOT / "testdata/export/eksctl-static-gpu/profiles.yaml"
    result = CliRunner().invoke(slinky_main, ["export", "eksctl", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output == (config.parent / "expected.yaml").read_text()
    failed = CliRunner().invoke(slinky_main, ["export", "eksctl", "-c", str(EXAMPLES)])
    assert failed.exit_code == EXIT_PROFILE


def test_efa_zone_note_and_zone_mismatch() -> None:
    efa = """
      - name: p
        instance_types: [p4d.24xlarge]
        nodes: 2
        efa_enabled: true
        nodeSelector: {role: p}
"""
    assert "# efaEnabled: keep the node group in one availability zone" in eksctl.export(
        profile(efa)
    )
    pinned = (
        efa.replace("{role: p}", "{role: p, topology.kubernetes.io/zone: us-east-1a}")
        + "        eksctl: {availabilityZones: [us-east-1b]}\n"
    )
    with pytest.raises(SlinkyError, match="but the node group spans us-east-1b"):
        eksctl.export(profile(pinned))
