"""Karpenter objects in an API version Karpenter no longer serves.

**What.** ``karpenter.sh/v1beta1`` NodePools and NodeClaims, ``karpenter.k8s.aws/v1beta1``
EC2NodeClasses, and the older ``karpenter.sh/v1alpha5`` Provisioner and
``karpenter.k8s.aws/v1alpha1`` AWSNodeTemplate. (An object in the wrong group altogether is
SPR-K002.)

**Why.** Karpenter 1.0 moved to ``v1``; since 1.1 ``v1beta1`` is not served at all, so
``kubectl apply`` fails with "no matches for kind". Most examples in circulation predate v1.

**Options.** None.

PASS::

    apiVersion: karpenter.sh/v1
    kind: NodePool

FAIL::

    apiVersion: karpenter.sh/v1beta1
    kind: NodePool
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-K001"
SEVERITY = "error"
# kind -> (its group, what replaces it in v1)
KINDS = {
    "NodePool": ("karpenter.sh", "NodePool"),
    "NodeClaim": ("karpenter.sh", "NodeClaim"),
    "EC2NodeClass": ("karpenter.k8s.aws", "EC2NodeClass"),
    "Provisioner": ("karpenter.sh", "NodePool"),
    "AWSNodeTemplate": ("karpenter.k8s.aws", "EC2NodeClass"),
}


def check(ctx: LintContext) -> Iterator[Finding]:
    for obj in ctx.infra:
        if obj.kind not in KINDS:
            continue
        group, replacement = KINDS[obj.kind]
        if obj.group != group or obj.version == "v1":
            continue
        if replacement == obj.kind:
            message = f"{obj.api_version} is not served since Karpenter 1.1"
        else:
            message = f"{obj.kind} ({obj.api_version}) was replaced by {replacement} in Karpenter"
        yield obj.finding(
            message,
            "apiVersion",
            f"migrate to apiVersion: {group}/v1, kind: {replacement} "
            "(Karpenter's v1 migration guide lists the field changes)",
        )
