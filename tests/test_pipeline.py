"""The post-render pipeline, one transform at a time, on real chart output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from postrender.errors import EXIT_PLAN, SlinkyError
from postrender.model.profiles import Profile, parse_profile
from postrender.pipeline import post_render
from postrender.yaml.stream import FILENAME_ANNOTATION, read_stream

ROOT = Path(__file__).parent.parent
RENDERED = ROOT / "testdata" / "upstream" / "rendered"
RELEASE_13 = (RENDERED / "slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()
RELEASE_10 = (RENDERED / "slurm-1.0.1_gpu-cpu.yaml").read_text()
HELM4_13 = (RENDERED / "helm4-input_slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()


def profile(partitions: str, extra: str = "") -> Profile:
    return parse_profile(f"clusters:\n  - name: c\n{extra}    partitions:\n{partitions}", "p.yaml")


GPU_CPU = profile(
    """
      - name: gpu-partition
        instance_types: [p4d.24xlarge]
        efa_enabled: true
        gres: auto
        nodeSelector: {karpenter.sh/nodepool: slurm-gpu-pool}
        tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
        labels: {team: ml}
        options: {MaxTime: 2-00:00:00, PriorityTier: 10}
      - name: cpu-partition
        options: {MaxTime: "30:00"}
"""
)


def objects(text: str) -> dict[str, Any]:
    out = {}
    for doc in yaml.safe_load_all(text):
        if doc:
            out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


def test_gpu_nodeset_gets_scheduling_gpus_efa_and_gres() -> None:
    gpu = objects(post_render(RELEASE_13, GPU_CPU).output)["NodeSet/slinky-slurm-worker-gpu"]
    pod = gpu["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "kubernetes.io/os": "linux",
        "karpenter.sh/nodepool": "slurm-gpu-pool",
    }
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert gpu["spec"]["template"]["metadata"]["labels"]["team"] == "ml"
    resources = gpu["spec"]["slurmd"]["resources"]
    for side in ("limits", "requests"):
        assert resources[side]["nvidia.com/gpu"] == 8
        assert resources[side]["vpc.amazonaws.com/efa"] == 4
        assert resources[side]["hugepages-2Mi"] == "5120Mi"
    assert resources["requests"]["memory"] == "1Gi"
    assert gpu["spec"]["extraConf"] == "Gres=gpu:a100:8 Features=p4d.24xlarge,efa"


def test_controller_gets_partition_lines_grestypes_and_gres_conf() -> None:
    out = objects(post_render(RELEASE_13, GPU_CPU).output)
    controller = out["Controller/slinky-slurm"]
    assert controller["spec"]["extraConf"].splitlines() == [
        "PartitionName=all Nodes=ALL Default=YES MaxTime=UNLIMITED",
        "PartitionName=gpu-partition Nodes=gpu MaxTime=2-00:00:00 PriorityTier=10",
        "PartitionName=cpu-partition Nodes=cpu MaxTime=30:00",
        "GresTypes=gpu",
    ]
    assert controller["spec"]["configFileRefs"] == [{"name": "slinky-slurm-gres-conf"}]
    gres = out["ConfigMap/slinky-slurm-gres-conf"]
    assert gres["data"] == {"gres.conf": "AutoDetect=nvidia\n"}
    assert gres["metadata"]["namespace"] == "slurm"
    assert "annotations" not in gres["metadata"]  # Helm 3 input: it would reach the cluster
    helm4 = objects(post_render(HELM4_13, GPU_CPU).output)["ConfigMap/slinky-slurm-gres-conf"]
    assert helm4["metadata"]["annotations"] == {
        FILENAME_ANNOTATION: "slurm/templates/slinky-pr/gres-conf.yaml"
    }


def test_added_document_carries_source_comment() -> None:
    output = post_render(RELEASE_13, GPU_CPU).output
    assert "---\n# Source: slurm/templates/slinky-pr/gres-conf.yaml\n" in output


@pytest.mark.parametrize("text", [RELEASE_13, HELM4_13], ids=["helm3", "helm4"])
def test_gres_configmap_comes_before_the_controller_that_references_it(text: str) -> None:
    # Helm 3 creates objects in stream order and the operator's Controller webhook denies
    # configFileRefs naming a ConfigMap that does not exist yet.
    docs = read_stream(post_render(text, GPU_CPU).output).documents
    gres = next(i for i, d in enumerate(docs) if d.name == "slinky-slurm-gres-conf")
    assert docs[gres + 1].kind == "Controller"
    assert [d.kind for d in docs].count("Controller") == 1


def test_a_moved_document_keeps_the_next_one_separate() -> None:
    # The Controller opens the Helm 4 stream without a `---`: ahead of it, the added
    # ConfigMap needs one after it, or the two would be read as one document.
    docs = read_stream(post_render(HELM4_13, GPU_CPU).output).documents
    assert not HELM4_13.startswith("---")
    assert [d.kind for d in docs[:2]] == ["ConfigMap", "Controller"]
    assert len(docs) == len(read_stream(HELM4_13).documents) + 1


def test_untouched_documents_are_byte_identical_and_order_is_kept() -> None:
    result = post_render(RELEASE_13, GPU_CPU)
    before = read_stream(RELEASE_13).documents
    after = [d for d in read_stream(result.output).documents if "gres-conf" not in d.label]
    assert [d.label for d in after[: len(before)]] == [d.label for d in before]
    for old, new in zip(before, after, strict=False):
        if old.kind in ("RestApi", "Secret"):
            assert new.raw == old.raw


def test_changed_documents_keep_source_comment_and_helm4_annotation() -> None:
    for text in (RELEASE_13, HELM4_13):
        docs = read_stream(post_render(text, GPU_CPU).output).documents
        gpu = next(d for d in docs if d.name == "slinky-slurm-worker-gpu")
        assert gpu.source == "slurm/templates/nodeset/nodeset-cr.yaml"
    helm4 = objects(post_render(HELM4_13, GPU_CPU).output)
    annotations = helm4["NodeSet/slinky-slurm-worker-gpu"]["metadata"]["annotations"]
    assert annotations[FILENAME_ANNOTATION] == "slurm/templates/nodeset/nodeset-cr.yaml"
    assert (
        "# Source: slurm/templates/controller/controller-cr.yaml"
        in post_render(RELEASE_13, GPU_CPU).output
    )


@pytest.mark.parametrize("text", [RELEASE_13, RELEASE_10, HELM4_13], ids=["1.3", "1.0", "helm4"])
def test_idempotent(text: str) -> None:
    once = post_render(text, GPU_CPU)
    twice = post_render(once.output, GPU_CPU)
    assert twice.output == once.output
    assert twice.changes == []


def test_chart_10_annotation_on_pod_template_only_is_found() -> None:
    assert (
        "slinky-pr/partition" not in RELEASE_10.split("kind: NodeSet", 2)[2].split("template:")[0]
    )
    gpu = objects(post_render(RELEASE_10, GPU_CPU).output)["NodeSet/slinky-slurm-worker-gpu"]
    assert gpu["spec"]["slurmd"]["resources"]["limits"]["nvidia.com/gpu"] == 8


def test_target_by_nodeset_key_without_annotation() -> None:
    text = RELEASE_13.replace("slinky-pr/partition: cpu-partition", "other: x")
    by_key = profile(
        """
      - name: gpu-partition
      - name: batch
        nodesets: [cpu]
        nodeSelector: {role: cpu}
"""
    )
    cpu = objects(post_render(text, by_key).output)["NodeSet/slinky-slurm-worker-cpu"]
    assert cpu["spec"]["template"]["spec"]["nodeSelector"]["role"] == "cpu"


def test_a_nodeset_without_hostname_is_targeted_by_its_whole_name() -> None:
    # The operator calls it by metadata.name (NodeSet=slinky-slurm-worker-cpu), not "cpu".
    text = RELEASE_13.replace("slinky-pr/partition: cpu-partition", "other: x").replace(
        "      hostname: cpu-\n", "", 1
    )
    listed = """
      - name: gpu-partition
      - name: batch
        nodesets: [%s]
        nodeSelector: {role: cpu}
"""
    cpu = objects(post_render(text, profile(listed % "slinky-slurm-worker-cpu")).output)
    pod = cpu["NodeSet/slinky-slurm-worker-cpu"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["role"] == "cpu"
    by_suffix = post_render(text, profile(listed % "cpu"))
    assert any(
        "lists NodeSet 'cpu', which this release does not render" in n for n in by_suffix.notes
    )
    untouched = objects(by_suffix.output)["NodeSet/slinky-slurm-worker-cpu"]["spec"]["template"]
    assert "role" not in (untouched["spec"].get("nodeSelector") or {})


def test_partitions_sharing_a_nodeset_one_line_each() -> None:
    text = RELEASE_13.replace(
        "slinky-pr/partition: gpu-partition", "slinky-pr/partition: gpu-partition,debug"
    )
    shared = profile(
        """
      - name: gpu-partition
        gres: "gpu:8"
        options: {PriorityTier: 10}
      - name: debug
        options: {MaxTime: 30, PriorityTier: 20}
      - name: cpu-partition
"""
    )
    lines = objects(post_render(text, shared).output)["Controller/slinky-slurm"]["spec"][
        "extraConf"
    ]
    assert "PartitionName=gpu-partition Nodes=gpu PriorityTier=10" in lines
    assert "PartitionName=debug Nodes=gpu MaxTime=30 PriorityTier=20" in lines


def test_one_partition_over_several_nodesets() -> None:
    both = profile(
        """
      - name: gpu-partition
      - name: cpu-partition
      - name: everything
        nodesets: [gpu, cpu]
"""
    )
    lines = objects(post_render(RELEASE_13, both).output)["Controller/slinky-slurm"]["spec"][
        "extraConf"
    ]
    assert "PartitionName=everything Nodes=cpu,gpu" in lines


def test_tolerations_are_appended_without_duplicates_and_replacement_is_noted() -> None:
    result = post_render(RELEASE_13, GPU_CPU)
    assert any("replace the operator's default toleration" in n for n in result.notes)
    kept = RELEASE_13.replace(
        "      hostname: gpu-",
        "      hostname: gpu-\n      tolerations:\n"
        "      - {key: nodeset.slinky.slurm.net/worker, operator: Exists, effect: NoExecute}\n"
        "      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}",
    ).replace("      tolerations: []\n      volumes: []", "      volumes: []")
    result = post_render(kept, GPU_CPU)
    tolerations = objects(result.output)["NodeSet/slinky-slurm-worker-gpu"]["spec"]["template"][
        "spec"
    ]["tolerations"]
    assert [t["key"] for t in tolerations] == ["nodeset.slinky.slurm.net/worker", "nvidia.com/gpu"]
    assert not any("default toleration" in n and "worker-gpu" in n for n in result.notes)


def test_no_profile_passes_an_unannotated_release_through_unchanged() -> None:
    text = (RENDERED / "slurm-1.3.0-rc1_default.yaml").read_text()
    assert post_render(text, None).output == text


def test_no_profile_with_annotated_nodesets_is_an_error() -> None:
    with pytest.raises(SlinkyError, match="no profile was given") as info:
        post_render(RELEASE_13, None)
    assert info.value.exit_code == EXIT_PLAN


def test_accounting_object_turns_on_gpu_tres() -> None:
    accounting = (
        "---\napiVersion: slinky.slurm.net/v1beta1\nkind: Accounting\nmetadata: {name: acct}\n"
        "spec: {slurmKeyRef: {name: k, key: k}, jwtKeyRef: {name: j, key: j},\n"
        "       storageConfig: {host: db, passwordKeyRef: {name: p, key: p}}}\n"
    )
    out = objects(post_render(RELEASE_13 + accounting, GPU_CPU).output)
    assert "AccountingStorageTRES=gres/gpu" in out["Controller/slinky-slurm"]["spec"]["extraConf"]
    assert (
        "AccountingStorageTRES"
        not in objects(post_render(RELEASE_13, GPU_CPU).output)["Controller/slinky-slurm"]["spec"][
            "extraConf"
        ]
    )


def test_existing_extraconf_with_stray_spaces_is_rewritten_single_spaced() -> None:
    text = RELEASE_13.replace("      hostname: gpu-", "      hostname: gpu-").replace(
        "  partition:\n    enabled: true\n",
        "  partition:\n    enabled: true\n  extraConf: ' Weight=5  Features=big '\n",
        1,
    )
    gpu = objects(post_render(text, GPU_CPU).output)["NodeSet/slinky-slurm-worker-gpu"]
    assert gpu["spec"]["extraConf"] == "Weight=5 Features=big,p4d.24xlarge,efa Gres=gpu:a100:8"


def test_neuron_instance_gets_neuron_resource() -> None:
    trn = profile(
        """
      - name: gpu-partition
        instance_types: [trn1.32xlarge]
        gres: auto
      - name: cpu-partition
"""
    )
    gpu = objects(post_render(RELEASE_13, trn).output)["NodeSet/slinky-slurm-worker-gpu"]
    assert gpu["spec"]["slurmd"]["resources"]["limits"] == {"aws.amazon.com/neuron": 16}
    assert gpu["spec"]["extraConf"].startswith("Gres=neuron:")


def test_output_fails_validation_when_chart_values_are_invalid() -> None:
    text = RELEASE_13.replace("  replicas: 2\n", "  replicas: two\n")
    with pytest.raises(SlinkyError, match="replicas") as info:
        post_render(text, GPU_CPU)
    assert info.value.exit_code == 6


def test_gres_tres_covers_every_gres_used_or_weighed() -> None:
    accounting = (
        "---\napiVersion: slinky.slurm.net/v1beta1\nkind: Accounting\nmetadata: {name: acct}\n"
        "spec: {slurmKeyRef: {name: k, key: k}, jwtKeyRef: {name: j, key: j},\n"
        "       storageConfig: {host: db, passwordKeyRef: {name: p, key: p}}}\n"
    )
    weighed = profile(
        """
      - name: gpu-partition
        gres: "gpu:8"
      - name: cpu-partition
        options: {TRESBillingWeights: "CPU=1.0,GRES/shard=0.5"}
"""
    )
    conf = objects(post_render(RELEASE_13 + accounting, weighed).output)["Controller/slinky-slurm"]
    assert "AccountingStorageTRES=gres/gpu,gres/shard" in conf["spec"]["extraConf"]


P5 = profile(
    """
      - name: gpu-partition
        instance_types: [p5.48xlarge]
        gres: auto
      - name: cpu-partition
"""
)


def with_gpu_extraconf(line: str) -> str:
    return RELEASE_13.replace(
        "  partition:\n    enabled: true\n",
        f"  partition:\n    enabled: true\n  extraConf: '{line}'\n",
        1,
    )


def test_gres_in_a_second_token_conflicting_with_the_profile_is_refused() -> None:
    # The operator comma-joins every Gres= token: gpu:8 beside the profile's gpu:h100:8
    # would advertise typed and untyped GPUs, 16 for a node with 8.
    with pytest.raises(SlinkyError, match=r"Gres=gpu:8 \(the operator merges") as info:
        post_render(with_gpu_extraconf("Gres=nic:1 Gres=gpu:8"), P5)
    assert info.value.exit_code == EXIT_PLAN
    assert "gpu:h100:8" in str(info.value)


def test_repeated_gres_tokens_of_any_case_become_one_token_without_doubling() -> None:
    out = post_render(with_gpu_extraconf("Gres=nic:1 Weight=2 gres=gpu:h100:8"), P5).output
    gpu = objects(out)["NodeSet/slinky-slurm-worker-gpu"]
    assert gpu["spec"]["extraConf"] == "Gres=nic:1,gpu:h100:8 Weight=2 Features=p5.48xlarge"


def test_feature_and_features_are_one_key_as_for_the_operator() -> None:
    out = post_render(with_gpu_extraconf("feature=p5.48xlarge Features=big"), P5).output
    gpu = objects(out)["NodeSet/slinky-slurm-worker-gpu"]
    # The instance type is already a feature (in the other spelling): not written twice.
    assert gpu["spec"]["extraConf"] == "feature=p5.48xlarge Features=big Gres=gpu:h100:8"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Gres=gpu:8 GRES=gpu:a100:8", "mixes untyped and typed gpu"),
        ("Gres=gpu:a100:8 Gres=gpu:a100:8", "repeats an entry"),
    ],
)
def test_a_targeted_nodesets_own_conflicting_gres_is_refused(line: str, message: str) -> None:
    # No gres in the profile: the chart's own GRES is what the node advertises.
    features_only = profile(
        """
      - name: gpu-partition
        features: [big]
      - name: cpu-partition
"""
    )
    with pytest.raises(SlinkyError, match=message) as info:
        post_render(with_gpu_extraconf(line), features_only)
    assert info.value.exit_code == EXIT_PLAN


def test_chart_hugepages_in_other_units_of_the_same_amount_are_accepted() -> None:
    # The chart says 5Gi, the profile's default 5120Mi: one amount, no conflict.
    gpu_slurmd = "    imagePullPolicy: IfNotPresent\n    resources: {}\n    volumeMounts: []\n"
    head, tail = RELEASE_13.split("name: slinky-slurm-worker-gpu", 1)
    assert gpu_slurmd in tail
    text = (
        head
        + "name: slinky-slurm-worker-gpu"
        + tail.replace(
            gpu_slurmd,
            "    imagePullPolicy: IfNotPresent\n    resources:\n"
            "      limits: {hugepages-2Mi: 5Gi}\n"
            "      requests: {hugepages-2Mi: 5Gi, memory: 2Gi}\n"
            "    volumeMounts: []\n",
            1,
        )
    )
    gpu = objects(post_render(text, GPU_CPU).output)["NodeSet/slinky-slurm-worker-gpu"]
    resources = gpu["spec"]["slurmd"]["resources"]
    assert resources["limits"]["hugepages-2Mi"] == "5Gi"
    assert resources["requests"]["memory"] == "2Gi"
    assert resources["limits"]["vpc.amazonaws.com/efa"] == 4
