"""Smaller profile and export behaviours (issue 14, item 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from postrender.engine import post_render
from postrender.errors import SlinkyError
from postrender.export.eksctl import export
from postrender.profiles import parse_profile

RENDERED = Path(__file__).resolve().parent.parent / "testdata" / "upstream" / "rendered"

GPU = """
      - name: gpu-partition
        instance_types: [p4d.24xlarge]
        gres: auto
      - name: cpu-partition
"""


def profile(head: str = "", partitions: str = GPU) -> Any:
    return parse_profile(f"clusters:\n  - name: c\n{head}    partitions:{partitions}", "p.yaml")


def controller(text: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(text) if d]
    (found,) = [d for d in docs if d["kind"] == "Controller"]
    return found


@pytest.mark.parametrize("written", ["off", "Off", "OFF", '"off"', "off  # no autodetection"])
def test_unquoted_gres_conf_off_means_off_not_false(written: str) -> None:
    assert profile(f"    gres_conf: {written}\n").gres_conf == "off"


def test_gres_conf_false_and_no_still_mean_no_gres_conf() -> None:
    assert profile("    gres_conf: false\n").gres_conf is False
    assert profile("    gres_conf: no\n").gres_conf is False


def test_gres_conf_off_writes_autodetect_off() -> None:
    text = (RENDERED / "slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()
    out = post_render(text, profile("    gres_conf: off\n")).output
    assert "AutoDetect=off" in out


def test_gres_conf_nvml_warns_that_slinky_images_have_no_nvml() -> None:
    text = (RENDERED / "slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()
    result = post_render(text, profile("    gres_conf: nvml\n"))
    assert any("gres_conf: nvml needs a slurmd built with NVML" in n for n in result.notes)
    assert not any("NVML" in n for n in post_render(text, profile()).notes)


def test_an_unknown_instance_type_is_one_error_not_two() -> None:
    with pytest.raises(SlinkyError) as info:
        profile(
            partitions="""
      - name: gpu-partition
        instance_types: [p4dn.24xlarge]
        efa_enabled: true
        gres: auto
"""
        )
    text = info.value.format()
    assert "instance type 'p4dn.24xlarge' does not exist" in text
    assert "needs instance_types" not in text
    assert len(info.value.problems) == 1


ACCOUNTING = (
    "---\napiVersion: slinky.slurm.net/v1beta1\nkind: Accounting\nmetadata: {name: acct}\n"
    "spec: {slurmKeyRef: {name: k, key: k}, jwtKeyRef: {name: j, key: j},\n"
    "       storageConfig: {host: db, passwordKeyRef: {name: p, key: p}}}\n"
)


@pytest.mark.parametrize(
    ("chart", "writes"), [("1.0.1", False), ("1.1.2", False), ("1.2.1", True), ("1.3.0-rc1", True)]
)
def test_grestypes_and_tres_are_not_doubled_for_operators_that_write_them(
    chart: str, writes: bool
) -> None:
    # Operators 1.0 and 1.1 write GresTypes=gpu and, with an Accounting,
    # AccountingStorageTRES=gres/gpu into slurm.conf themselves.
    text = (RENDERED / f"slurm-{chart}_gpu-cpu.yaml").read_text()
    block = controller(post_render(text + ACCOUNTING, profile()).output)["spec"]["extraConf"]
    assert ("GresTypes=gpu" in block) is writes
    assert ("AccountingStorageTRES=gres/gpu" in block) is writes


def test_a_chart_grestypes_line_still_gets_gpu_on_old_operators() -> None:
    # The chart's line comes after the operator's (last one wins): gpu must be in it.
    text = (RENDERED / "slurm-1.1.2_gpu-cpu.yaml").read_text()
    line = "  extraConf: |\n    PartitionName=all"
    assert line in text
    changed = text.replace(line, "  extraConf: |\n    GresTypes=mps\n    PartitionName=all", 1)
    out = controller(post_render(changed, profile()).output)["spec"]["extraConf"]
    assert "GresTypes=mps,gpu" in out


def test_eksctl_node_group_names_are_what_cloudformation_accepts() -> None:
    static = profile(
        partitions="""
      - name: gpu_static.a
        instance_types: [p4d.24xlarge]
        nodes: 2
        nodeSelector: {role: static}
      - name: 9cpu
        instance_types: [c5.large]
        nodes: 1
        nodeSelector: {role: cpu}
"""
    )
    groups = yaml.safe_load(export(static))["managedNodeGroups"]
    assert [g["name"] for g in groups] == ["gpu-static-a", "ng-9cpu"]


@pytest.mark.parametrize("ami", ["al2", "AL2", "al2@v20240807"])
def test_al2_is_refused_by_name(ami: str) -> None:
    with pytest.raises(SlinkyError) as info:
        profile(
            partitions=f"""
      - name: gpu-partition
        instance_types: [p4d.24xlarge]
        nodeSelector: {{karpenter.sh/nodepool: gpu}}
        karpenter: {{nodepool: true, nodeclass: {{role: r, ami: {ami}}}}}
"""
        )
    text = info.value.format()
    assert f"ami: {ami}: Amazon Linux 2 is end of life" in text
    assert "karpenter.nodeclass.ami" in text and "use ami: al2023" in text
