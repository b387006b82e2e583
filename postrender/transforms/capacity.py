"""Capacity: refuse NodeSets whose pods the partition's nodes cannot all hold.

A partition sized with ``nodes`` whose nodes slinky-pr also describes (a generated
Karpenter NodePool, whose limits are ``nodes`` times one node; or a static node group,
exported with ``nodes`` as its size) must hold every slurmd pod of its NodeSets:

- operators from 1.1 give each NodeSet pod a required pod anti-affinity against every
  slurmd pod (topology ``kubernetes.io/hostname``): one slurmd per node. From 1.2 a NodeSet
  may set ``oversubscribeNode: true`` to drop it; 1.0 has none; ``scalingMode: DaemonSet``
  ignores ``replicas``. So the replicas of the NodeSets with the anti-affinity must not
  exceed ``nodes``;
- the accelerators the pods ask for must fit in ``nodes`` nodes of the largest type.

Example: ``nodes: 1`` of a static node group and a NodeSet with ``replicas: 2``
would leave a pod Pending for ever::

    >>> from postrender.transforms.example import NODESET, run
    >>> run(plan, NODESET, '''
    ... - name: gpu
    ...   nodes: 1
    ...   nodeSelector: {eks.amazonaws.com/nodegroup: gpu}
    ... ''')  # doctest: +NORMALIZE_WHITESPACE
    problem at spec.replicas: 2 slurmd pods (replicas of gpu (2)) need 2 nodes, one per node (the
        operator's pod anti-affinity), but nodes: 1 is all its static node group holds: 1 pod(s)
        stay Pending
"""

from __future__ import annotations

from postrender.errors import Problem
from postrender.model.catalogue import lookup as instance
from postrender.model.profiles import Partition
from postrender.plan import lookup
from postrender.select import Target, chart_version
from postrender.transforms.context import Context
from postrender.transforms.karpenter import NODEPOOL_LABEL, wants_pool
from postrender.validate.quantity import whole_quantity


def one_pod_per_node(nodeset: dict[str, object]) -> bool | None:
    """Whether the operator keeps this NodeSet's pods one per node (None: replicas ignored)."""
    spec = nodeset.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    if spec.get("scalingMode") == "DaemonSet":
        return None
    version = chart_version(nodeset)
    if version is not None and version < (1, 1, 0):
        return False
    return spec.get("oversubscribeNode") is not True


def replicas(nodeset: dict[str, object]) -> int:
    """``spec.replicas`` (the CRD's default is 1)."""
    spec = nodeset.get("spec")
    value = spec.get("replicas", 1) if isinstance(spec, dict) else 1
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def sized(partition: Partition) -> str | None:
    """What holds the partition's ``nodes`` when slinky-pr describes it, else None."""
    nodes = partition.spec.get("nodes")
    if not isinstance(nodes, int):
        return None
    if wants_pool(partition):
        return "its generated NodePool"
    selector = partition.spec.get("nodeSelector") or {}
    return "its static node group" if selector and NODEPOOL_LABEL not in selector else None


def _problem(partition: Partition, targets: list[Target], message: str, hint: str) -> Problem:
    return Problem(
        message,
        document=targets[0].doc.label,
        path="spec.replicas",
        profile=partition.label,
        hint=hint,
    )


def _check(
    ctx: Context, partition: Partition, holder: str, targets: list[Target]
) -> Problem | None:
    nodes: int = partition.spec["nodes"]
    counted = [(t, one_pod_per_node(ctx.obj(t))) for t in targets]
    exclusive = [(t, replicas(ctx.obj(t))) for t, one in counted if one]
    pods = sum(n for _, n in exclusive)
    if pods > nodes:
        who = ", ".join(f"{t.key} ({n})" for t, n in exclusive)
        return _problem(
            partition,
            targets,
            f"{pods} slurmd pods (replicas of {who}) need {pods} nodes, one per node (the "
            f"operator's pod anti-affinity), but nodes: {nodes} is all {holder} holds: "
            f"{pods - nodes} pod(s) stay Pending",
            f"lower replicas to {nodes} or raise nodes to {pods}"
            " (oversubscribeNode: true, operator 1.2+, lets pods share a node)",
        )
    types = [instance(name) for name in partition.instance_types]
    resource = partition.accelerator_resource
    if not resource or not types or any(t is None for t in types):
        return None
    per_node = max(t.accelerator_count for t in types if t is not None)
    asked = 0
    for target, one in counted:
        count = whole_quantity(
            lookup(ctx.obj(target), ["spec", "slurmd", "resources", "limits", resource])
        )
        if one is not None and count:
            asked += replicas(ctx.obj(target)) * count
    if asked > nodes * per_node:
        return _problem(
            partition,
            targets,
            f"the slurmd pods ask {asked} {resource} in all, but nodes: {nodes} of "
            f"{per_node} each ({holder}) hold {nodes * per_node}: pods stay Pending",
            "lower replicas or raise nodes",
        )
    return None


def plan(ctx: Context) -> None:
    """One problem per sized partition whose NodeSets' pods do not fit its nodes."""
    targets_of: dict[str, list[Target]] = {}
    for target in ctx.release.targets:
        for partition in target.partitions:
            targets_of.setdefault(partition.name, []).append(target)
    for name, targets in targets_of.items():
        partition = ctx.release.profile.partitions[name]
        holder = sized(partition)
        problem = _check(ctx, partition, holder, targets) if holder else None
        if problem is not None:
            ctx.problems.append(problem)
