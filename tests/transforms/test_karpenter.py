"""Generated Karpenter NodePools/EC2NodeClasses and the Karpenter rules schemas miss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from karpenter_objects import ec2nodeclass

from postrender.errors import Problem, SlinkyError
from postrender.model.profiles import parse_profile
from postrender.pipeline import Result, post_render
from postrender.transforms.karpenter import pool_name, taints_for
from postrender.validate import karpenter as karpenter_rules
from postrender.validate.schemas import validate_document
from postrender.yaml.stream import FILENAME_ANNOTATION, read_stream

ROOT = Path(__file__).resolve().parents[2]
RENDERED = ROOT / "testdata" / "upstream" / "rendered"
HELM3 = (RENDERED / "slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()
HELM4 = (RENDERED / "helm4-input_slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()

GPU = """
      - name: gpu-partition
        instance_types: [p5.48xlarge]
        nodes: 2
        efa_enabled: true
        gres: auto
        nodeSelector: {karpenter.sh/nodepool: slurm-gpu-pool}
        tolerations:
          - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
        karpenter:
          nodepool: true
          nodeclass: {role: KarpenterNodeRole-x}
"""
CPU = """
      - name: cpu-partition
        instance_types: [c5.24xlarge]
"""


def profile(*partitions: str, cluster: str = "slinky-cluster") -> Any:
    text = f"clusters:\n  - name: {cluster}\n    partitions:" + "".join(partitions)
    return parse_profile(text, "profiles.yaml")


def added(result: Result, kind: str) -> list[dict[str, Any]]:
    return [d.body for d in result.stream.added if d.kind == kind]


def only(result: Result, kind: str) -> dict[str, Any]:
    (body,) = added(result, kind)
    return body


# --- derivation ---------------------------------------------------------------------


def test_taints_from_tolerations() -> None:
    tolerations = [
        {"key": "a", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
        {"key": "b", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
        {"key": "c", "operator": "Exists"},  # any effect: NoSchedule is tolerated
        {"operator": "Exists"},  # tolerates everything: implies no taint
        {"key": "a", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
    ]
    assert taints_for(tolerations) == [
        {"key": "a", "value": "x", "effect": "NoSchedule"},
        {"key": "b", "effect": "NoExecute"},
        {"key": "c", "effect": "NoSchedule"},
    ]


def test_pool_name_defaults() -> None:
    named = profile(GPU, CPU).partitions["gpu-partition"]
    assert pool_name(named) == "slurm-gpu-pool"
    unnamed = profile(
        """
      - name: Big_GPU
        nodeSelector: {example.com/pool: big}
        karpenter: {nodepool: true}
""",
    ).partitions["Big_GPU"]
    assert pool_name(unnamed) == "big-gpu-pool"


def test_generated_pool_agrees_with_the_nodeset() -> None:
    result = post_render(HELM3, profile(GPU, CPU))
    pool = only(result, "NodePool")
    spec = pool["spec"]["template"]["spec"]
    nodeset = next(d.body for d in result.stream.documents if d.name.endswith("-gpu"))
    pod = nodeset["spec"]["template"]["spec"]
    assert pool["metadata"]["name"] == pod["nodeSelector"]["karpenter.sh/nodepool"]
    assert "metadata" not in pool["spec"]["template"]  # karpenter.sh/nodepool is Karpenter's
    assert spec["taints"] == [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in (
        pod["tolerations"]
    )
    requirements = {r["key"]: r["values"] for r in spec["requirements"]}
    assert requirements == {
        "node.kubernetes.io/instance-type": ["p5.48xlarge"],
        "karpenter.sh/capacity-type": ["on-demand"],
        "kubernetes.io/arch": ["amd64"],
        "kubernetes.io/os": ["linux"],
    }
    # 2 nodes x (192 vCPU, 2 TiB, 8 H100)
    assert pool["spec"]["limits"] == {"cpu": 384, "memory": "4096Gi", "nvidia.com/gpu": 16}
    assert pool["spec"]["disruption"] == {
        "consolidationPolicy": "WhenEmpty",
        "consolidateAfter": "5m",
    }
    assert spec["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": "slurm-gpu-pool",
    }
    nodeclass = only(result, "EC2NodeClass")["spec"]
    assert nodeclass["amiSelectorTerms"] == [{"alias": "al2023@latest"}]
    assert nodeclass["subnetSelectorTerms"] == [
        {"tags": {"karpenter.sh/discovery": "slinky-cluster"}}
    ]
    # Either would stop Karpenter from attaching the EFA interfaces the pods request.
    assert "networkInterfaces" not in nodeclass
    assert "associatePublicIPAddress" not in nodeclass


def test_selector_labels_split_into_labels_and_requirements() -> None:
    result = post_render(
        HELM3,
        profile(
            """
      - name: gpu-partition
        instance_types: [g6e.12xlarge, g6e.24xlarge]
        nodeSelector:
          example.com/pool: l40s
          topology.kubernetes.io/zone: us-east-1a
          node.kubernetes.io/instance-type: g6e.12xlarge
        karpenter: {nodepool: true}
""",
            CPU,
        ),
    )
    pool = only(result, "NodePool")
    assert pool["metadata"]["name"] == "gpu-partition-pool"
    assert pool["spec"]["template"]["metadata"] == {"labels": {"example.com/pool": "l40s"}}
    requirements = {r["key"]: r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]}
    assert requirements["topology.kubernetes.io/zone"] == ["us-east-1a"]
    assert requirements["node.kubernetes.io/instance-type"] == ["g6e.12xlarge"]


def test_no_limits_without_nodes_and_no_gpu_limit_on_cpu() -> None:
    result = post_render(
        HELM3,
        profile(
            """
      - name: gpu-partition
        instance_types: [p4d.24xlarge]
""",
            """
      - name: cpu-partition
        instance_types: [c5.24xlarge]
        capacity_type: spot
        nodeSelector: {karpenter.sh/nodepool: cpu}
        karpenter: {nodepool: true}
""",
        ),
    )
    pool = only(result, "NodePool")
    assert "limits" not in pool["spec"]
    assert "taints" not in pool["spec"]["template"]["spec"]
    assert pool["spec"]["template"]["spec"]["nodeClassRef"]["name"] == "default"
    assert any("EC2NodeClass default, which must already exist" in n for n in result.notes)
    assert added(result, "EC2NodeClass") == []


def test_bottlerocket_sizes_the_data_volume() -> None:
    result = post_render(
        HELM3,
        profile(
            GPU.replace(
                "nodeclass: {role: KarpenterNodeRole-x}",
                "nodeclass: {instanceProfile: p, ami: bottlerocket@1.30.0, volumeSize: 300Gi}",
            ),
            CPU,
        ),
    )
    spec = only(result, "EC2NodeClass")["spec"]
    assert spec["instanceProfile"] == "p" and "role" not in spec
    assert spec["amiSelectorTerms"] == [{"alias": "bottlerocket@1.30.0"}]
    assert [(m["deviceName"], m["ebs"]["volumeSize"]) for m in spec["blockDeviceMappings"]] == [
        ("/dev/xvda", "4Gi"),
        ("/dev/xvdb", "300Gi"),
    ]


def test_only_partitions_in_the_release_get_a_pool() -> None:
    extra = """
      - name: elsewhere
        instance_types: [c5.24xlarge]
        nodeSelector: {karpenter.sh/nodepool: other}
        karpenter: {nodepool: true}
"""
    result = post_render(HELM3, profile(GPU, CPU, extra))
    assert [p["metadata"]["name"] for p in added(result, "NodePool")] == ["slurm-gpu-pool"]


# --- documents, schemas, idempotence ------------------------------------------------


@pytest.mark.parametrize("text", [HELM3, HELM4], ids=["helm3", "helm4"])
def test_added_documents_are_filed_and_valid(text: str) -> None:
    result = post_render(text, profile(GPU, CPU))
    for kind in ("NodePool", "EC2NodeClass"):
        (doc,) = [d for d in result.stream.added if d.kind == kind]
        source = f"slurm/templates/slinky-pr/{kind.lower()}-slurm-gpu-pool.yaml"
        if text is HELM4:  # Helm 4 files it by the annotation and writes the comment itself
            assert doc.head == "---\n"
            assert doc.body["metadata"]["annotations"] == {FILENAME_ANNOTATION: source}
        else:  # Helm 3 would apply the annotation to the cluster
            assert doc.head == f"---\n# Source: {source}\n"
            assert "annotations" not in doc.body["metadata"]
        assert "namespace" not in doc.body["metadata"]  # cluster-scoped
        assert validate_document(doc.body) == []
        assert karpenter_rules.problems(doc.body) == []
    # and they are in the output text, readable back
    kinds = [d.kind for d in read_stream(result.output).documents]
    assert kinds.count("NodePool") == 1 and kinds.count("EC2NodeClass") == 1


@pytest.mark.parametrize("text", [HELM3, HELM4], ids=["helm3", "helm4"])
def test_second_run_adds_nothing(text: str) -> None:
    chosen = profile(GPU, CPU)
    first = post_render(text, chosen)
    second = post_render(first.output, chosen)
    assert second.changes == []
    assert second.output == first.output


def test_a_carried_pool_with_limits_in_other_units_is_the_same_pool() -> None:
    # 4096Gi written as 4Ti, 384 CPUs as "384000m": the same amounts, no conflict.
    chosen = profile(GPU, CPU)
    first = post_render(HELM3, chosen)
    assert "memory: 4096Gi" in first.output and "cpu: 384\n" in first.output
    rewritten = first.output.replace("memory: 4096Gi", "memory: 4Ti").replace(
        "cpu: 384\n", "cpu: 384000m\n"
    )
    second = post_render(rewritten, chosen)
    assert second.changes == []
    assert "memory: 4Ti" in second.output


def test_helm4_reserialized_output_is_also_stable() -> None:
    """Helm 4 re-serializes the post-renderer's output before the next upgrade reads it."""
    chosen = profile(GPU, CPU)
    first = post_render(HELM4, chosen)
    reserialized = "".join(
        "---\n" + yaml.safe_dump(d, sort_keys=True) for d in yaml.safe_load_all(first.output) if d
    )
    assert post_render(reserialized, chosen).changes == []


def test_a_different_pool_of_the_same_name_is_a_conflict() -> None:
    chosen = profile(GPU, CPU)
    first = post_render(HELM3, chosen)
    edited = first.output.replace("consolidateAfter: 5m", "consolidateAfter: 1h")
    with pytest.raises(SlinkyError) as caught:
        post_render(edited, chosen)
    assert "already has NodePool slurm-gpu-pool" in caught.value.format()


def test_partitions_sharing_a_pool_add_it_once_or_conflict() -> None:
    same = """
      - name: cpu-partition
        instance_types: [c5.24xlarge]
        nodeSelector: {karpenter.sh/nodepool: shared}
        karpenter: {nodepool: true}
"""
    once = post_render(HELM3, profile(same.replace("cpu-partition", "gpu-partition"), same))
    assert len(added(once, "NodePool")) == 1
    other = same.replace("c5.24xlarge", "c6i.32xlarge")
    with pytest.raises(SlinkyError, match="already has NodePool shared"):
        post_render(HELM3, profile(same.replace("cpu-partition", "gpu-partition"), other))


# --- problems and notes -------------------------------------------------------------


def test_pool_mistakes_are_reported_with_the_profile_field() -> None:
    with pytest.raises(SlinkyError) as caught:
        post_render(
            HELM3,
            profile(
                """
      - name: gpu-partition
        gres: "gpu:8"
        karpenter: {nodepool: true}
""",
                CPU,
            ),
        )
    text = caught.value.format()
    assert "at instance_types: karpenter.nodepool needs instance_types" in text
    assert "at nodeSelector: karpenter.nodepool needs a nodeSelector" in text


def test_efa_and_gpu_plugin_notes() -> None:
    result = post_render(
        HELM3,
        profile(GPU.replace("key: nvidia.com/gpu", "key: example.com/gpu"), CPU),
    )
    notes = "\n".join(result.notes)
    assert "give the EFA device plugin DaemonSet matching tolerations" in notes
    assert "give the NVIDIA device plugin DaemonSet matching tolerations" in notes


def test_profile_schema_refuses_al2_and_ambiguous_identity() -> None:
    for nodeclass in ("{role: r, ami: al2}", "{role: r, instanceProfile: p}", "{ami: al2023}"):
        with pytest.raises(SlinkyError) as caught:
            profile(GPU.replace("{role: KarpenterNodeRole-x}", nodeclass))
        assert "karpenter.nodeclass" in caught.value.format()
    with pytest.raises(SlinkyError, match="nodepool"):
        profile(GPU.replace("nodepool: true", "nodeclass_only: true"))


# --- karpenter_rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "karpenter.sh/nodepool",
        "karpenter.sh/custom",
        "karpenter.k8s.aws/owner",
        "kubernetes.io/hostname",
        "kubernetes.io/custom",
        "example.kubernetes.io/x",
        "k8s.io/x",
        "sub.k8s.io/x",
    ],
)
def test_restricted_label_domains(key: str) -> None:
    assert karpenter_rules.label_domain_problem(key)


@pytest.mark.parametrize(
    "key",
    [
        "role",
        "example.com/pool",
        "karpenter.sh/capacity-type",
        "karpenter.k8s.aws/instance-gpu-name",
        "kubernetes.io/arch",
        "topology.kubernetes.io/zone",
        "node.kubernetes.io/instance-type",
        "team.node.kubernetes.io/x",
        "kops.k8s.io/instancegroup",
    ],
)
def test_allowed_label_keys(key: str) -> None:
    assert karpenter_rules.label_domain_problem(key) is None


def _pool(**spec: Any) -> dict[str, Any]:
    node_spec = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "d"},
        "requirements": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}],
    }
    node_spec.update(spec)
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "p"},
        "spec": {"template": {"spec": node_spec}},
    }


def test_nodepool_runtime_rules() -> None:
    # What the CRD's CEL rules do not say (tests/validate/test_cel.py has those).
    assert karpenter_rules.problems(_pool()) == []
    wrong_group = _pool(
        nodeClassRef={"group": "karpenter.aws", "kind": "EC2NodeClass", "name": "d"}
    )
    assert karpenter_rules.problems(wrong_group) == [
        Problem(
            "the EC2NodeClass group is karpenter.k8s.aws, not karpenter.aws",
            path="spec.template.spec.nodeClassRef.group",
        )
    ]
    wrong_kind = _pool(
        nodeClassRef={"group": "karpenter.k8s.aws", "kind": "NodeClass", "name": "d"}
    )
    assert [p.path for p in karpenter_rules.problems(wrong_kind)] == [
        "spec.template.spec.nodeClassRef.kind"
    ]
    requirements = [
        {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["x"]},  # a CEL rule's
        {"key": "example.kubernetes.io/a", "operator": "In", "values": ["x"]},
    ]
    found = karpenter_rules.problems(_pool(requirements=requirements))
    assert [p.path for p in found] == ["spec.template.spec.requirements[1].key"]
    labelled = _pool()
    labelled["spec"]["template"]["metadata"] = {"labels": {"k8s.io/x": "y", "team": "a"}}
    assert [p.path for p in karpenter_rules.problems(labelled)] == [
        "spec.template.metadata.labels[k8s.io/x]",
    ]
    labelled["metadata"]["name"] = "Bad_Name"
    assert karpenter_rules.problems(labelled)[0].path == "metadata.name"


def test_version_and_group_rules() -> None:
    old = {**_pool(), "apiVersion": "karpenter.sh/v1beta1"}
    assert "not served since Karpenter 1.1" in karpenter_rules.problems(old)[0].message
    typo = {"apiVersion": "karpenter.aws/v1", "kind": "EC2NodeClass"}
    assert "karpenter.k8s.aws" in karpenter_rules.problems(typo)[0].message
    assert karpenter_rules.problems({"apiVersion": "v1", "kind": "ConfigMap"}) == []


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"amiSelectorTerms": [{"alias": "al2@latest"}]}, "spec.amiSelectorTerms[0].alias"),
        ({"amiFamily": "AL2", "amiSelectorTerms": [{"id": "ami-1"}]}, "spec.amiFamily"),
    ],
)
def test_ec2nodeclass_al2_is_end_of_life(spec: dict[str, Any], path: str) -> None:
    found = karpenter_rules.problems(ec2nodeclass(**spec))
    assert any(p.path == path and "AL2 is end of life" in p.message for p in found), found


def test_valid_ec2nodeclass() -> None:
    assert karpenter_rules.problems(ec2nodeclass()) == []


def test_generated_objects_pass_the_rules_or_fail_with_the_partition() -> None:
    with pytest.raises(SlinkyError) as caught:
        post_render(HELM3, profile(GPU.replace("slurm-gpu-pool", "GPU_Pool"), CPU))
    text = caught.value.format()
    assert "partition gpu-partition | NodePool/GPU_Pool (generated) at metadata.name" in text


@pytest.mark.parametrize(
    "case", ["karpenter-gpu-efa-p5", "karpenter-gpu-g6e", "karpenter-spot-cpu"]
)
def test_generated_pools_pass_slinky_lint(case: str) -> None:
    """The issue asks generated objects to satisfy every lint rule: lint the golden cases."""
    from click.testing import CliRunner

    from postrender.cli.slinky import slinky_main
    from postrender.golden.cases import Case

    loaded = Case.load(ROOT / "testdata" / "golden" / case)
    args = ["lint", "-c", str(loaded.path("profiles")), "--no-color", str(loaded.path("input"))]
    result = CliRunner().invoke(slinky_main, args)
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.output
