"""NodePool limits below what its partitions need.

**What.** For each NodePool with ``spec.limits``, the NodeSets whose nodeSelector reaches
only that pool are added up: nodes (the profile partition's ``nodes``, else the NodeSet's
``replicas``; one slurmd per node) times, per node, the GPUs of the smallest instance type
that fits (at least the ``nvidia.com/gpu`` limit), its vCPUs and its memory. It fires when
``limits.nvidia.com/gpu`` (or ``aws.amazon.com/neuron``), ``limits.cpu``,
``limits.memory`` or ``limits.nodes`` is below that sum.

**Why.** Karpenter stops launching nodes when a limit is reached, counting each node's
whole capacity: the remaining slurmd pods stay Pending and multi-node jobs never start.

**Options.** None.

PASS::

    # 2 x p4d.24xlarge (8 GPUs, 96 vCPUs each)
    limits: {nvidia.com/gpu: 16, cpu: 192}

FAIL::

    limits: {nvidia.com/gpu: 8}   # 2 nodes x 8 GPUs = 16 needed
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from postrender.lint.cluster import NodeSource
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.nodesets import NodeSetView
from postrender.validate.quantity import quantity_float

ID = "SPR-K007"
SEVERITY = "error"
MIB = 1024 * 1024


@dataclass
class _Need:
    """What the NodeSets pinned to one NodePool add up to, and why (for the message)."""

    totals: dict[str, float] = field(default_factory=dict)
    terms: dict[str, list[str]] = field(default_factory=dict)

    def add(self, resource: str, nodes: int, per_node: float, unit: str, who: str) -> None:
        self.totals[resource] = self.totals.get(resource, 0.0) + nodes * per_node
        shown = f"{per_node:g}{unit}" if unit else f"{per_node:g}"
        self.terms.setdefault(resource, []).append(f"{who}: {nodes} x {shown}")


def _add(need: _Need, ctx: LintContext, ns: NodeSetView, pool: NodeSource) -> None:
    candidates = ctx.candidates(ns)
    types = candidates.types if candidates else pool.types_for(ns.placement)
    gpus = ns.gpus_per_node
    if gpus:
        types = [t for t in types if t.accelerator_count >= gpus]
    who = ns.obj.name
    need.add("nodes", ns.nodes, 1, "", who)
    if gpus:
        resource = ns.gpu_limit[0] if ns.gpu_limit else "nvidia.com/gpu"
        per_node = min((t.accelerator_count for t in types), default=gpus)
        need.add(resource, ns.nodes, per_node, "", who)
    if types:
        need.add("cpu", ns.nodes, min(t.vcpus for t in types), "", who)
        need.add("memory", ns.nodes, min(t.memory_mib for t in types) * MIB, "", who)


def check(ctx: LintContext) -> Iterator[Finding]:
    needs: dict[str, tuple[NodeSource, _Need]] = {}
    for ns in ctx.placed:
        pool = ctx.only_source(ns) if ctx.node_sources else None
        if pool is None or pool.kind != "NodePool" or not pool.limits:
            continue
        _add(needs.setdefault(pool.name, (pool, _Need()))[1], ctx, ns, pool)
    for pool, need in needs.values():
        for resource, total in need.totals.items():
            if resource not in pool.limits:
                continue
            limit = quantity_float(pool.limits[resource])
            if limit is None or limit >= total:
                continue
            shown = f"{total / (1024**3):g}Gi" if resource == "memory" else f"{total:g}"
            yield pool.obj.finding(
                f"limits.{resource} is {pool.limits[resource]} but the NodeSets it serves "
                f"need {shown} ({'; '.join(need.terms[resource])})",
                f"spec.limits[{resource}]",
                f"raise limits.{resource} to at least {shown}",
            )
