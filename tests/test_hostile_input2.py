"""Hostile input, round two (issue 19): shapes the CRDs leave unchecked, YAML scalars whose
meaning must survive for Kubernetes, valid manifests that must pass through, stdout that
carries nothing but the stream, output Kubernetes would reject, and the verify command.

The stream cases run the real ``python -m postrender`` as Helm does (``test_hostile.run``).
"""

from __future__ import annotations

import pytest
from test_hostile import PROFILES, RELEASE, assert_refused, run

from postrender.errors import EXIT_INVALID, EXIT_PLAN

GPU_NODESET = RELEASE.index(b"name: slinky-slurm-worker-gpu")


def _in_gpu_nodeset(old: bytes, new: bytes) -> bytes:
    """The example release with ``old`` replaced by ``new`` in the targeted GPU NodeSet."""
    at = RELEASE.index(old, GPU_NODESET)
    return RELEASE[:at] + new + RELEASE[at + len(old) :]


SELECTOR = b'      nodeSelector:\n        kubernetes.io/os: linux\n      priorityClassName: ""'
SLURMD_RESOURCES = b"    resources: {}\n    volumeMounts"
TOLERATIONS = b"      tolerations: []\n      volumes"

# Each of these ended in a traceback (exit 70): the NodeSet CRD leaves the pod template's
# spec and slurmd unchecked, and the transforms took their shapes for granted.
BAD_SHAPES = [
    ("tolerations-scalar", TOLERATIONS, b"      tolerations: x\n      volumes",
     "spec.template.spec.tolerations: must be a list, not a string"),
    ("toleration-not-a-map", TOLERATIONS, b"      tolerations: [1]\n      volumes",
     "spec.template.spec.tolerations[0]: a toleration must be a map, not the int 1"),
    ("node-selector-list", SELECTOR, b'      nodeSelector: [a]\n      priorityClassName: ""',
     "spec.template.spec.nodeSelector: must be a map, not a list"),
    ("resources-list", SLURMD_RESOURCES, b"    resources: []\n    volumeMounts",
     "spec.slurmd.resources: must be a map, not a list"),
    ("resources-string", SLURMD_RESOURCES, b'    resources: "x"\n    volumeMounts',
     "spec.slurmd.resources: must be a map, not a string"),
    ("limits-list", SLURMD_RESOURCES, b"    resources: {limits: [1]}\n    volumeMounts",
     "spec.slurmd.resources.limits: must be a map, not a list"),
    ("requests-list", SLURMD_RESOURCES, b"    resources: {requests: [1]}\n    volumeMounts",
     "spec.slurmd.resources.requests: must be a map, not a list"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "needle"), [c[1:] for c in BAD_SHAPES], ids=[c[0] for c in BAD_SHAPES]
)
def test_targeted_nodeset_of_the_wrong_shape_is_a_clean_error(
    old: bytes, new: bytes, needle: str
) -> None:
    done = run(_in_gpu_nodeset(old, new), profile=PROFILES)
    err = assert_refused(done, EXIT_INVALID, "NodeSet/slinky-slurm-worker-gpu", needle)
    assert err.startswith("the rendered release is not valid")


def test_gres_conf_configmap_without_a_name_is_a_clean_error() -> None:
    nameless = b"---\napiVersion: v1\nkind: ConfigMap\ndata:\n  gres.conf: AutoDetect=nvidia\n"
    done = run(RELEASE + nameless, profile=PROFILES)
    assert_refused(done, EXIT_PLAN, "ConfigMap/", "at metadata.name", "gres.conf")
