"""Pods a partition's nodes cannot hold are refused (transforms/capacity.py).

The chart sample renders the gpu NodeSet with ``replicas: 2``; operators from 1.1 run one
slurmd pod per node (pod anti-affinity), so a partition with ``nodes: 1`` leaves one Pending.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from postrender.engine import post_render
from postrender.errors import EXIT_PLAN, SlinkyError
from postrender.profiles import Profile, parse_profile

RENDERED = Path(__file__).resolve().parent.parent / "testdata" / "upstream" / "rendered"
RELEASE_13 = (RENDERED / "slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()
RELEASE_10 = (RENDERED / "slurm-1.0.1_gpu-cpu.yaml").read_text()

POOL = """
      - name: gpu-partition
        instance_types: [p5.48xlarge]
        nodes: {nodes}
        gres: auto
        nodeSelector: {{karpenter.sh/nodepool: slurm-gpu-pool}}
        karpenter: {{nodepool: true, nodeclass: {{role: KarpenterNodeRole-x}}}}
      - name: cpu-partition
"""
STATIC = """
      - name: gpu-partition
        instance_types: [p4d.24xlarge]
        nodes: {nodes}
        gres: auto
        nodeSelector: {{role: slurm-static-gpu}}
      - name: cpu-partition
"""


def profile(partitions: str, nodes: int) -> Profile:
    text = "clusters:\n  - name: c\n    partitions:" + partitions.format(nodes=nodes)
    return parse_profile(text, "profiles.yaml")


def gpu_replicas(text: str, replicas: int, oversubscribe: bool = False) -> str:
    head, tail = text.split("name: slinky-slurm-worker-gpu", 1)
    tail = tail.replace("  replicas: 2\n", f"  replicas: {replicas}\n", 1)
    if oversubscribe:
        assert "  oversubscribeNode: false\n" in tail
        tail = tail.replace("  oversubscribeNode: false\n", "  oversubscribeNode: true\n", 1)
    return head + "name: slinky-slurm-worker-gpu" + tail


@pytest.mark.parametrize("partitions", [POOL, STATIC], ids=["generated-pool", "static-group"])
def test_more_replicas_than_nodes_is_refused(partitions: str) -> None:
    with pytest.raises(SlinkyError) as info:
        post_render(gpu_replicas(RELEASE_13, 6), profile(partitions, 4))
    assert info.value.exit_code == EXIT_PLAN
    text = info.value.format()
    assert "6 slurmd pods (replicas of gpu (6)) need 6 nodes" in text
    assert "nodes: 4" in text and "2 pod(s) stay Pending" in text
    assert "profiles.yaml" in text and "spec.replicas" in text


@pytest.mark.parametrize("partitions", [POOL, STATIC], ids=["generated-pool", "static-group"])
def test_replicas_up_to_nodes_pass(partitions: str) -> None:
    post_render(gpu_replicas(RELEASE_13, 4), profile(partitions, 4))


def test_oversubscribed_nodeset_may_share_nodes_within_their_gpus() -> None:
    # oversubscribeNode drops the anti-affinity; 6 pods x 8 GPUs still need 6 p5 nodes.
    text = gpu_replicas(RELEASE_13, 6, oversubscribe=True)
    with pytest.raises(SlinkyError, match=r"ask 48 nvidia.com/gpu in all, but nodes: 4 of 8"):
        post_render(text, profile(POOL, 4))


def test_oversubscribed_nodeset_without_accelerators_passes() -> None:
    cpu_only = POOL.replace("        gres: auto\n", "")
    post_render(gpu_replicas(RELEASE_13, 6, oversubscribe=True), profile(cpu_only, 4))


def test_daemonset_scaling_ignores_replicas() -> None:
    text = gpu_replicas(RELEASE_13, 6).replace("scalingMode: StatefulSet", "scalingMode: DaemonSet")
    assert "scalingMode: DaemonSet" in text
    post_render(text, profile(POOL.replace("        gres: auto\n", ""), 4))


def test_operator_1_0_has_no_anti_affinity() -> None:
    # Chart 1.0.1: pods may share a node; without GPUs nothing bounds them per node.
    cpu_only = POOL.replace("        gres: auto\n", "")
    post_render(gpu_replicas(RELEASE_10, 6), profile(cpu_only, 4))
    with pytest.raises(SlinkyError, match="need 6 nodes"):
        post_render(gpu_replicas(RELEASE_13, 6), profile(cpu_only, 4))


def test_a_partition_on_an_existing_pool_is_not_sized_by_slinky_pr() -> None:
    # nodes describes a pool slinky-pr neither generates nor exports: lint judges it.
    existing = POOL.replace(
        "        karpenter: {{nodepool: true, nodeclass: {{role: KarpenterNodeRole-x}}}}\n", ""
    )
    post_render(gpu_replicas(RELEASE_13, 6), profile(existing, 4))
