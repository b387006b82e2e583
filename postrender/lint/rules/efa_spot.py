"""A multi-node EFA partition on spot capacity.

**What.** A NodeSet that asks for ``vpc.amazonaws.com/efa`` on more than one node, and can
land on spot capacity: its nodeSelector says ``karpenter.sh/capacity-type: spot``, its
profile partition says ``capacity_type: spot``, or a NodePool (capacity-type requirement)
or node group (``spot: true``) it reaches allows spot.

**Why.** EFA is for multi-node NCCL jobs; one spot interruption kills the whole job, and
spot capacity for large GPU types is rarely available in one AZ (EFA needs a single
subnet). Use on-demand, reserved capacity or capacity blocks for these partitions.

**Options.** None. A warning: fine for interruptible experiments.

PASS::

    nodeSelector: {karpenter.sh/capacity-type: on-demand}

FAIL::

    # NodePool requirement karpenter.sh/capacity-type In [spot], 2 EFA nodes
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.cluster import CAPACITY_TYPE
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.nodesets import NodeSetView

ID = "SPR-O001"
SEVERITY = "warning"


def _spot(ctx: LintContext, ns: NodeSetView) -> str | None:
    """Why the NodeSet may run on spot, or None."""
    if ns.selector.get(CAPACITY_TYPE) == "spot":
        return f"its nodeSelector asks for {CAPACITY_TYPE}=spot"
    profile = ns.spec_value("capacity_type")
    if profile and profile[1] == "spot":
        return f"partition {profile[0].name} has capacity_type: spot"
    if CAPACITY_TYPE in ns.selector or not ctx.node_sources:
        return None
    spot = [s.label for s in ctx.sources_for(ns) if "spot" in s.capacity_types]
    return f"{', '.join(spot)} allows spot" if spot else None


def check(ctx: LintContext) -> Iterator[Finding]:
    for ns in ctx.placed:
        enabled = ns.spec_value("efa_enabled")
        if not (ns.efa > 0 or (enabled and enabled[1])) or ns.nodes < 2:
            continue
        why = _spot(ctx, ns)
        if why:
            yield ns.obj.finding(
                f"EFA across {ns.nodes} nodes on spot capacity ({why}): one interruption "
                "ends every multi-node job",
                "spec.template.spec.nodeSelector",
                f"pin on-demand or reserved capacity: nodeSelector {CAPACITY_TYPE}: on-demand",
            )
