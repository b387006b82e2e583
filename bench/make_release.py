"""Make a large Slinky release for the benchmark: N NodeSets, every one annotated.

The documents are the upstream chart 1.3 sample (testdata/upstream/rendered) with its
NodeSet repeated under keys ``n0000``, ``n0001``...; they alternate between the GPU and
CPU partitions of testdata/examples/profiles.yaml so every NodeSet gets patched.

    python bench/make_release.py 2000 > /tmp/release-2000.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.3.0-rc1_gpu-cpu.yaml"


def make_release(count: int) -> str:
    """The sample release with ``count`` NodeSets in place of its two."""
    documents = SAMPLE.read_text().split("\n---\n")
    gpu = next(d for d in documents if "name: slinky-slurm-worker-gpu" in d)
    gpu = gpu.removeprefix("apiVersion")  # the NodeSet chunk has no Source line of its own
    others = [d for d in documents if "kind: NodeSet" not in d]
    nodesets = []
    for i in range(count):
        key = f"n{i:04d}"
        partition = "gpu-partition" if i % 2 == 0 else "cpu-partition"
        nodesets.append(
            "apiVersion"
            + gpu.replace("worker-gpu", f"worker-{key}")
            .replace("hostname: gpu-", f"hostname: {key}-")
            .replace("slinky-pr/partition: gpu-partition", f"slinky-pr/partition: {partition}")
            .replace("  partition:\n    enabled: true", "  partition:\n    enabled: false")
        )
    nodesets[0] = "# Source: slurm/templates/nodeset/nodeset-cr.yaml\n" + nodesets[0]
    return "\n---\n".join([others[0], *nodesets, *others[1:]]) + "\n"


if __name__ == "__main__":
    sys.stdout.write(make_release(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
