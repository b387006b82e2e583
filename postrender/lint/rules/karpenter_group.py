"""Karpenter objects in the wrong API group.

**What.** ``EC2NodeClass`` belongs to ``karpenter.k8s.aws`` (never ``karpenter.aws``),
``NodePool`` and ``NodeClaim`` to ``karpenter.sh``. The hint gives the v1 apiVersion, so an
object that is also in an old version (``karpenter.aws/v1beta1``) is reported once, here.

**Why.** No CRD serves the wrong group: the object is rejected ("no matches for kind
EC2NodeClass in version karpenter.aws/v1beta1") and the NodePools referring to it never
launch a node.

**Options.** None.

PASS::

    apiVersion: karpenter.k8s.aws/v1
    kind: EC2NodeClass

FAIL::

    apiVersion: karpenter.aws/v1beta1
    kind: EC2NodeClass
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-K002"
SEVERITY = "error"
GROUPS = {
    "EC2NodeClass": "karpenter.k8s.aws",
    "NodePool": "karpenter.sh",
    "NodeClaim": "karpenter.sh",
}


def check(ctx: LintContext) -> Iterator[Finding]:
    for obj in ctx.infra:
        group = GROUPS.get(obj.kind)
        if group is None or obj.group == group or "karpenter" not in obj.group:
            continue
        yield obj.finding(
            f"{obj.kind} is in API group {group}, not {obj.group}",
            "apiVersion",
            f"apiVersion: {group}/v1",
        )
