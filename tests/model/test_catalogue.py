"""EC2 instance-type catalogue (tools/build_catalogue.py -> postrender.model.catalogue)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from postrender.model.catalogue import InstanceType, all_types, lookup, suggest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "postrender" / "data" / "instances.json"
REFERENCE_AWS = REPO / "testdata" / "upstream" / "aws"


def _get(name: str) -> InstanceType:
    found = lookup(name)
    assert found is not None, name
    return found


def test_all_karpenter_types_are_present() -> None:
    types = all_types()
    assert len(types) == 1363
    assert all(name == t.name for name, t in types.items())


def test_p4d() -> None:
    t = _get("p4d.24xlarge")
    assert (t.gpu_count, t.gpu_name, t.gpu_manufacturer) == (8, "a100", "nvidia")
    assert (t.accelerator_resource, t.accelerator_count) == ("nvidia.com/gpu", 8)
    assert (t.max_efa, t.efa_plugin) == (4, True)
    assert (t.vcpus, t.memory_mib, t.arch) == (96, 1152 * 1024, "amd64")
    assert (t.allocatable_cpu_m, t.allocatable_memory_mib) == (95690, 1082712)


def test_p5_efa() -> None:
    assert _get("p5.48xlarge").max_efa == 32


def test_small_g6_has_no_efa() -> None:
    t = _get("g6.xlarge")
    assert (t.max_efa, t.efa_plugin) == (0, False)
    assert (t.gpu_name, t.accelerator_count) == ("l4", 1)


def test_trainium_uses_neuron_devices() -> None:
    t = _get("trn1.32xlarge")
    assert (t.accelerator_resource, t.accelerator_count) == ("aws.amazon.com/neuron", 16)
    assert (t.gpu_count, t.gpu_name) == (0, None)
    assert t.labels["karpenter.k8s.aws/instance-accelerator-name"] == "trainium"


def test_cpu_only_type() -> None:
    t = _get("m7i.large")
    assert (t.accelerator_resource, t.accelerator_count, t.gpu_count) == (None, 0, 0)


def test_hyperpod_prefix_and_normalisation() -> None:
    assert lookup("ml.p5.48xlarge") == lookup("p5.48xlarge") == lookup(" P5.48XLARGE ")
    assert _get("ml.p5.48xlarge").name == "p5.48xlarge"


def test_labels_are_the_full_karpenter_map() -> None:
    labels = _get("p4d.24xlarge").labels
    assert labels["node.kubernetes.io/instance-type"] == "p4d.24xlarge"
    assert labels["karpenter.k8s.aws/instance-gpu-name"] == "a100"
    assert labels["karpenter.k8s.aws/instance-family"] == "p4d"
    assert labels["kubernetes.io/arch"] == "amd64"
    # Absent labels are absent, not empty strings.
    assert "karpenter.k8s.aws/instance-accelerator-name" not in labels
    with pytest.raises(TypeError):
        labels["x"] = "y"  # type: ignore[index]


def test_accelerator_fields_are_consistent() -> None:
    for t in all_types().values():
        assert (t.accelerator_resource is None) == (t.accelerator_count == 0), t.name
        assert t.labels["karpenter.k8s.aws/instance-cpu"] == str(t.vcpus), t.name


def test_instance_types_are_hashable() -> None:
    assert len({_get("p5.48xlarge"), _get("ml.p5.48xlarge")}) == 1


def test_unknown_type_and_suggestions() -> None:
    assert lookup("p4dn.24xlarge") is None
    assert suggest("p4dn.24xlarge")[:2] == ["p4d.24xlarge", "p3dn.24xlarge"]
    assert suggest("ml.p4dn.24xlarge")[:2] == ["p4d.24xlarge", "p3dn.24xlarge"]
    assert len(suggest("p4dn.24xlarge", n=5)) == 5


def test_suggest_other_mistakes() -> None:
    assert suggest("g6.xl")[0] == "g6.xlarge"
    assert suggest("p5.24xlarge")[:2] == ["p5.4xlarge", "p5.48xlarge"]
    assert suggest("p4d")[0] == "p4d.24xlarge"
    assert suggest("h100") == ["p5.48xlarge", "p5.4xlarge"]
    assert suggest("no-such-thing") == []


def test_data_file_meta() -> None:
    meta = json.loads(DATA.read_text("utf-8"))["meta"]
    assert meta["count"] == 1363
    assert "v1.14.1" in meta["sources"]["karpenter_instance_types.json"]
    assert "p6e-gb200.36xlarge" in meta["not_included"]["gpu_facts_not_in_karpenter"]


def test_builder_reproduces_committed_data(tmp_path: Path) -> None:
    out = tmp_path / "instances.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "build_catalogue.py"),
            "--aws",
            str(REFERENCE_AWS),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == DATA.read_bytes()


def test_single_line_lookup_agrees_with_the_full_parse() -> None:
    # lookup() reads one line of the catalogue for speed; it must match the full parse.
    lookup.cache_clear()
    for name, instance in all_types().items():
        assert lookup(name) == instance
