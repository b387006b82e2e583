"""The cluster side: where NodeSet pods can run, from the objects given with --cluster-objects.

Karpenter NodePools (any apiVersion, even a wrong group: the Karpenter rules report those)
and eksctl node groups become :class:`NodeSource` values: the labels their nodes carry,
the instance types they can launch, their taints, capacity types and limits. A nodeSelector
is satisfiable by a source when every entry is one of its labels, allowed by its
requirements, or a label of some instance type it can launch (the same one for all
instance-derived entries). EC2NodeClasses and the EFA device plugin DaemonSet are kept for
the rules that read them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from postrender import catalogue
from postrender.catalogue import InstanceType
from postrender.lint.objects import Obj, as_list, as_map, dig

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
NODEPOOL = "karpenter.sh/nodepool"
CAPACITY_TYPE = "karpenter.sh/capacity-type"
NODECLASS = "karpenter.k8s.aws/ec2nodeclass"
EFA_PRESENT = "vpc.amazonaws.com/efa.present"
# Labels every node carries with a value decided at launch (its name, its zone): any value
# a selector asks for may exist.
ANY_VALUE = frozenset(
    {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.k8s.aws/zone-id",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
    }
)
# Node-group nodes are not labelled by Karpenter: only these instance-derived labels exist.
NODEGROUP_INSTANCE_KEYS = frozenset({INSTANCE_TYPE, "kubernetes.io/arch", "kubernetes.io/os"})
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")  # PreferNoSchedule only discourages
EFA_PLUGIN_IMAGE = "efa-k8s-device-plugin"


@functools.cache
def instance_label_keys() -> frozenset[str]:
    """Every label key the catalogue knows an instance type to carry."""
    return frozenset(key for t in catalogue.all_types().values() for key in t.labels)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Requirement:
    """One Karpenter requirement (``key operator values``)."""

    key: str
    operator: str
    values: tuple[str, ...]
    index: int = 0  # position in spec.template.spec.requirements, for messages

    def allows(self, value: str | None) -> bool:
        """Whether a node whose label ``key`` is ``value`` (None: absent) meets it."""
        op = self.operator
        if op == "In":
            return value in self.values
        if op == "NotIn":
            return value not in self.values
        if op == "Exists":
            return value is not None
        if op == "DoesNotExist":
            return value is None
        number = _number(value) if value is not None else None
        bound = _number(self.values[0]) if self.values else None
        if number is None or bound is None:
            return False
        return {
            "Gt": number > bound,
            "Lt": number < bound,
            "Gte": number >= bound,
            "Lte": number <= bound,
        }.get(op, False)


def requirements_of(pool: Obj) -> list[Requirement]:
    """A NodePool's ``spec.template.spec.requirements`` (malformed entries skipped)."""
    out = []
    items = as_list(dig(pool.body, "spec", "template", "spec", "requirements"))
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("key"):
            values = tuple(str(v) for v in as_list(item.get("values")))
            out.append(Requirement(str(item["key"]), str(item.get("operator", "In")), values, i))
    return out


@dataclass
class NodeSource:
    """A NodePool or a node group: the nodes NodeSet pods can be scheduled on."""

    kind: str  # "NodePool" | "node group"
    name: str
    obj: Obj  # the object findings about this source are reported on
    path: str  # where the source sits in ``obj`` ("" or "managedNodeGroups[0]")
    labels: dict[str, str]  # labels every node of the source carries
    requirements: list[Requirement]
    candidates: tuple[InstanceType, ...]  # known instance types it can launch
    instance_keys: frozenset[str]  # instance-derived label keys its nodes carry
    taints: list[dict[str, Any]]
    capacity_types: frozenset[str]
    efa: bool
    limits: dict[str, Any] = field(default_factory=dict)
    max_size: int | None = None  # a node group's maxSize (eksctl): the most nodes it runs

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def blocking_taints(self) -> list[dict[str, Any]]:
        """Taints that keep pods away unless tolerated."""
        return [t for t in self.taints if t.get("effect") in BLOCKING_EFFECTS]

    def unmet(self, selector: Mapping[str, Any]) -> list[str]:
        """The ``key=value`` entries of ``selector`` this source cannot provide."""
        missing: list[str] = []
        wanted: dict[str, str] = {}  # instance-derived entries, matched against candidates
        for key, raw in selector.items():
            value = str(raw)
            if key in self.labels:
                if self.labels[key] != value:
                    missing.append(f"{key}={value} (its nodes have {key}={self.labels[key]})")
            elif key == EFA_PRESENT:
                if value != "true" or not self.efa:
                    missing.append(f"{key}={value} (no EFA-capable instance type)")
            elif key in self.instance_keys:
                wanted[key] = value
            elif key == CAPACITY_TYPE and self.kind == "NodePool":
                if value not in self.capacity_types:
                    missing.append(
                        f"{key}={value} (it launches {', '.join(sorted(self.capacity_types))})"
                    )
            elif any(r.key == key for r in self.requirements):
                if not all(r.allows(value) for r in self.requirements if r.key == key):
                    missing.append(f"{key}={value} (its requirements exclude it)")
            elif key not in ANY_VALUE:
                missing.append(f"{key}={value}")
        if wanted and not self.types_for(wanted):
            shown = ", ".join(f"{k}={v}" for k, v in wanted.items())
            missing.append(f"{shown} (no instance type it can launch has that)")
        return missing

    def types_for(self, selector: Mapping[str, Any]) -> list[InstanceType]:
        """The candidate instance types whose labels match the instance-derived entries."""
        wanted = {k: str(v) for k, v in selector.items() if k in self.instance_keys}
        return [t for t in self.candidates if all(t.labels.get(k) == v for k, v in wanted.items())]


def _nodepool_source(pool: Obj) -> NodeSource:
    requirements = requirements_of(pool)
    keys = instance_label_keys()
    types = catalogue.all_types().values()
    # A requirement naming only values no instance type has (p4dn.24xlarge) is SPR-I001's
    # finding; left in, it would also make every selector unsatisfiable here.
    instance_reqs = [
        r
        for r in requirements
        if r.key in keys
        and (r.operator != "In" or any(t.labels.get(r.key) in r.values for t in types))
    ]
    candidates = tuple(
        t for t in types if all(r.allows(t.labels.get(r.key)) for r in instance_reqs)
    )
    capacity = next((r for r in requirements if r.key == CAPACITY_TYPE), None)
    if capacity is None:
        capacity_types = frozenset({"on-demand"})  # Karpenter's default
    elif capacity.operator == "In":
        capacity_types = frozenset(capacity.values)
    else:
        capacity_types = frozenset(
            c for c in ("on-demand", "spot", "reserved") if capacity.allows(c)
        )
    labels = {
        str(k): str(v)
        for k, v in as_map(dig(pool.body, "spec", "template", "metadata", "labels")).items()
    }
    labels[NODEPOOL] = pool.name
    node_class = dig(pool.body, "spec", "template", "spec", "nodeClassRef", "name")
    if node_class:
        labels[NODECLASS] = str(node_class)
    return NodeSource(
        kind="NodePool",
        name=pool.name,
        obj=pool,
        path="",
        labels=labels,
        requirements=[r for r in requirements if r.key not in keys],
        candidates=candidates,
        instance_keys=keys,
        taints=[
            t
            for t in as_list(dig(pool.body, "spec", "template", "spec", "taints"))
            if isinstance(t, dict)
        ],
        capacity_types=capacity_types,
        efa=any(t.max_efa for t in candidates),
        limits=as_map(dig(pool.body, "spec", "limits")),
    )


def nodegroup_taints(group: Mapping[str, Any]) -> list[dict[str, Any]]:
    """eksctl taints: a list of {key, value, effect}, or the old map ``key: value:Effect``."""
    raw = group.get("taints")
    if isinstance(raw, dict):
        out = []
        for key, spec in raw.items():
            value, _, effect = str(spec or "").rpartition(":")
            out.append({"key": str(key), "value": value, "effect": effect})
        return out
    return [dict(t) for t in as_list(raw) if isinstance(t, dict)]


def nodegroup_instance_types(group: Mapping[str, Any]) -> list[str]:
    """The instance types an eksctl node group launches, as written."""
    names = [group["instanceType"]] if group.get("instanceType") else []
    names += as_list(group.get("instanceTypes"))
    names += as_list(dig(group, "instancesDistribution", "instanceTypes"))
    return [str(n) for n in names]


def _is_spot(group: Mapping[str, Any], managed: bool) -> bool:
    if managed:
        return bool(group.get("spot"))
    on_demand = dig(group, "instancesDistribution", "onDemandPercentageAboveBaseCapacity")
    return isinstance(on_demand, int) and on_demand < 100


def nodegroups(config: Obj) -> Iterable[tuple[str, int, dict[str, Any]]]:
    """(``managedNodeGroups`` | ``nodeGroups``, index, entry) for every node group."""
    for section in ("managedNodeGroups", "nodeGroups"):
        for i, group in enumerate(as_list(config.body.get(section))):
            if isinstance(group, dict):
                yield section, i, group


def _size(group: dict[str, Any]) -> int | None:
    """The most nodes a node group runs: ``maxSize``, else ``desiredCapacity`` (eksctl's
    default maximum)."""
    for key in ("maxSize", "desiredCapacity"):
        value = group.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _nodegroup_source(config: Obj, section: str, index: int, group: dict[str, Any]) -> NodeSource:
    managed = section == "managedNodeGroups"
    name = str(group.get("name", f"{section}[{index}]"))
    types = [t for t in map(catalogue.lookup, nodegroup_instance_types(group)) if t is not None]
    spot = _is_spot(group, managed)
    labels = {str(k): str(v) for k, v in as_map(group.get("labels")).items()}
    labels["alpha.eksctl.io/nodegroup-name"] = name
    cluster = dig(config.body, "metadata", "name")
    if cluster:
        labels["alpha.eksctl.io/cluster-name"] = str(cluster)
    if managed:
        labels["eks.amazonaws.com/nodegroup"] = name
        labels["eks.amazonaws.com/capacityType"] = "SPOT" if spot else "ON_DEMAND"
    efa = bool(group.get("efaEnabled"))
    return NodeSource(
        kind="node group",
        name=name,
        obj=config,
        path=f"{section}[{index}]",
        labels=labels,
        requirements=[],
        candidates=tuple(types),
        instance_keys=NODEGROUP_INSTANCE_KEYS,
        taints=nodegroup_taints(group),
        capacity_types=frozenset({"spot" if spot else "on-demand"}),
        efa=efa,
        max_size=_size(group),
    )


def is_nodepool(obj: Obj) -> bool:
    return obj.kind == "NodePool" and "karpenter" in obj.group


def is_nodeclass(obj: Obj) -> bool:
    return obj.kind == "EC2NodeClass"


def is_eksctl(obj: Obj) -> bool:
    return obj.kind == "ClusterConfig" and obj.group.startswith("eksctl.io")


def is_efa_plugin(obj: Obj) -> bool:
    """The EFA device plugin DaemonSet, by name or by image."""
    if obj.kind != "DaemonSet":
        return False
    if "efa" in obj.name:
        return True
    containers = as_list(dig(obj.body, "spec", "template", "spec", "containers"))
    return any(EFA_PLUGIN_IMAGE in str(as_map(c).get("image", "")) for c in containers)


def is_infra(obj: Obj) -> bool:
    """Whether ``obj`` describes nodes (Karpenter objects, eksctl config, EFA plugin)."""
    karpenter = "karpenter" in obj.group
    return karpenter or is_nodeclass(obj) or is_eksctl(obj) or is_efa_plugin(obj)


def node_sources(objects: Iterable[Obj]) -> list[NodeSource]:
    """Every NodePool and node group among ``objects``."""
    sources = []
    for obj in objects:
        if is_nodepool(obj):
            sources.append(_nodepool_source(obj))
        elif is_eksctl(obj):
            sources += [_nodegroup_source(obj, *entry) for entry in nodegroups(obj)]
    return sources


def taint_text(taint: Mapping[str, Any]) -> str:
    """``key=value:Effect`` as kubectl shows a taint (``key:Effect`` without a value)."""
    value = taint.get("value")
    shown = f"={value}" if value and value != ANY_TAINT_VALUE else ""
    return f"{taint.get('key')}{shown}:{taint.get('effect')}"


# A taint value no Equal toleration matches: "some value", when only the key is known.
ANY_TAINT_VALUE = "\0"
