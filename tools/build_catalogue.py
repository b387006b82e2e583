"""Build ``postrender/data/instances.json``, the EC2 instance-type catalogue.

Usage (from the repository root)::

    python tools/build_catalogue.py [--aws DIR] [--out FILE]

Inputs (default ``testdata/upstream/aws``, see its SOURCE.md):

* ``karpenter_instance_types.json``: every EC2 type Karpenter v1.14.1 knows, with the node
  labels Karpenter sets and the allocatable resources it computes. This is the base: the
  catalogue holds exactly these types.
* ``efa_device_plugin_supported_instances.json``: the EFA device plugin's instance-type
  allowlist (a type outside it gets no ``vpc.amazonaws.com/efa`` even if EC2 supports EFA).
* ``gpu_instance_facts.json``: curated GPU/accelerator facts, used to cross-check the
  Karpenter-derived accelerator fields; the build fails if they disagree.

Output is deterministic (sorted keys, one instance type per line so diffs stay readable).
Labels are stored column-wise: ``meta.label_keys`` lists every label key once and each type's
``labels`` is the list of its values in that order (``null`` = label absent). Writing the keys
out per type tripled the file and the JSON parse time, which the post-renderer pays.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AWS = REPO_ROOT / "testdata" / "upstream" / "aws"
DEFAULT_OUT = REPO_ROOT / "postrender" / "data" / "instances.json"
GENERATOR = "tools/build_catalogue.py"

KARPENTER_FILE = "karpenter_instance_types.json"
GPU_FACTS_FILE = "gpu_instance_facts.json"
EFA_FILE = "efa_device_plugin_supported_instances.json"

_LABEL = "karpenter.k8s.aws/instance-"
EFA_RESOURCE = "vpc.amazonaws.com/efa"
# Extended resources Karpenter advertises for accelerators, in order of preference. Neuron
# types (trn*, inf*) advertise both aws.amazon.com/neuron (devices) and .../neuroncore (cores);
# the device count is what gpu_instance_facts and the Neuron device plugin docs use.
ACCELERATOR_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu", "aws.amazon.com/neuron")

FIELDS = {
    "vcpus": "label karpenter.k8s.aws/instance-cpu",
    "memory_mib": "label karpenter.k8s.aws/instance-memory (MiB)",
    "arch": "label kubernetes.io/arch",
    "gpu_count": "label karpenter.k8s.aws/instance-gpu-count (0 when absent)",
    "gpu_name": "label karpenter.k8s.aws/instance-gpu-name (e.g. a100), null when absent",
    "gpu_manufacturer": "label karpenter.k8s.aws/instance-gpu-manufacturer, null when absent",
    "accelerator_resource": f"first of {list(ACCELERATOR_RESOURCES)} Karpenter advertises",
    "accelerator_count": "allocatable count of accelerator_resource (0 when none)",
    "max_efa": f"allocatable {EFA_RESOURCE} (0 when none)",
    "efa_plugin": "type is in the EFA device plugin allowlist",
    "allocatable_cpu_m": "Karpenter allocatable cpu, millicores",
    "allocatable_memory_mib": "Karpenter allocatable memory, MiB",
    "labels": "full Karpenter label map: values in meta.label_keys order, null = absent",
}


def _millicores(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return int(float(quantity) * 1000)


def _mebibytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity)
    if not match:
        raise SystemExit(f"build_catalogue: unexpected memory quantity {quantity!r}")
    value, unit = int(match.group(1)), match.group(2)
    return {"Ki": value // 1024, "Mi": value, "Gi": value * 1024}[unit]


def instance_entry(name: str, raw: dict[str, Any], efa_allowlist: set[str]) -> dict[str, Any]:
    """Derive the compact catalogue entry for one Karpenter instance type."""
    labels: dict[str, str] = raw["labels"]
    resources: dict[str, str] = raw["resources"]
    if labels.get("node.kubernetes.io/instance-type") != name:
        raise SystemExit(f"build_catalogue: {name}: instance-type label does not match")
    accelerator = next((r for r in ACCELERATOR_RESOURCES if r in resources), None)
    return {
        "vcpus": int(labels[_LABEL + "cpu"]),
        "memory_mib": int(labels[_LABEL + "memory"]),
        "arch": labels["kubernetes.io/arch"],
        "gpu_count": int(labels.get(_LABEL + "gpu-count", "0")),
        "gpu_name": labels.get(_LABEL + "gpu-name"),
        "gpu_manufacturer": labels.get(_LABEL + "gpu-manufacturer"),
        "accelerator_resource": accelerator,
        "accelerator_count": int(resources[accelerator]) if accelerator else 0,
        "max_efa": int(resources.get(EFA_RESOURCE, "0")),
        "efa_plugin": name in efa_allowlist,
        "allocatable_cpu_m": _millicores(resources["cpu"]),
        "allocatable_memory_mib": _mebibytes(resources["memory"]),
        "labels": dict(sorted(labels.items())),
    }


def cross_check(entries: dict[str, dict[str, Any]], facts: list[dict[str, Any]]) -> list[str]:
    """Compare the curated GPU facts with the Karpenter-derived entries.

    Return the fact rows that name a type Karpenter does not know; raise on a disagreement.
    """
    missing: list[str] = []
    for fact in facts:
        name = fact["instance_type"]
        entry = entries.get(name)
        if entry is None:
            missing.append(name)
            continue
        expected = {
            "vcpus": fact["vcpus"],
            "memory_mib": fact["memory_gib"] * 1024,
            "arch": fact["arch"],
            "accelerator_resource": fact["k8s_resource"],
            "accelerator_count": fact["accelerator_count"],
            "max_efa": fact["max_efa_interfaces"],
            "efa_plugin": fact["in_efa_device_plugin_allowlist"],
        }
        wrong = {key: (value, entry[key]) for key, value in expected.items() if entry[key] != value}
        name_label = entry["gpu_name"] or entry["labels"].get(_LABEL + "accelerator-name")
        if name_label != fact["accelerator"]:
            wrong["accelerator"] = (fact["accelerator"], name_label)
        if wrong:
            raise SystemExit(
                f"build_catalogue: {name}: facts vs Karpenter (facts, karpenter) {wrong}"
            )
    return sorted(missing)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def build(aws_dir: Path) -> str:
    """Return the text of instances.json built from the reference files in ``aws_dir``."""
    karpenter: dict[str, Any] = json.loads((aws_dir / KARPENTER_FILE).read_text("utf-8"))
    gpu_facts: dict[str, Any] = json.loads((aws_dir / GPU_FACTS_FILE).read_text("utf-8"))
    efa: dict[str, Any] = json.loads((aws_dir / EFA_FILE).read_text("utf-8"))
    allowlist = set(efa["instance_types"])

    entries = {name: instance_entry(name, raw, allowlist) for name, raw in karpenter.items()}
    not_in_karpenter = cross_check(entries, gpu_facts["instances"])
    sources = gpu_facts["meta"]["sources"]
    meta = {
        "generator": GENERATOR,
        "count": len(entries),
        "sources": {
            KARPENTER_FILE: sources["karpenter"],
            EFA_FILE: efa["source"],
            GPU_FACTS_FILE: (
                "curated from Karpenter v1.14.1 generated EC2 data and the EFA device plugin "
                "chart; used as a cross-check only"
            ),
        },
        "fields": FIELDS,
        # Kept out on purpose: a type Karpenter cannot launch would pass the "does this
        # nodeSelector match anything" checks without the labels to back it.
        "not_included": {
            "gpu_facts_not_in_karpenter": not_in_karpenter,
            "efa_allowlist_not_in_karpenter": sorted(allowlist - entries.keys()),
        },
    }
    label_keys = sorted({key for entry in entries.values() for key in entry["labels"]})
    meta["label_keys"] = label_keys
    for entry in entries.values():
        entry["labels"] = [entry["labels"].get(key) for key in label_keys]
    lines = [f"{_dumps(name)}:{_dumps(entries[name])}" for name in sorted(entries)]
    return '{"meta":' + _dumps(meta) + ',\n"types":{\n' + ",\n".join(lines) + "\n}}\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Build the EC2 instance-type catalogue.")
    parser.add_argument("--aws", type=Path, default=DEFAULT_AWS, help="upstream AWS data directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSON file")
    args = parser.parse_args(argv)
    if not args.aws.is_dir():
        parser.error(f"directory not found: {args.aws}")
    text = build(args.aws)
    if not args.out.exists() or args.out.read_text(encoding="utf-8") != text:
        args.out.write_text(text, encoding="utf-8", newline="\n")
    print(f"build_catalogue: {len(text)} bytes -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
