"""Instance types that do not exist.

**What.** Every EC2 instance type named in the profile (``instance_types``), in a NodePool
requirement on ``node.kubernetes.io/instance-type`` or ``karpenter.k8s.aws/instance-family``,
in an eksctl node group (``instanceType``, ``instanceTypes``,
``instancesDistribution.instanceTypes``) or in a NodeSet's nodeSelector is looked up in the
bundled catalogue (1,363 types, from Karpenter's instance-type reference). SageMaker
HyperPod names (``ml.p5.48xlarge``) are understood. The hint lists the closest real types.

**Why.** A type that does not exist is never launched: Karpenter silently skips it, eksctl
fails, and pods stay Pending. ``p4dn.24xlarge`` circulates widely; it mixes up
``p4d.24xlarge`` (8 x A100, 4 EFA) and ``p3dn.24xlarge`` (8 x V100, 1 EFA).

**Options.** None.

PASS::

    instance_types: ["p4d.24xlarge", "ml.p5.48xlarge"]

FAIL::

    instance_types: ["p4dn.24xlarge"]   # did you mean p4d.24xlarge or p3dn.24xlarge?
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator

from postrender.lint import cluster
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import Obj
from postrender.model import catalogue

ID = "SPR-I001"
SEVERITY = "error"
PROFILE_FIELDS = ("instance_types",)
FAMILY = "karpenter.k8s.aws/instance-family"


@functools.cache
def _families() -> frozenset[str]:
    return frozenset(t.labels.get(FAMILY, "") for t in catalogue.all_types().values())


def _unknown_type(obj: Obj, name: str, path: str) -> Finding:
    close = catalogue.suggest(name)
    return obj.finding(
        f"instance type {name!r} does not exist",
        path,
        f"did you mean {' or '.join(close)}?" if close else None,
    )


def check(ctx: LintContext) -> Iterator[Finding]:
    yield from ctx.profile_findings(ID)
    for ns in ctx.nodesets:
        named = ns.selector.get(cluster.INSTANCE_TYPE)
        if named is not None and catalogue.lookup(named) is None:
            path = f"spec.template.spec.nodeSelector[{cluster.INSTANCE_TYPE}]"
            yield _unknown_type(ns.obj, named, path)
    for obj in ctx.infra:
        if cluster.is_nodepool(obj):
            for req in cluster.requirements_of(obj):
                path = f"spec.template.spec.requirements[{req.index}].values"
                if req.key == cluster.INSTANCE_TYPE:
                    for name in req.values:
                        if catalogue.lookup(name) is None:
                            yield _unknown_type(obj, name, path)
                elif req.key == FAMILY:
                    for name in req.values:
                        if name not in _families():
                            close = difflib.get_close_matches(name, _families(), n=2)
                            yield obj.finding(
                                f"instance family {name!r} does not exist",
                                path,
                                f"did you mean {' or '.join(close)}?" if close else None,
                            )
        elif cluster.is_eksctl(obj):
            for section, i, group in cluster.nodegroups(obj):
                for name in cluster.nodegroup_instance_types(group):
                    if catalogue.lookup(name) is None:
                        yield _unknown_type(obj, name, f"{section}[{i}]")
