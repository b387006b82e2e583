"""Scheduling: steer NodeSet pods to the partition's nodes.

Writes ``spec.template.spec.nodeSelector`` (merged: a key already set to another
value is a conflict, never overwritten), ``tolerations`` (appended, no
duplicates) and the pod template ``labels``/``annotations`` the profile asks for.

Example: the pool's entry goes beside the chart's ``kubernetes.io/os: linux``::

    >>> from postrender.transforms.example import NODESET, run
    >>> run(plan, NODESET, '''
    ... - name: gpu
    ...   nodeSelector: {karpenter.sh/nodepool: gpu-pool}
    ...   tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    ... ''')  # doctest: +NORMALIZE_WHITESPACE
    add /spec/template/spec/nodeSelector/karpenter.sh~1nodepool: gpu-pool
    add /spec/template/spec/tolerations: [{key: nvidia.com/gpu, operator: Exists, effect:
        NoSchedule}]
    note: NodeSet/slurm-worker-gpu: tolerations from gpu replace the operator's default toleration
        (nodeset.slinky.slurm.net/worker:NoExecute)
"""

from __future__ import annotations

from postrender.errors import Problem
from postrender.plan import Why, lookup
from postrender.select import Target
from postrender.transforms.context import Context

POD = ["spec", "template", "spec"]
POD_META = ["spec", "template", "metadata"]
OPERATOR_TOLERATION = "nodeset.slinky.slurm.net/worker"


def _merge_map(ctx: Context, target: Target, target_field: str, path: list[str]) -> None:
    partition = target.owner(target_field)
    if partition is None:
        return
    values = dict(partition.spec[target_field])
    current = lookup(ctx.obj(target), path)
    current = current if isinstance(current, dict) else {}
    for key, value in values.items():
        if key in current and current[key] != value:
            ctx.problems.append(
                Problem(
                    f"{target_field} {key}={value} conflicts with {key}={current[key]} "
                    "already in the chart's values",
                    document=target.doc.label,
                    path=".".join(map(str, [*path, key])),
                    profile=partition.label,
                    hint="nodeSelector entries are ANDed: remove one of the two",
                )
            )
            continue
        why = Why(f"{target_field} {key}={value}", partition.name, target_field)
        ctx.plan.set(target.doc, [*target.prefix, *path, key], value, why)


def plan(ctx: Context) -> None:
    """Merge nodeSelector, tolerations, pod labels and annotations into targeted NodeSets."""
    for target in ctx.release.targets:
        for name, path in (
            ("nodeSelector", [*POD, "nodeSelector"]),
            ("labels", [*POD_META, "labels"]),
            ("annotations", [*POD_META, "annotations"]),
        ):
            _merge_map(ctx, target, name, path)

        owner = target.owner("tolerations")
        if owner:
            existing = lookup(ctx.obj(target), [*POD, "tolerations"])
            if not existing or all(t.get("key") != OPERATOR_TOLERATION for t in existing):
                ctx.notes.append(
                    f"{target.doc.label}: tolerations from {owner.name} replace the operator's "
                    f"default toleration ({OPERATOR_TOLERATION}:NoExecute)"
                )
            for toleration in owner.spec["tolerations"]:
                why = Why(f"toleration {toleration.get('key', '*')}", owner.name, "tolerations")
                ctx.plan.append(
                    target.doc, [*target.prefix, *POD, "tolerations"], dict(toleration), why
                )
