"""Karpenter: what a partition asks of it, shared by the EC2NodeClass and NodePool transforms.

Opt in per partition with a ``karpenter:`` block::

    - name: gpu-partition
      instance_types: [p5.48xlarge]
      nodes: 2
      efa_enabled: true
      capacity_type: on-demand          # spot | reserved; default on-demand
      nodeSelector: {karpenter.sh/nodepool: slurm-gpu-pool}
      tolerations:
        - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
      karpenter:
        nodepool: true                  # or {name, consolidationPolicy, consolidateAfter,
                                        #     expireAfter, weight}
        nodeclass:                      # a name: use that EC2NodeClass (default "default");
          role: KarpenterNodeRole-x     # a map: generate one (role or instanceProfile)
          ami: al2023                   # al2023 | bottlerocket | a pinned alias; never AL2
          volumeSize: 200Gi
          discovery: my-eks-cluster     # karpenter.sh/discovery tag (default: cluster name)

:mod:`~postrender.transforms.nodeclass` plans the EC2NodeClass, then
:mod:`~postrender.transforms.nodepool` the NodePool that uses it. Added documents carry
``# Source: <chart>/templates/slinky-pr/<kind>-<name>.yaml`` and the Helm 4 filename
annotation. An object the release already carries with the same spec is left alone (a
second run adds nothing); one with another spec is a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from postrender.errors import Problem
from postrender.model.profiles import Partition
from postrender.plan import Why
from postrender.select import Target
from postrender.transforms.context import Context
from postrender.validate import karpenter as karpenter_rules
from postrender.validate.quantity import same_quantity
from postrender.yaml.stream import Document

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

DEFAULT_NODECLASS = "default"  # the EC2NodeClass Karpenter's getting-started guide creates
DEFAULT_CAPACITY_TYPE = "on-demand"
NODEPOOL_LABEL = "karpenter.sh/nodepool"


def taints_for(tolerations: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The node taints that pods with ``tolerations`` tolerate, one per keyed toleration.

    A toleration without a key tolerates every taint, so it implies none; one without an
    effect tolerates every effect, so NoSchedule is used.
    """
    taints: list[dict[str, str]] = []
    for toleration in tolerations:
        if not toleration.get("key"):
            continue
        taint = {"key": str(toleration["key"])}
        if toleration.get("operator", "Equal") == "Equal" and toleration.get("value"):
            taint["value"] = str(toleration["value"])
        taint["effect"] = str(toleration.get("effect") or "NoSchedule")
        if taint not in taints:
            taints.append(taint)
    return taints


def pool_options(partition: Partition) -> Mapping[str, Any]:
    """The ``karpenter.nodepool`` map (empty for ``nodepool: true``)."""
    options = partition.spec.get("karpenter", {}).get("nodepool")
    return options if isinstance(options, Mapping) else {}


def pool_name(partition: Partition) -> str:
    """The NodePool a partition's pods land on: its nodeSelector, option, or ``<name>-pool``."""
    selected = (partition.spec.get("nodeSelector") or {}).get(NODEPOOL_LABEL)
    named = pool_options(partition).get("name")
    if selected or named:
        return str(selected or named)
    return partition.name.lower().replace("_", "-").replace(".", "-") + "-pool"


def wants_pool(partition: Partition) -> bool:
    """True when the profile asks slinky-pr to generate a NodePool for this partition."""
    return bool(partition.spec.get("karpenter", {}).get("nodepool"))


def nodeclass_ref(partition: Partition) -> Any:
    """``karpenter.nodeclass``: the name of an EC2NodeClass, or a map to generate one from."""
    return partition.spec.get("karpenter", {}).get("nodeclass", DEFAULT_NODECLASS)


def nodeclass_name(partition: Partition) -> str:
    """The EC2NodeClass the partition's NodePool uses (a generated one: its pool's name)."""
    ref = nodeclass_ref(partition)
    if isinstance(ref, Mapping):
        return str(ref.get("name", pool_name(partition)))
    return str(ref)


def capacity_type(partition: Partition) -> str:
    return str(partition.spec.get("capacity_type", DEFAULT_CAPACITY_TYPE))


def problem(partition: Partition, message: str, field: str, hint: str | None = None) -> Problem:
    """A problem of the partition's Karpenter settings, at profile field ``field``."""
    return Problem(message, profile=partition.label, path=field, hint=hint)


def pool_partitions(ctx: Context) -> list[tuple[Partition, Target]]:
    """The partitions that ask for a NodePool and target a NodeSet, in profile order, each
    with its first NodeSet (whose labels the generated objects carry)."""
    first: dict[str, Target] = {}
    for target in ctx.release.targets:
        for partition in target.partitions:
            first.setdefault(partition.name, target)
    return [
        (partition, first[partition.name])
        for partition in ctx.release.profile.partitions.values()
        if partition.name in first and wants_pool(partition)
    ]


def existing(ctx: Context) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Karpenter objects in the stream or planned, by (group, kind, name)."""
    found = {}
    for doc in [*ctx.release.stream.documents, *ctx.plan.added]:
        for _, obj in doc.objects():
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            name = str((obj.get("metadata") or {}).get("name", ""))
            if group in (karpenter_rules.NODEPOOL_GROUP, karpenter_rules.NODECLASS_GROUP):
                found[(group, str(obj.get("kind")), name)] = obj
    return found


def _same(existing: Any, generated: Any, quantities: bool = False) -> bool:
    """Equal specs, with ``limits`` and ``volumeSize`` compared as Kubernetes quantities
    (a pool written with ``memory: 2Ti`` is the one generated with ``2048Gi``)."""
    if isinstance(existing, dict) and isinstance(generated, dict):
        return existing.keys() == generated.keys() and all(
            _same(existing[k], generated[k], quantities or k in ("limits", "volumeSize"))
            for k in existing
        )
    if isinstance(existing, list) and isinstance(generated, list):
        return len(existing) == len(generated) and all(
            _same(a, b) for a, b in zip(existing, generated, strict=True)
        )
    if quantities and not isinstance(existing, (dict, list)):
        return same_quantity(existing, generated)
    return bool(existing == generated)


def add(ctx: Context, partition: Partition, target: Target, body: dict[str, Any], why: Why) -> None:
    """Plan a generated object unless an equal one is there; an unequal one is a conflict."""
    kind, name = body["kind"], body["metadata"]["name"]
    group = body["apiVersion"].rpartition("/")[0]
    found = existing(ctx).get((group, kind, name))
    if found is not None:
        same_spec = _same(found.get("spec"), body["spec"])
        if found.get("apiVersion") != body["apiVersion"] or not same_spec:
            ctx.problems.append(
                Problem(
                    f"the release already has {kind} {name} ({found.get('apiVersion')}), "
                    "different from the one this partition generates",
                    profile=partition.label,
                    path=why.field,
                    hint=f"remove one of them, or give the generated {kind} another name",
                )
            )
        return
    source = f"{ctx.release.stream.chart}/templates/slinky-pr/{kind.lower()}-{name}.yaml"
    labels = (ctx.obj(target).get("metadata") or {}).get("labels")
    if labels:
        body["metadata"]["labels"] = dict(labels)
    if annotations := ctx.release.stream.added_annotations(source):
        body["metadata"]["annotations"] = annotations
    for problem in karpenter_rules.problems(body):
        ctx.problems.append(
            problem.replace(document=f"{kind}/{name} (generated)", profile=partition.label)
        )
    head = ctx.release.stream.added_head(source)
    doc = Document(index=-1, raw="", head=head, body=body, source=source)
    ctx.plan.add_document(doc, why)


def generated(api_version: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A bare object slinky-pr generates (labels and annotations come with :func:`add`)."""
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}
