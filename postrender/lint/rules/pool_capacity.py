"""More slurmd pods than the nodes their NodePool or node group can run.

**What.** Operators from 1.1 keep NodeSet pods one per Kubernetes node (a required pod
anti-affinity against every slurmd pod; from 1.2 ``oversubscribeNode: true`` drops it).
For each NodePool or node group that is the only place a NodeSet's pods can land, the
replicas of such NodeSets are added up and compared with the most nodes it can run: a node
group's ``maxSize`` (else ``desiredCapacity``); a NodePool's ``limits.nodes``, or each of
``limits.cpu``, ``memory``, ``nvidia.com/gpu`` divided by the smallest amount one node of
its instance types brings (Karpenter counts a node's whole capacity against the limits).

**Why.** The scheduler cannot place the extra pods anywhere: they stay Pending, and
multi-node jobs asking for every node of the partition never start.

**Options.** None.

PASS::

    replicas: 2        # NodePool limits {nvidia.com/gpu: 16}, p4d.24xlarge (8 GPUs)

FAIL::

    replicas: 3        # 16 GPUs hold 2 p4d.24xlarge: one pod stays Pending
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.cluster import NodeSource
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.nodesets import NodeSetView
from postrender.transforms.capacity import one_pod_per_node, replicas
from postrender.validate.quantity import quantity_float

ID = "SPR-K009"
SEVERITY = "error"
MIB = 1024 * 1024


def _max_nodes(source: NodeSource) -> tuple[int, str] | None:
    """The most nodes the source can run, and what bounds it."""
    if source.kind != "NodePool":
        return (source.max_size, "maxSize") if source.max_size is not None else None
    bounds: list[tuple[int, str]] = []
    nodes = quantity_float(source.limits.get("nodes"))
    if nodes is not None:
        bounds.append((int(nodes), "limits.nodes"))
    per_node = {
        "cpu": [t.vcpus for t in source.candidates],
        "memory": [t.memory_mib * MIB for t in source.candidates],
        "nvidia.com/gpu": [
            t.accelerator_count
            for t in source.candidates
            if t.accelerator_resource == "nvidia.com/gpu"
        ],
    }
    for resource, amounts in per_node.items():
        limit = quantity_float(source.limits.get(resource))
        # Types without the resource would let Karpenter launch nodes the limit never stops.
        if (
            limit is None
            or not amounts
            or len(amounts) < len(source.candidates)
            or min(amounts) <= 0
        ):
            continue
        bounds.append((int(limit // min(amounts)), f"limits.{resource}"))
    return min(bounds) if bounds else None


def check(ctx: LintContext) -> Iterator[Finding]:
    pinned: dict[str, tuple[NodeSource, list[NodeSetView]]] = {}
    for ns in ctx.placed:
        source = ctx.only_source(ns) if ctx.node_sources else None
        if source is not None and one_pod_per_node(ns.obj.body):
            pinned.setdefault(source.label, (source, []))[1].append(ns)
    for source, nodesets in pinned.values():
        bound = _max_nodes(source)
        pods = sum(replicas(ns.obj.body) for ns in nodesets)
        if bound is None or pods <= bound[0]:
            continue
        who = ", ".join(f"{ns.obj.name} ({replicas(ns.obj.body)})" for ns in nodesets)
        yield source.obj.finding(
            f"{source.label} runs at most {bound[0]} node(s) ({bound[1]}), but {pods} slurmd "
            f"pods need one node each (replicas of {who}): {pods - bound[0]} stay Pending",
            f"{source.path}.{bound[1]}".lstrip("."),
            f"raise {bound[1]} to fit {pods} nodes, or lower replicas",
        )
