"""A nodeSelector that no NodePool or node group satisfies.

**What.** With NodePools or an eksctl ClusterConfig given (``--cluster-objects``), each
NodeSet's ``spec.template.spec.nodeSelector`` must be satisfiable by at least one of them.
A NodePool provides its template labels, ``karpenter.sh/nodepool=<name>``,
``karpenter.sh/capacity-type`` (on-demand unless its requirements say otherwise),
``karpenter.k8s.aws/ec2nodeclass``, any value its requirements allow (``In``, ``NotIn``,
``Exists``, ``Gt``/``Lt``), and the Karpenter well-known labels of the instance types its
requirements allow (one instance type must carry all of the selector's instance labels).
A node group provides its labels, ``node.kubernetes.io/instance-type``, arch and os of its
instance types, ``eks.amazonaws.com/nodegroup``, ``eks.amazonaws.com/capacityType`` (managed)
and ``alpha.eksctl.io/nodegroup-name``. Zone and hostname labels match anything;
``vpc.amazonaws.com/efa.present=true`` matches sources with EFA. Invalid label keys are left
to SPR-S004. NodePools the release carries (slinky-pr can generate them) count too, but
without NodePools or node groups among the cluster objects the rule does nothing: the
cluster may have nodes lint does not know of.

**Why.** The CRD leaves the pod template unchecked: an impossible selector is accepted and
the slurmd pods stay Pending forever (Karpenter logs "incompatible with nodepool").

**Options.** None.

PASS::

    nodeSelector: {karpenter.sh/nodepool: slurm-gpu-pool}   # NodePool slurm-gpu-pool given

FAIL::

    nodeSelector: {karpenter.sh/nodepool: slurm-gpu}   # only slurm-gpu-pool exists
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-S001"
SEVERITY = "error"


def _closest(ctx: LintContext, selector: dict[str, str]) -> str:
    """Which source comes nearest, and what it lacks: usually one typo away."""
    if not ctx.node_sources:
        return "the cluster objects define no NodePool or node group"
    closest = min(ctx.node_sources, key=lambda s: len(s.unmet(selector)))
    return f"closest is {closest.label}, which lacks " + "; ".join(closest.unmet(selector))


def check(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.cluster_known:
        return
    hints: dict[frozenset[tuple[str, str]], str] = {}
    for ns in ctx.placed:
        if ctx.sources_for(ns):
            continue
        key = frozenset(ns.placement.items())
        if key not in hints:
            hints[key] = _closest(ctx, ns.placement)
        shown = ", ".join(f"{k}={v}" for k, v in ns.placement.items())
        yield ns.obj.finding(
            f"nodeSelector {{{shown}}} matches no NodePool or node group given: "
            "its pods would stay Pending",
            "spec.template.spec.nodeSelector",
            hints[key],
        )
